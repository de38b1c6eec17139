// Issue 11's browser-side edges, on the built package in headless Chromium with an in-page
// Convex-like client: claims that change on refresh, wrap()/unwrap(), and the gate letting held
// operations go inside the task that brings the server's acceptance, and `initialToken`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "../support/chromium.js";
import { startStaticServer } from "../support/static-server.js";

let browser;
let server;

before(async () => {
  server = await startStaticServer(["pkg", "tests/browser/pages", "tests/support"]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Runs `body` in a fresh harness page (real clock: nothing here waits on time) and closes it. */
async function inPage(body, arg) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(error));
    await page.goto(`${server.origin}/tests/browser/pages/harness.html`);
    await page.waitForFunction(() => window.harnessReady === true);
    const result = await page.evaluate(body, arg);
    assert.deepEqual(errors, []);
    return result;
  } finally {
    await context.close();
  }
}

describe("claims", () => {
  test("a refresh that changes the claims updates getState().claims and notifies; one that does not stays silent", async () => {
    const outcome = await inPage(async () => {
      const { authlane, mint, flush } = window.harness;
      let role = "user";
      const hasura = () => ({ "https://hasura.io/jwt/claims": { "x-hasura-default-role": role } });
      const auth = authlane.createAuth({ fetchAccessToken: async () => mint(3600, { claims: hasura() }), crossTab: false });
      let notified = 0;
      auth.subscribe(() => notified++);
      await auth.getToken();
      const first = { notified, role: auth.getState().claims?.hasura?.["x-hasura-default-role"] };
      await auth.getToken({ forceRefresh: true });
      await flush();
      const plain = { notified, same: auth.getState().claims?.hasura?.["x-hasura-default-role"] };
      role = "admin";
      await auth.getToken({ forceRefresh: true });
      await flush();
      const changed = { notified, role: auth.getState().claims?.hasura?.["x-hasura-default-role"], status: auth.getState().status };
      auth.dispose();
      return { first, plain, changed };
    });
    assert.deepEqual(outcome.first, { notified: 1, role: "user" });
    assert.deepEqual(outcome.plain, { notified: 1, same: "user" }, "a plain refresh is not a change");
    assert.deepEqual(outcome.changed, { notified: 2, role: "admin", status: "authenticated" });
  });
});

describe("wrap and unwrap", () => {
  test("wrapping a client twice returns the same wrapped client and hands each refresh over once", async () => {
    const outcome = await inPage(async () => {
      const { authlane, FakeConvexClient, mint, flush } = window.harness;
      const auth = authlane.createAuth({ fetchAccessToken: async () => mint(3600), crossTab: false });
      const client = new FakeConvexClient();
      const first = auth.wrap(client);
      const second = auth.wrap(client);
      const ofWrapped = auth.wrap(first);
      await auth.ready;
      await flush();
      client.accept();
      await flush();
      const before = client.log.filter((e) => e.type === "setAuth").length;
      await auth.getToken({ forceRefresh: true });
      await flush();
      const after = client.log.filter((e) => e.type === "setAuth").length;
      auth.dispose();
      return { same: first === second && first === ofWrapped, before, handedOver: after - before };
    });
    assert.equal(outcome.same, true);
    assert.equal(outcome.before, 1);
    assert.equal(outcome.handedOver, 1, "one setAuth per refresh, not one per wrap");
  });

  test("unwrap lets go of the client: its auth is cleared, refreshes no longer reach it, held operations run", async () => {
    const outcome = await inPage(async () => {
      const { authlane, FakeConvexClient, mint, flush } = window.harness;
      const auth = authlane.createAuth({ fetchAccessToken: async () => mint(3600), expectAuth: true, crossTab: false });
      const client = new FakeConvexClient();
      const wrapped = auth.wrap(client);
      const results = [];
      wrapped.query("held", {}).then(() => results.push("held"));
      await auth.ready;
      await flush();
      const heldBefore = client.log.filter((e) => e.type === "query").length;
      auth.unwrap(wrapped);
      await flush();
      const typesAfterUnwrap = client.log.map((e) => e.type);
      await auth.getToken({ forceRefresh: true });
      await flush();
      const typesLater = client.log.map((e) => e.type);
      const viaOldWrapper = wrapped.query("after-unwrap", {}) instanceof Promise;
      const sentAfterUnwrap = client.log.at(-1).name;
      const rewrapped = auth.wrap(client) !== wrapped;
      auth.dispose();
      return { heldBefore, typesAfterUnwrap, grewAfterUnwrap: typesLater.length - typesAfterUnwrap.length, results, rewrapped, viaOldWrapper, sentAfterUnwrap };
    });
    assert.equal(outcome.heldBefore, 0, "held while wrapped");
    assert.deepEqual(outcome.typesAfterUnwrap.slice(-2), ["clearAuth", "query"], "auth cleared, then the held query runs");
    assert.deepEqual(outcome.results, ["held"]);
    assert.equal(outcome.grewAfterUnwrap, 0, "a refresh after unwrap never touches the client");
    assert.equal(outcome.viaOldWrapper, true);
    assert.equal(outcome.sentAfterUnwrap, "after-unwrap", "the old wrapped client no longer gates (expectAuth would hold it)");
    assert.equal(outcome.rewrapped, true, "after unwrap, wrap makes a new wrapped client");
  });
});

