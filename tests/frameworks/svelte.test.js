// The Svelte 5 example app (tests/frameworks/svelte), built with Vite and vite-plugin-svelte against
// the package's exports and walked through in headless Chromium, with setupAuthlane given options
// (it creates and disposes the session) or an auth created outside.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "../support/chromium.js";
import { startStaticServer } from "../support/static-server.js";
import { buildApp, openApp, OUT_FOLDER, readBuild, walkThrough } from "./flow.js";

let browser;
let server;
let dir;

before(async () => {
  dir = await buildApp({ app: "svelte", name: "svelte" });
  server = await startStaticServer([OUT_FOLDER]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("the Vite build holds one copy of the core and one wasm module", async () => {
  const { files, js } = await readBuild(dir);
  assert.equal(files.filter((f) => f.endsWith(".wasm")).length, 1, files.join(", "));
  assert.equal(js.split("sessions are unusable until the page reloads").length - 1, 1, "core bundled once");
  assert.equal(js.split("found no session: call setupAuthlane()").length - 1, 1, "binding bundled once");
});

describe("sign in, two background refreshes, sign out, destroy", { concurrency: true }, () => {
  for (const source of ["options", "auth"]) {
    test(`setupAuthlane given ${source === "auth" ? "an auth" : "options"}`, async () => {
      const { page, errors, close } = await openApp(browser, `${server.origin}/${OUT_FOLDER}/svelte/index.html?source=${source}`);
      try {
        await walkThrough(page, { owned: source === "options" });
        assert.equal(await page.evaluate(() => window.app.probe.statuses.join()), "loading,unauthenticated,authenticated,unauthenticated");
        assert.deepEqual(errors, []);
      } finally {
        await close();
      }
    });
  }
});
