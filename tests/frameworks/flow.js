// What the framework tests share: building an example app with Vite as an app would, and the
// sign-in / refresh / sign-out walk through it in headless Chromium, asserting on the rendered DOM.
// Real timers: the built app refreshes its 4 s tokens every ~2 s (refreshLeewaySeconds: 2).
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";

export const OUT = fileURLToPath(new URL("./out", import.meta.url));
/** The folder startStaticServer serves the built apps from (repository-relative). */
export const OUT_FOLDER = "tests/frameworks/out";

/**
 * `vite build` of one example app into tests/frameworks/out/<name>. `development: true` builds
 * React's development bundle, where StrictMode double-invokes effects.
 */
export async function buildApp({ app, name, development = false, config = {} }) {
  const previous = process.env.NODE_ENV;
  process.env.NODE_ENV = development ? "development" : "production";
  try {
    await build({
      configFile: fileURLToPath(new URL(`./${app}/vite.config.js`, import.meta.url)),
      mode: development ? "development" : "production",
      build: { outDir: join(OUT, name), emptyOutDir: true },
      ...config,
    });
  } finally {
    if (previous === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = previous;
  }
  return join(OUT, name);
}

/** The built app's JavaScript and the names of its other assets. */
export async function readBuild(dir) {
  const files = await readdir(join(dir, "assets"));
  const js = await Promise.all(files.filter((f) => f.endsWith(".js")).map((f) => readFile(join(dir, "assets", f), "utf8")));
  return { files, js: js.join("\n") };
}

/** Opens a built app, collecting page errors and console errors. */
export async function openApp(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.goto(url);
  return { page, errors, close: () => context.close() };
}

const app = (page, fn, arg) => page.evaluate(fn, arg);
const TWO_REFRESHES_MS = 10_000;

/**
 * Signs in, lets two background refreshes happen, signs out, then unmounts the component that
 * holds the session. `owned`: the binding created the session (so unmounting must dispose it).
 * Returns what it saw, for binding-specific assertions.
 */
export async function walkThrough(page, { owned, convex = false }) {
  // Startup: the issuer is signed out, so one call answers null and the signed-out UI shows.
  await page.locator("#signed-out").waitFor();
  assert.equal(await page.textContent("#status"), "unauthenticated");
  const startup = await app(page, () => ({
    calls: window.app.issuer.calls.length,
    sessions: window.app.probe.sessions.length,
  }));
  assert.deepEqual(startup, { calls: 1, sessions: 1 }, "one session, one issuer call at startup");

  // Sign in.
  await page.click("#sign-in");
  await page.locator("#signed-in").waitFor();
  assert.equal(await page.textContent("#subject"), "user_1");
  if (convex) await page.waitForFunction(() => document.getElementById("convex-status")?.textContent === "authenticated");
  const before = await app(page, () => ({
    renders: { ...window.app.probe.renders },
    calls: window.app.issuer.calls.length,
    statuses: window.app.probe.statuses.length,
    convexLog: window.app.convexClient ? [...window.app.convexClient.log] : null,
  }));

  // Two background refreshes (forced issuer calls answered with a token) while signed in.
  await page.waitForFunction(
    (from) => window.app.issuer.calls.slice(from).filter((c) => c.force && c.answered === "token").length >= 2,
    before.calls,
    { timeout: TWO_REFRESHES_MS },
  );
  const during = await app(page, (from) => ({
    renders: { ...window.app.probe.renders },
    statuses: window.app.probe.statuses.slice(from),
    convexLog: window.app.convexClient ? [...window.app.convexClient.log] : null,
  }), before.statuses);
  assert.equal(during.renders.unauthenticated, before.renders.unauthenticated, "the signed-out UI never rendered during a refresh");
  assert.equal(during.renders.loading, before.renders.loading, "the loading UI never rendered during a refresh");
  assert.equal(during.renders.authenticated, before.renders.authenticated, "a refresh did not even re-render the signed-in UI");
  assert.deepEqual(during.statuses, [], "the UI saw no status change during refreshes");
  assert.deepEqual(during.convexLog, before.convexLog, "convex's setAuth ran once: no flapping on refresh");
  assert.equal(await page.textContent("#status"), "authenticated");
  if (convex) assert.deepEqual(before.convexLog, ["setAuth", "authenticated"]);

  // Sign out.
  await page.click("#sign-out");
  await page.locator("#signed-out").waitFor();
  assert.equal(await page.textContent("#status"), "unauthenticated");
  if (convex) {
    await page.waitForFunction(() => document.getElementById("convex-status")?.textContent === "unauthenticated");
    assert.equal(await app(page, () => window.app.convexClient.log.at(-1)), "clearAuth");
  }

  // Unmount the component holding the session: an owned session is disposed, a passed one is not.
  await page.click("#toggle");
  await page.locator("#status").waitFor({ state: "detached" });
  const afterUnmount = await app(page, async () => {
    const auth = window.app.probe.sessions[0];
    try {
      return { token: await auth.getToken() };
    } catch (error) {
      return { error: error.code };
    }
  });
  assert.deepEqual(afterUnmount, owned ? { error: "disposed" } : { token: null });
  return { startup, before, during };
}
