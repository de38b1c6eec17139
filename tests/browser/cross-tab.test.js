// Cross-tab, in real Chromium: several pages of one browser context (they share Web Locks,
// BroadcastChannel and storage) against a rotating token endpoint on 127.0.0.1. Each suite runs
// twice: with Web Locks, and with them removed from the page (the localStorage lease path).
// Real time on purpose: timers, locks and channels of independent pages cannot share a fake clock.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "../support/chromium.js";
import { startStaticServer } from "../support/static-server.js";
import { createTokenIssuer } from "../support/token-issuer.js";

const LIFETIME_SECONDS = 3;
const LEEWAY_SECONDS = 1.5;
let browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

/** A fresh issuer and server, a browser context signed in once, and `count` open tabs. */
async function openTabs(count, { webLocks = true, crossTab = true, reuseWindowMs = 0, extraQuery = "" } = {}) {
  const issuer = createTokenIssuer({ lifetimeSeconds: LIFETIME_SECONDS, reuseWindowMs });
  const server = await startStaticServer(["pkg", "tests/browser/pages", "tests/support"], { api: issuer.handle });
  const context = await browser.newContext();
  if (!webLocks) {
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined }));
  }
  const signIn = await context.newPage();
  await signIn.goto(`${server.origin}/tests/browser/pages/blank.html`);
  await signIn.evaluate(async () => {
    const answer = await (await fetch("/signin", { method: "POST", body: "{}" })).json();
    localStorage.setItem("test-sdk:refresh-token", answer.refresh_token);
  });
  await signIn.close();
  const query = `?leeway=${LEEWAY_SECONDS}${crossTab ? "" : "&crossTab=off"}${extraQuery}`;
  const pages = [];
  const errors = [];
  for (let index = 0; index < count; index++) {
    const page = await context.newPage();
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${server.origin}/tests/browser/pages/tab.html${query}`);
    pages.push(page);
  }
  await Promise.all(pages.map((page) => page.waitForFunction(() => window.auth?.getState().status === "authenticated")));
  return {
    issuer,
    pages,
    context,
    origin: server.origin,
    query,
    errors,
    stats: () => Promise.all(pages.filter((page) => !page.isClosed()).map((page) => page.evaluate(() => ({ ...window.stats, status: window.auth.getState().status })))),
    async close() {
      await context.close();
      await server.close();
    },
  };
}

/** Lets the tabs live for `ms` of real time (a soak window, not a synchronisation point). */
const soak = (ms) => new Promise((done) => setTimeout(done, ms));

for (const webLocks of [true, false]) {
  const path = webLocks ? "Web Locks" : "localStorage lease";

  describe(`cross-tab (${path})`, () => {
    test("8 tabs cost the token endpoint what 1 tab costs, with no reuse and no expired token sent", async () => {
      const seconds = webLocks ? 32 : 16;
      const one = await openTabs(1, { webLocks });
      await soak(seconds * 1000);
      const oneRefreshes = one.issuer.stats.refreshes;
      await one.close();

      const eight = await openTabs(8, { webLocks });
      await soak(seconds * 1000);
      const stats = await eight.stats();
      const { refreshes, reuseDetections } = eight.issuer.stats;
      console.log(`# ${path}: token endpoint refreshes over ${seconds} s of ${LIFETIME_SECONDS} s tokens: 1 tab ${oneRefreshes}, 8 tabs ${refreshes} (ratio ${(refreshes / oneRefreshes).toFixed(2)}), reuse detections ${reuseDetections}`);
      assert.ok(oneRefreshes >= seconds / 2, `the single tab refreshed only ${oneRefreshes} times`);
      // Never more than one tab's worth (+1: opening 8 pages takes a moment of the window). Fewer is
      // fine: Chromium throttles timers in background pages, so refreshes land a little later.
      assert.ok(refreshes <= oneRefreshes + 1, `8 tabs: ${refreshes} refreshes vs 1 tab: ${oneRefreshes}`);
      assert.ok(refreshes >= oneRefreshes / 2, `8 tabs barely refreshed: ${refreshes}`);
      assert.equal(reuseDetections, 0);
      for (const tab of stats) {
        assert.equal(tab.status, "authenticated");
        assert.equal(tab.expiredSent, 0, "a tab sent an expired token to its client");
        assert.deepEqual(tab.statuses, ["authenticated"], "no tab flashed");
        assert.ok(tab.authenticates >= refreshes - 1, `a tab's client got ${tab.authenticates} tokens of ${refreshes + 1}`);
      }
      assert.deepEqual(eight.errors, []);
      await eight.close();
    });

    test("the lock holder closed mid-refresh: another tab takes over within the bound", async () => {
      // The closed tab's request reached the issuer but its new refresh token was never stored,
      // so the next tab presents the same one: tolerated inside the issuer's reuse window.
      const tabs = await openTabs(4, { webLocks, reuseWindowMs: 10_000 });
      tabs.issuer.config.delayMs = 1500;
      const deadline = Date.now() + 10_000;
      let leader = -1;
      while (leader < 0 && Date.now() < deadline) {
        const inFlight = await Promise.all(tabs.pages.map((page) => page.evaluate(() => window.stats.inFlight)));
        leader = inFlight.findIndex((count) => count > 0);
      }
      assert.ok(leader >= 0, "no tab started a refresh");
      const before = await tabs.pages[leader].evaluate(() => window.stats.lastExp);
      await tabs.pages[leader].close();
      const survivors = tabs.pages.filter((page) => !page.isClosed());
      const closedAt = Date.now();
      await Promise.all(
        survivors.map((page) => page.waitForFunction((exp) => window.stats.lastExp > exp, before, { timeout: 6_000 })),
      );
      console.log(`# ${path}: survivors refreshed ${Date.now() - closedAt} ms after the lock holder closed`);
      tabs.issuer.config.delayMs = 0;
      const stats = await tabs.stats();
      for (const tab of stats) assert.equal(tab.status, "authenticated");
      assert.equal(tabs.issuer.stats.reuseDetections, 0);
      await tabs.close();
    });

    test("a frozen lock holder (Chrome's page freezing) is stolen from after the lock timeout", async () => {
      const tabs = await openTabs(3, { webLocks, reuseWindowMs: 10_000, extraQuery: "&lockTimeout=2000" });
      tabs.issuer.config.delayMs = 800;
      let holder = -1;
      const deadline = Date.now() + 10_000;
      while (holder < 0 && Date.now() < deadline) {
        const inFlight = await Promise.all(tabs.pages.map((page) => page.evaluate(() => window.stats.inFlight)));
        holder = inFlight.findIndex((count) => count > 0);
      }
      assert.ok(holder >= 0, "no tab started a refresh");
      const cdp = await tabs.context.newCDPSession(tabs.pages[holder]);
      await cdp.send("Page.setWebLifecycleState", { state: "frozen" });
      const before = Math.max(...(await tabs.stats()).filter((_, i) => i !== holder).map((tab) => tab.lastExp));
      const others = tabs.pages.filter((_, index) => index !== holder);
      await Promise.all(others.map((page) => page.waitForFunction((exp) => window.stats.lastExp > exp, before, { timeout: 8_000 })));
      await cdp.send("Page.setWebLifecycleState", { state: "active" });
      tabs.issuer.config.delayMs = 0;
      await tabs.pages[holder].waitForFunction((exp) => window.stats.lastExp > exp, before, { timeout: 8_000 });
      const stats = await tabs.stats();
      for (const tab of stats) {
        assert.equal(tab.status, "authenticated");
        assert.equal(tab.expiredSent, 0);
      }
      assert.equal(tabs.issuer.stats.reuseDetections, 0);
      assert.deepEqual(tabs.errors, []);
      await tabs.close();
    });

    test("sign-out in one tab reaches all 8 tabs within 1 s, and nobody refreshes after", async () => {
      const tabs = await openTabs(8, { webLocks });
      await tabs.pages[0].evaluate(() => window.auth.signOut());
      await Promise.all(
        tabs.pages.map((page) => page.waitForFunction(() => window.auth.getState().status === "unauthenticated", null, { timeout: 1_000 })),
      );
      const refreshes = tabs.issuer.stats.refreshes;
      await soak(LIFETIME_SECONDS * 1000);
      assert.equal(tabs.issuer.stats.refreshes, refreshes);
      await tabs.close();
    });
  });
}

