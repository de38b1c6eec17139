// Prints the package's shipped size: each file raw and gzip -9, and the total a browser loads.
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const root = new URL("../pkg/", import.meta.url).pathname;
const files = [
  "wasm/authlane_bg.wasm",
  "wasm/authlane.js",
  ...readdirSync(join(root, "dist"))
    .filter((name) => name.endsWith(".js"))
    .sort()
    .map((name) => `dist/${name}`),
];

let raw = 0;
let gzip = 0;
console.log("file                         raw bytes   gzip -9");
for (const file of files) {
  const bytes = readFileSync(join(root, file));
  const zipped = gzipSync(bytes, { level: 9 }).length;
  raw += bytes.length;
  gzip += zipped;
  console.log(`${file.padEnd(28)} ${String(bytes.length).padStart(9)} ${String(zipped).padStart(9)}`);
}
console.log(`${"total (per-file gzip)".padEnd(28)} ${String(raw).padStart(9)} ${String(gzip).padStart(9)}`);
