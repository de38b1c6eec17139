// Installs the package into an app the way npm does: `npm pack` of pkg/, unpacked as a real folder
// in the app's node_modules (a linked package, like the repository's file:pkg, would hide what
// bundlers do with a dependency, e.g. Vite's pre-bundling).
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const pkg = fileURLToPath(new URL("../../../pkg", import.meta.url));

/** Packs pkg/ and unpacks it as `<app>/node_modules/authlane`; returns that folder. */
export async function installPacked(app) {
  const installed = join(app, "node_modules", "authlane");
  const folder = await mkdtemp(join(tmpdir(), "authlane-pack-"));
  try {
    const { stdout } = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", folder], { cwd: pkg });
    await rm(installed, { recursive: true, force: true });
    await mkdir(installed, { recursive: true });
    await run("tar", ["-xzf", join(folder, JSON.parse(stdout)[0].filename), "-C", installed, "--strip-components=1"]);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  return installed;
}
