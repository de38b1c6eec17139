#!/usr/bin/env node
// `make test`: setup, build, the native tests, then every JS test file, each under a time limit,
// and a table of what each phase took. Nothing it starts can outlive it:
// - each JS file runs as `node --test --test-timeout=<limit>` in a process group of its own, with
//   a marker in its environment that Chromium and the devserver inherit;
// - a watchdog kills a file's processes when the file overruns its limit (its group, its
//   descendants by pid, and anything still carrying its marker), and the run fails naming it;
// - a file that exits but leaves a process behind fails too (and the process is killed);
// - the whole run has an overall bound (AUTHLANE_TEST_LIMIT_S, seconds), reported the same way.
//
// Usage: node scripts/run-tests.js                  everything (what `make test` runs)
//        node scripts/run-tests.js --js             only the JS test files
//        node scripts/run-tests.js FILE...          only these files
//        --serial                                   one file at a time (for timing a file alone)
//        --limit=S                                  every file's limit is S seconds
//        --pattern=TEXT                             only tests whose name matches (node --test-name-pattern)
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describeProcesses, findMarked, groupAndDescendants, killProcesses } from "./test-processes.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const runId = `${process.pid}-${Date.now().toString(36)}`;
const MARKER = "AUTHLANE_TEST_RUN";

// Per-file limits (seconds) and lanes. "timed": real-time Chromium suites (soaks, real timers);
// "free": nothing that depends on the machine's speed (Node only, or Playwright's virtual clock).
// Timed files run two at a time; the native tests, then the free files, run in a lane of their own
// beside them (a timed worker with nothing timed left takes free files). A file not listed here is
// timed, with DEFAULT_LIMIT_S.
const FILES = {
  "tests/browser/cross-tab.test.js": { lane: "timed", limit: 240 },
  "tests/browser/peer-grace.test.js": { lane: "timed", limit: 90 },
  "tests/browser/one-app.test.js": { lane: "timed", limit: 240 },
  "tests/browser/head-start.test.js": { lane: "timed", limit: 180 },
  "tests/browser/lifecycle.test.js": { lane: "free", limit: 120 },
  "tests/browser/demo.test.js": { lane: "timed", limit: 90 },
  "tests/browser/demo-convex.test.js": { lane: "timed", limit: 180 },
  "tests/browser/demo-frameworks.test.js": { lane: "timed", limit: 180 },
  "tests/e2e/convex.test.js": { lane: "timed", limit: 150 },
  "tests/e2e/oidc.test.js": { lane: "timed", limit: 150 },
  "tests/e2e/recipes.test.js": { lane: "timed", limit: 150 },
  "tests/e2e/graphql-ws.test.js": { lane: "timed", limit: 150 },
  "tests/e2e/explain.test.js": { lane: "free", limit: 120 },
  "tests/frameworks/react.test.js": { lane: "timed", limit: 240 },
  "tests/frameworks/svelte.test.js": { lane: "timed", limit: 150 },
  "tests/frameworks/packaging.test.js": { lane: "free", limit: 150 },
  "tests/node/explain.test.js": { lane: "free", limit: 90 },
  "tests/node/ssr.test.js": { lane: "free", limit: 60 },
  "tests/node/frameworks-ssr.test.js": { lane: "free", limit: 90 },
  "tests/node/options.test.js": { lane: "free", limit: 60 },
  "tests/node/locate.test.js": { lane: "free", limit: 30 },
  "tests/node/wasm-json.test.js": { lane: "free", limit: 30 },
  "tests/node/protocol.test.js": { lane: "free", limit: 90 },
  "tests/browser/session-edges.test.js": { lane: "free", limit: 120 },
  "tests/node/convex-token.test.js": { lane: "free", limit: 60 },
  "tests/browser/failures.test.js": { lane: "free", limit: 120 },
  "tests/browser/peer-trust.test.js": { lane: "free", limit: 90 },
  "tests/browser/fallbacks.test.js": { lane: "timed", limit: 150 },
  "tests/browser/lock-failures.test.js": { lane: "timed", limit: 120 },
  "tests/frameworks/vite-dev.test.js": { lane: "free", limit: 120 },
  "tests/e2e/convex-react.test.js": { lane: "timed", limit: 300 },
  "tests/frameworks/nextjs.test.js": { lane: "timed", limit: 240 },
  "tests/frameworks/sveltekit.test.js": { lane: "timed", limit: 240 },
};
const DEFAULT_LIMIT_S = 180;
const TIMED_CONCURRENCY = Number(process.env.AUTHLANE_TEST_CONCURRENCY ?? 2);
/** After a file's own --test-timeout, how long node gets to report before the watchdog kills. */
const WATCHDOG_GRACE_S = Number(process.env.AUTHLANE_TEST_GRACE_S ?? 20);
/** How long a finished file's processes (Chromium's helpers) may take to go. */
const LEFTOVER_GRACE_MS = 5_000;
const OVERALL_LIMIT_S = Number(process.env.AUTHLANE_TEST_LIMIT_S ?? 40 * 60);

