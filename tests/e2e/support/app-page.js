// Opens a test page in its own browser context and starts its app: `window.startApp(options)`,
// once the page defines it. Page errors are collected, and `log()` copies the page's `window.log`.
export async function startAppPage(browser, url, options) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  await page.goto(url);
  await page.waitForFunction(() => typeof window.startApp === "function");
  const started = Date.now();
  await page.evaluate((given) => window.startApp(given), options);
  return { context, page, pageErrors, started, log: () => page.evaluate(() => structuredClone(window.log)) };
}
