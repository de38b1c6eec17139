// The paths a browser takes only when something is missing or broken, in headless Chromium: no
// BroadcastChannel (the storage-event channel), storage that throws, `online` and `pageshow`
// wake-ups, a deadline beyond setTimeout's range (the driver re-arms the clamped timer), and no
// Web Locks (the localStorage lease). Every test first shows that its fault happened, then which
// path ran: traces, the page's own counters, the storage keys written.
// One browser for the file; each test's context and server close in `finally`; every wait is bounded.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "../support/chromium.js";
import { openPageContext } from "../support/page-context.js";
import { startStaticServer } from "../support/static-server.js";
import { createTokenIssuer } from "../support/token-issuer.js";

const START = new Date("2026-11-23T00:00:00Z");
/** setTimeout's largest delay (a signed 32-bit count of ms); src/core/timers.rs clamps to it. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;
const DAY_MS = 86_400_000;
/** Bounds every wait, so a broken path fails the test in seconds instead of hanging it. */
const WAIT = { timeout: 15_000 };
const TEST = { timeout: 60_000 };
let browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

/** A context whose pages run `initScripts` (source text) before their own; `close()` also stops the server. */
const openContext = (server, initScripts) => openPageContext(browser, server, initScripts);

/**
 * Two tabs of tests/browser/pages/tab.html (a rotating refresh token in localStorage, crossTab on,
 * app name `app`), signed in once, both authenticated. Tokens live 3 s, refreshed 1.5 s early.
 */
async function openTwoTabs(app, initScripts) {
  const issuer = createTokenIssuer({ lifetimeSeconds: 3 });
  const server = await startStaticServer(["pkg", "tests/browser/pages", "tests/support"], { api: issuer.handle });
  const session = await openContext(server, initScripts);
  try {
    const signIn = await session.open("/tests/browser/pages/blank.html");
    await signIn.evaluate(async () => {
      const answer = await (await fetch("/signin", { method: "POST", body: "{}" })).json();
      localStorage.setItem("test-sdk:refresh-token", answer.refresh_token);
    });
    await signIn.close();
    const tabs = [];
    for (let index = 0; index < 2; index++) {
      const tab = await session.open(`/tests/browser/pages/tab.html?leeway=1.5&app=${app}`);
      await tab.waitForFunction(() => window.auth?.getState().status === "authenticated", null, WAIT);
      tabs.push(tab);
    }
    return { ...session, issuer, tabs };
  } catch (error) {
    await session.close();
    throw error;
  }
}

const tabStats = (tab) => tab.evaluate(() => ({ ...window.stats, status: window.auth.getState().status }));
const count = (list, item) => list.filter((entry) => entry === item).length;

// Init scripts (page source text): the faults, and what records that they and their paths happened.
/** Records every localStorage key written and every `storage` event's key, per page. */
const RECORD_STORAGE = `
  window.storageRecord = { written: [], events: [] };
  const setItem = Storage.prototype.setItem;
  Storage.prototype.setItem = function (key, value) {
    window.storageRecord.written.push(key);
    return setItem.call(this, key, value);
  };
  addEventListener("storage", (event) => window.storageRecord.events.push(event.key));`;
const NO_BROADCAST_CHANNEL = "delete window.BroadcastChannel;";
const NO_WEB_LOCKS = `Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined });`;
/** Every localStorage read or write throws, as in a privacy mode; counts the throws. */
const THROWING_STORAGE = `
  window.storageThrows = { getItem: 0, setItem: 0, removeItem: 0 };
  for (const method of Object.keys(window.storageThrows)) {
    Storage.prototype[method] = function () {
      window.storageThrows[method]++;
      throw new DOMException("storage refused", "SecurityError");
    };
  }`;

