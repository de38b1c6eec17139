// The demo's realtime backend, in the page: the shared Convex-like client
// (tests/support/fake-convex.js, convex-js's auth flow) for `auth.wrap(client)`, and the "server"
// behind it.
//
// The server answers each Authenticate after a network delay: accepted if the token is a JWT that
// has not expired, rejected while the `rejectTokens` switch is on. A query is answered after the
// same delay with the identity the server holds when it runs.
//
// The switches here and in issuer.js are observables, not plain boolean properties: Rollup 4.67.4
// (the version package.json pins) folds a plain property of an object that reaches the code that
// sets it only through a Map (as Svelte's mount context does) to its initial value.
import { FakeConvexClient } from "../../tests/support/fake-convex.js";
import { claimsOf } from "../../tests/support/fake-issuer.js";
import { createObservable } from "./observable.js";
import { clockTime } from "./timeline.js";

/** "whoami → user_demo at 14:03:07.215", or "—" before any answer. */
export function describeAnswer(answer) {
  return answer ? `${answer.name} → ${answer.identity ?? "anonymous"} at ${clockTime(answer.at)}` : "—";
}

export function createDemoBackend({ latencyMs = 80 } = {}) {
  /** Switch: the server answers every Authenticate with AuthError while it is on. */
  const rejectTokens = createObservable(false);
  /** Who the server has authenticated this connection as (a `sub`), or null. */
  const identity = createObservable(null);
  /** The last query answer: { name, identity, at }. */
  const lastAnswer = createObservable(null);

  const verdict = (token) => {
    const claims = claimsOf(token);
    return claims !== null && !rejectTokens.get() && (typeof claims.exp !== "number" || claims.exp * 1000 > Date.now());
  };
  const respond = (message) =>
    new Promise((resolve) =>
      setTimeout(() => {
        const answer = { name: message.name, identity: identity.get(), at: Date.now() };
        lastAnswer.set(answer);
        resolve(answer);
      }, latencyMs),
    );
  const client = new FakeConvexClient({
    server: { latencyMs, verdict },
    respond,
    // The server's identity follows its verdicts: the accepted token's subject, else nobody.
    onWire: (entry) => {
      if (entry.type === "Accepted") identity.set(claimsOf(client.token)?.sub ?? null);
      else if (entry.type === "AuthError" || entry.type === "clearAuth") identity.set(null);
    },
  });
  /** Pass `client` to `auth.wrap`. */
  return { rejectTokens, identity, lastAnswer, client };
}
