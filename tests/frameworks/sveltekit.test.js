// A SvelteKit 2 app installing the packed package (tests/frameworks/sveltekit): `setupAuthlane` in
// the root layout with SSR on, the user's cookie read in the layout's server `load` and handed over
// as `initialToken`; built once with the app's own `vite build`, served by adapter-node's server,
// loaded in Chromium against the devserver's token issuer. Prints the startup token calls with and
// without the cookie. (SvelteKit 2 on Vite 7: Kit 3 needs Node 22, the machine runs Node 20.)
import { after, before, test } from "node:test";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assertServerRendered, assertStartupCalls, startServedApp } from "./shared/served-app.js";

const app = fileURLToPath(new URL("./sveltekit", import.meta.url));
let served;

before(async () => {
  served = await startServedApp({
    app,
    label: "SvelteKit",
    // SvelteKit reads its config from the working directory: the app's own Vite, in its folder.
    build: [join(app, "node_modules/.bin/vite"), "build", "--logLevel", "error"],
    outputs: ["build", ".svelte-kit"],
    serve: { command: process.execPath, args: ["build"], ready: /Listening on/ },
  });
}, { timeout: 200_000 });

after(() => served?.close());

test("the server renders the layout with setupAuthlane (SSR on) without browser APIs", async () => {
  await assertServerRendered(served.server.origin);
});

test("in Chromium the wasm loads and the session settles authenticated: 1 token call without the cookie, 0 with it", async () => {
  const { browser, issuer, server } = served;
  await assertStartupCalls(browser, { label: "SvelteKit", origin: server.origin, issuer, refreshKey: "sveltekit-refresh-token", subject: "user_kit" });
});
