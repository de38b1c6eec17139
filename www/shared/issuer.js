// The demo's identity provider, in the page. `fetchAccessToken` has convex-js's contract (a JWT
// while signed in, `null` when signed out) and mints unsigned JWT-shaped tokens living 20 s: the
// client never verifies signatures, so none is needed. The signed-in flag lives in localStorage,
// shared by every demo tab as a real provider's session is; the `down` and `garbage` switches
// (observables: see the note in backend.js) break this tab's issuer only.
import { createObservable } from "./observable.js";

const SIGNED_OUT_KEY = "authlane-demo:signed-out";
export const LIFETIME_SECONDS = 20;

function base64url(text) {
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomId() {
  return Math.random().toString(36).slice(2, 10).padEnd(8, "0");
}

export function createDemoIssuer({ lifetimeSeconds = LIFETIME_SECONDS, latencyMs = 150, sub = "user_demo", iss = "https://demo.invalid" } = {}) {
  const issuer = {
    /** Calls this tab made to the issuer. */
    calls: createObservable(0),
    /** Switch: the callback throws, as when the provider is unreachable. */
    down: createObservable(false),
    /** Switch: the callback returns a number instead of a JWT. */
    garbage: createObservable(false),
    get signedIn() {
      return localStorage.getItem(SIGNED_OUT_KEY) === null;
    },
    signIn() {
      localStorage.removeItem(SIGNED_OUT_KEY);
    },
    signOut() {
      localStorage.setItem(SIGNED_OUT_KEY, "1");
    },
    /** Hand this to createAuth: it stands in for the provider SDK's getToken. */
    fetchAccessToken: async ({ forceRefreshToken }) => {
      issuer.calls.set(issuer.calls.get() + 1);
      await new Promise((resolve) => setTimeout(resolve, latencyMs));
      if (issuer.down.get()) throw new Error("issuer unreachable");
      if (issuer.garbage.get()) return 42;
      if (!issuer.signedIn) return null;
      const iat = Math.floor(Date.now() / 1000);
      const header = base64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "demo" }));
      const claims = base64url(
        JSON.stringify({ iss, sub, aud: "convex", iat, exp: iat + lifetimeSeconds, jti: randomId(), forced: forceRefreshToken }),
      );
      // The timeline shows a token's last six characters: make them tell tokens apart.
      return `${header}.${claims}.unsigned-${randomId()}`;
    },
  };
  return issuer;
}
