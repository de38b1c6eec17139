// For multi-tab browser tests: a rotating token issuer behind a static server of the test pages,
// and a browser context whose "provider SDK" storage holds a refresh token (signed in once).
// Both are closed when test `t` ends, whatever its assertions did.
import { startStaticServer } from "./static-server.js";
import { createTokenIssuer } from "./token-issuer.js";

/** `webLocks: false` removes `navigator.locks` from every page (the localStorage lease path). */
export async function signedInContext(t, browser, { webLocks = true, ...issuerOptions } = {}) {
  const issuer = createTokenIssuer(issuerOptions);
  const server = await startStaticServer(["pkg", "tests/browser/pages", "tests/support"], { api: issuer.handle });
  const context = await browser.newContext().catch(async (error) => {
    await server.close();
    throw error;
  });
  // The context first: server.close() waits for every open connection, and tabs that keep
  // refreshing keep a keep-alive connection busy for as long as they live (seen once under load:
  // a test that had printed its figures never finished, until the file's time limit).
  t.after(async () => {
    await context.close();
    await server.close();
  });
  if (!webLocks) {
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined }));
  }
  const signIn = await context.newPage();
  await signIn.goto(`${server.origin}/tests/browser/pages/blank.html`);
  await signIn.evaluate(async () => {
    const answer = await (await fetch("/signin", { method: "POST", body: "{}" })).json();
    localStorage.setItem("test-sdk:refresh-token", answer.refresh_token);
  });
  await signIn.close();
  // localStorage reaches the browser process asynchronously: on a loaded machine a tab opened at
  // once could still read no refresh token (its callback answers null: signed out). Wait until a
  // page opened now sees it.
  const check = await context.newPage();
  await check.goto(`${server.origin}/tests/browser/pages/blank.html`);
  await check.waitForFunction(() => localStorage.getItem("test-sdk:refresh-token") !== null, null, { timeout: 10_000 });
  await check.close();
  return { issuer, server, context };
}
