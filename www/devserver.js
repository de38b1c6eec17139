// The demo against a real server (`make demo` runs it after building the package, the devserver and
// the demo pages): starts the devserver binary (target/debug/devserver, `cargo build -p devserver`)
// on 127.0.0.1 (PORT, default 8080) serving /www and /pkg, prints the demo's URLs once it listens,
// and stops it on Ctrl-C. tests/browser/demo-convex.test.js starts it the same way, on a free port.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repoRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));
export const DEVSERVER_BINARY = resolve(repoRoot, "target/debug/devserver");

/**
 * Starts `devserver --port <port> --serve /www=www --serve /pkg=pkg --serve /tests/support=tests/support …args` from the repository root;
 * resolves with its origin once it listens. `stop()` sends SIGTERM and waits for the exit.
 */
export async function startDemoDevserver({ port = 8080, args = [], stdio = "inherit" } = {}) {
  if (!existsSync(DEVSERVER_BINARY)) {
    throw new Error(`${DEVSERVER_BINARY} is missing: \`cargo build -p devserver\` (make demo does)`);
  }
  const child = spawn(DEVSERVER_BINARY, ["--port", String(port), "--serve", "/www=www", "--serve", "/pkg=pkg", "--serve", "/tests/support=tests/support", ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", stdio],
  });
  const exited = new Promise((done) => child.once("exit", done));
  const lines = createInterface({ input: child.stdout });
  const origin = await new Promise((ready, fail) => {
    child.once("exit", (code) => fail(new Error(`devserver exited with ${code} before listening`)));
    lines.once("line", (line) => ready(line.replace("devserver listening on ", "").trim()));
  });
  lines.on("line", (line) => console.log(line));
  return {
    origin,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startDemoDevserver({ port: Number(process.env.PORT ?? 8080) }).catch((error) => {
    console.error(`authlane demo: ${error.message}`);
    process.exit(1);
  });
  console.log(`authlane demo on the devserver (${server.origin}); open a page in two tabs: they share one session.
  real convex client + devserver  ${server.origin}/www/dist/convex/
  vanilla JS (in-page issuer)     ${server.origin}/www/
  React      (in-page issuer)     ${server.origin}/www/dist/react/
  Svelte     (in-page issuer)     ${server.origin}/www/dist/svelte/
Ctrl-C to stop.`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  server.child.once("exit", (code) => {
    if (!stopping) process.exit(code ?? 1);
  });
}
