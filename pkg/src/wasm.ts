// Loads the WebAssembly module once, on first use (never at import: importing stays SSR-safe).
import initWasm from "../wasm/authlane.js";
import { AuthlaneError, ErrorCodes } from "./errors.js";
import { relocatedWasmUrl } from "./locate.js";

export { WasmSession, decodeToken as decodeTokenInWasm } from "../wasm/authlane.js";

let loading: Promise<void> | undefined;
let loaded = false;

/** Where the module comes from: bytes, a compiled module, a URL or a fetch Response. */
export type WasmSource = BufferSource | WebAssembly.Module | URL | Response;

export function loadWasm(source?: WasmSource): Promise<void> {
  loading ??= initWasm({ module_or_path: source ?? relocatedWasmUrl(import.meta.url) }).then(
    () => {
      loaded = true;
    },
    (cause: unknown) => {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new AuthlaneError(ErrorCodes.WasmLoadFailed, `authlane could not load its WebAssembly module: ${reason}`);
    },
  );
  return loading;
}

export function isWasmLoaded(): boolean {
  return loaded;
}
