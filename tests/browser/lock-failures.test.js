// A refresh lock that cannot be had, or that the page gave back, in headless Chromium (issue 12,
// items 5 and 6): nothing waits forever for the lock, and no page fetches under a lock it gave up.
// - An opaque origin (a sandboxed iframe without allow-same-origin): Web Locks and storage refuse
//   every call; the session settles and works alone, and says so (`lock_unavailable`).
// - No BroadcastChannel and storage blocked: the peer channel cannot be built; the session works.
// - The back/forward cache, for real (Playwright passes --disable-back-forward-cache; this file's
//   browser is launched without it): a page that navigated away while waiting for the lock gave its
//   request back on `pagehide`; restored, it asks again at once (not after the lock timeout).
// - `pagehide`/`pageshow` dispatched in the 50 ms peer grace (a real navigation cannot be timed
//   into it): the page hears its lock is gone and fetches only after it has the lock again.
// - A thief that never lets go of the takeover lock stealers queue on (frozen after its steal):
//   the next stealer forces its steal instead of waiting behind it for good.
// Every test first shows that its fault happened. One browser for the file; contexts and servers
// close in `finally`; every wait is bounded.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { chromium } from "playwright-core";
import { CHROMIUM_PATH } from "../support/chromium.js";
import { openPageContext } from "../support/page-context.js";
import { startStaticServer } from "../support/static-server.js";
import { createTokenIssuer } from "../support/token-issuer.js";

const WAIT = { timeout: 15_000 };
const TEST = { timeout: 60_000 };
let browser;

before(async () => {
  // As tests/support/chromium.js, but with the back/forward cache Playwright turns off by default.
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    ignoreDefaultArgs: ["--disable-back-forward-cache"],
  });
});

after(async () => {
  await browser?.close();
});

const FOLDERS = ["pkg", "tests/browser/pages", "tests/support"];

/**
 * A server for the test pages that opaque origins may load from (CORS on every answer) and whose
 * HTML pages the back/forward cache may keep (the static server marks everything no-store, which
 * rules a page out). `api` answers first when given.
 */
async function startServer(api) {
  return startStaticServer(FOLDERS, {
    api: async (request, response) => {
      response.setHeader("access-control-allow-origin", "*");
      if (api && (await api(request, response))) return true;
      const path = new URL(request.url, "http://localhost").pathname;
      if (!path.startsWith("/tests/browser/pages/") || !path.endsWith(".html") || path.includes("..")) return false;
      try {
        const body = await readFile(new URL(`../..${path}`, import.meta.url));
        response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" });
        response.end(body);
      } catch {
        response.writeHead(404).end("not found");
      }
      return true;
    },
  });
}

const openContext = (server, initScripts) => openPageContext(browser, server, initScripts);

const count = (list, item) => list.filter((entry) => entry === item).length;

describe("an opaque origin (sandboxed iframe)", () => {
  for (const storage of ["memory", "local"]) {
    test(`Web Locks and storage refuse every call; the session settles and works alone (storage: ${storage})`, TEST, async () => {
      const session = await openContext(await startServer());
      try {
        const page = await session.open("/tests/browser/pages/blank.html");
        await page.evaluate((src) => {
          const frame = document.createElement("iframe");
          frame.sandbox = "allow-scripts";
          frame.src = src;
          document.body.append(frame);
        }, `/tests/browser/pages/sandboxed.html?storage=${storage}`);
        const frame = await (async () => {
          for (let tries = 0; tries < 150; tries++) {
            const found = page.frames().find((f) => f.url().includes("sandboxed.html"));
            if (found) return found;
            await page.waitForTimeout(100);
          }
          throw new Error("the sandboxed frame never attached");
        })();
        await frame.waitForFunction(() => window.probe !== undefined && window.auth !== undefined, null, WAIT);
        // The faults: an opaque origin, where the lock request and storage throw SecurityError.
        const probe = await frame.evaluate(() => window.probe);
        assert.equal(probe.origin, "null", "the frame runs in an opaque origin");
        assert.equal(probe.locks, "rejects SecurityError", "Web Locks refuse the request");
        assert.equal(probe.localStorage, "throws SecurityError", "localStorage throws");

        const settled = await frame.evaluate(() => Promise.race([window.settled, new Promise((done) => setTimeout(() => done("still loading"), 10_000))]));
        assert.equal(settled, "authenticated", "the session settled instead of waiting for the lock");
        // A forced refresh asks for the lock again, is refused again, and fetches alone again.
        await frame.evaluate(() => window.auth.getToken({ forceRefresh: true }));
        const stats = await frame.evaluate(() => ({ ...window.stats, status: window.auth.getState().status }));
        console.log(`# opaque origin (storage ${storage}): probe ${JSON.stringify(probe)}; fetches ${stats.fetchCalls}; lock_unavailable ${count(stats.traces, "lock_unavailable")}; traces ${stats.traces.join(" ")}`);
        assert.equal(stats.status, "authenticated");
        assert.equal(stats.fetchCalls, 2);
        assert.equal(count(stats.traces, "lock_unavailable"), 2, "each attempt says it works alone");
        assert.equal(count(stats.traces, "lock_acquired"), 0);
        assert.equal(count(stats.traces, "lock_stolen"), 0, "no steal: the refusal was heard at once");
        assert.deepEqual(session.errors, []);
      } finally {
        await session.close();
      }
    });
  }
});