describe("no BroadcastChannel", () => {
  test("the storage-event channel carries a refreshed token and the sign-out to the other tab", TEST, async () => {
    const tabs = await openTwoTabs("no-broadcast", [NO_BROADCAST_CHANNEL, RECORD_STORAGE]);
    try {
      const [first, second] = tabs.tabs;
      // The fault: neither page has BroadcastChannel.
      assert.deepEqual(await Promise.all(tabs.tabs.map((tab) => tab.evaluate(() => typeof BroadcastChannel))), ["undefined", "undefined"]);

      // A refresh in one tab reaches the other as a storage event, which adopts the token.
      await Promise.any(tabs.tabs.map((tab) => tab.waitForFunction(() => window.stats.traces.includes("peer_token_adopted"), null, WAIT)));
      const stats = await Promise.all(tabs.tabs.map(tabStats));
      const channelEvents = await Promise.all(tabs.tabs.map((tab) => tab.evaluate(() => window.storageRecord.events.filter((key) => key === "authlane:channel:no-broadcast").length)));
      console.log(`# no BroadcastChannel: channel storage events per tab ${channelEvents.join(", ")}; adoptions ${stats.map((s) => count(s.traces, "peer_token_adopted")).join(", ")}; endpoint refreshes ${tabs.issuer.stats.refreshes}`);
      assert.ok(channelEvents.some((events) => events > 0), "peer messages arrived as storage events");
      assert.equal(tabs.issuer.stats.reuseDetections, 0, "the tabs never presented a rotated refresh token twice");
      for (const s of stats) assert.equal(s.expiredSent, 0);

      // Sign-out in one tab signs the other out through the same channel.
      const before = await second.evaluate(() => window.storageRecord.events.length);
      await first.evaluate(() => window.auth.signOut());
      await second.waitForFunction(() => window.auth.getState().status === "unauthenticated", null, WAIT);
      const after = await second.evaluate(() => ({ traces: window.stats.traces, events: window.storageRecord.events.length }));
      assert.ok(after.traces.includes("peer_signed_out"), "the second tab signed out because its peer said so");
      assert.ok(after.events > before, "the sign-out arrived as a storage event");
      // The lease is the no-Web-Locks path: with Web Locks present it is never written.
      const written = await Promise.all(tabs.tabs.map((tab) => tab.evaluate(() => window.storageRecord.written)));
      assert.ok(!written.flat().includes("authlane:no-broadcast:lease"), "Web Locks were used, not the lease");
      assert.deepEqual(tabs.errors, []);
    } finally {
      await tabs.close();
    }
  });
});

describe("no Web Locks", () => {
  test("the localStorage lease is what serialises the refreshes", TEST, async () => {
    const tabs = await openTwoTabs("no-locks", [NO_WEB_LOCKS, RECORD_STORAGE]);
    try {
      // The fault: neither page has navigator.locks.
      assert.deepEqual(await Promise.all(tabs.tabs.map((tab) => tab.evaluate(() => typeof navigator.locks))), ["undefined", "undefined"]);
      // Let one proactive refresh happen after startup, then read which path each lock took.
      const startupRefreshes = tabs.issuer.stats.refreshes;
      const atStartup = await Promise.all(tabs.tabs.map((tab) => tab.evaluate(() => window.stats.traces.length)));
      await Promise.any(
        tabs.tabs.map((tab, index) =>
          tab.waitForFunction((from) => window.stats.traces.slice(from).includes("token_adopted"), atStartup[index], WAIT),
        ),
      );
      assert.ok(tabs.issuer.stats.refreshes > startupRefreshes, "a refresh happened after startup");
      const seen = await Promise.all(tabs.tabs.map((tab) => tab.evaluate(() => ({ traces: window.stats.traces, written: window.storageRecord.written, fetchCalls: window.stats.fetchCalls }))));
      const lockers = seen.filter((tab) => tab.traces.includes("lock_acquired"));
      console.log(`# no Web Locks: lock_acquired per tab ${seen.map((tab) => count(tab.traces, "lock_acquired")).join(", ")}; lease writes per tab ${seen.map((tab) => count(tab.written, "authlane:no-locks:lease")).join(", ")}; endpoint refreshes ${tabs.issuer.stats.refreshes}`);
      assert.ok(lockers.length >= 1, "a tab took the refresh lock");
      for (const tab of lockers) assert.ok(tab.written.includes("authlane:no-locks:lease"), "every tab that took the lock wrote the lease");
      assert.equal(tabs.issuer.stats.reuseDetections, 0, "the lease kept the tabs from presenting a refresh token twice");
      assert.deepEqual(tabs.errors, []);
    } finally {
      await tabs.close();
    }
  });
});

