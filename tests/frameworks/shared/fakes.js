// What the example apps sign in with: the shared fake issuer (tests/support/fake-issuer.js,
// short-lived tokens so a test sees real refreshes within seconds), the shared Convex-like client
// (tests/support/fake-convex.js) with a server that accepts every unexpired token, and a probe
// the tests read through window.app.
import { FakeConvexClient } from "../../support/fake-convex.js";
import { claimsOf } from "../../support/fake-issuer.js";

export { createFakeIssuer } from "../../support/fake-issuer.js";

/**
 * The client for convex/react's ConvexProviderWithAuth. Its `authChanges` ("setAuth",
 * "authenticated", "unauthenticated", "clearAuth", in order) is what the framework tests read.
 */
export function createFakeConvexClient() {
  return new FakeConvexClient({ server: { latencyMs: 0, verdict: (token) => (claimsOf(token)?.exp ?? 0) * 1000 > Date.now() } });
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
