// End to end with graphql-ws: the real `graphql-ws` browser client (6.x), wrapped by authlane's
// `wrapGraphqlWs` (authlane/graphql-ws), in Chromium, against the real `graphql-ws` server checking JWTs like
// Hasura's JWT mode (tests/e2e/support/hasura-like.js: RS256 via its JWKS, Hasura's claims
// namespace, 4403 on a bad token, the socket closed when its token expires).
//
// Time is compressed: 3 s tokens refreshed 1 s ahead.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "../support/chromium.js";
import { startAppPage } from "./support/app-page.js";
import { startHasuraLike } from "./support/hasura-like.js";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const LIFETIME = 3;
const LEEWAY = 1;
const SOAK_LIFETIMES = 5;
let browser;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "authlane-graphql-ws-"));
  execFileSync(resolve(repoRoot, "node_modules/.bin/esbuild"), [
    "tests/e2e/pages/graphql-ws.js", "--bundle", "--format=esm", "--target=es2020", "--log-level=warning",
    `--outfile=${join(dir, "app.js")}`,
  ], { cwd: repoRoot, stdio: "inherit" });
  // The authlane bundle finds its wasm with new URL("authlane_bg.wasm", import.meta.url).
  copyFileSync(resolve(repoRoot, "pkg/dist/authlane_bg.wasm"), join(dir, "authlane_bg.wasm"));
  writeFileSync(join(dir, "index.html"), '<!doctype html>\n<meta charset="utf-8">\n<title>authlane graphql-ws e2e</title>\n<script type="module" src="./app.js"></script>\n');
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A Hasura-like server and a page running `startApp(options)` against it. */
async function openApp({ lifetime = LIFETIME, faults = {}, jwt, ...options } = {}) {
  const server = await startHasuraLike({ dir, lifetime, jwt });
  Object.assign(server.faults, faults);
  const { context, page, pageErrors, started, log } = await startAppPage(browser, `${server.origin}/index.html`, { leewaySeconds: LEEWAY, ...options });
  return {
    server,
    page,
    pageErrors,
    started,
    log,
    state: () => page.evaluate(() => {
      const { status, error, claims } = window.auth.getState();
      return { status, error: error && { code: error.code, message: error.message }, claims };
    }),
    /** Waits for a tick matching `role` (and `userId`) that arrived after `after` ticks. */
    tick: (match, after = 0) =>
      page.waitForFunction(([m, a]) => window.log.ticks.slice(a).find((t) => t.role === m.role && (m.userId === undefined || t.userId === m.userId)),
        [match, after], { timeout: 15_000 }).then((handle) => handle.jsonValue()),
    async close() {
      await context.close();
      await server.close();
    },
  };
}

/** The connections' message logs, compact: "init …abc123 → connection_ack subscribe ticks". */
const transcript = (stats) => stats.connections.map((c) => `${c.token ?? "no token"}: ${c.log.join(", ")}${c.closed ? ` [closed ${c.closed.code}]` : ""}`);