/** The harness page (tests/browser/pages/harness.js), optionally on Playwright's simulated clock. */
async function openHarness(initScripts = [], { clock = false } = {}) {
  const server = await startStaticServer(["pkg", "tests/browser/pages", "tests/support"]);
  const session = await openContext(server, initScripts);
  try {
    const page = await session.context.newPage();
    page.on("pageerror", (error) => session.errors.push(error.message));
    if (clock) await page.clock.install({ time: START });
    await page.goto(`${server.origin}/tests/browser/pages/harness.html`);
    await page.waitForFunction(() => window.harnessReady === true, null, WAIT);
    return { ...session, page };
  } catch (error) {
    await session.close();
    throw error;
  }
}

/**
 * In the page: `window.t` = an auth over a scripted fetcher minting `lifetime`-second tokens, its
 * traces ({ kind, detail }) and statuses; resolves with the status once it has left "loading".
 */
async function startSession(page, options) {
  await page.evaluate(async ({ lifetime, auth: authOptions }) => {
    const { authlane, scriptedFetcher, mint } = window.harness;
    const fetcher = scriptedFetcher(() => mint(lifetime));
    const traces = [];
    const statuses = [];
    const auth = authlane.createAuth({ fetchAccessToken: fetcher.fetchAccessToken, onTrace: (event) => traces.push({ kind: event.kind, detail: event.detail }), ...authOptions });
    auth.subscribe(() => statuses.push(auth.getState().status));
    window.t = { auth, fetcher, traces, statuses };
    await auth.ready;
  }, options);
  await page.waitForFunction(() => window.t.auth.getState().status !== "loading", null, WAIT);
  return page.evaluate(() => window.t.auth.getState().status);
}

const fetchesStarted = (page) => page.evaluate(() => window.t.traces.filter((trace) => trace.kind === "fetch_started").map((trace) => trace.detail));

describe("storage that throws", () => {
  test("a session with storage: 'local' works when every localStorage call throws", TEST, async () => {
    const harness = await openHarness([THROWING_STORAGE]);
    try {
      const { page } = harness;
      const status = await startSession(page, { lifetime: 60, auth: { storage: "local", crossTab: { name: "throwing" } } });
      assert.equal(status, "authenticated");
      assert.match(await page.evaluate(() => window.t.auth.getToken()), /^[\w-]+\.[\w-]+\.[\w-]+$/, "getToken answers a token");
      await page.evaluate(() => window.t.auth.signOut());
      const seen = await page.evaluate(() => ({ throws: { ...window.storageThrows }, statuses: window.t.statuses, calls: window.t.fetcher.calls.length }));
      console.log(`# throwing storage: getItem threw ${seen.throws.getItem}×, setItem ${seen.throws.setItem}×, removeItem ${seen.throws.removeItem}×`);
      // The fault happened on the read at startup and on the writes (the token record, the sign-out).
      assert.ok(seen.throws.getItem >= 1, "reading the stored record threw");
      assert.ok(seen.throws.setItem + seen.throws.removeItem >= 1, "writing threw");
      assert.deepEqual(seen.statuses, ["authenticated", "unauthenticated"]);
      assert.equal(seen.calls, 1, "one fetch: nothing retried because storage failed");
      assert.deepEqual(harness.errors, []);
    } finally {
      await harness.close();
    }
  });
});

