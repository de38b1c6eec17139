// Shortens two warnings in wasm-bindgen's glue that ship in every page's bundle (-0.2 KB gzip):
// - the fallback when instantiateStreaming refuses a module served without application/wasm says
//   the same in fewer words (pkg/src/wasm.ts explains a module that then still fails to load);
// - the warning for the init function's deprecated positional argument goes: pkg/src/wasm.ts always
//   passes `{ module_or_path }`, so it can never print.
// Each text must be found exactly once, so a wasm-bindgen upgrade that changes them fails the build.
// Run by scripts/build.sh after wasm-bindgen.
//
// node scripts/trim-glue.js <glue.js>
import { readFileSync, writeFileSync } from "node:fs";

const [gluePath] = process.argv.slice(2);
let glue = readFileSync(gluePath, "utf8");

const edits = [
  [
    '"`WebAssembly.instantiateStreaming` failed because your server does not serve Wasm with `application/wasm` MIME type. Falling back to `WebAssembly.instantiate` which is slower. Original error:\\n"',
    '"[authlane] authlane_bg.wasm is not served as application/wasm; loading it the slower way:"',
  ],
  [
    "console.warn('using deprecated parameters for the initialization function; pass a single object instead')",
    "",
  ],
];

for (const [from, to] of edits) {
  const found = glue.split(from).length - 1;
  if (found !== 1) throw new Error(`trim-glue: expected one ${JSON.stringify(from.slice(0, 60))}…, found ${found}`);
  glue = glue.replace(from, to);
}
writeFileSync(gluePath, glue);
