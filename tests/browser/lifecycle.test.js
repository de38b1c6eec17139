// The built package in headless Chromium, wrapping an in-page Convex-like client, on Playwright's
// simulated clock. Each test asserts fetch counts, wire order and state sequences. One tab per
// test (crossTab: false); cross-tab behaviour has its own suite.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "../support/chromium.js";
import { startStaticServer } from "../support/static-server.js";

const START = new Date("2026-11-23T00:00:00Z");
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

/** A fresh page with the harness loaded on a simulated clock, closed when test `t` ends. */
async function openHarness(t) {
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error));
  await page.clock.install({ time: START });
  await page.goto(`${server.origin}/tests/browser/pages/harness.html`);
  await page.waitForFunction(() => window.harnessReady === true);
  // Playwright's installed clock still flows with real time; paused, only advance() moves it, so
  // a slow machine cannot bring a refresh forward. (A minute on: past however long the load took.)
  await page.clock.pauseAt(new Date(START.getTime() + 60_000));
  return {
    page,
    errors,
    /** Advances the page clock, firing due timers, then lets promise chains settle. */
    async advance(ms) {
      await page.clock.runFor(ms);
      await page.evaluate(() => window.harness.flush());
    },
    close: () => context.close(),
  };
}

/**
 * Sets up `window.t` in the page: an auth over a scripted fetcher, a wrapped fake client, and
 * recorders for state changes. `lifetime` is the minted tokens' lifetime in seconds.
 */
async function setUp(page, options = {}) {
  await page.evaluate(async (options) => {
    const { authlane, FakeConvexClient, mint, scriptedFetcher, flush } = window.harness;
    const fetcher = scriptedFetcher(() => mint(options.lifetime ?? 60));
    const logLines = [];
    const auth = authlane.createAuth({
      fetchAccessToken: fetcher.fetchAccessToken,
      expectAuth: options.expectAuth ?? false,
      signedOutOperations: options.signedOutOperations,
      refreshLeewaySeconds: options.leeway,
      verbose: (line) => logLines.push(line),
      crossTab: false,
    });
    const statuses = [];
    auth.subscribe(() => statuses.push(auth.getState().status));
    const client = new FakeConvexClient();
    const wrapped = options.wrap === false ? null : auth.wrap(client);
    window.t = { auth, fetcher, client, wrapped, statuses, logLines, results: [] };
    await auth.ready;
    await flush();
  }, options);
}

const read = (page, fn) => page.evaluate(fn);
const forceFlags = (page) => read(page, () => window.t.fetcher.calls.map((c) => c.force));
const wire = (page) => read(page, () => window.t.client.log.map((e) => e.type));

describe("startup", () => {
  test("a fresh token costs one fetch, and the state settles only when the server accepts it", async (t) => {
    const h = await openHarness(t);
    await setUp(h.page);
    assert.deepEqual(await forceFlags(h.page), [false]);
    assert.deepEqual(await read(h.page, () => window.t.statuses), [], "still loading: the server has not answered");
    assert.deepEqual(await wire(h.page), ["setAuth", "fetchToken", "Authenticate"]);

    await read(h.page, () => window.t.client.accept());
    await h.page.evaluate(() => window.harness.flush());
    assert.deepEqual(await read(h.page, () => window.t.statuses), ["authenticated"]);
    // convex-js's second startup fetch (forced, right after confirmation) is answered from the cache.
    assert.deepEqual(await wire(h.page), ["setAuth", "fetchToken", "Authenticate", "Accepted", "fetchToken"]);
    assert.deepEqual(await forceFlags(h.page), [false], "still one call to fetchAccessToken");
    assert.equal(await read(h.page, () => window.t.client.state), "notRefetching");
    assert.deepEqual(h.errors, []);
    await h.close();
  });
});

