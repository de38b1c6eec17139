// `npx vite build -c tests/frameworks/react/vite.config.js` builds to tests/frameworks/out/react.
// authlane resolves as an app would: node_modules/authlane (file:pkg), through the package's exports.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  logLevel: "warn",
  // JSX through Vite's own esbuild transform (no React plugin needed for a build).
  esbuild: { jsx: "automatic" },
  build: { outDir: fileURLToPath(new URL("../out/react", import.meta.url)), emptyOutDir: true },
});
