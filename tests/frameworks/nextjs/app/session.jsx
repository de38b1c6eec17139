"use client";
// The client side: authlane/react's provider creates the session in the browser, over the
// devserver's token endpoint (the refresh token sits in localStorage). The page records every token
// call and every status it rendered in window.__app for the test.
import { useMemo } from "react";
import { AuthlaneProvider, useAuthlane } from "authlane/react";

const REFRESH_TOKEN_KEY = "nextjs-refresh-token";
const record = typeof window === "undefined" ? null : (window.__app = { tokenCalls: 0, statuses: [] });

function Status() {
  const { status, claims, error } = useAuthlane();
  record?.statuses.push(status);
  return (
    <p>
      client status: <span id="status" data-sub={claims?.sub ?? ""}>{error ? `${status}:${error.code}` : status}</span>
    </p>
  );
}

export default function Session({ issuer, initialToken }) {
  const options = useMemo(
    () => ({
      async fetchAccessToken() {
        record.tokenCalls++;
        const body = new URLSearchParams({ grant_type: "refresh_token", refresh_token: localStorage.getItem(REFRESH_TOKEN_KEY) ?? "" });
        const response = await fetch(`${issuer}/oauth/token`, { method: "POST", body });
        if (!response.ok) return null;
        const answer = await response.json();
        localStorage.setItem(REFRESH_TOKEN_KEY, answer.refresh_token);
        return answer.access_token;
      },
      initialToken,
      crossTab: false,
    }),
    [issuer, initialToken],
  );
  return (
    <AuthlaneProvider options={options}>
      <Status />
    </AuthlaneProvider>
  );
}
