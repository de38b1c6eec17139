// Builds the React and Svelte demo pages with Vite into www/dist/react and www/dist/svelte (git-ignored).
// `node www/build-demo.js` builds them; www/serve.js and tests/browser/demo-frameworks.test.js call buildDemo().
// Each app imports `authlane` as an app would: node_modules/authlane (file:pkg), so pkg/dist must be built.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "vite";

export const DEMO_APPS = ["react", "svelte"];
/** Where the built pages land; served at /www/dist/<app>/. */
export const DIST = fileURLToPath(new URL("./dist", import.meta.url));

const PACKAGE_ENTRY = fileURLToPath(new URL("../pkg/dist/index.js", import.meta.url));

export async function buildDemo({ apps = DEMO_APPS } = {}) {
  if (!existsSync(PACKAGE_ENTRY)) {
    throw new Error("pkg/dist is missing: build the package first (`make build`, or ./scripts/build.sh)");
  }
  // A production build whatever the shell's NODE_ENV says (React picks its bundle from it).
  const previous = process.env.NODE_ENV;
  process.env.NODE_ENV = "production";
  try {
    for (const app of apps) {
      await build({ configFile: fileURLToPath(new URL(`./${app}/vite.config.js`, import.meta.url)), mode: "production" });
    }
  } finally {
    if (previous === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = previous;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  await buildDemo();
  console.log(`authlane demo: built ${DEMO_APPS.join(" and ")} into www/dist/ in ${Math.round(performance.now() - started)} ms`);
}