describe("wake-ups", () => {
  for (const [event, dispatch] of [
    ["online", () => window.dispatchEvent(new Event("online"))],
    ["pageshow", () => window.dispatchEvent(new PageTransitionEvent("pageshow", { persisted: true }))],
  ]) {
    test(`an overdue refresh runs when \`${event}\` fires`, TEST, async () => {
      const harness = await openHarness([], { clock: true });
      try {
        const { page } = harness;
        assert.equal(await startSession(page, { lifetime: 60, auth: { refreshLeewaySeconds: 10, crossTab: false } }), "authenticated");
        assert.deepEqual(await fetchesStarted(page), ["startup"]);
        // The page slept: the wall clock passes the refresh time (50 s) without any timer running.
        await page.clock.setSystemTime(new Date(START.getTime() + 55_000));
        await page.evaluate(() => window.harness.flush());
        // An unrelated event wakes nothing: the refresh is still owed.
        await page.evaluate(() => window.dispatchEvent(new Event("focus")));
        await page.evaluate(() => window.harness.flush());
        assert.deepEqual(await fetchesStarted(page), ["startup"], "no timer fired and nothing else woke the session");
        await page.evaluate(dispatch);
        await page.evaluate(() => window.harness.flush());
        assert.deepEqual(await fetchesStarted(page), ["startup", "proactive,forced"], `\`${event}\` started the overdue refresh`);
        assert.deepEqual(await page.evaluate(() => window.t.statuses), ["authenticated"], "no loading flash");
        assert.deepEqual(harness.errors, []);
      } finally {
        await harness.close();
      }
    });
  }
});

describe("a deadline beyond setTimeout's range", () => {
  test("the driver arms the clamped delay, ignores the early fire and re-arms for the remainder", TEST, async () => {
    const harness = await openHarness([], { clock: true });
    try {
      const { page } = harness;
      // Record every delay the page asks setTimeout for (after the clock is installed, so the
      // recorder wraps the simulated setTimeout).
      await page.evaluate(() => {
        window.timeouts = [];
        const setTimeoutBefore = globalThis.setTimeout;
        globalThis.setTimeout = function (handler, delay, ...rest) {
          window.timeouts.push({ delay, at: Date.now() });
          return setTimeoutBefore.call(this, handler, delay, ...rest);
        };
      });
      const lifetimeSeconds = (40 * DAY_MS) / 1000;
      assert.equal(await startSession(page, { lifetime: lifetimeSeconds, auth: { refreshLeewaySeconds: 10, crossTab: false } }), "authenticated");
      const long = () => page.evaluate((day) => window.timeouts.filter((timeout) => timeout.delay > day), DAY_MS);
      const first = await long();
      // The fault: the refresh is ~40 days away, so the one timer is armed at the clamp.
      assert.deepEqual(first.map((timeout) => timeout.delay), [MAX_TIMER_DELAY_MS], "one timer, clamped to setTimeout's range");

      await page.clock.runFor(MAX_TIMER_DELAY_MS);
      await page.evaluate(() => window.harness.flush());
      assert.deepEqual(await fetchesStarted(page), ["startup"], "the early fire was a no-op for the session");
      const rearmed = await long();
      assert.equal(rearmed.length, 2, "the driver armed the timer again");
      const [, second] = rearmed;
      assert.equal(second.at, first[0].at + MAX_TIMER_DELAY_MS, "re-armed when the clamped timer fired");
      assert.ok(second.delay < MAX_TIMER_DELAY_MS, "for the remainder, which fits");
      const refreshAt = second.at + second.delay;
      console.log(`# clamp: armed ${MAX_TIMER_DELAY_MS} ms, re-armed ${second.delay} ms (${(second.delay / DAY_MS).toFixed(2)} days)`);

      await page.clock.runFor(second.delay);
      await page.evaluate(() => window.harness.flush());
      assert.deepEqual(await fetchesStarted(page), ["startup", "proactive,forced"], "the refresh ran when the re-armed timer fired");
      const calls = await page.evaluate(() => window.t.fetcher.calls.map((call) => call.at));
      assert.equal(calls[1], refreshAt, "exactly at the re-armed deadline");
      assert.deepEqual(harness.errors, []);
    } finally {
      await harness.close();
    }
  });
});
