// Prints what a browser loads from the package: the wasm module and the one JavaScript bundle,
// raw and gzip -9. The unminified TypeScript output (pkg/build) is listed for reference.
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const root = new URL("../pkg/", import.meta.url).pathname;

function measure(file) {
  const bytes = readFileSync(join(root, file));
  return { file, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

function table(title, files) {
  console.log(`${title.padEnd(34)} raw bytes   gzip -9`);
  let raw = 0;
  let gzip = 0;
  for (const row of files.map(measure)) {
    raw += row.raw;
    gzip += row.gzip;
    console.log(`${row.file.padEnd(34)} ${String(row.raw).padStart(9)} ${String(row.gzip).padStart(9)}`);
  }
  console.log(`${"total".padEnd(34)} ${String(raw).padStart(9)} ${String(gzip).padStart(9)}\n`);
}

table("shipped (what a browser loads)", ["dist/authlane_bg.wasm", "dist/index.js"]);
table("bindings (each on top of the above)", ["dist/react.js", "dist/svelte.js", "dist/graphql-ws.js", "dist/diagnostics.js"]);
const unbundled = readdirSync(join(root, "build")).filter((name) => name.endsWith(".js")).sort();
table("reference: unminified parts", ["wasm/authlane.js", ...unbundled.map((name) => `build/${name}`)]);
