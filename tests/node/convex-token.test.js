// How useAuthFromAuthlane answers convex-js's fetchToken calls (pkg/src/convex-token.ts), against a
// stand-in session port on Node's mock clock: which token need goes to the session, and when.
import { beforeEach, afterEach, mock, test } from "node:test";
import assert from "node:assert/strict";
import { convexTokenSource } from "../../pkg/build/convex-token.js";
import { SESSION_PORT } from "../../pkg/build/port.js";
import { TokenNeed } from "../../pkg/build/protocol.js";

const LEEWAY_MS = 10_000;
const NOW = 1_800_000_000_000;

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: NOW }));
afterEach(() => mock.timers.reset());

/** A session whose current token expires `expiresInMs` from now; it answers every request with generation `answer`. */
function session({ expiresInMs }) {
  const requests = [];
  const tokenListeners = new Set();
  let generation = 1;
  const port = {
    requestToken(need, held) {
      requests.push({ need, held, at: Date.now() - NOW });
      return Promise.resolve({ token: `token-${generation}`, generation });
    },
    onTokenChanged(listener) {
      tokenListeners.add(listener);
      return () => tokenListeners.delete(listener);
    },
  };
  const auth = {
    getState: () => ({ status: "authenticated", claims: { exp: (NOW + expiresInMs) / 1000 } }),
    [SESSION_PORT]: { port, expectAuth: false, refreshLeewayMs: LEEWAY_MS },
  };
  return {
    auth,
    requests,
    refreshed() {
      generation += 1;
      for (const listener of tokenListeners) listener(generation);
    },
  };
}

/** Lets resolved promises run (the mock clock does not). */
const settle = () => new Promise((done) => setImmediate(done));

test("an unforced ask gets the current token; a forced one far from the session's refresh fetches at once (a rejection)", async () => {
  const { auth, requests } = session({ expiresInMs: 3600_000 });
  const source = convexTokenSource(auth);
  source.listen();
  assert.equal(await source.fetchAccessToken({ forceRefreshToken: false }), "token-1");
  assert.equal(await source.fetchAccessToken({ forceRefreshToken: true }), "token-1");
  assert.deepEqual(requests, [{ need: TokenNeed.Current, held: 0, at: 0 }, { need: TokenNeed.NewerThan, held: 1, at: 0 }]);
});

test("a forced ask just before the session's refresh waits for it, then gets the new token without a fetch of its own", async () => {
  const { auth, requests, refreshed } = session({ expiresInMs: LEEWAY_MS + 3000 });
  const source = convexTokenSource(auth);
  source.listen();
  await source.fetchAccessToken({ forceRefreshToken: false });
  const asked = source.fetchAccessToken({ forceRefreshToken: true });
  await settle();
  mock.timers.tick(2999);
  await settle();
  assert.equal(requests.length, 1, "nothing asked of the session before its refresh");
  refreshed();
  assert.equal(await asked, "token-2");
  assert.deepEqual(requests.at(-1), { need: TokenNeed.NewerThan, held: 1, at: 2999 });
});

test("a forced ask when the session already holds a newer token is answered at once", async () => {
  const { auth, requests, refreshed } = session({ expiresInMs: LEEWAY_MS + 3000 });
  const source = convexTokenSource(auth);
  source.listen();
  await source.fetchAccessToken({ forceRefreshToken: false });
  refreshed();
  assert.equal(await source.fetchAccessToken({ forceRefreshToken: true }), "token-2");
  assert.deepEqual(requests.at(-1), { need: TokenNeed.NewerThan, held: 1, at: 0 });
});

test("a waiting ask whose refresh never comes asks the session itself a second after the refresh was due", async () => {
  const { auth, requests } = session({ expiresInMs: LEEWAY_MS + 3000 });
  const source = convexTokenSource(auth);
  source.listen();
  await source.fetchAccessToken({ forceRefreshToken: false });
  const asked = source.fetchAccessToken({ forceRefreshToken: true });
  await settle();
  mock.timers.tick(3999);
  await settle();
  assert.equal(requests.length, 1);
  mock.timers.tick(1);
  await asked;
  assert.deepEqual(requests.at(-1), { need: TokenNeed.NewerThan, held: 1, at: 4000 });
});