const STEPS = {
  setup: [["./scripts/setup.sh"]],
  // The devserver too: the end-to-end files start it, and a cold build inside a file's time limit
  // (while the native tests hold cargo's lock) would spend that limit waiting.
  build: [["./scripts/build.sh"], ["cargo", "build", "--quiet", "-p", "devserver"]],
  native: [["cargo", "test"], ["cargo", "test", "-p", "devserver"]],
};
const STEP_LIMITS_S = { setup: 1200, build: 900, native: 900 };

const args = process.argv.slice(2);
const serial = args.includes("--serial");
const named = args.filter((arg) => !arg.startsWith("--"));
const jsOnly = args.includes("--js") || named.length > 0;
/** --limit=S: every file's limit is S seconds (to see the watchdog act). */
const pattern = args.find((arg) => arg.startsWith("--pattern="))?.slice("--pattern=".length);
const limitOverride = Number(args.find((arg) => arg.startsWith("--limit="))?.slice("--limit=".length)) || null;

const results = [];
const running = new Map(); // name → { kill }
const started = Date.now();
let failed = false;
let overallHit = false;

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const log = (line) => process.stdout.write(`${line}\n`);

/**
 * Runs one command in its own process group under `limitS`. Output is collected and printed as a
 * block when it ends (files run side by side). Resolves to { ok, ms, reason }.
 */
function runCommand(name, command, commandArgs, limitS) {
  const marker = `${runId}:${name}`;
  const began = Date.now();
  log(`→ start ${name} (limit ${limitS} s)`);
  const child = spawn(command, commandArgs, {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, [MARKER]: marker, FORCE_COLOR: "0" },
  });
  const output = [];
  child.stdout.on("data", (chunk) => output.push(chunk));
  child.stderr.on("data", (chunk) => output.push(chunk));
  let reason = null;
  const killAll = (why) => {
    reason ??= why;
    const victims = new Set([...findMarked(MARKER, marker), ...groupAndDescendants(child.pid)]);
    if (victims.size) reason += `; killed ${describeProcesses(victims)}`;
    killProcesses(victims);
  };
  const watchdog = setTimeout(() => killAll(`overran its ${limitS} s limit`), (limitS + WATCHDOG_GRACE_S) * 1000);
  const heartbeat = setInterval(() => log(`… ${name} still running (${seconds(Date.now() - began)})`), 60_000);
  running.set(name, { kill: killAll });
  return new Promise((done) => {
    child.on("error", (error) => output.push(Buffer.from(`${error.message}\n`)));
    child.on("close", async (code, signal) => {
      clearTimeout(watchdog);
      clearInterval(heartbeat);
      // Chromium's helpers go a moment after the browser; anything left after that was leaked.
      let left = findMarked(MARKER, marker);
      for (const deadline = Date.now() + LEFTOVER_GRACE_MS; left.length && Date.now() < deadline; left = findMarked(MARKER, marker)) {
        await new Promise((wait) => setTimeout(wait, 200));
      }
      const reasons = reason === null ? [] : [reason];
      if (reason === null && code !== 0) {
        const timedOut = Buffer.concat(output).toString().includes(`test timed out after ${limitS * 1000}ms`);
        reasons.push(timedOut ? `overran its ${limitS} s limit (node --test-timeout)` : signal ? `killed by ${signal}` : `exit code ${code}`);
      }
      if (left.length) reasons.push(`left ${describeProcesses(left)} running after it exited (killed)`);
      killProcesses(left);
      running.delete(name);
      const ms = Date.now() - began;
      const ok = reasons.length === 0;
      reason = reasons.join("; ") || null;
      log(`\n━━━━ ${name}: ${ok ? "passed" : `FAILED (${reason})`} in ${seconds(ms)} ━━━━`);
      process.stdout.write(Buffer.concat(output));
      log(`━━━━ end of ${name} ━━━━\n`);
      done({ ok, ms, reason, failures: ok ? null : failureExcerpt(Buffer.concat(output).toString()) });
    });
  });
}

async function runStep(step) {
  const began = Date.now();
  let ok = true;
  let reason = null;
  let failures = null;
  for (const [command, ...commandArgs] of STEPS[step]) {
    const outcome = await runCommand(`${step}: ${[command, ...commandArgs].join(" ")}`, command, commandArgs, STEP_LIMITS_S[step]);
    if (!outcome.ok) {
      ok = false;
      reason = outcome.reason;
      failures = outcome.failures;
      break;
    }
  }
  results.push({ name: step, ms: Date.now() - began, ok, reason, failures });
  if (!ok) failed = true;
  return ok;
}

