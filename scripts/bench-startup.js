// Startup benchmark (`make bench`): time from navigation start to the first query result computed
// with the user's identity, the real `convex` ConvexClient bare vs wrapped by authlane, 1 and 8 tabs
// opened together, on a first visit (a fresh browser context: nothing cached) and a repeat visit (the
// same context after one load: the HTTP cache holds the scripts and the module). Prints the median of
// each run's tabs and, for authlane, the split: module ready, lock, fetch, acceptance.
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

const MODES = ["bare", "authlane"];

/** One page per mode, each bundle with only what its mode runs (the bare page loads no authlane). */
function bundlePages() {
  execFileSync("cargo", ["build", "--quiet", "-p", "devserver"], { cwd: repoRoot, stdio: "inherit" });
  mkdirSync(out, { recursive: true });
  for (const mode of MODES) {
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

/** One run: `tabs` pages opened together; returns each tab's marks once all have a result. */
async function run(browser, origin, { mode, tabs, visit }) {
  const context = await browser.newContext();
  try {
    const url = `${origin}/bench/${mode}.html?provider=${encodeURIComponent(provider.origin)}`;
    if (visit === "repeat") {
      const warm = await context.newPage();
      await warm.goto(url);
      await warm.waitForFunction(() => window.marks?.firstResult !== null, null, { timeout: 20_000 });
      await warm.close();
    }
    const pages = await Promise.all(Array.from({ length: tabs }, () => context.newPage()));
    await Promise.all(pages.map((page) => page.goto(url)));
    await Promise.all(pages.map((page) => page.waitForFunction(() => window.marks?.firstResult !== null, null, { timeout: 20_000 })));
    return await Promise.all(pages.map((page) => page.evaluate(() => structuredClone(window.marks))));
  } finally {
    await context.close();
  }
}

const format = (value) => (Number.isNaN(value) ? "–" : `${Math.round(value)}`);

bundlePages();
// The token provider is a server of its own, on its own origin, as Clerk's or Auth0's is: its
// answers do not queue behind the app server's burst of page files. The app servers trust it
// (OIDC discovery) and nothing else.
const provider = await startDevserver();
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
  console.log(`startup: ms from navigation start, median of each run's tabs, median of ${RUNS} runs (real convex ConvexClient, devserver, provider on its own origin)`);
  console.log("visit  | tabs | mode     | first result | script | module ready | lock | fetch start | fetch end | accepted | token calls");
  for (const visit of VISITS) {
    for (const tabs of TAB_COUNTS) {
      // Bare and wrapped runs alternate, so that a machine whose load drifts weighs on both alike.
      const runsOf = { bare: [], authlane: [] };
      for (let index = 0; index < RUNS; index++) {
        for (const mode of MODES) runsOf[mode].push(await run(browser, servers[visit].origin, { mode, tabs, visit }));
      }
      for (const mode of MODES) {
        const runs = runsOf[mode];
        const pick = (fn) => median(runs.map((marks) => median(marks.map(fn))));
        const calls = median(runs.map((marks) => marks.reduce((sum, tab) => sum + tab.fetches.length, 0)));
        console.log([
          visit.padEnd(6), String(tabs).padStart(4), mode.padEnd(8),
          format(pick((tab) => tab.firstResult)).padStart(12),
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
