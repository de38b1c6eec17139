// A Next.js (app router) app installing the packed package (tests/frameworks/nextjs): built once with
// `next build`, served by `next start`, loaded in Chromium against the devserver's token issuer.
// The Server Component imports `authlane` and reads the user's cookie; the Client Component runs
// `authlane/react`'s provider with it as `initialToken`. Prints the startup token calls with and
// without the cookie.
import { after, before, test } from "node:test";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assertServerRendered, assertStartupCalls, startServedApp } from "./shared/served-app.js";

const app = fileURLToPath(new URL("./nextjs", import.meta.url));
const next = join(app, "node_modules/.bin/next");
let served;

before(async () => {
  served = await startServedApp({
    app,
    label: "Next.js",
    build: [next, "build"],
    outputs: [".next"],
    serve: { command: next, args: ["start", "-p", "{port}", "-H", "127.0.0.1"], ready: /Ready/ },
  });
}, { timeout: 200_000 });

after(() => served?.close());

test("the server renders the page (Server Component importing authlane, client provider) without browser APIs", async () => {
  await assertServerRendered(served.server.origin, [/id="server-status">loading</]);
});

test("in Chromium the wasm loads and the session settles authenticated: 1 token call without the cookie, 0 with it", async () => {
  const { browser, issuer, server } = served;
  await assertStartupCalls(browser, { label: "Next.js", origin: server.origin, issuer, refreshKey: "nextjs-refresh-token", subject: "user_next" });
});