describe("no BroadcastChannel and storage blocked", () => {
  // `localStorage` itself throws, as in an opaque origin or with storage blocked for the site.
  const FAULTS = `
    delete window.BroadcastChannel;
    window.storageRefusals = 0;
    Object.defineProperty(window, "localStorage", {
      configurable: true,
      get() {
        window.storageRefusals++;
        throw new DOMException("storage is blocked", "SecurityError");
      },
    });`;

  test("the peer channel cannot be built; the session works, and a second tab too", TEST, async () => {
    const session = await openContext(await startServer(), [FAULTS]);
    try {
      const pages = [];
      for (let index = 0; index < 2; index++) {
        const page = await session.open("/tests/browser/pages/harness.html");
        await page.waitForFunction(() => window.harnessReady === true, null, WAIT);
        // The faults, before the session exists: no BroadcastChannel, and localStorage throws.
        const faults = await page.evaluate(() => {
          let storage = "readable";
          try {
            void localStorage;
          } catch (error) {
            storage = `throws ${error.name}`;
          }
          return { broadcastChannel: typeof BroadcastChannel, storage };
        });
        assert.deepEqual(faults, { broadcastChannel: "undefined", storage: "throws SecurityError" });
        await page.evaluate(async () => {
          const { authlane, scriptedFetcher, mint } = window.harness;
          const fetcher = scriptedFetcher(() => mint(60));
          const traces = [];
          const refusalsBefore = window.storageRefusals;
          const auth = authlane.createAuth({ fetchAccessToken: fetcher.fetchAccessToken, crossTab: { name: "blocked" }, storage: "local", onTrace: (event) => traces.push(event.kind) });
          window.t = { auth, fetcher, traces, refusalsBefore, settled: await Promise.race([auth.settled.then((state) => state.status), new Promise((done) => setTimeout(() => done("still loading"), 10_000))]) };
        });
        pages.push(page);
      }
      for (const page of pages) {
        const seen = await page.evaluate(() => ({ settled: window.t.settled, calls: window.t.fetcher.calls.length, refusals: window.storageRefusals - window.t.refusalsBefore, token: typeof window.t.auth.getState().claims?.sub }));
        console.log(`# no channel, blocked storage: settled ${seen.settled}; fetches ${seen.calls}; localStorage refusals during the session ${seen.refusals}`);
        assert.equal(seen.settled, "authenticated");
        assert.equal(seen.calls, 1);
        assert.ok(seen.refusals >= 1, "the session reached for localStorage (channel, sign-out record, store) and was refused");
        assert.equal(seen.token, "string");
      }
      assert.deepEqual(session.errors, []);
    } finally {
      await session.close();
    }
  });
});

/** Signs in (a rotating refresh token in localStorage) and opens tab.html as app `app`. */
async function openSignedInTab(session, app, lockTimeout) {
  const signIn = await session.open("/tests/browser/pages/blank.html");
  await signIn.evaluate(async () => {
    const answer = await (await fetch("/signin", { method: "POST", body: "{}" })).json();
    localStorage.setItem("test-sdk:refresh-token", answer.refresh_token);
  });
  await signIn.close();
  const tab = await session.open(`/tests/browser/pages/tab.html?app=${app}&lockTimeout=${lockTimeout}&leeway=1`);
  await tab.waitForFunction(() => window.auth?.getState().status === "authenticated", null, WAIT);
  return tab;
}

