// Synchronous JWT inspection for apps and diagnostics (no verification: the client has no keys).
import { assertWasmLoaded, type TokenClaims } from "./auth.js";
import { AuthlaneError, ErrorCodes } from "./errors.js";
import { hasuraClaims } from "./hasura.js";
import { decodeTokenInWasm } from "./wasm.js";

export interface DecodedToken extends TokenClaims {
  alg: string | null;
  kid: string | null;
  typ: string | null;
}

/** Decodes header and registered claims. Throws `AuthlaneError` (`malformed_token`, or `not_initialized` before `auth.ready`). */
export function decodeToken(token: string): DecodedToken {
  assertWasmLoaded();
  try {
    return { ...(decodeTokenInWasm(token) as DecodedToken), hasura: hasuraClaims(token) };
  } catch (error) {
    if (error instanceof AuthlaneError) throw error;
    const message = (error as { message?: string })?.message ?? "not a JWT";
    throw new AuthlaneError(ErrorCodes.MalformedToken, message);
  }
}
