// The public face of authlane. Importing it touches no browser API and loads nothing:
// the WebAssembly module loads on the first createAuth() in a browser.
export { createAuth, LOADING_SNAPSHOT } from "./auth.js";
export type { Auth, AuthOptions, AuthSnapshot, AuthStatus, FetchAccessToken, TokenClaims, TokenStorage } from "./auth.js";
export { AuthlaneError, ErrorCodes } from "./errors.js";
export type { AuthlaneErrorCode } from "./errors.js";
export type { ConvexLikeClient } from "./wrap.js";
export type { CreateGraphqlWsClient, GraphqlWsAuthOptions, GraphqlWsClient, GraphqlWsClientLike, GraphqlWsClientOptionsLike, GraphqlWsSink, GraphqlWsWrapOptions } from "./graphql-ws.js";
export type { TraceEvent } from "./log.js";
export { decodeToken } from "./decode.js";
export { explainToken, DEFAULT_ALGORITHMS } from "./explain.js";
export type { ExplainOptions, MismatchReason, ProviderConfig, ProvidersInput, ProviderVerdict, TokenExplanation } from "./explain.js";
export { loadWasm as loadAuthlane } from "./wasm.js";