/** In `page`, takes the app's refresh lock and holds it until `window.releaseHeld()` (another tab holding it). */
const holdLock = (page, name) =>
  page.evaluate(
    (lockName) =>
      new Promise((held) => {
        navigator.locks.request(lockName, () => new Promise((release) => {
          window.releaseHeld = release;
          held();
        }));
      }),
    name,
  );

/** In `page`, takes and keeps the app's refresh lock and the stealers' takeover lock, as a thief
 * frozen after its steal would; records in `window.robbed` each lock taken from it. */
const holdAsFrozenThief = (page, name) =>
  page.evaluate(
    (lockName) =>
      Promise.all(
        [lockName, `${lockName}:takeover`].map(
          (held) =>
            new Promise((granted) => {
              window.robbed ??= [];
              navigator.locks
                .request(held, () => new Promise(() => granted()))
                .catch((error) => window.robbed.push(`${held}: ${error.name}`));
            }),
        ),
      ),
    name,
  );

/** Who holds and who waits for a lock, as Web Locks report it (`page` is any page of the origin). */
const lockState = (page, name) =>
  page.evaluate(async (lockName) => {
    const { held = [], pending = [] } = await navigator.locks.query();
    return { held: held.filter((lock) => lock.name === lockName).length, pending: pending.filter((lock) => lock.name === lockName).length };
  }, name);

/** A signed-in tab of app `app`, and another page holding the app's refresh lock (as a tab mid-refresh would). */
async function tabBehindAHeldLock(app, lockTimeout) {
  const issuer = createTokenIssuer({ lifetimeSeconds: 60 });
  const session = await openContext(await startServer(issuer.handle));
  try {
    const tab = await openSignedInTab(session, app, lockTimeout);
    const holder = await session.open("/tests/browser/pages/blank.html");
    await holdLock(holder, `authlane:${app}`);
    return { issuer, session, tab, holder };
  } catch (error) {
    await session.close();
    throw error;
  }
}

describe("a thief that never lets go", () => {
  test("a stealer queued behind a thief holding the takeover lock forces its steal and fetches", TEST, async () => {
    const issuer = createTokenIssuer({ lifetimeSeconds: 60 });
    const session = await openContext(await startServer(issuer.handle));
    try {
      // A lock timeout of 1 s: the tab steals after 1 s, and forces the steal 1.05 s later.
      const tab = await openSignedInTab(session, "thief", 1_000);
      const thief = await session.open("/tests/browser/pages/blank.html");
      await holdAsFrozenThief(thief, "authlane:thief");
      // The fault: both locks are held by a page that will never release them.
      assert.deepEqual(await lockState(thief, "authlane:thief:takeover"), { held: 1, pending: 0 });
      const tracesBefore = await tab.evaluate(() => window.stats.traces.length);
      const outcome = await tab.evaluate(() =>
        Promise.race([window.auth.getToken({ forceRefresh: true }).then(() => "token", (error) => error.code), new Promise((done) => setTimeout(() => done("still waiting"), 10_000))]),
      );
      const traces = await tab.evaluate((from) => window.stats.traces.slice(from), tracesBefore);
      const robbed = await thief.evaluate(() => window.robbed);
      console.log(`# a thief that never lets go: forced refresh ${outcome}; traces ${traces.join(" ")}; the thief lost ${robbed.join(", ")}`);
      assert.equal(outcome, "token", "the stealer did not wait behind the thief for good");
      assert.equal(count(traces, "lock_stolen"), 2, "a steal, then the forced one");
      assert.ok(traces.indexOf("lock_acquired") < traces.indexOf("fetch_started"), "it fetched under the lock");
      assert.equal(count(traces, "lock_unavailable"), 0);
      assert.ok(robbed.includes("authlane:thief:takeover: AbortError") && robbed.includes("authlane:thief: AbortError"), "both locks were taken from the thief");
      assert.equal(issuer.stats.reuseDetections, 0);
      assert.deepEqual(session.errors, []);
    } finally {
      await session.close();
    }
  });
});

