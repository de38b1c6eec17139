// The React example app (tests/frameworks/react), built with Vite against the package's exports and
// walked through in headless Chromium: React 19 and React 18, production and development builds
// (StrictMode double-invokes effects only in development), the provider given an `auth` or `options`,
// and convex/react's ConvexProviderWithAuth driven by useAuthFromAuthlane.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { launchChromium } from "../support/chromium.js";
import { startStaticServer } from "../support/static-server.js";
import { buildApp, openApp, OUT_FOLDER, readBuild, walkThrough } from "./flow.js";

const REACT_18 = fileURLToPath(new URL("./react18/node_modules", import.meta.url));
/** React 18 for the app, the binding and react-dom alike (one copy), from the fixture package. */
const react18 = {
  resolve: {
    alias: [
      { find: /^react-dom(\/.*)?$/, replacement: `${REACT_18}/react-dom$1` },
      { find: /^react(\/.*)?$/, replacement: `${REACT_18}/react$1` },
    ],
  },
};

const VARIANTS = [
  { name: "react19-dev", react: "19", development: true, source: "options" },
  { name: "react19", react: "19", development: false, source: "auth" },
  { name: "react18-dev", react: "18", development: true, source: "options" },
  { name: "react18", react: "18", development: false, source: "auth" },
];

let browser;
let server;
const builds = {};

before(async () => {
  for (const variant of VARIANTS) {
    builds[variant.name] = await buildApp({
      app: "react",
      name: variant.name,
      development: variant.development,
      config: variant.react === "18" ? react18 : {},
    });
  }
  server = await startStaticServer([OUT_FOLDER]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("the Vite build holds one copy of the core and one wasm module", async () => {
  const { files, js } = await readBuild(builds.react19);
  assert.equal(files.filter((f) => f.endsWith(".wasm")).length, 1, files.join(", "));
  assert.equal(js.split("sessions are unusable until the page reloads").length - 1, 1, "core bundled once");
  assert.equal(js.split("must be used inside <AuthlaneProvider>").length - 1, 1, "binding bundled once");
});

describe("sign in, two background refreshes, sign out, unmount", { concurrency: true }, () => {
  for (const variant of VARIANTS) {
    const label = `React ${variant.react} ${variant.development ? "development (StrictMode effects run twice)" : "production"}, provider given ${variant.source === "auth" ? "an auth" : "options"}`;
    test(label, async () => {
      const { page, errors, close } = await openApp(browser, `${server.origin}/${OUT_FOLDER}/${variant.name}/index.html?source=${variant.source}`);
      try {
        await page.waitForFunction(() => window.app);
        assert.equal((await page.evaluate(() => window.app.reactVersion)).split(".")[0], variant.react);
        await walkThrough(page, { owned: variant.source === "options", convex: true });
        assert.equal(await page.evaluate(() => window.app.probe.statuses.join()), "loading,unauthenticated,authenticated,unauthenticated");
        const effectRuns = await page.evaluate(() => window.app.probe.appEffectRuns);
        assert.equal(effectRuns, variant.development ? 2 : 1, "StrictMode's double effect ran only in development");
        assert.deepEqual(errors, []);
      } finally {
        await close();
      }
    });
  }
});
