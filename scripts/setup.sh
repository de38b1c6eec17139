#!/usr/bin/env bash
# Installs everything the build, tests and demo need on a fresh Debian 12 machine.
# Idempotent: each step is skipped when what it installs is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. The wasm target for the stable toolchain.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

# 2. wasm-bindgen-cli, pinned to the wasm-bindgen version in Cargo.lock (they must match exactly).
# Asking the binary itself is the check: `cargo install` moves binaries into place only once the
# whole build succeeded, so an interrupted install leaves the old version or none.
wanted=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$wanted" ]; then
  # No --locked: one of the CLI's locked dependencies is not in the registry mirror. --force: cargo's
  # own record may say the version is installed while the binary is gone (deleted, or another PATH).
  cargo install --force wasm-bindgen-cli --version "=$wanted"
fi

# 3. Chromium and ChromeDriver from Debian (Playwright drives /usr/bin/chromium; no browser download).
# "Installed" means dpkg finished configuring both and the browser runs: an apt-get interrupted
# part-way can leave /usr/bin/chromium unpacked but unconfigured.
chromium_ready() {
  [ "$(dpkg-query -W -f='${Status}' chromium 2>/dev/null)" = "install ok installed" ] &&
    [ "$(dpkg-query -W -f='${Status}' chromium-driver 2>/dev/null)" = "install ok installed" ] &&
    /usr/bin/chromium --version >/dev/null 2>&1
}
if ! chromium_ready; then
  as_root env DEBIAN_FRONTEND=noninteractive dpkg --configure -a
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver
fi

# 4. npm dependencies (TypeScript, esbuild, playwright-core, binaryen's wasm-opt, …), exactly as
# locked. A stamp written after `npm ci` succeeds records the lockfile it installed; `npm ci` first
# empties node_modules, so an interrupted install leaves no stamp (npm's own
# node_modules/.package-lock.json can survive one). The build's tools must be there too.
stamp=node_modules/.authlane-npm-ci
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
npm_ready() {
  [ "$(cat "$stamp" 2>/dev/null)" = "$lock_hash" ] || return 1
  for needed in node_modules/.bin/wasm-opt node_modules/.bin/tsc node_modules/.bin/esbuild node_modules/.bin/vite \
    node_modules/playwright-core/package.json; do
    [ -e "$needed" ] || return 1
  done
}
if ! npm_ready; then
  npm ci --no-audit --no-fund
  echo "$lock_hash" > "$stamp"
fi

# 5. The framework apps' own toolchains (tests/frameworks/nextjs: Next.js; sveltekit: SvelteKit 2,
# Vite 7), each from its own lockfile as a user's app installs them, with the same stamp rule.
for app in tests/frameworks/nextjs tests/frameworks/sveltekit; do
  app_stamp=$app/node_modules/.authlane-npm-ci
  app_hash=$(sha256sum "$app/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$app_stamp" 2>/dev/null)" != "$app_hash" ]; then
    (cd "$app" && npm ci --no-audit --no-fund)
    echo "$app_hash" > "$app_stamp"
  fi
done