function testFiles() {
  if (named.length) return named.map((file) => relative(root, resolve(file)));
  return ["tests/node", "tests/frameworks", "tests/browser", "tests/e2e"].flatMap((dir) =>
    readdirSync(join(root, dir)).filter((file) => file.endsWith(".test.js")).map((file) => `${dir}/${file}`),
  );
}

async function runFile(file) {
  const limit = limitOverride ?? FILES[file]?.limit ?? DEFAULT_LIMIT_S;
  const outcome = await runCommand(file, process.execPath, ["--test", "--test-force-exit", "--test-reporter=spec", `--test-timeout=${limit * 1000}`, ...(pattern ? [`--test-name-pattern=${pattern}`] : []), file], limit);
  results.push({ name: file, ...outcome });
  if (!outcome.ok) failed = true;
}

/** Longest limit first: the long files start early instead of trailing at the end. */
const byLimit = (files) => [...files].sort((a, b) => (FILES[b]?.limit ?? DEFAULT_LIMIT_S) - (FILES[a]?.limit ?? DEFAULT_LIMIT_S));

/**
 * Runs the queues' files: `workers` take from the first queue they find non-empty, in the order
 * given (so a timed worker with nothing timed left helps with the free files).
 */
async function drain(workers) {
  await Promise.all(
    workers.map(async (queues) => {
      for (let queue = queues.find((q) => q.length); queue && !overallHit; queue = queues.find((q) => q.length)) {
        await runFile(queue.shift());
      }
    }),
  );
}

/**
 * The spec reporter's closing "failing tests" block (names and errors), so that the last lines of a
 * run, all a CI log may keep, say what failed and why.
 */
function failureExcerpt(text) {
  const at = text.lastIndexOf("✖ failing tests:");
  const lines = (at === -1 ? text.split("\n").slice(-40) : text.slice(at).split("\n")).filter((line) => line.trim() && !/\(node:|at node:/.test(line));
  return lines.slice(0, 60).join("\n");
}

function printSummary() {
  const failures = results.filter((result) => !result.ok && result.failures);
  if (failures.length) log("\n──── what failed ────");
  for (const { name, failures: excerpt } of failures) log(`${name}:\n${excerpt}\n`);
  log("\n──── test run summary ────");
  for (const { name, ms, ok, reason } of results) {
    log(`${ok ? "  ok  " : " FAIL "} ${seconds(ms).padStart(8)}  ${name}${ok ? "" : `  — ${reason}`}`);
  }
  log(`        ${seconds(Date.now() - started).padStart(8)}  total${jsPhase ? ` (test phase, native and JS side by side: ${seconds(jsPhase)} wall clock)` : ""}`);
  log(failed ? "FAILED" : "all passed");
}

function killEverything(why) {
  for (const { kill } of running.values()) kill(why);
}

let jsPhase = 0;
const overall = setTimeout(() => {
  overallHit = true;
  failed = true;
  log(`\n!!!! the run overran its overall limit of ${OVERALL_LIMIT_S} s (AUTHLANE_TEST_LIMIT_S) while running: ${[...running.keys()].join(", ") || "nothing"}`);
  killEverything(`still running when the overall ${OVERALL_LIMIT_S} s limit was reached`);
}, OVERALL_LIMIT_S * 1000);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    killEverything(`interrupted (${signal})`);
    setTimeout(() => process.exit(130), 500);
  });
}

try {
  if (!jsOnly) {
    for (const step of ["setup", "build"]) {
      if (!(await runStep(step))) break;
    }
  }
  if (!failed) {
    const files = testFiles();
    const began = Date.now();
    // The native tests need no real time either: they lead the free lane.
    const native = jsOnly ? [] : ["native"];
    if (serial || named.length === 1) {
      for (const step of native) await runStep(step);
      await drain([[byLimit(files)]]);
    } else {
      // At most TIMED_CONCURRENCY timed files at once; the free lane runs the native tests, then
      // free files, and idle timed workers take free files too.
      const free = byLimit(files.filter((file) => FILES[file]?.lane === "free"));
      const timed = byLimit(files.filter((file) => FILES[file]?.lane !== "free"));
      const freeLane = async () => {
        for (const step of native) await runStep(step);
        await drain([[free]]);
      };
      await Promise.all([freeLane(), drain(Array.from({ length: Math.max(1, TIMED_CONCURRENCY) }, () => [timed, free]))]);
    }
    for (const file of files) {
      if (!results.some((result) => result.name === file)) results.push({ name: file, ms: 0, ok: false, reason: "not run (overall limit)" });
    }
    jsPhase = Date.now() - began;
  }
} finally {
  clearTimeout(overall);
  printSummary();
}
process.exit(failed ? 1 : 0);
