// Builds (once) and starts the devserver binary on a free port; reads its address from stdout.
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";

export const repoRoot = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const binary = resolve(repoRoot, "target/debug/devserver");
const out = resolve(repoRoot, "tests/e2e/out");

/** `cargo build -p devserver` (a no-op after `make test-native`) and the esbuild test bundle. */
export function buildOnce() {
  execFileSync("cargo", ["build", "--quiet", "-p", "devserver"], { cwd: repoRoot, stdio: "inherit" });
  mkdirSync(out, { recursive: true });
  execFileSync(resolve(repoRoot, "node_modules/.bin/esbuild"), [
    "tests/e2e/pages/app.js", "--bundle", "--format=esm", "--target=es2020", "--log-level=warning",
    `--outfile=${resolve(out, "app.js")}`,
  ], { cwd: repoRoot, stdio: "inherit" });
  // The authlane bundle finds its wasm with new URL("authlane_bg.wasm", import.meta.url).
  copyFileSync(resolve(repoRoot, "pkg/dist/authlane_bg.wasm"), resolve(out, "authlane_bg.wasm"));
  copyFileSync(resolve(repoRoot, "tests/e2e/pages/index.html"), resolve(out, "index.html"));
}

/** Starts `devserver --port 0 …`; `stop()` sends SIGTERM and waits for the exit. */
export async function startDevserver(args = []) {
  const child = spawn(binary, ["--port", "0", "--quiet", "--serve", "/e2e=tests/e2e/out", ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const origin = await new Promise((ready, fail) => {
    child.once("exit", (code) => fail(new Error(`devserver exited with ${code}`)));
    lines.once("line", (line) => ready(line.replace("devserver listening on ", "").trim()));
  });
  const exited = new Promise((done) => child.once("exit", done));
  const call = async (path, body) => {
    const response = await fetch(origin + path, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
    return response.json();
  };
  return {
    origin,
    stats: () => call("/debug/stats"),
    post: (path, body = {}) => call(path, body),
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
