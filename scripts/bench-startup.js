// Startup benchmark (`make bench`): time from navigation start to the first query result computed
// with the user's identity, the real `convex` ConvexClient bare vs wrapped by authlane, 1 and 8 tabs
// opened together, on a first visit (a fresh browser context: nothing cached) and a repeat visit (the
// same context after one load: the HTTP cache holds the scripts and the module). A third mode,
// "imported", is the bare client with authlane's package imported and its module loaded but no
// session: what the package's presence costs, apart from anything the session does. A fourth,
// "initial", is wrapped with the user's token rendered into the page (`initialToken`, as Next.js
// or SvelteKit render it from a cookie; minted by the benchmark before each run). `PROVIDER_DELAY_MS`
// (default 0) delays every answer of the token provider, as a provider across the internet is. Prints the
// median of each run's tabs, each tab's main-thread busy time, and, for authlane, the split: module
// ready, lock, fetch, acceptance. `DUMP=1` prints every tab's marks too.
// A benchmark, not a test: it asserts nothing and prints figures for BENCHMARKS.md.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { launchChromium } from "../tests/support/chromium.js";
import { repoRoot, startDevserver } from "../tests/e2e/support/devserver.js";

const RUNS = Number(process.env.RUNS ?? 5);
// A subset, e.g. TABS=1 VISITS=first (both lists comma-separated).
const TAB_COUNTS = (process.env.TABS ?? "1,8").split(",").map(Number);
const VISITS = (process.env.VISITS ?? "first,repeat").split(",");
const out = resolve(repoRoot, "tests/e2e/out/startup");

const ALL_MODES = ["bare", "imported", "authlane", "initial"];
const PROVIDER_DELAY_MS = Number(process.env.PROVIDER_DELAY_MS ?? 0);
// A subset, e.g. MODES=bare,authlane.
const MODES = (process.env.MODES ?? ALL_MODES.join(",")).split(",");
const FIRST_RESULT = "authlane-bench:first-result";

/** One page per mode, each bundle with only what its mode runs (the bare page loads no authlane). */
function bundlePages() {
  execFileSync("cargo", ["build", "--quiet", "-p", "devserver"], { cwd: repoRoot, stdio: "inherit" });
  mkdirSync(out, { recursive: true });
  for (const mode of ALL_MODES) {
    execFileSync(resolve(repoRoot, "node_modules/.bin/esbuild"), [
      "tests/e2e/pages/startup.js", "--bundle", "--format=esm", "--minify", "--target=es2020", "--log-level=warning",
      `--define:BENCH_MODE="${mode}"`, `--outfile=${resolve(out, `${mode}.js`)}`,
    ], { cwd: repoRoot, stdio: "inherit" });
    writeFileSync(resolve(out, `${mode}.html`), `<!doctype html>\n<meta charset="utf-8">\n<script type="module" src="./${mode}.js"></script>\n`);
  }
  copyFileSync(resolve(repoRoot, "pkg/dist/authlane_bg.wasm"), resolve(out, "authlane_bg.wasm"));
}

const median = (values) => {
  const sorted = values.filter((value) => typeof value === "number").sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)];
};

/**
 * Resolves when `page` logs its first result (the page's console line, so that nothing of
 * Playwright's runs in the page while it is measured); rejects after 20 s.
 */
