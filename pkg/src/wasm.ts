// Loads the WebAssembly module once, and guards the boundary: a module that fails to load says why, once, and a module that traps
// is dead for every session on the page (they share it).
import initWasm, { decodeToken as decodeTokenUnguarded } from "../wasm/authlane.js";
import { AuthlaneError, ErrorCodes } from "./errors.js";
import { relocatedWasmUrl } from "./locate.js";

export { WasmSession } from "../wasm/authlane.js";

let loading: Promise<void> | undefined;
let loaded = false;
let trapped: AuthlaneError | null = null;

/** Where the module comes from: bytes, a compiled module, a URL or a fetch Response. */
export type WasmSource = BufferSource | WebAssembly.Module | URL | Response;

/** Same bound as the driver's `MAX_TOKEN_CHARS` (src/web/bounded.rs): longer is never a token. */
export const MAX_TOKEN_CHARS = 16 * 1024;

/**
 * In a browser the module starts downloading and compiling when the package is imported, so the
 * first session does not wait for it on the page's critical path (a session is usually created
 * right after the import, or in a provider's first effect). Nothing starts on a server.
 */
const compiling: Promise<WebAssembly.Module> | undefined = startCompiling();

function startCompiling(): Promise<WebAssembly.Module> | undefined {
  if (typeof window === "undefined" || typeof fetch !== "function" || typeof WebAssembly?.compileStreaming !== "function") {
    return undefined;
  }
  // The same expression as the glue's default, so bundlers rewrite both to the emitted asset.
  const url = relocatedWasmUrl(import.meta.url) ?? new URL("authlane_bg.wasm", import.meta.url);
  const module = WebAssembly.compileStreaming(fetch(url));
  // A failure here is explained by loadWasm, which loads the module again the ordinary way.
  module.catch(() => {});
  return module;
}

/** The early compile's module, or (when it failed) the ordinary load, whose error names the cause. */
function defaultSource(): Promise<WebAssembly.Module | Response> | URL | undefined {
  const fallback = relocatedWasmUrl(import.meta.url);
  if (!compiling) return fallback;
  return compiling.catch(() => fetch(fallback ?? new URL("authlane_bg.wasm", import.meta.url)));
}

export function loadWasm(source?: WasmSource): Promise<void> {
  loading ??= initWasm({ module_or_path: source ?? defaultSource() }).then(
    () => {
      loaded = true;
      watchEventLoopTraps();
    },
    async (cause: unknown) => {
      const reason = await explainLoadFailure(source, cause);
      console.error(`[authlane] could not load its WebAssembly module: ${reason}`);
      throw new AuthlaneError(ErrorCodes.WasmLoadFailed, `authlane could not load its WebAssembly module: ${reason}`);
    },
  );
  return loading;
}

export function isWasmLoaded(): boolean {
  return loaded;
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * Names the usual causes: a CSP without 'wasm-unsafe-eval', a 404, a dev server's HTML fallback
 * page, a wrong MIME type. The default URL is fetched once more to tell them apart (only after a
 * failure, so a working page pays nothing).
 */
async function explainLoadFailure(source: WasmSource | undefined, cause: unknown): Promise<string> {
  const message = messageOf(cause);
  if (/Content.Security.Policy|unsafe-eval|Refused to compile/i.test(message)) {
    return `the page's Content-Security-Policy does not allow WebAssembly: add 'wasm-unsafe-eval' to script-src (${message})`;
  }
  if (source !== undefined && !(source instanceof URL)) return message;
  if (typeof fetch !== "function") return message;
  const url = source ?? new URL("authlane_bg.wasm", import.meta.url);
  let response: Response;
  try {
    response = await fetch(url, { cache: "no-store" });
  } catch (error) {
    return `${url} could not be fetched: ${messageOf(error)}`;
  }
  void response.body?.cancel();
  const type = (response.headers.get("content-type") ?? "").split(";")[0].trim();
  if (!response.ok) {
    return `${url} answered ${response.status}: authlane_bg.wasm must be served beside the script that imports authlane`;
  }
  if (type === "text/html") {
    return `${url} came back as text/html: a dev server did not find authlane_bg.wasm beside the script and served a page instead`;
  }
  if (type !== "application/wasm") return `${url} is served as ${type || "no type"}, not application/wasm, and did not load: ${message}`;
  return message;
}

// ---- Traps -------------------------------------------------------------------------------------

interface TrapWatcher {
  /** A cheap call into the module that traps when the module's state was left broken. */
  probe(): void;
  trapped(error: AuthlaneError): void;
}

const watchers = new Set<TrapWatcher>();

/** Registers a session to be told when the module traps; returns the unregister function. */
export function watchTraps(watcher: TrapWatcher): () => void {
  watchers.add(watcher);
  return () => watchers.delete(watcher);
}

/** The error every call gets once the module has trapped, or `null`. */
export function moduleTrap(): AuthlaneError | null {
  return trapped;
}

function isTrap(error: unknown): boolean {
  return typeof WebAssembly === "object" && error instanceof WebAssembly.RuntimeError;
}

/** Marks the module dead, says so once, and tells every session. */
function reportTrap(cause: unknown): AuthlaneError {
  if (trapped) return trapped;
  trapped = new AuthlaneError(
    ErrorCodes.InternalError,
    `authlane's WebAssembly module trapped (${messageOf(cause)}); its sessions are unusable until the page reloads`,
  );
  console.error(`[authlane] ${trapped.message}`);
  for (const watcher of [...watchers]) {
    try {
      watcher.trapped(trapped);
    } catch (error) {
      console.error("[authlane] while failing a session after a trap:", error);
    }
  }
  return trapped;
}

/** Runs one call into the module: a trap (`WebAssembly.RuntimeError`) becomes `internal_error` for everyone. */
export function intoWasm<T>(call: () => T): T {
  if (trapped) throw trapped;
  try {
    return call();
  } catch (error) {
    if (isTrap(error)) throw reportTrap(error);
    throw error;
  }
}

/**
 * Timers, settled promises, lock grants and peer messages call into the module from the event
 * loop, where no JavaScript frame of ours can catch. A `RuntimeError` reaching the page is
 * checked against the sessions: if one of them now traps on a plain read, the module is dead.
 */
function watchEventLoopTraps(): void {
  if (typeof addEventListener !== "function") return;
  const check = (error: unknown) => {
    if (trapped || !isTrap(error)) return;
    for (const watcher of [...watchers]) {
      try {
        watcher.probe();
      } catch (probeError) {
        if (isTrap(probeError)) {
          reportTrap(error);
          return;
        }
      }
    }
  };
  addEventListener("error", (event) => check((event as ErrorEvent).error));
  addEventListener("unhandledrejection", (event) => check((event as PromiseRejectionEvent).reason));
}

/** The module's JWT decoder, behind the size bound and the trap guard. Throws `{ code, message }` or `AuthlaneError`. */
export function decodeTokenInWasm(token: string): unknown {
  if (typeof token === "string" && token.length > MAX_TOKEN_CHARS) {
    throw { code: ErrorCodes.MalformedToken, message: "token is longer than 16 KiB" };
  }
  return intoWasm(() => decodeTokenUnguarded(token));
}
