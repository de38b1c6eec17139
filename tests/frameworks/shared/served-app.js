// What the Next.js and SvelteKit tests share: their app served by its own server, the devserver as
// the token issuer, and one visit of a signed-in user in Chromium, measured.
import { execFile, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { promisify } from "node:util";
import assert from "node:assert/strict";
import { repoRoot, startDevserver } from "../../e2e/support/devserver.js";
import { launchChromium } from "../../support/chromium.js";
import { installPacked } from "./packed.js";

/** Access tokens live 10 minutes: no refresh falls inside a visit, so every token call is a startup call. */
const TOKEN_LIFETIME_S = 600;

/**
 * Installs the packed package into `app`, builds it once with `build` ([command, ...args], in the
 * app's folder; the time is printed), starts the devserver as its issuer, serves it with `serve`
 * (see `serveApp`; the issuer's origin in `AUTHLANE_ISSUER`) and launches Chromium. `close()` stops
 * all of it and removes the build's `outputs` and the unpacked package.
 */
export async function startServedApp({ app, label, build: [command, ...args], outputs, serve }) {
  const opened = { browser: null, issuer: null, server: null };
  opened.close = async () => {
    await opened.browser?.close();
    await opened.server?.stop();
    await opened.issuer?.stop();
    for (const output of [...outputs, "node_modules/authlane"]) await rm(join(app, output), { recursive: true, force: true });
  };
  try {
    await installPacked(app);
    const started = Date.now();
    await promisify(execFile)(command, args, { cwd: app, env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } });
    console.log(`# ${label} build: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    opened.issuer = await startIssuer();
    opened.server = await serveApp({ ...serve, cwd: app, env: { AUTHLANE_ISSUER: opened.issuer.origin } });
    opened.browser = await launchChromium();
    return opened;
  } catch (error) {
    await opened.close();
    throw error;
  }
}

/** A free port on 127.0.0.1 (the servers take a port number, not 0). */
async function freePort() {
  const server = createServer();
  await new Promise((ready) => server.listen(0, "127.0.0.1", ready));
  const { port } = server.address();
  await new Promise((closed) => server.close(closed));
  return port;
}

/**
 * Starts `command args` in `cwd` on a free port (`PORT`/`HOST` in its environment, `{port}` in
 * `args` replaced) and resolves once it prints a line matching `ready`. `stop()` ends it.
 */
async function serveApp({ command, args = [], cwd, env = {}, ready }) {
  const port = await freePort();
  const child = spawn(command, args.map((arg) => arg.replace("{port}", String(port))), {
    cwd,
    env: { ...process.env, ...env, PORT: String(port), HOST: "127.0.0.1", NEXT_TELEMETRY_DISABLED: "1" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise((done) => child.once("exit", done));
  const lines = createInterface({ input: child.stdout });
  await new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${command} exited with ${code} before it was ready`)));
    lines.on("line", (line) => ready.test(line) && resolve());
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The devserver as the apps' token issuer (its sign-in and refresh endpoints, with CORS). */
async function startIssuer() {
  // The devserver always serves this folder (the e2e tests build into it).
  mkdirSync(join(repoRoot, "tests/e2e/out"), { recursive: true });
  return startDevserver(["--token-lifetime", String(TOKEN_LIFETIME_S)]);
}

/**
 * One visit of a freshly signed-in user: the refresh token in localStorage under `refreshKey`, and
 * with `withCookie` the access token in the `authlane_token` cookie the app's server reads. Returns
 * the settled status, the subject shown, the page's token calls and statuses, the issuer's refresh
 * count, and the wasm responses.
 */
