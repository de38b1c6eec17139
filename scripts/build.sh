#!/usr/bin/env bash
# Builds the npm package in pkg/: the wasm module, the TypeScript face, and one minified ESM
# bundle of both JavaScript parts. pkg/wasm, pkg/build and pkg/dist are build products.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=node_modules/.bin

# Panic locations keep their file names in the module: dependencies' as registry-relative paths
# (`base64-0.22.1/src/…`) instead of this machine's absolute ones.
remap=""
for registry in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  remap+=" --remap-path-prefix=$registry="
done
RUSTFLAGS="${RUSTFLAGS:-}$remap" cargo build --release --target wasm32-unknown-unknown
wasm-bindgen --target web --weak-refs --out-dir pkg/wasm --out-name authlane \
  target/wasm32-unknown-unknown/release/authlane.wasm
# Short import names in the module and the glue (wasm-bindgen's carry 16 hex digits each).
node scripts/minify-imports.js pkg/wasm/authlane_bg.wasm pkg/wasm/authlane.js >/dev/null
# Two of the glue's warnings in fewer words (one unreachable).
node scripts/trim-glue.js pkg/wasm/authlane.js
# wasm-opt from the npm `binaryen` package: Debian's older binaryen emits modules that fail to load.
# --low-memory-unused: the stack grows down from 1 MiB with the data above it; only an overflowing
# stack would reach the first KiB (-0.2 KB gzip). --strip-target-features: the features are the
# flags below; browsers do not read the section.
"$bin/wasm-opt" -Oz --low-memory-unused --converge --strip-debug --strip-producers --strip-target-features \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  --enable-reference-types --enable-multivalue \
  pkg/wasm/authlane_bg.wasm -o pkg/wasm/authlane_bg.wasm

rm -rf pkg/build pkg/dist
"$bin/tsc" -p pkg/tsconfig.json
mkdir -p pkg/dist
# One file for the browser: the TypeScript output and the wasm-bindgen glue, minified. The glue
# finds the module with new URL("authlane_bg.wasm", import.meta.url), so the wasm sits beside it.
"$bin/esbuild" pkg/build/index.js --bundle --format=esm --minify --target=es2020 \
  --legal-comments=none --log-level=warning --outfile=pkg/dist/index.js
cp pkg/wasm/authlane_bg.wasm pkg/dist/
cp pkg/build/*.d.ts pkg/dist/
# The framework bindings (authlane/react, authlane/svelte), authlane/graphql-ws and authlane/diagnostics: one small file
# each that imports the core bundle as "./index.js" instead of carrying a copy (so they share its
# WebAssembly instance); react and svelte come from the app.
"$bin/esbuild" pkg/build/react.js pkg/build/svelte.js pkg/build/graphql-ws.js pkg/build/diagnostics.js --bundle --format=esm --minify --target=es2020 \
  --legal-comments=none --log-level=warning --outdir=pkg/dist \
  --external:./index.js --external:react --external:svelte --external:'svelte/*'