describe("ready and settled", () => {
  test("ready resolves while the state is still loading; settled resolves with the first settled snapshot", async (t) => {
    const h = await openHarness(t);
    await setUp(h.page);
    const early = await read(h.page, () => {
      window.t.settledWith = null;
      window.t.auth.settled.then((first) => (window.t.settledWith = first));
      return window.t.auth.getState().status;
    });
    assert.equal(early, "loading", "ready came before the server's verdict");
    await h.page.evaluate(() => window.harness.flush());
    assert.equal(await read(h.page, () => window.t.settledWith), null, "not settled while loading");
    await read(h.page, () => window.t.client.accept());
    await h.page.evaluate(() => window.harness.flush());
    assert.deepEqual(
      await read(h.page, () => ({ status: window.t.settledWith?.status, same: window.t.settledWith === window.t.auth.getState() })),
      { status: "authenticated", same: true },
    );
  });
});

describe("proactive refresh", () => {
  test("refreshes leeway before exp, forced, pushes the token to the client, and never flashes loading", async (t) => {
    const h = await openHarness(t);
    await setUp(h.page, { lifetime: 20, leeway: 10 });
    await read(h.page, () => window.t.client.accept());
    await h.advance(9_000);
    assert.deepEqual(await forceFlags(h.page), [false]);
    for (let cycle = 1; cycle <= 3; cycle++) {
      await h.advance(1_000);
      assert.deepEqual(await forceFlags(h.page), [false, ...Array(cycle).fill(true)], `cycle ${cycle}`);
      const tail = await read(h.page, () => window.t.client.log.filter((e) => e.type === "Authenticate").at(-1).tail);
      const token = await read(h.page, () => window.t.auth.getToken());
      assert.equal(token.slice(-6), tail, "the client was handed the refreshed token");
      await read(h.page, () => window.t.client.accept());
      await h.advance(9_000);
    }
    assert.deepEqual(await read(h.page, () => window.t.statuses), ["authenticated"], "one notification, no loading flash");
    await h.close();
  });

  test("a tab that slept past its deadline refreshes when it becomes visible again", async (t) => {
    const h = await openHarness(t);
    await setUp(h.page, { lifetime: 60 });
    await read(h.page, () => window.t.client.accept());
    // Move the wall clock ten minutes on without running timers, as a suspended tab experiences it.
    await h.page.clock.setSystemTime(new Date(START.getTime() + 600_000));
    assert.deepEqual(await forceFlags(h.page), [false]);
    await h.page.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
    await h.page.evaluate(() => window.harness.flush());
    assert.deepEqual(await forceFlags(h.page), [false, true]);
    await h.close();
  });
});

describe("server verdicts", () => {
  test("a rejection costs exactly one forced refresh, and the replacement is accepted", async (t) => {
    const h = await openHarness(t);
    await setUp(h.page);
    await read(h.page, () => window.t.client.reject());
    await h.page.evaluate(() => window.harness.flush());
    assert.deepEqual(await forceFlags(h.page), [false, true]);
    await read(h.page, () => window.t.client.accept());
    await h.page.evaluate(() => window.harness.flush());
    assert.deepEqual(await read(h.page, () => window.t.statuses), ["authenticated"]);
    assert.deepEqual(await forceFlags(h.page), [false, true]);
    await h.close();
  });

  test("a second rejection settles unauthenticated with token_rejected, and nothing loops", async (t) => {
    const h = await openHarness(t);
    await setUp(h.page);
    await read(h.page, () => window.t.client.reject());
    await h.page.evaluate(() => window.harness.flush());
    await read(h.page, () => window.t.client.reject());
    await h.advance(120_000);
    assert.deepEqual(await forceFlags(h.page), [false, true]);
    const state = await read(h.page, () => ({ ...window.t.auth.getState(), error: window.t.auth.getState().error?.code }));
    assert.equal(state.status, "unauthenticated");
    assert.equal(state.error, "token_rejected");
    assert.deepEqual(await read(h.page, () => window.t.statuses), ["unauthenticated"]);
    await h.close();
  });
});

