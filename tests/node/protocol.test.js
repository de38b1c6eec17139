// The output protocol is a closed union: a handler that forgets an output kind must not compile.
// Type-checks tests/node/fixtures/output-handler.ts with tsc as is (passes) and with its "trace"
// case removed (must fail, naming the unhandled kind).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const tsc = join(root, "node_modules/.bin/tsc");
const fixture = join(root, "tests/node/fixtures/output-handler.ts");
const protocol = join(root, "pkg/src/protocol.ts");

function typeCheck(source) {
  const dir = mkdtempSync(join(tmpdir(), "authlane-protocol-"));
  try {
    const file = join(dir, "handler.ts");
    writeFileSync(file, source.replace("../../../pkg/src/protocol.js", protocol.replace(/\.ts$/, ".js")));
    const flags = ["--noEmit", "--strict", "--target", "ES2020", "--module", "ES2020", "--moduleResolution", "bundler", "--lib", "ES2020,DOM"];
    const run = spawnSync(tsc, [...flags, file], { encoding: "utf8", timeout: 60_000 });
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a handler covering every output kind type-checks", () => {
  const result = typeCheck(readFileSync(fixture, "utf8"));
  assert.equal(result.status, 0, result.output);
});

test("a handler missing one output kind fails tsc, naming the kind", () => {
  const complete = readFileSync(fixture, "utf8");
  const incomplete = complete.replace(/ {4}\/\/ CASE trace\n.*\n.*\n/, "");
  assert.notEqual(incomplete, complete, "the fixture's trace case was not found to remove");
  const result = typeCheck(incomplete);
  assert.notEqual(result.status, 0, "tsc accepted a handler without the trace case");
  assert.match(result.output, /"trace"/);
  console.log(`tsc on the incomplete handler: ${result.output.trim().split("\n")[0]}`);
});
