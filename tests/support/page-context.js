// A browser context for tests that open pages of one server: pages run `initScripts` (source
// text) before their own, page errors are collected, and `close()` closes the context and the server.

export async function openPageContext(browser, server, initScripts = []) {
  const context = await browser.newContext();
  for (const script of initScripts) await context.addInitScript({ content: script });
  const errors = [];
  const open = async (path) => {
    const page = await context.newPage();
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${server.origin}${path}`);
    return page;
  };
  return { context, errors, open, close: async () => { await context.close(); await server.close(); } };
}
