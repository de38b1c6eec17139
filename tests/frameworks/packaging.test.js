// Package checks for the entry points: the declarations compile in a consumer project
// (tsc --noEmit, "bundler" and "nodenext" resolution, library checking on), and every file the
// exports map names is in the packed tarball. Resolution under Node ESM is in
// tests/node/frameworks-ssr.test.js; under Vite, in react.test.js and svelte.test.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const tsc = `${root}node_modules/.bin/tsc`;

for (const config of ["tsconfig.json", "tsconfig.nodenext.json"]) {
  test(`a consumer's TypeScript compiles against authlane, authlane/react and authlane/svelte (${config})`, async () => {
    const result = await run(tsc, ["-p", `tests/frameworks/consumer/${config}`], { cwd: root }).catch((error) => error);
    assert.equal(result.code ?? 0, 0, `${result.stdout}${result.stderr}`);
  });
}

test("every file the exports map names is in the packed package", async () => {
  const manifest = JSON.parse(await readFile(`${root}pkg/package.json`, "utf8"));
  const targets = new Set();
  const collect = (value) => (typeof value === "string" ? targets.add(value.replace(/^\.\//, "")) : Object.values(value).forEach(collect));
  collect(manifest.exports);
  for (const entry of ["./react", "./svelte", "./graphql-ws", "./diagnostics"]) assert.ok(manifest.exports[entry], `exports has ${entry}`);
  const { stdout } = await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: `${root}pkg` });
  const packed = new Set(JSON.parse(stdout)[0].files.map((file) => file.path));
  for (const target of targets) assert.ok(packed.has(target), `${target} is packed`);
  assert.deepEqual(Object.keys(manifest.peerDependenciesMeta).sort(), ["react", "svelte"]);
});

/** Packs pkg/ into a temporary folder and returns the tarball's path; the caller removes the folder. */
async function packTarball() {
  const folder = await mkdtemp(join(tmpdir(), "authlane-pack-"));
  const { stdout } = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", folder], { cwd: `${root}pkg` });
  return { folder, tarball: join(folder, JSON.parse(stdout)[0].filename) };
}

test("publint and attw find nothing wrong with the packed package", async (t) => {
  const { folder, tarball } = await packTarball();
  t.after(() => rm(folder, { recursive: true, force: true }));
  const publint = await run(`${root}node_modules/.bin/publint`, ["run", "--strict", tarball], { cwd: root }).catch((error) => error);
  assert.equal(publint.code ?? 0, 0, `${publint.stdout}${publint.stderr}`);
  assert.match(publint.stdout, /All good/);
  // Every resolution mode, node10 included (it finds the subpaths through typesVersions). Ignored: the
  // package is ESM only, so CommonJS gets it by dynamic import; the wasm entry is a binary for bundlers.
  const attw = await run(
    `${root}node_modules/.bin/attw`,
    [tarball, "--ignore-rules", "cjs-resolves-to-esm", "--exclude-entrypoints", "./authlane_bg.wasm", "--format", "table-flipped"],
    { cwd: root },
  ).catch((error) => error);
  assert.equal(attw.code ?? 0, 0, `${attw.stdout}${attw.stderr}`);
});

test("authlane/react carries the 'use client' directive (Next.js server components can import it)", async () => {
  const react = await readFile(`${root}pkg/dist/react.js`, "utf8");
  assert.ok(react.startsWith('"use client";'), react.slice(0, 40));
  const core = await readFile(`${root}pkg/dist/index.js`, "utf8");
  assert.ok(!core.startsWith('"use client"'), "the core stays usable from server code");
});
