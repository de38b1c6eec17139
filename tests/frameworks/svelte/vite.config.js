// `npx vite build -c tests/frameworks/svelte/vite.config.js` builds to tests/frameworks/out/svelte.
// authlane resolves as an app would: node_modules/authlane (file:pkg), through the package's exports.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  logLevel: "warn",
  plugins: [svelte()],
  build: { outDir: fileURLToPath(new URL("../out/svelte", import.meta.url)), emptyOutDir: true },
});
