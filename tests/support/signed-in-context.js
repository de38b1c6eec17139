// For multi-tab browser tests: a rotating token issuer behind a static server of the test pages,
// and a browser context whose "provider SDK" storage holds a refresh token (signed in once).
// Both are closed when test `t` ends, whatever its assertions did.
import { startStaticServer } from "./static-server.js";
import { createTokenIssuer } from "./token-issuer.js";

/** `webLocks: false` removes `navigator.locks` from every page (the localStorage lease path). */
export async function signedInContext(t, browser, { webLocks = true, ...issuerOptions } = {}) {
  const issuer = createTokenIssuer(issuerOptions);
  const server = await startStaticServer(["pkg", "tests/browser/pages", "tests/support"], { api: issuer.handle });
  t.after(() => server.close());
  const context = await browser.newContext();
  t.after(() => context.close());
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
