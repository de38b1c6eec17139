// Package checks for the entry points: the declarations compile in a consumer project
// (tsc --noEmit, "bundler" and "nodenext" resolution, library checking on), and every file the
// exports map names is in the packed tarball. Resolution under Node ESM is in
// tests/node/frameworks-ssr.test.js; under Vite, in react.test.js and svelte.test.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
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