describe("the back/forward cache", () => {
  test("a page restored while waiting for the lock asks for it again at once", TEST, async () => {
    // A lock timeout of 60 s: a page that only steals after it would not refresh within the test.
    const { issuer, session, tab, holder: other } = await tabBehindAHeldLock("bfcache", 60_000);
    try {
      await tab.evaluate(() => {
        window.restored = [];
        addEventListener("pageshow", (event) => window.restored.push(event.persisted));
        window.forced = window.auth.getToken({ forceRefresh: true }).then(() => "token", (error) => error.code);
      });
      await other.waitForFunction(async () => (await navigator.locks.query()).pending.some((lock) => lock.name === "authlane:bfcache"), null, WAIT);
      const tracesBefore = await tab.evaluate(() => window.stats.traces.length);

      // Away and back: the page enters the back/forward cache, and its driver gives the request back.
      await tab.goto(`${new URL(tab.url()).origin}/tests/browser/pages/blank.html`);
      const whileAway = await lockState(other, "authlane:bfcache");
      assert.deepEqual(whileAway, { held: 1, pending: 0 }, "the fault: pagehide gave the lock request back");
      await other.evaluate(() => window.releaseHeld());
      await tab.goBack({ waitUntil: "commit" });
      await tab.waitForFunction(() => Array.isArray(window.restored) && window.restored.length > 0, null, WAIT);
      assert.deepEqual(await tab.evaluate(() => window.restored), [true], "the page came back from the back/forward cache (pageshow persisted)");

      const outcome = await tab.evaluate(() => Promise.race([window.forced, new Promise((done) => setTimeout(() => done("still waiting"), 10_000))]));
      const after = await tab.evaluate((from) => window.stats.traces.slice(from), tracesBefore);
      console.log(`# bfcache, waiting for the lock: forced refresh ${outcome}; traces after the restore ${after.join(" ")}; endpoint refreshes ${issuer.stats.refreshes}`);
      assert.equal(outcome, "token", "the forced refresh completed after the restore, well before the 60 s lock timeout");
      assert.ok(after.includes("lock_acquired") && after.indexOf("lock_acquired") < after.indexOf("fetch_started"), "it fetched under the lock it asked for again");
      assert.equal(count(after, "lock_stolen"), 0, "nobody was robbed");
      assert.equal(issuer.stats.reuseDetections, 0);
      assert.deepEqual(session.errors, []);
    } finally {
      await session.close();
    }
  });

  test("pagehide in the peer grace: no fetch until the lock is taken again after pageshow", TEST, async () => {
    const { issuer, session, tab, holder: other } = await tabBehindAHeldLock("grace", 10_000);
    try {
      // When the lock is granted (the grace begins), the page is hidden at once: `pagehide` is
      // dispatched from the trace listener, inside the grant.
      await tab.evaluate(() => {
        const push = window.stats.traces.push.bind(window.stats.traces);
        window.hiddenAt = null;
        window.stats.traces.push = (kind) => {
          const length = push(kind);
          if (kind === "lock_acquired" && window.hiddenAt === null) {
            window.hiddenAt = window.stats.traces.length;
            dispatchEvent(new PageTransitionEvent("pagehide", { persisted: true }));
          }
          return length;
        };
        window.forced = window.auth.getToken({ forceRefresh: true }).then(() => "token", (error) => error.code);
      });
      await other.waitForFunction(async () => (await navigator.locks.query()).pending.some((lock) => lock.name === "authlane:grace"), null, WAIT);
      await other.evaluate(() => window.releaseHeld());
      await tab.waitForFunction(() => window.hiddenAt !== null, null, WAIT);
      // The fault: the page gave the lock back on pagehide.
      assert.deepEqual(await lockState(other, "authlane:grace"), { held: 0, pending: 0 }, "pagehide released the granted lock");
      // Well past the 50 ms grace, the hidden page has not fetched.
      await tab.waitForTimeout(500);
      const hidden = await tab.evaluate(() => window.stats.traces.slice(window.hiddenAt));
      assert.equal(count(hidden, "fetch_started"), 0, `no fetch under the lock it gave back: ${hidden.join(" ")}`);

      await tab.evaluate(() => dispatchEvent(new PageTransitionEvent("pageshow", { persisted: true })));
      const outcome = await tab.evaluate(() => Promise.race([window.forced, new Promise((done) => setTimeout(() => done("still waiting"), 10_000))]));
      const after = await tab.evaluate(() => window.stats.traces.slice(window.hiddenAt));
      console.log(`# pagehide in the grace: forced refresh ${outcome}; traces from the pagehide ${after.join(" ")}`);
      assert.equal(outcome, "token");
      assert.ok(after.includes("lock_lost"), "the session heard its lock was gone");
      const acquired = after.indexOf("lock_acquired");
      assert.ok(acquired >= 0 && acquired < after.indexOf("fetch_started"), "after pageshow it took the lock again, then fetched");
      assert.equal(issuer.stats.reuseDetections, 0);
      assert.deepEqual(session.errors, []);
    } finally {
      await session.close();
    }
  });
});
