// Runs a function in a fresh page of tests/browser/pages/harness.html (its own browser context, so
// its own storage), failing on any uncaught page error, and closes the context.
import assert from "node:assert/strict";

/** `setup` (optional) runs in the page first, e.g. to install helpers on `window`. */
export async function inHarnessPage(browser, origin, body, arg, setup) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(error));
    await page.goto(`${origin}/tests/browser/pages/harness.html`);
    await page.waitForFunction(() => window.harnessReady === true);
    if (setup) await page.evaluate(setup);
    const result = await page.evaluate(body, arg);
    assert.deepEqual(errors, []);
    return result;
  } finally {
    await context.close();
  }
}
