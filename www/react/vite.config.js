// Builds the React demo into www/dist/react (www/build-demo.js runs it; so can `npx vite build -c www/react/vite.config.js`).
// authlane resolves as in an app: node_modules/authlane (file:pkg), through the package's exports.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  logLevel: "warn",
  // JSX through Vite's own esbuild transform (no React plugin needed for a build).
  esbuild: { jsx: "automatic" },
  build: { outDir: fileURLToPath(new URL("../dist/react", import.meta.url)), emptyOutDir: true },
});
