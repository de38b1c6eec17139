// Builds the demo pages that need a build into www/dist/<app> (git-ignored): the React and Svelte
// pages with Vite, and the real-convex page (www/convex: ConvexClient from convex/browser + authlane)
// with esbuild. `node www/build-demo.js` builds them all; `make demo`, www/serve.js and the demo
// tests call buildDemo().
// Each app imports `authlane` as an app would: node_modules/authlane (file:pkg), so pkg/dist must be built.
import { copyFile, mkdir, rename, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build as esbuild } from "esbuild";
import { build } from "vite";

/** The Vite pages and the esbuild one (www/convex, served by the devserver: `make demo`). */
export const DEMO_APPS = ["react", "svelte", "convex"];
/** Where the built pages land; served at /www/dist/<app>/. */
export const DIST = fileURLToPath(new URL("./dist", import.meta.url));

const PACKAGE_ENTRY = fileURLToPath(new URL("../pkg/dist/index.js", import.meta.url));
const WWW = fileURLToPath(new URL(".", import.meta.url));

export async function buildDemo({ apps = DEMO_APPS } = {}) {
  if (!existsSync(PACKAGE_ENTRY)) {
    throw new Error("pkg/dist is missing: build the package first (`make build`, or ./scripts/build.sh)");
  }
  // A production build whatever the shell's NODE_ENV says (React picks its bundle from it).
  const previous = process.env.NODE_ENV;
  process.env.NODE_ENV = "production";
  try {
    for (const app of apps) {
      if (app === "convex") await buildConvexPage();
      else await build({ configFile: fileURLToPath(new URL(`./${app}/vite.config.js`, import.meta.url)), mode: "production" });
    }
  } finally {
    if (previous === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = previous;
  }
}

/**
 * www/convex → www/dist/convex: main.js (+ main.css) bundled by esbuild with the real `convex`
 * client and `authlane`, index.html, and authlane_bg.wasm (the bundle loads it with
 * `new URL("authlane_bg.wasm", import.meta.url)`). Every file is written to a temporary name and
 * renamed, so a page being served while another process rebuilds never reads a half-written file.
 */
async function buildConvexPage() {
  const out = join(DIST, "convex");
  await mkdir(out, { recursive: true });
  const result = await esbuild({
    entryPoints: [join(WWW, "convex/main.js")],
    bundle: true,
    format: "esm",
    target: "es2020",
    minify: true,
    outdir: out,
    write: false,
    logLevel: "warning",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const place = async (target, write) => {
    const temporary = `${target}.${process.pid}.tmp`;
    await write(temporary);
    await rename(temporary, target);
  };
  for (const file of result.outputFiles) await place(file.path, (temporary) => writeFile(temporary, file.contents));
  for (const source of [join(WWW, "convex/index.html"), join(WWW, "../pkg/dist/authlane_bg.wasm")]) {
    await place(join(out, basename(source)), (temporary) => copyFile(source, temporary));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  await buildDemo();
  console.log(`authlane demo: built ${DEMO_APPS.join(", ")} into www/dist/ in ${Math.round(performance.now() - started)} ms`);
}
