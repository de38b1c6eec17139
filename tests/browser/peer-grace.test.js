// The peer grace after a lock grant, in real Chromium (pages of one browser context share Web
// Locks, BroadcastChannel and storage) against a rotating token endpoint on 127.0.0.1. A lone tab
// on Web Locks fetches as its lock is granted; the lease, and a tab with a peer present, keep the
// 50 ms grace; tabs opened together never present one refresh token twice. Real time: the
// assertions are invariants (a timer never fires early, so a grace is never under 50 ms; a skipped
// grace is two traces of one synchronous call); the gaps are printed.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "../support/chromium.js";
import { signedInContext } from "../support/signed-in-context.js";

const GRACE_MS = 50;
/** A waited grace, as two `Date.now()` readings see it: each truncates to the millisecond. */
const WAITED_MS = GRACE_MS - 2;
const LIMIT = { timeout: 60_000 };
let browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

/** A signed-in browser context and a server, closed when test `t` ends. */
async function signedIn(t, { webLocks }) {
  const { issuer, server, context } = await signedInContext(t, browser, { webLocks, lifetimeSeconds: 60 });
  const open = async (count) => {
    const pages = await Promise.all(Array.from({ length: count }, () => context.newPage()));
    await Promise.all(pages.map((tab) => tab.goto(`${server.origin}/tests/browser/pages/tab.html?app=grace`)));
    await Promise.all(pages.map((tab) => tab.waitForFunction(() => window.auth?.getState().status === "authenticated", null, { timeout: 20_000 })));
    return Promise.all(pages.map((tab) => tab.evaluate(() => window.stats)));
  };
  return { issuer, open };
}

/** Each fetch's wait after the lock grant before it (ms): the grace, or ~0 without one. */
function gaps(stats) {
  const result = [];
  let grantedAt = null;
  for (const { kind, at } of stats.timeline) {
    if (kind === "lock_acquired") grantedAt = at;
    if (kind === "fetch_started" && grantedAt !== null) result.push(at - grantedAt);
  }
  return result;
}

for (const webLocks of [true, false]) {
  const path = webLocks ? "Web Locks" : "localStorage lease";
  test(`${path}: a lone tab ${webLocks ? "fetches as its lock is granted" : "still waits the grace"}`, LIMIT, async (t) => {
    const { issuer, open } = await signedIn(t, { webLocks });
    const [stats] = await open(1);
    const [gap] = gaps(stats);
    console.log(`# ${path}: a lone tab's lock_acquired → fetch_started: ${gap} ms (grace ${GRACE_MS} ms)`);
    assert.equal(stats.fetchCalls, 1);
    if (webLocks) assert.ok(gap < WAITED_MS, `no grace: ${gap} ms`);
    else assert.ok(gap >= WAITED_MS, `the lease keeps the grace: ${gap} ms`);
    assert.equal(issuer.stats.reuseDetections, 0);
  });
}

test("Web Locks: two tabs opened together fetch one at a time and never present a refresh token twice", LIMIT, async (t) => {
  const { issuer, open } = await signedIn(t, { webLocks: true });
  const stats = await open(2);
  const perTab = stats.map(gaps);
  console.log(`# two tabs together: fetches per tab ${stats.map((tab) => tab.fetchCalls)}, grant → fetch gaps ${JSON.stringify(perTab)} ms, ` +
    `refreshes ${issuer.stats.refreshes}, most in flight ${issuer.stats.maxInFlight}`);
  assert.equal(issuer.stats.reuseDetections, 0, "no refresh token presented twice");
  assert.equal(issuer.stats.maxInFlight, 1, "one fetch in flight at a time");
  // Whichever tab fetched second was handed the lock (or saw its peer): it waited the grace.
  const ordered = stats.flatMap((tab, index) => tab.fetchesStarted.map(({ at }, n) => ({ at, gap: perTab[index][n] }))).sort((a, b) => a.at - b.at);
  for (const later of ordered.slice(1)) assert.ok(later.gap >= WAITED_MS, `a second fetch skipped the grace: ${later.gap} ms`);
});

test("Web Locks: a tab opened next to a signed-in one waits the grace and takes its token", LIMIT, async (t) => {
  const { issuer, open } = await signedIn(t, { webLocks: true });
  await open(1);
  const refreshes = issuer.stats.refreshes;
  const [late] = await open(1);
  console.log(`# a tab next to a signed-in one: ${late.fetchCalls} fetches, traces ${late.traces.filter((k) => k.startsWith("lock") || k.startsWith("fetch") || k.startsWith("peer")).join(" ")}`);
  // It takes the token when its peer's answer beats the grace, as it does on any idle machine; a
  // starved one can deliver the answer later (seen once in the demo's same scenario), and then the
  // tab fetches once, having waited the grace. The exact outcome is the virtual clock's
  // (tests/core_peer_grace.rs); here, whichever happened, it happened by the rules.
  assert.ok(late.fetchCalls <= 1, `${late.fetchCalls} fetches`);
  if (late.fetchCalls === 0) {
    assert.ok(late.traces.includes("peer_token_adopted"), "it took its peer's token");
    assert.equal(issuer.stats.refreshes, refreshes);
  } else {
    const [gap] = gaps(late);
    assert.ok(gap >= WAITED_MS, `it fetched only after waiting the grace: ${gap} ms`);
  }
  assert.equal(issuer.stats.reuseDetections, 0);
});
