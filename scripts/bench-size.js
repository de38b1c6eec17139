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

// Per crate: `twiggy top` on the unstripped module (the release build through wasm-bindgen and
// `wasm-opt -Oz -g`, so names survive and the code is what ships). Code bytes only, before gzip;
// `.rodata` is listed on its own because it cannot be split by crate. Skipped without twiggy.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

function crateTable() {
  const repo = new URL("../", import.meta.url).pathname;
  const unstripped = join(repo, "target/wasm32-unknown-unknown/release/authlane.wasm");
  const dir = mkdtempSync(join(tmpdir(), "authlane-size-"));
  try {
    execFileSync("wasm-bindgen", ["--target", "web", "--weak-refs", "--keep-debug", "--out-dir", dir, "--out-name", "m", unstripped]);
    const named = join(dir, "named.wasm");
    execFileSync(join(repo, "node_modules/.bin/wasm-opt"), [
      "-Oz", "-g", "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext",
      "--enable-mutable-globals", "--enable-reference-types", "--enable-multivalue", join(dir, "m_bg.wasm"), "-o", named,
    ]);
    const csv = execFileSync("twiggy", ["top", "-n", "1000000", "-f", "csv", named], { encoding: "utf8", maxBuffer: 1 << 26 });
    const bytes = new Map();
    for (const line of csv.split("\n").slice(1)) {
      const match = line.match(/^(".*"|[^,]*),(\d+),/);
      if (!match) continue;
      const name = match[1].replace(/^"|"$/g, "").replace(/""/g, '"');
      if (name.includes("function names") || name.startsWith("custom section")) continue;
      bytes.set(crateOf(name), (bytes.get(crateOf(name)) ?? 0) + Number(match[2]));
    }
    console.log(`${"per crate (twiggy, code bytes)".padEnd(34)} raw bytes`);
    for (const [crate, size] of [...bytes].sort((a, b) => b[1] - a[1])) {
      console.log(`${crate.padEnd(34)} ${String(size).padStart(9)}`);
    }
  } catch (error) {
    console.log(`per-crate table skipped (${error.code === "ENOENT" ? "twiggy or wasm-bindgen not installed" : error.message})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The crate a twiggy item belongs to: `<serde_json::de::X as serde_core::de::Y>::f` counts for serde_json. */
function crateOf(name) {
  if (name.startsWith("data segment")) return "data (.rodata, all crates)";
  if (name.startsWith("authlane::core::wire_value")) return "authlane (serde glue: wire_value)";
  const path = name.replace(/^[<&\s]*(mut\s+|dyn\s+)?/, "").match(/^([A-Za-z_][A-Za-z0-9_]*)(\[[0-9a-f]+\])?::/);
  if (!path) return "exports and wasm-bindgen shims";
  if (path[1] === "authlane") return name.includes("::core::") ? "authlane core" : "authlane web + surface";
  return path[1];
}

crateTable();
