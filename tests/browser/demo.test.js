// The demo a newcomer runs: it loads the built package, authenticates, and survives a sign-out.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "../support/chromium.js";
import { startStaticServer } from "../support/static-server.js";

let browser;
let server;

before(async () => {
  server = await startStaticServer(["www", "pkg"]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("the demo page authenticates, shows the timeline, and signs out", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(`${server.origin}/www/`);
  await page.waitForFunction(() => document.getElementById("status").textContent === "authenticated");
  assert.equal(await page.textContent("#subject"), "user_demo");
  assert.equal(await page.textContent("#calls"), "1", "startup costs one issuer call");
  // The startup query waited at the expectAuth gate until the in-page server accepted the token.
  await page.waitForFunction(() => document.getElementById("answer").textContent.startsWith("whoami → user_demo"));
  const kinds = await page.$$eval("#timeline code", (cells) => cells.map((cell) => cell.textContent));
  for (const kind of ["token_adopted", "refresh_scheduled", "server_accepted", "operations_held", "operations_released"]) {
    assert.ok(kinds.includes(kind), `${kind} in ${kinds.join(",")}`);
  }
  await page.click("#sign-out");
  await page.waitForFunction(() => document.getElementById("status").textContent === "unauthenticated");
  assert.deepEqual(errors, []);
  await page.close();
});

test("two demo tabs share one session: the second fetches nothing, and sign-out reaches both", async () => {
  const context = await browser.newContext();
  const first = await context.newPage();
  await first.goto(`${server.origin}/www/`);
  await first.waitForFunction(() => document.getElementById("status").textContent === "authenticated");
  const second = await context.newPage();
  await second.goto(`${server.origin}/www/`);
  await second.waitForFunction(() => document.getElementById("status").textContent === "authenticated");
  assert.equal(await second.textContent("#calls"), "0", "the second tab took the first tab's token");
  await first.click("#sign-out");
  await second.waitForFunction(() => document.getElementById("status").textContent === "unauthenticated", null, { timeout: 1_000 });
  await context.close();
});