describe("expectAuth gate", () => {
  test("holds operations until the server accepts the token, then releases them in call order", async (t) => {
    const h = await openHarness(t);
    await setUp(h.page, { expectAuth: true, lifetime: 20, leeway: 10 });
    await read(h.page, () => {
      const { wrapped, results } = window.t;
      wrapped.query("messages:list", {}).then((r) => results.push(["query", r.identity]));
      wrapped.mutation("messages:send", {}).then(() => results.push(["mutation"]));
      const cancelled = wrapped.onUpdate("messages:cancelled", {}, () => {});
      window.t.kept = wrapped.onUpdate("messages:kept", {}, () => {});
      cancelled();
    });
    await h.page.evaluate(() => window.harness.flush());
    assert.deepEqual(await wire(h.page), ["setAuth", "fetchToken", "Authenticate"], "nothing leaks before acceptance");

    await read(h.page, () => window.t.client.accept());
    await h.page.evaluate(() => window.harness.flush());
    const sent = await read(h.page, () => window.t.client.log.filter((e) => e.auth !== undefined).map((e) => [e.type, e.name, e.auth]));
    const tail = await read(h.page, () => window.t.client.token.slice(-6));
    assert.deepEqual(sent, [
      ["query", "messages:list", tail],
      ["mutation", "messages:send", tail],
      ["subscribe", "messages:kept", tail],
    ]);
    assert.deepEqual(await read(h.page, () => window.t.results), [["query", tail], ["mutation"]]);
    assert.equal(await read(h.page, () => window.t.kept.getCurrentValue()), "current:messages:kept");

    // A background refresh never re-holds: operations during it run at once.
    await h.advance(10_000);
    assert.equal((await forceFlags(h.page)).length, 2);
    await read(h.page, () => window.t.wrapped.query("during:refresh", {}));
    assert.equal(await read(h.page, () => window.t.client.log.at(-1).name), "during:refresh");
    await h.close();
  });

  test("when auth settles signed out, held operations run unauthenticated by default", async (t) => {
    const h = await openHarness(t);
    const outcome = await h.page.evaluate(async () => {
      const { authlane, FakeConvexClient, flush } = window.harness;
      const auth = authlane.createAuth({ fetchAccessToken: async () => null, expectAuth: true, crossTab: false });
      const client = new FakeConvexClient();
      const wrapped = auth.wrap(client);
      const results = [];
      wrapped.query("messages:list", {}).then((r) => results.push(r.identity));
      await auth.ready;
      await flush();
      return { results, status: auth.getState().status };
    });
    assert.deepEqual(outcome, { results: [null], status: "unauthenticated" });
    await h.close();
  });

  test("with signedOutOperations: 'reject', held operations fail with a typed signed_out error", async (t) => {
    const h = await openHarness(t);
    const outcome = await h.page.evaluate(async () => {
      const { authlane, FakeConvexClient, flush } = window.harness;
      const auth = authlane.createAuth({ fetchAccessToken: async () => null, expectAuth: true, signedOutOperations: "reject", crossTab: false });
      const client = new FakeConvexClient();
      const wrapped = auth.wrap(client);
      const errors = [];
      wrapped.query("messages:list", {}).catch((e) => errors.push([e.name, e.code]));
      wrapped.onUpdate("messages:list", {}, () => {}, (e) => errors.push([e.name, e.code]));
      await auth.ready;
      await flush();
      return { errors, sent: client.log.filter((e) => e.type === "query" || e.type === "subscribe").length };
    });
    assert.deepEqual(outcome.errors, [["AuthlaneError", "signed_out"], ["AuthlaneError", "signed_out"]]);
    assert.equal(outcome.sent, 0);
    await h.close();
  });
});

