/** Stable codes for everything authlane throws or reports; branch on these, not on messages. */
export const ErrorCodes = {
  /** The callback returned a string that is not a decodable JWT. */
  MalformedToken: "malformed_token",
  /** The callback threw or its promise rejected. */
  FetchFailed: "fetch_failed",
  /** The callback did not settle within `fetchTimeoutMs`. */
  FetchTimeout: "fetch_timeout",
  /** The callback returned something other than a string, `null` or `undefined`. */
  InvalidCallbackResult: "invalid_callback_result",
  /** The server rejected the token and its forced replacement. */
  TokenRejected: "token_rejected",
  /** The token expired and could not be refreshed. */
  TokenExpired: "token_expired",
  /** A held operation was rejected because auth settled as signed out. */
  SignedOut: "signed_out",
  /** The session was disposed. */
  Disposed: "disposed",
  /** The WebAssembly module could not be loaded. */
  WasmLoadFailed: "wasm_load_failed",
  /** An option or argument of the wrong type or out of range (e.g. `fetchTimeoutMs: 0`, a malformed providers config). */
  InvalidArgument: "invalid_argument",
  /** A synchronous helper was called before the WebAssembly module finished loading. */
  NotInitialized: "not_initialized",
  /** The WebAssembly module trapped (a bug): every session on the page is unusable until it reloads. */
  InternalError: "internal_error",
} as const;

export type AuthlaneErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The one error class authlane throws or attaches to its state. Never contains a token. */
export class AuthlaneError extends Error {
  readonly code: AuthlaneErrorCode;

  constructor(code: AuthlaneErrorCode, message: string) {
    super(message);
    this.name = "AuthlaneError";
    this.code = code;
  }
}