function firstResult(page) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no first result within 20 s")), 20_000);
    timer.unref();
    page.on("console", (message) => {
      if (message.text() !== FIRST_RESULT) return;
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Main-thread busy time of a page so far, in ms (Chromium's `TaskDuration`; it counts a task descheduled by the OS too). */
async function mainThreadMs(cdp) {
  const { metrics } = await cdp.send("Performance.getMetrics");
  return 1000 * (metrics.find((metric) => metric.name === "TaskDuration")?.value ?? NaN);
}

/** One run: `tabs` pages opened together; returns each tab's marks once all have a result. */
async function run(browser, origin, { mode, tabs, visit }) {
  const context = await browser.newContext();
  try {
    let url = `${origin}/bench/${mode}.html?provider=${encodeURIComponent(provider.origin)}`;
    if (mode === "initial") url += `&token=${encodeURIComponent(await renderedToken())}`;
    if (visit === "repeat") {
      const warm = await context.newPage();
      const warmed = firstResult(warm);
      await warm.goto(url);
      await warmed;
      await warm.close();
    }
    const pages = await Promise.all(Array.from({ length: tabs }, () => context.newPage()));
    const cdps = await Promise.all(pages.map(async (page) => {
      const cdp = await context.newCDPSession(page);
      await cdp.send("Performance.enable");
      return cdp;
    }));
    const results = pages.map(firstResult);
    await Promise.all(pages.map((page) => page.goto(url)));
    await Promise.all(results);
    const busy = await Promise.all(cdps.map(mainThreadMs));
    const marks = await Promise.all(pages.map((page) => page.evaluate(() => structuredClone(window.marks))));
    return marks.map((tab, index) => ({ ...tab, mainThread: busy[index] }));
  } finally {
    await context.close();
  }
}

/** The user's token as the app's server would render it into the page: the page's own claims, fresh. */
async function renderedToken() {
  const iat = Math.floor(Date.now() / 1000);
  const claims = { iss: provider.origin, sub: "user_bench", aud: "convex", iat, exp: iat + 600 };
  return (await provider.post("/debug/mint", { claims })).token;
}

/** One line per tab: its marks, rounded (`DUMP=1`). */
function dump(mode, runs) {
  const round = (value) => (typeof value === "number" ? Math.round(value) : value);
  runs.forEach((marks, index) => {
    console.log(`${mode}, run ${index + 1}:`);
    for (const tab of marks) {
      const fetches = tab.fetches.map(({ start, end }) => [round(start), round(end)]);
      const trace = Object.fromEntries(Object.entries(tab.trace).map(([kind, at]) => [kind, round(at)]));
      console.log(`  ${JSON.stringify({ script: round(tab.script), moduleReady: round(tab.moduleReady), firstResult: round(tab.firstResult), mainThread: round(tab.mainThread), fetches, trace })}`);
    }
  });
}

const format = (value) => (Number.isNaN(value) ? "–" : `${Math.round(value)}`);

bundlePages();
// The token provider is a server of its own, on its own origin, as Clerk's or Auth0's is: its
// answers do not queue behind the app server's burst of page files. The app servers trust it
// (OIDC discovery) and nothing else.
const provider = await startDevserver();
if (PROVIDER_DELAY_MS > 0) await provider.post("/debug/faults", { tokenDelayMs: PROVIDER_DELAY_MS });
const authConfig = resolve(out, "auth-config.json");
writeFileSync(authConfig, JSON.stringify({ providers: [{ domain: provider.origin, applicationID: "convex" }] }));
// A first visit gets every file from the network (no-store); a repeat visit from the HTTP cache,
// as a host that lets browsers cache the package's files would serve it (max-age).
const servers = {
  first: await startDevserver(["--serve", `/bench=${out}`, "--auth-config", authConfig]),
  repeat: await startDevserver(["--serve", `/bench=${out}`, "--static-max-age", "3600", "--auth-config", authConfig]),
};
const browser = await launchChromium();
try {
  // Each app server fetches the provider's keys on its first verification: not in a measured run.
  for (const server of Object.values(servers)) await run(browser, server.origin, { mode: "bare", tabs: 1, visit: "first" });
  console.log(`startup: ms from navigation start, median of each run's tabs, median of ${RUNS} runs (real convex ConvexClient, devserver, provider on its own origin answering after ${PROVIDER_DELAY_MS} ms)`);
  console.log("visit  | tabs | mode     | first result | main thread | script | module ready | lock | fetch start | fetch end | accepted | token calls");
  for (const visit of VISITS) {
    for (const tabs of TAB_COUNTS) {
      // The modes' runs alternate, so that a machine whose load drifts weighs on all alike.
      const runsOf = Object.fromEntries(MODES.map((mode) => [mode, []]));
      for (let index = 0; index < RUNS; index++) {
        for (const mode of MODES) runsOf[mode].push(await run(browser, servers[visit].origin, { mode, tabs, visit }));
      }
      if (process.env.DUMP) for (const mode of MODES) dump(mode, runsOf[mode]);
      for (const mode of MODES) {
        const runs = runsOf[mode];
        const pick = (fn) => median(runs.map((marks) => median(marks.map(fn))));
        const calls = median(runs.map((marks) => marks.reduce((sum, tab) => sum + tab.fetches.length, 0)));
        console.log([
          visit.padEnd(6), String(tabs).padStart(4), mode.padEnd(8),
          format(pick((tab) => tab.firstResult)).padStart(12),
          format(pick((tab) => tab.mainThread)).padStart(11),
          format(pick((tab) => tab.script)).padStart(6),
          format(pick((tab) => tab.moduleReady)).padStart(12),
          format(pick((tab) => tab.trace.lock_acquired)).padStart(4),
          format(pick((tab) => tab.fetches[0]?.start ?? tab.trace.fetch_started)).padStart(11),
          format(pick((tab) => tab.fetches[0]?.end ?? tab.trace.peer_token_adopted)).padStart(9),
          format(pick((tab) => tab.trace.server_accepted)).padStart(8),
          String(calls).padStart(11),
        ].join(" | "));
      }
    }
  }
} finally {
  await browser.close();
  await Promise.all([provider, ...Object.values(servers)].map((server) => server.stop()));
}