describe("sign-out and failures", () => {
  test("signOut clears the client's auth, and a fetch that resolves afterwards is dropped", async (t) => {
    const h = await openHarness(t);
    await setUp(h.page, { lifetime: 20, leeway: 10 });
    await read(h.page, () => window.t.client.accept());
    // Make the next fetch hang until we release it.
    await read(h.page, () => {
      window.t.fetcher.script.push(() => new Promise((resolve) => (window.t.releaseFetch = resolve)));
    });
    await h.advance(10_000);
    assert.deepEqual(await forceFlags(h.page), [false, true]);
    await read(h.page, () => window.t.auth.signOut());
    await read(h.page, () => window.t.releaseFetch(window.harness.mint(20)));
    await h.page.evaluate(() => window.harness.flush());
    assert.deepEqual(await read(h.page, () => window.t.statuses), ["authenticated", "unauthenticated"]);
    assert.equal(await read(h.page, () => window.t.client.log.at(-1).type), "clearAuth");
    await h.advance(60_000);
    assert.deepEqual(await forceFlags(h.page), [false, true], "no fetches after sign-out");
    await h.close();
  });

  test("a callback that throws during refresh keeps the user signed in while retries back off", async (t) => {
    const h = await openHarness(t);
    await setUp(h.page, { lifetime: 20, leeway: 10 });
    await read(h.page, () => window.t.client.accept());
    await read(h.page, () => {
      window.t.fetcher.script.push(() => {
        throw new Error("issuer unreachable");
      });
    });
    await h.advance(10_000);
    // The fault happened: the refresh's callback threw, and the session saw a failed fetch.
    const failed = await read(h.page, () => window.t.logLines.filter((line) => line.includes("fetch_failed")));
    assert.equal(failed.length, 1, "the refresh's callback threw once");
    assert.equal(await read(h.page, () => window.t.auth.getState().status), "authenticated");
    await h.advance(1_000);
    assert.deepEqual(await forceFlags(h.page), [false, true, true], "retried within the first backoff step");
    assert.deepEqual(await read(h.page, () => window.t.statuses), ["authenticated"]);
    await h.close();
  });

  test("garbage from the callback becomes a typed error, never a crash", async (t) => {
    const h = await openHarness(t);
    await h.page.evaluate(async () => {
      const { authlane, flush } = window.harness;
      const auth = authlane.createAuth({ fetchAccessToken: async () => 42, crossTab: false });
      window.t = { auth, outcome: null };
      auth.getToken().then(() => (window.t.outcome = "resolved"), (e) => (window.t.outcome = [e.name, e.code]));
      await auth.ready;
      await flush();
    });
    assert.equal(await read(h.page, () => window.t.auth.getState().status), "loading", "first failures retry quietly");
    await h.advance(10_000);
    assert.deepEqual(await read(h.page, () => window.t.outcome), ["AuthlaneError", "invalid_callback_result"]);
    const state = await read(h.page, () => ({ status: window.t.auth.getState().status, code: window.t.auth.getState().error?.code }));
    assert.deepEqual(state, { status: "unauthenticated", code: "invalid_callback_result" });
    assert.deepEqual(h.errors, []);
    await h.close();
  });

  test("a malformed JWT settles with malformed_token after the startup attempts", async (t) => {
    const h = await openHarness(t);
    await h.page.evaluate(async () => {
      const { authlane, flush } = window.harness;
      const auth = authlane.createAuth({ fetchAccessToken: async () => "a.b", crossTab: false });
      window.t = { auth };
      await auth.ready;
      await flush();
    });
    await h.advance(10_000);
    const state = await read(h.page, () => ({ status: window.t.auth.getState().status, code: window.t.auth.getState().error?.code }));
    assert.deepEqual(state, { status: "unauthenticated", code: "malformed_token" });
    assert.deepEqual(h.errors, []);
    await h.close();
  });
});

describe("logs", () => {
  test("verbose lines show the lifecycle and never a whole token", async (t) => {
    const h = await openHarness(t);
    await setUp(h.page, { lifetime: 20, leeway: 10 });
    await read(h.page, () => window.t.client.accept());
    await h.advance(10_000);
    await read(h.page, () => window.t.client.accept());
    const { lines, tokens } = await read(h.page, async () => ({
      lines: window.t.logLines,
      tokens: [await window.t.auth.getToken()],
    }));
    assert.ok(lines.some((line) => line.includes("fetch_started (proactive,forced)")), lines.join("\n"));
    assert.ok(lines.some((line) => line.includes("server_accepted …")));
    for (const token of tokens) {
      for (const line of lines) assert.ok(!line.includes(token.slice(0, 20)), `a log line leaks a token: ${line}`);
    }
    await h.close();
  });
});
