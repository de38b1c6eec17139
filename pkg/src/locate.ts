// Where the WebAssembly module is when the script that loads it has been moved. Published, the
// module sits beside dist/index.js, and the glue's `new URL("authlane_bg.wasm", import.meta.url)`
// finds it: bundlers (Vite build, webpack, Turbopack) recognise that expression, emit the file and
// rewrite the URL, so it must stay the default. A dev server's dependency pre-bundler (Vite 7's, into
// node_modules/.vite/deps/) moves the script but neither the module nor the URL, and answers for
// the file beside it with its index.html. A script that finds itself in node_modules outside the
// package's own folder has been moved, and the module is still in the package.

const PACKAGE_FOLDER = "/node_modules/authlane/dist/";
const MODULE_FILE = "authlane_bg.wasm";

/** The module's URL for a script at `scriptUrl` that was moved out of the package, else undefined. */
export function relocatedWasmUrl(scriptUrl: string): URL | undefined {
  const script = new URL(scriptUrl);
  const modules = script.pathname.lastIndexOf("/node_modules/");
  if (modules < 0 || script.pathname.startsWith(PACKAGE_FOLDER, modules)) return undefined;
  return new URL(script.pathname.slice(0, modules) + PACKAGE_FOLDER + MODULE_FILE, script);
}
