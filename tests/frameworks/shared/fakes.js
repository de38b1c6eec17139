// What the example apps sign in with: an in-page issuer minting unsigned JWTs with a short lifetime
// (so a test sees real refreshes within seconds), a Convex-like client for convex/react's
// ConvexProviderWithAuth, and a probe the tests read through window.app.

function base64url(text) {
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** An issuer whose fetchAccessToken has convex-js's contract: a JWT while signed in, else null. */
export function createFakeIssuer({ lifetimeSeconds = 4, sub = "user_1" } = {}) {
  let serial = 0;
  const issuer = {
    signedIn: false,
    /** Every call, in order: { force, at, answered: "token" | "null" }. */
    calls: [],
    fetchAccessToken: async ({ forceRefreshToken }) => {
      const signedIn = issuer.signedIn;
      issuer.calls.push({ force: forceRefreshToken, at: Date.now(), answered: signedIn ? "token" : "null" });
      if (!signedIn) return null;
      const iat = Math.floor(Date.now() / 1000);
      const header = base64url(JSON.stringify({ alg: "RS256", typ: "JWT" }));
      const claims = base64url(
        JSON.stringify({ iss: "https://issuer.test", sub, aud: "convex", iat, exp: iat + lifetimeSeconds, jti: String(++serial) }),
      );
      return `${header}.${claims}.unsigned${serial}`;
    },
    signIn() {
      issuer.signedIn = true;
    },
    signOut() {
      issuer.signedIn = false;
    },
  };
  return issuer;
}

/**
 * The part of ConvexReactClient that ConvexProviderWithAuth drives: setAuth fetches a token
 * (unforced, as convex-js does first) and a "server" that accepts any token reports back.
 */
export function createFakeConvexClient() {
  const client = {
    /** "setAuth", "authenticated", "no_token", "clearAuth", in order. */
    log: [],
    config: null,
    setAuth(fetchToken, onChange) {
      const config = { fetchToken, onChange };
      client.config = config;
      client.log.push("setAuth");
      void fetchToken({ forceRefreshToken: false }).then((token) => {
        if (client.config !== config) return;
        client.log.push(token ? "authenticated" : "no_token");
        onChange(Boolean(token));
      });
    },
    clearAuth() {
      client.config = null;
      client.log.push("clearAuth");
    },
  };
  return client;
}

/** Counts what the UI rendered, for assertions such as "the signed-out UI never rendered during a refresh". */
export function createProbe() {
  return {
    renders: { loading: 0, authenticated: 0, unauthenticated: 0 },
    /** Every distinct session the components were given (by identity). */
    sessions: [],
    /** Every status the UI was rendered with, in order (consecutive repeats collapsed). */
    statuses: [],
    rendered(kind) {
      this.renders[kind]++;
    },
    sawSession(auth) {
      if (auth && !this.sessions.includes(auth)) this.sessions.push(auth);
    },
    sawStatus(status) {
      if (this.statuses[this.statuses.length - 1] !== status) this.statuses.push(status);
    },
  };
}
