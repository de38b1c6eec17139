// Loads the WebAssembly module once, on first use (never at import: importing stays SSR-safe).
import initWasm from "../wasm/authlane.js";
import { AuthlaneError, ErrorCodes } from "./errors.js";

export { WasmSession, decodeToken as decodeTokenInWasm, explainToken as explainTokenInWasm } from "../wasm/authlane.js";

let loading: Promise<void> | undefined;
let loaded = false;

export function loadWasm(): Promise<void> {
  loading ??= initWasm().then(
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
