// The React example app: authlane/react around an unchanged convex/react ConvexProviderWithAuth.
// Rendered in the browser by main.jsx and on the server by tests/node/frameworks-ssr.test.js.
import { useEffect, useState } from "react";
import {
  AuthlaneProvider,
  AuthLoading,
  Authenticated,
  Unauthenticated,
  useAuthFromAuthlane,
  useAuthlane,
} from "authlane/react";
import { ConvexProviderWithAuth, useConvexAuth } from "convex/react";

/** `auth`: a session created outside React (the preferred form); otherwise the provider creates one from `options`. */
export function App({ auth, options, issuer, convexClient, probe }) {
  const [mounted, setMounted] = useState(true);
  useEffect(() => {
    probe.appEffectRuns = (probe.appEffectRuns ?? 0) + 1; // 2 under StrictMode in a development build
  }, [probe]);
  const source = auth ? { auth } : { options };
  return (
    <>
      <button id="toggle" onClick={() => setMounted((value) => !value)}>
        {mounted ? "Unmount" : "Mount"}
      </button>
      {mounted && (
        <AuthlaneProvider {...source}>
          <SessionProbe probe={probe} />
          <ConvexProviderWithAuth client={convexClient} useAuth={useAuthFromAuthlane}>
            <ConvexStatus />
            <AuthLoading>
              <Loading probe={probe} />
            </AuthLoading>
            <Authenticated>
              <SignedIn issuer={issuer} probe={probe} />
            </Authenticated>
            <Unauthenticated>
              <SignedOut issuer={issuer} probe={probe} />
            </Unauthenticated>
          </ConvexProviderWithAuth>
        </AuthlaneProvider>
      )}
    </>
  );
}

function SessionProbe({ probe }) {
  const { auth, status } = useAuthlane();
  probe.sawStatus(status);
  useEffect(() => probe.sawSession(auth), [auth, probe]);
  return (
    <p>
      authlane: <span id="status">{status}</span>
    </p>
  );
}

function ConvexStatus() {
  const { isLoading, isAuthenticated } = useConvexAuth();
  return (
    <p>
      convex: <span id="convex-status">{isLoading ? "loading" : isAuthenticated ? "authenticated" : "unauthenticated"}</span>
    </p>
  );
}

function Loading({ probe }) {
  probe.rendered("loading");
  return <p id="loading">Loading…</p>;
}

function SignedIn({ issuer, probe }) {
  probe.rendered("authenticated");
  const { claims, signOut } = useAuthlane();
  return (
    <div id="signed-in">
      <p>
        Signed in as <span id="subject">{claims?.sub}</span>
      </p>
      <button
        id="sign-out"
        onClick={() => {
          issuer.signOut();
          void signOut();
        }}
      >
        Sign out
      </button>
    </div>
  );
}

function SignedOut({ issuer, probe }) {
  probe.rendered("unauthenticated");
  const { getToken } = useAuthlane();
  return (
    <div id="signed-out">
      <p>Signed out</p>
      <button
        id="sign-in"
        onClick={() => {
          issuer.signIn();
          // After the provider signs the user in, getToken() restarts the session.
          getToken().catch(() => {});
        }}
      >
        Sign in
      </button>
    </div>
  );
}
