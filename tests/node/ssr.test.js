// Importing and creating a session on a server (Node, no window) must not throw, load wasm or start timers.
import { test } from "node:test";
import assert from "node:assert/strict";

test("the package imports in Node without touching window", async () => {
  assert.equal(typeof globalThis.window, "undefined");
  const authlane = await import("../../pkg/dist/index.js");
  assert.equal(typeof authlane.createAuth, "function");
  assert.equal(authlane.ErrorCodes.TokenRejected, "token_rejected");
});

test("a session created on the server stays loading, fetches nothing and answers getToken with null", async () => {
  const { createAuth } = await import("../../pkg/dist/index.js");
  let calls = 0;
  const auth = createAuth({ fetchAccessToken: async () => (calls++, "x.y.z") });
  assert.equal(auth.getState().status, "loading");
  assert.equal(await auth.getToken(), null);
  const client = { setAuth() {}, clearAuth() {}, query: async () => "ran" };
  const wrapped = auth.wrap(client);
  assert.equal(await wrapped.query(), "ran", "operations pass through on the server");
  assert.equal(calls, 0);
  auth.dispose();
});

test("on the server ready and settled resolve at once: nothing loads, the state stays loading", async () => {
  const { createAuth } = await import("../../pkg/dist/index.js");
  const auth = createAuth({ fetchAccessToken: async () => "x.y.z" });
  const timeout = new Promise((_, fail) => setTimeout(() => fail(new Error("did not settle")), 1_000).unref());
  await Promise.race([auth.ready, timeout]);
  const first = await Promise.race([auth.settled, timeout]);
  assert.equal(first.status, "loading");
  assert.equal(first, auth.getState());
  auth.dispose();
});

test("invalid options fail fast with a clear error", async () => {
  const { createAuth } = await import("../../pkg/dist/index.js");
  assert.throws(() => createAuth({}), /fetchAccessToken must be a function/);
});

test("decodeToken before the module loads throws a typed not_initialized error", async () => {
  const { decodeToken, AuthlaneError } = await import("../../pkg/dist/index.js");
  assert.throws(() => decodeToken("a.b.c"), (error) => error instanceof AuthlaneError && error.code === "not_initialized");
});
