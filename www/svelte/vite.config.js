// Builds the Svelte demo into www/dist/svelte (www/build-demo.js runs it; so can `npx vite build -c www/svelte/vite.config.js`).
// authlane resolves as in an app: node_modules/authlane (file:pkg), through the package's exports.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  logLevel: "warn",
  plugins: [svelte()],
  build: { outDir: fileURLToPath(new URL("../dist/svelte", import.meta.url)), emptyOutDir: true },
});
