// loadAuthlane: the WebAssembly module without a session. Its own file so that the public
// declarations never reach the generated wasm-bindgen ones (wasm.ts re-exports those).
import { loadWasm } from "./wasm.js";

/** Where the module comes from: bytes, a compiled module, a URL or a fetch Response. */
export type WasmSource = BufferSource | WebAssembly.Module | URL | Response;

/**
 * Loads the WebAssembly module without a session, for `decodeToken` and `authlane/diagnostics`
 * on their own. By default it is fetched from beside the bundle; pass the bytes where that cannot
 * work, e.g. in Node: `readFileSync(fileURLToPath(import.meta.resolve("authlane/authlane_bg.wasm")))`.
 * Once loaded, later calls resolve at once and ignore `source`. Rejects with `wasm_load_failed`.
 */
export function loadAuthlane(source?: WasmSource): Promise<void> {
  return loadWasm(source);
}
