// The head start in real Chromium: what a tab does while its WebAssembly module loads. The test
// holds every page's authlane_bg.wasm response (Playwright routing) so that "before the module
// is ready" is a state the test controls, not a race: tabs opened then make one fetch among them,
// begun while every module is still held, and its token reaches every core; a tab whose module is
// held hears a running tab's token and starts with it, without asking for the lock.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "../support/chromium.js";
import { signedInContext } from "../support/signed-in-context.js";

const LIMIT = { timeout: 60_000 };
const WAIT = { timeout: 20_000 };
let browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

/** A signed-in context whose wasm responses wait while `hold()` is in force, until `release()`. */
async function heldModules(t) {
  const { issuer, server, context } = await signedInContext(t, browser, { lifetimeSeconds: 60 });
  let held = null;
  let release = () => {};
  await context.route("**/authlane_bg.wasm", async (route) => {
    if (held) await held;
    await route.continue();
  });
  const open = async (app) => {
    const tab = await context.newPage();
    await tab.goto(`${server.origin}/tests/browser/pages/tab.html?app=${app}`);
    await tab.waitForFunction(() => window.tabReady === true, null, WAIT);
    await tab.evaluate(() => {
      window.auth.ready.then(() => (window.moduleReadyAt = Date.now()));
    });
    return tab;
  };
  return {
    issuer,
    context,
    open,
    hold() {
      held = new Promise((resolve) => (release = resolve));
    },
    release: () => release(),
  };
}

const authenticated = (tab) => tab.waitForFunction(() => window.auth.getState().status === "authenticated", null, WAIT);
const statsOf = (tab) => tab.evaluate(() => ({ ...window.stats, moduleReadyAt: window.moduleReadyAt ?? null }));

test("tabs opened while their modules load make one fetch, begun before any module is ready, and every core takes its token", LIMIT, async (t) => {
  const modules = await heldModules(t);
  modules.hold();
  const tabs = await Promise.all([1, 2, 3].map(() => modules.open("head")));
  // The early fetch needs no module: the issuer hears it while every wasm response is held.
  await Promise.any(tabs.map((tab) => tab.waitForFunction(() => window.stats.fetchCalls > 0, null, WAIT)));
  const early = await Promise.all(tabs.map(statsOf));
  assert.deepEqual(early.map((tab) => tab.moduleReadyAt), [null, null, null], "no module was ready");
  assert.equal(early.reduce((sum, tab) => sum + tab.fetchCalls, 0), 1, "one tab fetched early");

  modules.release();
  await Promise.all(tabs.map(authenticated));
  const stats = await Promise.all(tabs.map(statsOf));
  const holder = stats.findIndex((tab) => tab.fetchCalls > 0);
  console.log(`# head start: fetch calls per tab ${stats.map((tab) => tab.fetchCalls)}, traces of the fetching tab: ${stats[holder].traces.join(" ")}`);
  assert.equal(stats.reduce((sum, tab) => sum + tab.fetchCalls, 0), 1, "the early fetch was the only one");
  assert.equal(modules.issuer.stats.refreshes, 1);
  assert.equal(modules.issuer.stats.reuseDetections, 0);
  // The fetching tab's core asked for that fetch and took its result as its own.
  assert.equal(stats[holder].traces.filter((kind) => kind === "fetch_started").length, 1);
  assert.ok(stats[holder].traces.includes("token_adopted"));
  for (const [index, tab] of stats.entries()) {
    if (index !== holder) assert.ok(tab.traces.includes("peer_token_adopted"), `tab ${index} took the token from its peer: ${tab.traces}`);
    assert.ok(tab.authenticates >= 1, `tab ${index}'s client got the token`);
  }
});

test("a tab whose module loads hears a running tab's token and starts with it, without the lock", LIMIT, async (t) => {
  const modules = await heldModules(t);
  const running = await modules.open("heard");
  await authenticated(running);
  // An observer on the app's channel: once it sees the running tab answer, so has the new tab.
  const observer = await modules.context.newPage();
  await observer.goto(new URL("/tests/browser/pages/blank.html", running.url()).href);
  await observer.evaluate(() => {
    window.tokensHeard = 0;
    new BroadcastChannel("authlane:heard").onmessage = (event) => {
      if (String(event.data).includes('"kind":"token"')) window.tokensHeard++;
    };
  });
  modules.hold();
  const late = await modules.open("heard");
  await observer.waitForFunction(() => window.tokensHeard > 0, null, WAIT);
  assert.equal((await statsOf(late)).moduleReadyAt, null, "the new tab's module is still held");

  modules.release();
  await authenticated(late);
  const stats = await statsOf(late);
  console.log(`# a tab starting beside a running one: ${stats.traces.join(" ")}`);
  assert.equal(stats.fetchCalls, 0);
  assert.ok(stats.traces.includes("peer_token_adopted"));
  assert.ok(!stats.traces.includes("lock_acquired"), "the token heard early answered the session before it asked for the lock");
  assert.equal(modules.issuer.stats.refreshes, 1, "only the running tab's fetch");
});

test("a session disposed while its module loads keeps the early lock until its early call settles", LIMIT, async (t) => {
  const modules = await heldModules(t);
  let answerTokens = () => {};
  const tokensHeld = new Promise((resolve) => (answerTokens = resolve));
  await modules.context.route("**/token", async (route) => {
    await tokensHeld;
    await route.continue();
  });
  t.after(() => answerTokens());
  t.after(() => modules.release());
  modules.hold();
  const tab = await modules.open("gone");
  await tab.waitForFunction(() => window.stats.fetchCalls === 1, null, WAIT);
  await tab.evaluate(() => window.auth.dispose());
  const lockHeld = () => tab.evaluate(async () => (await navigator.locks.query()).held.some((lock) => lock.name === "authlane:gone"));
  assert.equal(await lockHeld(), true, "kept while the early call may be redeeming the refresh token");

  answerTokens();
  await tab.waitForFunction(async () => !(await navigator.locks.query()).held.some((lock) => lock.name === "authlane:gone"), null, WAIT);
  // Failed once in about 25 runs under load with 0 refreshes (cause not found): say what the
  // issuer and the tab saw.
  const tabStats = await statsOf(tab);
  assert.equal(modules.issuer.stats.refreshes, 1, `the early call redeemed the refresh token: issuer ${JSON.stringify(modules.issuer.stats)}, tab fetchCalls ${tabStats.fetchCalls} inFlight ${tabStats.inFlight}`);
  assert.equal(tabStats.moduleReadyAt, null, "all of it before the module was ready");
});
