// The public face of authlane. Importing it on a server touches nothing; in a browser it starts
// downloading and compiling the WebAssembly module, which the first createAuth() instantiates.
export { createAuth, LOADING_SNAPSHOT } from "./auth.js";
export type { Auth, AuthOptions, AuthSnapshot, AuthStatus, FetchAccessToken, RefusalExplainer, TokenClaims, TokenStorage } from "./auth.js";
export { AuthlaneError, ErrorCodes } from "./errors.js";
export type { AuthlaneErrorCode } from "./errors.js";
export type { ConvexLikeClient } from "./wrap.js";
export type { TraceEvent, TraceEventKind } from "./log.js";
export { decodeToken } from "./decode.js";
export type { DecodedToken } from "./decode.js";
export { loadAuthlane } from "./load.js";
export type { WasmSource } from "./load.js";
