// Shortens the wasm module's import names in the module and in the wasm-bindgen glue that supplies
// them. wasm-bindgen names every import `__wbg_<name>_<16 hex digits>` (its casts
// `__wbindgen_generic_<16 digits>`): ~50 of them, each spelled once in the module's import section
// and once as a key in the glue, and the digits do not compress (measured: -1.9 KB gzip in all, wasm
// and bundle). The module they come from, "./authlane_bg.js", becomes "a". Exports keep their names (the glue and the failure
// tests' instrumentation reach them by name). Run by scripts/build.sh after wasm-bindgen.
//
// node scripts/minify-imports.js <module.wasm> <glue.js>
import { readFileSync, writeFileSync } from "node:fs";

const [wasmPath, gluePath] = process.argv.slice(2);
const wasm = readFileSync(wasmPath);
let glue = readFileSync(gluePath, "utf8");

let at = 8; // past the magic number and version
function leb() {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = wasm[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return value;
  }
}
function encodeLeb(value) {
  const out = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}
const name = () => {
  const length = leb();
  const text = wasm.subarray(at, at + length).toString("utf8");
  at += length;
  return text;
};
/** Skips a table's or memory's limits: a flag byte, the minimum, and the maximum when flagged. */
function limits() {
  const flags = wasm[at++];
  leb();
  if (flags & 1) leb();
}

// The module every import comes from, spelled once per import (~50 times): one letter instead.
const GLUE_MODULE = "./authlane_bg.js";
const SHORT_MODULE = "a";
const moduleKey = `"${GLUE_MODULE}": import0`;
if (!glue.includes(moduleKey)) throw new Error(`the glue does not supply ${GLUE_MODULE} as import0`);
glue = glue.replace(moduleKey, `${SHORT_MODULE}: import0`);

const parts = [wasm.subarray(0, 8)];
let renamed = 0;
let exported = 0;
while (at < wasm.length) {
  const id = wasm[at++];
  const size = leb();
  const start = at;
  if (id === 7) {
    parts.push(exportSection(start, size));
    continue;
  }
  if (id !== 2) {
    parts.push(Buffer.from([id, ...encodeLeb(size)]), wasm.subarray(start, start + size));
    at = start + size;
    continue;
  }
  const body = [];
  const count = leb();
  body.push(...encodeLeb(count));
  for (let i = 0; i < count; i++) {
    const module = name();
    const field = name();
    const descStart = at;
    const kind = wasm[at++];
    if (kind === 0) leb();
    else if (kind === 1) (at++, limits());
    else if (kind === 2) limits();
    else if (kind === 3) at += 2;
    else throw new Error(`import ${field}: unknown kind ${kind}`);
    let short = field;
    const key = new RegExp(`^(\\s*)${field}: `, "m");
    if (/^__wb(g|indgen)_/.test(field) && key.test(glue)) {
      short = `w${(renamed++).toString(36)}`;
      glue = glue.replace(key, `$1${short}: `);
    }
    for (const text of [module === GLUE_MODULE ? SHORT_MODULE : module, short]) {
      const encoded = Buffer.from(text, "utf8");
      body.push(...encodeLeb(encoded.length), ...encoded);
    }
    body.push(...wasm.subarray(descStart, at));
  }
  if (at !== start + size) throw new Error("import section not fully read");
  parts.push(Buffer.from([id, ...encodeLeb(body.length)]), Buffer.from(body));
}
/** The export section with every export the glue reaches as `wasm.<name>` renamed (`memory` stays: tests instrument it by name). */
function exportSection(start, size) {
  const body = [];
  const count = leb();
  body.push(...encodeLeb(count));
  for (let i = 0; i < count; i++) {
    const field = name();
    const kind = wasm[at++];
    const index = leb();
    let short = field;
    const uses = new RegExp(`\\bwasm\\.${field}\\b`, "g");
    if (field !== "memory" && uses.test(glue)) {
      short = `x${(exported++).toString(36)}`;
      glue = glue.replace(uses, `wasm.${short}`);
    }
    const encoded = Buffer.from(short, "utf8");
    body.push(...encodeLeb(encoded.length), ...encoded, kind, ...encodeLeb(index));
  }
  if (at !== start + size) throw new Error("export section not fully read");
  return Buffer.concat([Buffer.from([7, ...encodeLeb(body.length)]), Buffer.from(body)]);
}

writeFileSync(wasmPath, Buffer.concat(parts));
writeFileSync(gluePath, glue);
console.log(`minify-imports: ${renamed} import and ${exported} export names shortened`);
