// The page under test, bundled by esbuild at test time with the real `convex` browser client and
// the built `authlane` package. `window.startApp(options)` builds one client:
//   mode "authlane": auth.wrap(new ConvexClient(origin))  ·  mode "bare": client.setAuth(fetcher)
// with the same fetchAccessToken (a refresh_token grant per call, no cache), and records every
// fetch, query result and query error in `window.log`.
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";
import { createAuth } from "authlane";

const log = { fetches: [], results: [], errors: [], authChanges: [], fetchFailures: [] };
window.log = log;

const tail = (token) => (typeof token === "string" ? `…${token.slice(-6)}` : String(token));

/** Returns a fetchAccessToken that spends the refresh token once per call (it rotates). */
function refreshTokenProvider({ tokenEndpoint, refreshToken, clientId, pickToken, badFirst }) {
  let current = refreshToken;
  return async ({ forceRefreshToken }) => {
    const entry = { at: performance.now(), force: Boolean(forceRefreshToken) };
    log.fetches.push(entry);
    if (badFirst && log.fetches.length === 1) {
      // A well-signed token for the wrong audience: the server must reject it.
      const answer = await (await fetch("/debug/sign", {
        method: "POST",
        body: JSON.stringify({ iss: location.origin, sub: "intruder", aud: "someone-else", exp: Math.floor(Date.now() / 1000) + 60 }),
      })).json();
      return answer.token;
    }
    const body = new URLSearchParams({ grant_type: "refresh_token", refresh_token: current });
    if (clientId) body.set("client_id", clientId);
    const response = await fetch(tokenEndpoint, { method: "POST", body });
    if (!response.ok) {
      log.fetchFailures.push(response.status);
      throw new Error(`token endpoint answered ${response.status}`);
    }
    const answer = await response.json();
    current = answer.refresh_token;
    const token = answer[pickToken ?? "access_token"];
    entry.token = tail(token);
    return token;
  };
}

window.startApp = async ({ mode, leewaySeconds, subject = "user_e2e", badFirst = false, issuer }) => {
  let tokenEndpoint = "/oauth/token";
  let refreshToken;
  if (issuer) {
    ({ tokenEndpoint, refreshToken } = issuer);
  } else {
    const signIn = await fetch("/auth/signin", { method: "POST", body: JSON.stringify({ subject }) });
    refreshToken = (await signIn.json()).refresh_token;
  }
  const fetchAccessToken = refreshTokenProvider({ tokenEndpoint, refreshToken, clientId: issuer?.clientId, pickToken: issuer?.pickToken, badFirst });
  const options = { authRefreshTokenLeewaySeconds: leewaySeconds, unsavedChangesWarning: false };
  let client;
  if (mode === "authlane") {
    const auth = createAuth({ fetchAccessToken, expectAuth: true, refreshLeewaySeconds: leewaySeconds, crossTab: false });
    auth.subscribe(() => log.authChanges.push(auth.getState().status));
    window.auth = auth;
    client = auth.wrap(new ConvexClient(location.origin, options));
  } else {
    client = new ConvexClient(location.origin, { ...options, expectAuth: true });
    client.setAuth(fetchAccessToken, (isAuthenticated) => log.authChanges.push(isAuthenticated ? "authenticated" : "unauthenticated"));
  }
  window.client = client;
  client.onUpdate(
    anyApi.messages.list,
    {},
    (value) => log.results.push({ at: performance.now(), viewer: value.viewer, count: value.messages.length }),
    (error) => log.errors.push(error.message),
  );
};

window.send = (body) => window.client.mutation(anyApi.messages.send, { body });
