#!/usr/bin/env bash
# Builds the wasm module and the npm package into pkg/ (wasm/ and dist/ are build products).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --target wasm32-unknown-unknown
wasm-bindgen --target web --weak-refs --out-dir pkg/wasm --out-name authlane \
  target/wasm32-unknown-unknown/release/authlane.wasm
# wasm-opt from the npm `binaryen` package: Debian's older binaryen emits modules that fail to load.
node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  --enable-reference-types --enable-multivalue \
  pkg/wasm/authlane_bg.wasm -o pkg/wasm/authlane_bg.wasm
node_modules/.bin/tsc -p pkg/tsconfig.json
