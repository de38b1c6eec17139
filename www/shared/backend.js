// The demo's realtime backend, in the page: a client with convex-js's auth surface for
// `auth.wrap(client)`, and the "server" behind it.
//
// The client follows convex-js 1.x's AuthenticationManager closely enough for authlane's adapter:
// setAuth fetches a token unforced and sends it; once the server confirms a cached token it asks
// for a forced one in the same tick (authlane answers that from its cache); after an AuthError it
// asks for a forced one, at most twice for fresh tokens, then reports onChange(false). (Unlike
// convex-js it runs no refresh timer of its own: authlane pushes each refreshed token with setAuth.)
// While a setAuth fetch is under way, messages wait, as convex-js pauses its socket.
//
// The server answers each Authenticate after a network delay: accepted if the token is a JWT that
// has not expired, rejected while the `rejectTokens` switch is on. A query is answered with the
// identity the server holds when it runs.
//
// The switches here and in issuer.js are observables, not plain boolean properties: Rollup 4.67.4
// (the version package.json pins) folds a plain property of an object that reaches the code that
// sets it only through a Map (as Svelte's mount context does) to its initial value.
import { createObservable } from "./observable.js";
import { clockTime } from "./timeline.js";

function claimsOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return null;
  }
}

/** "whoami → user_demo at 14:03:07.215", or "—" before any answer. */
export function describeAnswer(answer) {
  return answer ? `${answer.name} → ${answer.identity ?? "anonymous"} at ${clockTime(answer.at)}` : "—";
}

export function createDemoBackend({ latencyMs = 80 } = {}) {
  const backend = {
    /** Switch: the server answers every Authenticate with AuthError while it is on. */
    rejectTokens: createObservable(false),
    /** Who the server has authenticated this connection as (a `sub`), or null. */
    identity: createObservable(null),
    /** The last query answer: { name, identity, at }. */
    lastAnswer: createObservable(null),
    /** Pass this to `auth.wrap`. */
    client: null,
  };

  let config = null; // { fetchToken, onChange }
  let state = "noAuth";
  let token = null; // the token last sent to the server
  let hadAuth = false;
  let confirmationAttempts = 0;
  let configVersion = 0;
  let authVersion = 0; // which Authenticate the server's answer is for
  let paused = false;
  const queued = [];

  const later = (fn) => setTimeout(fn, latencyMs);

  const send = (deliver) => {
    if (paused) queued.push(deliver);
    else deliver();
  };

  const resume = () => {
    paused = false;
    for (const deliver of queued.splice(0)) deliver();
  };

  const fetchAndGuard = async (forceRefreshToken) => {
    const version = ++configVersion;
    const value = await config.fetchToken({ forceRefreshToken });
    return version === configVersion ? { outdated: false, value } : { outdated: true };
  };

  const authenticate = (value) => {
    token = value;
    const version = ++authVersion;
    later(() => {
      if (version !== authVersion) return; // superseded by a newer Authenticate or clearAuth
      const claims = claimsOf(value);
      const valid = claims !== null && !backend.rejectTokens.get() && (typeof claims.exp !== "number" || claims.exp * 1000 > Date.now());
      if (valid) {
        backend.identity.set(claims.sub ?? null);
        serverAccepted();
      } else {
        backend.identity.set(null);
        void tryToReauthenticate();
      }
    });
  };

  const serverAccepted = () => {
    if (state === "waitingForServerConfirmationOfCachedToken") {
      void refetchToken(); // convex-js asks for a fresh token in the same tick as it reports success
      config.onChange(true);
    } else if (state === "waitingForServerConfirmationOfFreshToken") {
      state = "scheduled";
      confirmationAttempts = 0;
      if (!hadAuth) config.onChange(true);
    }
  };

  const reportFailed = () => {
    token = null;
    state = "noAuth";
    config.onChange(false);
  };

  async function tryToReauthenticate() {
    if (state === "noAuth") return;
    if (state === "waitingForServerConfirmationOfFreshToken" && confirmationAttempts >= 2) return reportFailed();
    if (state === "waitingForServerConfirmationOfFreshToken") confirmationAttempts++;
    const hadAuthBefore = state === "notRefetching" || state === "scheduled";
    await Promise.resolve(); // stopSocket()
    if (state === "noAuth") return;
    const result = await fetchAndGuard(true);
    if (result.outdated) return;
    if (result.value && result.value !== token) {
      state = "waitingForServerConfirmationOfFreshToken";
      hadAuth = hadAuthBefore;
      authenticate(result.value);
    } else {
      reportFailed();
    }
  }

  async function refetchToken() {
    if (state === "noAuth") return;
    const result = await fetchAndGuard(true);
    if (result.outdated) return;
    if (!result.value) return reportFailed();
    if (result.value === token) {
      state = "notRefetching";
      return;
    }
    hadAuth = token !== null;
    state = "waitingForServerConfirmationOfFreshToken";
    authenticate(result.value);
  }

  backend.client = {
    setAuth(fetchToken, onChange) {
      config = { fetchToken, onChange };
      state = "noAuth";
      confirmationAttempts = 0;
      paused = true;
      void fetchAndGuard(false).then(async (result) => {
        if (result.outdated) return;
        if (result.value) {
          state = "waitingForServerConfirmationOfCachedToken";
          authenticate(result.value);
        } else {
          state = "initialRefetch";
          await refetchToken();
        }
        resume();
      });
    },
    clearAuth() {
      token = null;
      state = "noAuth";
      configVersion++;
      authVersion++;
      backend.identity.set(null);
      resume();
    },
    /** A query: answered after the network delay with the identity the server holds then. */
    query(name) {
      return new Promise((resolve) => {
        send(() =>
          later(() => {
            const answer = { name, identity: backend.identity.get(), at: Date.now() };
            backend.lastAnswer.set(answer);
            resolve(answer);
          }),
        );
      });
    },
  };
  return backend;
}
