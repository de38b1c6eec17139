// Where the loader looks for authlane_bg.wasm, from the URL of the script that runs it: undefined
// leaves it to the glue's `new URL("authlane_bg.wasm", import.meta.url)`, which bundlers rewrite.
import { test } from "node:test";
import assert from "node:assert/strict";
import { relocatedWasmUrl } from "../../pkg/build/locate.js";

const cases = [
  ["a bundled app", "https://app.test/assets/index-abc.js", undefined],
  ["Next.js chunk", "https://app.test/_next/static/chunks/app-1.js", undefined],
  ["the package in node_modules", "http://127.0.0.1:5173/node_modules/authlane/dist/index.js?v=1", undefined],
  ["Node, from the package", "file:///srv/app/node_modules/authlane/dist/index.js", undefined],
  ["Vite 7 pre-bundle", "http://127.0.0.1:5173/node_modules/.vite/deps/authlane.js?v=9f", "http://127.0.0.1:5173/node_modules/authlane/dist/authlane_bg.wasm"],
  ["pre-bundle under a base path", "http://h.test/app/node_modules/.vite/deps/authlane.js", "http://h.test/app/node_modules/authlane/dist/authlane_bg.wasm"],
  ["a custom cache folder", "http://h.test/node_modules/.cache/vite/deps/chunk-X.js", "http://h.test/node_modules/authlane/dist/authlane_bg.wasm"],
];

for (const [name, script, expected] of cases) {
  test(`the module's location: ${name}`, () => {
    assert.equal(relocatedWasmUrl(script)?.href, expected);
  });
}
