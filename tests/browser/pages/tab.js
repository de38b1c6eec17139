// One tab of a multi-tab test app. Its "provider SDK" keeps the refresh token in localStorage,
// shared by every tab (as convex-auth and most OIDC SDKs do) and rotated on every refresh.
// Query: ?crossTab=off, ?leeway=, ?app= (cross-tab name), ?lockTimeout=, ?storage=. Exposes window.auth and window.stats.
import { createAuth } from "/pkg/dist/index.js";
import { FakeConvexClient } from "/tests/support/fake-convex.js";
import { claimsOf } from "/tests/support/fake-issuer.js";

const params = new URLSearchParams(location.search);
const REFRESH_TOKEN_KEY = "test-sdk:refresh-token";

// fetchesStarted: { at, floor, detail } per fetch_started trace (detail: "proactive,forced", "startup",
// …; floor: see below);
// lastStatusAt: when the status last changed; maxTickGap: the longest this page's timers stood still
// (a 100 ms interval: a frozen page shows the freeze here); tickGaps: { from, to } of each stand
// still longer than 250 ms.
// timeline: { kind, at } per trace; expiredSends: how late each expired token handed to the client was.
const stats = { fetchCalls: 0, inFlight: 0, authenticates: 0, expiredSent: 0, expiredSends: [], lastExp: 0, statuses: [], traces: [], timeline: [], fetchesStarted: [], lastStatusAt: 0, maxTickGap: 0, tickGaps: [] };
window.stats = stats;

// A trace's `at` is read when onTrace gets it, after the session read the clock for the input that
// started the fetch: a renderer descheduled in between (a loaded machine) makes `at` late. `floor`
// bounds the session's reading from below: the first Date.now() of the current synchronous run
// (the session reads Date.now for each input, in the same run as its traces; a microtask marks the
// run's end). Values are unchanged; this only watches the calls.
const readClock = Date.now.bind(Date);
let runFirstNow = null;
Date.now = () => {
  const now = readClock();
  if (runFirstNow === null) {
    runFirstNow = now;
    queueMicrotask(() => (runFirstNow = null));
  }
  return now;
};
let lastTick = Date.now();
setInterval(() => {
  const now = Date.now();
  stats.maxTickGap = Math.max(stats.maxTickGap, now - lastTick);
  if (now - lastTick > 250) stats.tickGaps.push({ from: lastTick, to: now });
  lastTick = now;
}, 100);

async function fetchAccessToken() {
  stats.fetchCalls++;
  stats.inFlight++;
  try {
    const refreshToken = localStorage.getItem(REFRESH_TOKEN_KEY);
    if (!refreshToken) return null;
    const response = await fetch("/token", {
      method: "POST",
      body: JSON.stringify({ grant_type: "refresh_token", refresh_token: refreshToken }),
    });
    if (response.status === 401) return null;
    if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
    const body = await response.json();
    localStorage.setItem(REFRESH_TOKEN_KEY, body.refresh_token);
    return body.access_token;
  } finally {
    stats.inFlight--;
  }
}

const expiryOf = (token) => claimsOf(token).exp * 1000;

const auth = createAuth({
  fetchAccessToken,
  refreshLeewaySeconds: Number(params.get("leeway") ?? 2),
  crossTab: params.get("crossTab") === "off" ? false : { name: params.get("app") ?? "tabs-test", lockTimeoutMs: Number(params.get("lockTimeout") ?? 10_000) },
  storage: params.get("storage") ?? "memory",
  onTrace: (event) => {
    stats.traces.push(event.kind);
    stats.timeline.push({ kind: event.kind, at: event.at });
    if (event.kind === "fetch_started") stats.fetchesStarted.push({ at: event.at, floor: runFirstNow ?? event.at, detail: event.detail });
  },
});
auth.subscribe(() => {
  stats.statuses.push(auth.getState().status);
  stats.lastStatusAt = Date.now();
});

// The wrapped client's server accepts every token at once; each token sent is checked for expiry.
const client = new FakeConvexClient();
const authenticate = client.authenticate.bind(client);
client.authenticate = (token) => {
  stats.authenticates++;
  const exp = expiryOf(token);
  stats.lastExp = exp;
  if (exp <= Date.now()) {
    // How late, and whether this page had just stood still (a starved renderer), for the report.
    stats.expiredSent++;
    stats.expiredSends.push({ lateMs: Date.now() - exp, sinceTickMs: Date.now() - lastTick, lastTraces: stats.timeline.slice(-4).map((event) => `${event.kind}@${event.at - exp}`) });
  }
  authenticate(token);
  queueMicrotask(() => client.accept());
};
auth.wrap(client);

window.auth = auth;
window.tabReady = true;