describe("the recorded sign-out", () => {
  test("a tab opened after a sign-out refuses a pre-sign-out token a peer still offers, and takes a newer one", async () => {
    const tabs = await openTabs(2);
    try {
      const [first, second] = tabs.pages;
      // What a frozen tab would re-broadcast from its backlog after thawing: a token fetched before the sign-out.
      const stale = await second.evaluate(async () => ({ token: await window.auth.getToken(), at: Date.now() }));
      await first.evaluate(() => window.auth.signOut());
      await second.waitForFunction(() => window.auth.getState().status === "unauthenticated");
      const recorded = Number(await first.evaluate(() => localStorage.getItem("authlane:signed-out:tabs-test")));
      assert.ok(recorded >= stale.at, "the sign-out time is recorded for tabs opened later");
      // The user signed out at the provider too; a new tab opens and settles signed out.
      await first.evaluate(() => localStorage.removeItem("test-sdk:refresh-token"));
      const late = await tabs.context.newPage();
      await late.goto(`${tabs.origin}/tests/browser/pages/tab.html${tabs.query}`);
      await late.waitForFunction(() => window.auth?.getState().status === "unauthenticated");
      const post = (message) =>
        first.evaluate((text) => {
          const channel = new BroadcastChannel("authlane:tabs-test");
          channel.postMessage(text);
          channel.close();
        }, JSON.stringify({ v: 1, ...message }));
      await post({ at: stale.at, kind: "token", token: stale.token });
      await late.waitForFunction(() => window.stats.traces.includes("stale_broadcast_ignored"));
      assert.ok(!(await late.evaluate(() => window.stats.traces)).includes("peer_token_adopted"));
      // A token from a sign-in after the sign-out does sign it in.
      const fresh = await first.evaluate(async () => {
        const signIn = await (await fetch("/signin", { method: "POST", body: "{}" })).json();
        const grant = { grant_type: "refresh_token", refresh_token: signIn.refresh_token };
        return (await (await fetch("/token", { method: "POST", body: JSON.stringify(grant) })).json()).access_token;
      });
      await post({ at: Date.now(), kind: "token", token: fresh });
      await late.waitForFunction(() => window.auth.getState().status === "authenticated");
      assert.equal(await late.evaluate(() => window.auth.getToken()), fresh, "the newer token, not the stale one");
      assert.deepEqual(await late.evaluate(() => window.stats.statuses), ["unauthenticated", "authenticated"], "never signed in by the stale token");
    } finally {
      await tabs.close();
    }
  });
});

