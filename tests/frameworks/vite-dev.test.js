// The Vite dev servers apps really run (7 and 8), with authlane installed the way npm installs it: a
// real folder in node_modules, which the dev server pre-bundles into node_modules/.vite/deps (a
// linked package, like the repository's file:pkg, is not pre-bundled and would hide the problem).
// Vite 7's pre-bundler copies `new URL("authlane_bg.wasm", import.meta.url)` unchanged, so the
// module is asked for beside the pre-bundled file, where the dev server answers with index.html.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { launchChromium } from "../support/chromium.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const app = fileURLToPath(new URL("./vite-dev", import.meta.url));
const installed = join(app, "node_modules", "authlane");

const VITES = [
  { major: 7, module: "vite" },
  { major: 8, module: "vite8" },
];

let browser;

before(async () => {
  // `npm pack` + unpack into the app's node_modules: exactly the files an install brings.
  const folder = await mkdtemp(join(tmpdir(), "authlane-vite-dev-"));
  try {
    const { stdout } = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", folder], { cwd: `${root}pkg` });
    await rm(installed, { recursive: true, force: true });
    await mkdir(installed, { recursive: true });
    await run("tar", ["-xzf", join(folder, JSON.parse(stdout)[0].filename), "-C", installed, "--strip-components=1"]);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await rm(join(app, "node_modules"), { recursive: true, force: true });
});

for (const { major, module } of VITES) {
  test(`Vite ${major} dev server: the pre-bundled package finds its WebAssembly module and the session starts`, async (t) => {
    const { createServer, version } = await import(module);
    assert.equal(Number(version.split(".")[0]), major);
    const server = await createServer({
      configFile: false,
      root: app,
      cacheDir: join(app, "node_modules", `.vite-${major}`),
      logLevel: "error",
      server: { host: "127.0.0.1", port: 0 },
    });
    t.after(() => server.close());
    await server.listen();
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    const wasm = [];
    const scripts = [];
    page.on("response", (response) => {
      const path = new URL(response.url()).pathname;
      if (path.endsWith(".wasm")) wasm.push({ path, status: response.status(), type: response.headers()["content-type"] });
      if (path.includes("authlane")) scripts.push(path);
    });
    const errors = [];
    page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
    await page.goto(server.resolvedUrls.local[0]);
    await page.waitForFunction(() => !["none", "loading"].includes(document.getElementById("status").textContent), null, { timeout: 20_000 });
    const status = await page.textContent("#status");
    console.log(`# Vite ${version} dev: ${status}; wasm requests ${JSON.stringify(wasm)}`);
    assert.ok(scripts.some((path) => path.includes("/.vite")), `authlane was pre-bundled (the case that fails): ${scripts}`);
    assert.equal(status, "authenticated", `console errors: ${errors.join(" | ")}`);
    assert.ok(wasm.some((request) => request.status === 200 && request.type === "application/wasm"), "the module was served as wasm");
  });
}
