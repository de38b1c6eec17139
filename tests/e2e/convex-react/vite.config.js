// Built by tests/e2e/convex-react.test.js into tests/e2e/out/convex-react, served by the devserver.
// authlane resolves as an app would: node_modules/authlane, through the package's exports.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  logLevel: "warn",
  // JSX through Vite's own esbuild transform (no React plugin needed for a build).
  esbuild: { jsx: "automatic" },
  build: { outDir: fileURLToPath(new URL("../out/convex-react", import.meta.url)), emptyOutDir: true },
});
