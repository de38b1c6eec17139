// The demo's identity provider, in the page: the shared fake issuer (tests/support/fake-issuer.js)
// with the demo's settings. `fetchAccessToken` has convex-js's contract (a JWT while signed in,
// `null` when signed out); tokens live 20 s. The signed-in flag lives in localStorage, shared by
// every demo tab as a real provider's session is; the `down` and `garbage` switches (observables:
// see the note in backend.js) break this tab's issuer only.
import { createFakeIssuer } from "../../tests/support/fake-issuer.js";
import { createObservable } from "./observable.js";

const SIGNED_OUT_KEY = "authlane-demo:signed-out";
export const LIFETIME_SECONDS = 20;

const sharedSession = {
  isSignedIn: () => localStorage.getItem(SIGNED_OUT_KEY) === null,
  signIn: () => localStorage.removeItem(SIGNED_OUT_KEY),
  signOut: () => localStorage.setItem(SIGNED_OUT_KEY, "1"),
};

export function createDemoIssuer({ lifetimeSeconds = LIFETIME_SECONDS, latencyMs = 150, sub = "user_demo", iss = "https://demo.invalid" } = {}) {
  /** Calls this tab made to the issuer. */
  const calls = createObservable(0);
  /** Switch: the callback throws, as when the provider is unreachable. */
  const down = createObservable(false);
  /** Switch: the callback returns a number instead of a JWT. */
  const garbage = createObservable(false);
  const issuer = createFakeIssuer({
    lifetimeSeconds,
    latencyMs,
    sub,
    iss,
    kid: "demo",
    session: sharedSession,
    fault: () => (down.get() ? "down" : garbage.get() ? "garbage" : null),
    onCall: () => calls.set(calls.get() + 1),
  });
  return {
    calls,
    down,
    garbage,
    get signedIn() {
      return issuer.signedIn;
    },
    signIn: issuer.signIn,
    signOut: issuer.signOut,
    /** Hand this to createAuth: it stands in for the provider SDK's getToken. */
    fetchAccessToken: issuer.fetchAccessToken,
  };
}