describe("expectAuth gate", () => {
  test("held operations run inside the call that brings the acceptance, before listeners' new operations", async () => {
    const outcome = await inPage(async () => {
      const { authlane, FakeConvexClient, mint, flush } = window.harness;
      const gaps = [];
      let order = [];
      let ranInside = 0;
      for (let round = 0; round < 7; round++) {
        const auth = authlane.createAuth({ fetchAccessToken: async () => mint(3600), expectAuth: true, crossTab: false });
        const client = new FakeConvexClient();
        const wrapped = auth.wrap(client);
        let sentAt = null;
        const query = client.query.bind(client);
        client.query = (...args) => {
          sentAt ??= performance.now();
          return query(...args);
        };
        auth.subscribe(() => {
          if (auth.getState().isAuthenticated) wrapped.query("from-listener", {});
        });
        await auth.ready;
        await flush();
        wrapped.query("held", {});
        const acceptedAt = performance.now();
        client.accept();
        if (sentAt !== null) ranInside++;
        gaps.push(sentAt - acceptedAt);
        order = client.log.filter((e) => e.type === "query").map((e) => e.name);
        auth.dispose();
      }
      gaps.sort((a, b) => a - b);
      return { ranInside, order, median: gaps[3], max: gaps[6] };
    });
    console.log(`held query after accept(): median ${outcome.median.toFixed(2)} ms, max ${outcome.max.toFixed(2)} ms (same task, 7 rounds)`);
    assert.equal(outcome.ranInside, 7, "the held query was sent before accept() returned, every round");
    assert.deepEqual(outcome.order, ["held", "from-listener"], "held operations keep their place ahead of new ones");
  });
});

// `initialToken`: a token the server rendered into the page makes startup cost no token call and the
// first operation go with its identity; an implausible one is ignored with a trace.
describe("initialToken", () => {
  test("a rendered token: no token call at startup, the first query goes with its identity, the session settles authenticated", async () => {
    const outcome = await inPage(async () => {
      const { authlane, FakeConvexClient, mint, scriptedFetcher, flush } = window.harness;
      const rendered = mint(3600);
      const fetcher = scriptedFetcher(() => mint(3600));
      const traces = [];
      const statuses = [];
      const auth = authlane.createAuth({
        fetchAccessToken: fetcher.fetchAccessToken,
        initialToken: rendered,
        expectAuth: true,
        crossTab: false,
        onTrace: (event) => traces.push(event.kind),
      });
      auth.subscribe(() => statuses.push(auth.getState().status));
      const client = auth.wrap(new FakeConvexClient({ server: { latencyMs: 5, verdict: () => true } }));
      const answer = client.query("whoami", {});
      const first = await answer;
      const settled = await auth.settled;
      await flush();
      const sent = client.log.find((entry) => entry.type === "Authenticate")?.tail;
      auth.dispose();
      return { calls: fetcher.calls.length, identity: first.identity, sent, tail: rendered.slice(-6), status: settled.status, statuses, traces };
    });
    console.log(`# initialToken: ${outcome.calls} token calls at startup; statuses ${outcome.statuses.join(" → ")}`);
    assert.equal(outcome.calls, 0, "fetchAccessToken was called beside the rendered token");
    assert.equal(outcome.sent, outcome.tail, "the client authenticated with the rendered token");
    assert.equal(outcome.identity, outcome.tail, "the first query went with the rendered identity");
    assert.equal(outcome.status, "authenticated");
    assert.deepEqual(outcome.statuses, ["authenticated"], "no signed-out or second loading state on the way");
    assert.ok(outcome.traces.includes("peer_token_adopted") && !outcome.traces.includes("fetch_started"), outcome.traces.join(","));
  });

  test("an expired, malformed or oversized rendered token is ignored with a trace: one startup call, authenticated", async () => {
    const outcome = await inPage(async () => {
      const { authlane, mint, scriptedFetcher } = window.harness;
      const cases = {
        expired: mint(60, { iatOffsetSeconds: -600 }),
        malformed: "not.a-jwt",
        oversized: `${mint(3600)}${"x".repeat(20_000)}`,
      };
      const results = {};
      for (const [label, initialToken] of Object.entries(cases)) {
        const fetcher = scriptedFetcher(() => mint(3600));
        const traces = [];
        const auth = authlane.createAuth({
          fetchAccessToken: fetcher.fetchAccessToken,
          initialToken,
          crossTab: false,
          onTrace: (event) => traces.push(event.kind),
        });
        const settled = await auth.settled;
        results[label] = { calls: fetcher.calls.length, status: settled.status, ignored: traces.filter((kind) => kind === "initial_token_ignored").length };
        auth.dispose();
      }
      return results;
    });
    for (const [label, result] of Object.entries(outcome)) {
      assert.deepEqual(result, { calls: 1, status: "authenticated", ignored: 1 }, label);
    }
  });
});