describe("cross-tab off", () => {
  test("crossTab: false tabs refresh on their own (the behaviour authlane replaces)", async () => {
    const tabs = await openTabs(4, { crossTab: false, reuseWindowMs: 0 });
    await soak(8_000);
    const { refreshes, reuseDetections } = tabs.issuer.stats;
    console.log(`# crossTab off: 4 tabs, 8 s: ${refreshes} refreshes, ${reuseDetections} reuse detections`);
    assert.ok(refreshes + reuseDetections >= 4, "each tab refreshed by itself");
    await tabs.close();
  });
});

describe("persistence", () => {
  test("by default no token is written to storage (a sign-out leaves only its time)", async () => {
    const tabs = await openTabs(2);
    const keys = () => tabs.pages[0].evaluate(() => [...Object.keys(localStorage), ...Object.keys(sessionStorage)].filter((key) => key.startsWith("authlane:")));
    assert.deepEqual(await keys(), []);
    await tabs.pages[0].evaluate(() => window.auth.signOut());
    assert.deepEqual(await keys(), ["authlane:signed-out:tabs-test"]);
    await tabs.close();
  });

  test("storage 'local' restores the token on reload without a fetch, namespaced per app, cleared on sign-out", async () => {
    const tabs = await openTabs(1, { extraQuery: "&storage=local&app=shop" });
    const [page] = tabs.pages;
    const keys = await page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith("authlane:")));
    assert.deepEqual(keys, ["authlane:shop:token"]);
    const fetchesBefore = tabs.issuer.stats.refreshes;
    await page.reload();
    await page.waitForFunction(() => window.auth?.getState().status === "authenticated");
    assert.equal(await page.evaluate(() => window.stats.fetchCalls), 0, "the reloaded tab used the stored token");
    assert.equal(tabs.issuer.stats.refreshes, fetchesBefore);
    // Another app on the same origin neither sees nor disturbs it.
    const other = await tabs.context.newPage();
    await other.goto(`${tabs.origin}/tests/browser/pages/tab.html${tabs.query.replace("app=shop", "app=blog")}`);
    await other.waitForFunction(() => window.auth?.getState().status === "authenticated");
    assert.equal(await other.evaluate(() => window.stats.fetchCalls), 1, "the other app fetched its own token");
    await page.evaluate(() => window.auth.signOut());
    await page.waitForFunction(() => localStorage.getItem("authlane:shop:token") === null);
    assert.equal(await other.evaluate(() => window.auth.getState().status), "authenticated", "signing out of one app leaves the other");
    await tabs.close();
  });
});