export async function visit(browser, { origin, issuer, refreshKey, withCookie, subject }) {
  const { access_token: accessToken, refresh_token: refreshToken } = await issuer.post("/auth/signin", { subject });
  const before = await issuer.stats();
  const context = await browser.newContext();
  try {
    await context.addInitScript(([key, value]) => localStorage.setItem(key, value), [refreshKey, refreshToken]);
    if (withCookie) await context.addCookies([{ name: "authlane_token", value: accessToken, url: origin }]);
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    // Failed requests are listed by the response handler (a missing favicon is no failure).
    page.on("console", (message) => message.type() === "error" && !message.text().startsWith("Failed to load resource") && errors.push(message.text()));
    const wasm = [];
    page.on("response", (response) => {
      const path = new URL(response.url()).pathname;
      if (path.endsWith(".wasm")) wasm.push({ status: response.status(), type: response.headers()["content-type"] });
      if (response.status() >= 400 && path !== "/favicon.ico") errors.push(`${response.status()} ${path}`);
    });
    await page.goto(origin);
    await page.waitForFunction(() => !["", "loading"].includes(document.getElementById("status")?.textContent ?? ""), null, { timeout: 30_000 });
    const shown = await page.evaluate(() => {
      const status = document.getElementById("status");
      return { status: status.textContent, sub: status.dataset.sub, tokenCalls: window.__app.tokenCalls, statuses: [...window.__app.statuses] };
    });
    const after = await issuer.stats();
    return { ...shown, refreshes: after.refreshes - before.refreshes, wasm, errors };
  } finally {
    await context.close();
  }
}

/** Asserts what every visit must show, whatever the machine's speed. */
function assertSettledAuthenticated(result, subject) {
  assert.equal(result.status, "authenticated", `errors: ${result.errors.join(" | ")}`);
  assert.equal(result.sub, subject, "the claims shown are the signed-in user's");
  assert.deepEqual(result.errors, []);
  assert.ok(!result.statuses.includes("unauthenticated"), `a signed-out render on the way: ${result.statuses}`);
  assert.ok(result.wasm.some((response) => response.status === 200 && response.type === "application/wasm"), JSON.stringify(result.wasm));
}

/**
 * The server renders the app without a browser API (a throw would be a 500): the session's
 * `loading` state in `#status`, and whatever `patterns` the app's server-only parts show. A page
 * rendered for a request carrying the token cookie is not publicly cacheable.
 */
export async function assertServerRendered(origin, patterns = []) {
  const plain = await fetch(origin);
  const html = await plain.text();
  assert.equal(plain.status, 200, html.slice(0, 500));
  assert.match(html, /id="status"[^>]*>loading</, "the session's loading state was server-rendered");
  for (const pattern of patterns) assert.match(html, pattern);
  const withCookie = await fetch(origin, { headers: { cookie: "authlane_token=not-checked-by-the-server" } });
  await withCookie.text();
  assert.equal(withCookie.status, 200);
  assert.match(withCookie.headers.get("cache-control") ?? "", /private|no-store/, "a page carrying the user's token is not publicly cacheable");
}

/**
 * Two visits in Chromium, without and with the cookie: the wasm loads, both settle authenticated
 * as the signed-in user, and startup costs 1 token call without `initialToken` and 0 with it
 * (counted in the page and at the issuer). Prints the figures under `label`.
 */
export async function assertStartupCalls(browser, { label, ...common }) {
  const fetched = await visit(browser, { ...common, withCookie: false });
  const rendered = await visit(browser, { ...common, withCookie: true });
  console.log(
    `# ${label}: startup token calls ${fetched.tokenCalls} without the cookie, ${rendered.tokenCalls} with initialToken ` +
      `(issuer refreshes ${fetched.refreshes} / ${rendered.refreshes}); statuses ${rendered.statuses.join(" → ")}`,
  );
  assertSettledAuthenticated(fetched, common.subject);
  assertSettledAuthenticated(rendered, common.subject);
  assert.equal(fetched.tokenCalls, 1, "without the cookie the session fetches once");
  assert.equal(fetched.refreshes, 1);
  assert.equal(rendered.tokenCalls, 0, "with initialToken startup costs no token call");
  assert.equal(rendered.refreshes, 0);
}