describe("graphql-ws client + authlane against a Hasura-like graphql-ws server", () => {
  test(`${LIFETIME} s tokens over ${SOAK_LIFETIMES} lifetimes: each connect carries the current token, the refresh beats the server's expiry close`, async () => {
    const app = await openApp();
    try {
      await app.tick({ role: "user", userId: "user_e2e" });
      const { claims } = await app.state();
      assert.deepEqual(claims.hasura, { "x-hasura-allowed-roles": ["user"], "x-hasura-default-role": "user", "x-hasura-user-id": "user_e2e" });
      assert.equal(await app.page.evaluate(() => window.me().then((me) => JSON.stringify(me))), JSON.stringify({ id: "user_e2e", role: "user" }));

      // A soak over N token lifetimes (the test's duration, not a synchronisation).
      await new Promise((done) => setTimeout(done, Math.max(0, SOAK_LIFETIMES * LIFETIME * 1000 - (Date.now() - app.started))));
      const ticksBefore = (await app.log()).ticks.length;
      await app.tick({ role: "user", userId: "user_e2e" }, ticksBefore);
      const log = await app.log();
      const stats = app.server.stats();
      const seconds = (Date.now() - app.started) / 1000;
      console.log(`# graphql-ws + authlane: ${log.fetches.length} fetches and ${stats.connects} connects in ${seconds.toFixed(1)} s ` +
        `(${(seconds / LIFETIME).toFixed(1)} lifetimes of ${LIFETIME} s, leeway ${LEEWAY} s); rejections ${stats.rejections}, ` +
        `expiry closes ${stats.expiryCloses}, client closes ${JSON.stringify(log.closes)}`);

      assert.equal(stats.expiryCloses, 0, "no socket outlived its token");
      assert.equal(stats.rejections, 0, JSON.stringify(stats.rejectionsByReason));
      assert.deepEqual(log.errors, [], "no subscription error");
      assert.deepEqual(app.pageErrors, []);
      assert.ok(log.ticks.every((t) => t.role === "user" && t.userId === "user_e2e"), "never an anonymous result");
      assert.ok(log.fetches.length >= SOAK_LIFETIMES, `refreshed through the soak: ${log.fetches.length} fetches`);
      assert.ok(log.fetches.length <= Math.ceil(seconds / (LIFETIME - LEEWAY)) + 1, `no more fetches than refreshes need: ${log.fetches.length}`);
      // Every connect presented the token fetched last before it: one connect per token, in order.
      const fetched = log.fetches.map((f) => f.token);
      const presented = stats.connections.map((c) => c.token);
      assert.deepEqual(presented, fetched.slice(0, presented.length), transcript(stats).join("\n"));
      assert.ok(presented.length >= fetched.length - 1, "each refreshed token reached the server");
      assert.ok(log.closes.every((code) => code === 4205), `only authlane's restarts closed sockets: ${log.closes}`);
      assert.ok(stats.connections.every((c) => c.log[0] === "connection_init" && c.log[1] === "→ connection_ack"));
      assert.equal((await app.state()).status, "authenticated");
    } finally {
      await app.close();
    }
  });

  test("expectAuth: a subscription made before auth sends nothing before connection_ack; a 4403 on the first connect costs exactly one forced fetch", async () => {
    const app = await openApp({ lifetime: 60, faults: { rejectNextConnects: 1 } });
    try {
      const first = await app.tick({ role: "user" });
      assert.equal(first.userId, "user_e2e", "the first result is already the signed-in user's");
      const log = await app.log();
      const stats = app.server.stats();
      assert.deepEqual(transcript(stats), [
        `${log.fetches[0].token}: connection_init [closed 4403]`,
        `${log.fetches[1].token}: connection_init, → connection_ack, subscribe ticks`,
      ]);
      assert.equal(log.fetches.length, 2);
      assert.deepEqual(log.fetches.map((f) => f.force), [false, true], "one forced refresh after the rejection");
      assert.deepEqual(log.errors, []);
      assert.ok(!log.states.some((s) => s.startsWith("unauthenticated")), log.states.join(","));
      assert.equal((await app.state()).status, "authenticated");
    } finally {
      await app.close();
    }
  });

  test("a 4401 (fatal to graphql-ws) is retried like a 4403: one forced fetch, then the held subscription runs", async () => {
    const app = await openApp({ lifetime: 60, faults: { rejectNextConnects: 1, rejectCode: 4401 } });
    try {
      const first = await app.tick({ role: "user" });
      assert.equal(first.userId, "user_e2e");
      const log = await app.log();
      const stats = app.server.stats();
      assert.deepEqual(transcript(stats), [
        `${log.fetches[0].token}: connection_init [closed 4401]`,
        `${log.fetches[1].token}: connection_init, → connection_ack, subscribe ticks`,
      ]);
      assert.deepEqual(log.fetches.map((f) => f.force), [false, true]);
      assert.deepEqual(log.closes, [4403], "graphql-ws was told 4403, so it retried");
      assert.deepEqual(log.errors, []);
    } finally {
      await app.close();
    }
  });

  test("a second 4403 settles unauthenticated with token_rejected and reconnects without a token", async () => {
    const app = await openApp({ lifetime: 60, faults: { rejectNextConnects: 2 } });
    try {
      const first = await app.tick({ role: "anonymous" });
      assert.equal(first.userId, null);
      const log = await app.log();
      const stats = app.server.stats();
      assert.deepEqual(transcript(stats), [
        `${log.fetches[0].token}: connection_init [closed 4403]`,
        `${log.fetches[1].token}: connection_init [closed 4403]`,
        "no token: connection_init, → connection_ack, subscribe ticks",
      ]);
      assert.deepEqual(log.fetches.map((f) => f.force), [false, true], "exactly one forced refresh");
      const state = await app.state();
      assert.equal(state.status, "unauthenticated");
      assert.equal(state.error.code, "token_rejected");
      assert.deepEqual(log.errors, [], "the held subscription ran signed out (signedOutOperations: run)");
    } finally {
      await app.close();
    }
  });

  test("sign-out reconnects without a token; signing in again reconnects with one", async () => {
    const app = await openApp({ lifetime: 60 });
    try {
      await app.tick({ role: "user", userId: "user_e2e" });
      await app.page.evaluate(() => window.auth.signOut());
      const ticks = (await app.log()).ticks.length;
      await app.tick({ role: "anonymous" }, ticks);
      assert.equal((await app.state()).status, "unauthenticated");
      assert.equal(await app.page.evaluate(() => window.me().then((me) => me.role)), "anonymous");

      await app.page.evaluate(() => window.auth.getToken());
      const later = (await app.log()).ticks.length;
      await app.tick({ role: "user", userId: "user_e2e" }, later);
      await app.page.waitForFunction(() => window.auth.getState().status === "authenticated");
      const log = await app.log();
      const stats = app.server.stats();
      assert.deepEqual(stats.connections.map((c) => c.token ?? "no token"), [log.fetches[0].token, "no token", log.fetches[1].token], transcript(stats).join("\n"));
      assert.deepEqual(log.closes, [4205, 4205], "two restarts, nothing else");
      assert.deepEqual(log.errors, []);
    } finally {
      await app.close();
    }
  });

  test('signedOut: "close" ends the subscriptions with signed_out instead of reconnecting', async () => {
    const app = await openApp({ lifetime: 60, signedOut: "close" });
    try {
      await app.tick({ role: "user" });
      await app.page.evaluate(() => window.auth.signOut());
      await app.page.waitForFunction(() => window.log.errors.length > 0);
      const log = await app.log();
      assert.deepEqual(log.errors, ["signed_out"]);
      // The socket opened for the reconnect fails in connectionParams: it never sends connection_init.
      const inits = app.server.stats().connections.filter((c) => c.log.includes("connection_init"));
      assert.ok(inits.every((c) => c.token !== null), "no connection_init without a token");
    } finally {
      await app.close();
    }
  });

  test("a refresh while a mutation is in flight restarts the socket after it completes (graphql-ws would re-send it)", async () => {
    const app = await openApp({ lifetime: 60 });
    try {
      await app.tick({ role: "user" });
      const result = app.page.evaluate(() => window.bump(800));
      await app.page.evaluate(() => window.auth.getToken({ forceRefresh: true }));
      assert.equal(await result, 1);
      await app.page.waitForFunction(() => window.log.closes.length === 1);
      const ticks = (await app.log()).ticks.length;
      await app.tick({ role: "user" }, ticks);
      const log = await app.log();
      const stats = app.server.stats();
      assert.equal(stats.mutations, 1, "executed once");
      assert.deepEqual(log.closes, [4205]);
      assert.deepEqual(stats.connections.map((c) => c.token), [log.fetches[0].token, log.fetches[1].token], transcript(stats).join("\n"));
      const first = stats.connections[0].log;
      assert.ok(first.indexOf("→ complete") > first.indexOf("subscribe bump"), first.join(", "));
    } finally {
      await app.close();
    }
  });

  test("a key revoked at the issuer: the reconnect's 4403 costs one forced refresh and recovers", async () => {
    const app = await openApp({ lifetime: 60 });
    try {
      await app.tick({ role: "user" });
      await app.server.revokeKey();
      await fetch(`${app.server.origin}/debug/drop`, { method: "POST" });
      const ticks = (await app.log()).ticks.length;
      await app.tick({ role: "user", userId: "user_e2e" }, ticks);
      const log = await app.log();
      const stats = app.server.stats();
      assert.deepEqual(stats.rejectionsByReason, { JWKSNoMatchingKey: 1 }, transcript(stats).join("\n"));
      assert.deepEqual(log.fetches.map((f) => f.force), [false, true]);
      assert.equal((await app.state()).status, "authenticated");
      assert.deepEqual(log.errors, []);
    } finally {
      await app.close();
    }
  });

  test("Hasura's stringified-JSON claims format reaches getState().claims.hasura", async () => {
    const app = await openApp({ lifetime: 60, jwt: { claims_format: "stringified_json" } });
    try {
      await app.tick({ role: "user" });
      const { claims } = await app.state();
      assert.deepEqual(claims.hasura["x-hasura-allowed-roles"], ["user"]);
      assert.equal(claims.hasura["x-hasura-user-id"], "user_e2e");
    } finally {
      await app.close();
    }
  });
});
