// explainToken: why a Convex-style server would refuse a token ("No auth provider found matching the
// given token", "Could not verify token claim"), decided by the core from the token's decoded claims.
// No network, no signature check: the verdict says which provider's issuer, audience, algorithm
// and times line up, never that the token is authentic.
import { AuthlaneError, ErrorCodes } from "./errors.js";
import type { DecodedToken } from "./decode.js";
import type { Logger } from "./log.js";
import { explainTokenInWasm, isWasmLoaded, type WasmSession } from "./wasm.js";

/** One entry of Convex's `auth.config` `providers`: an OIDC issuer, or a `customJwt` one. */
export type ProviderConfig =
  | { domain: string; applicationID: string }
  | { type: "customJwt"; issuer: string; jwks: string; algorithm: string; applicationID?: string };

/** `auth.config`'s default export, or just its `providers` array. */
export type ProvidersInput = readonly ProviderConfig[] | { providers: readonly ProviderConfig[] };

/** The first reason a provider refuses the token, in the order servers check. */
export type MismatchReason =
  | "issuer_missing"
  | "issuer_mismatch"
  | "issuer_trailing_slash"
  | "issuer_workos_authkit_domain"
  | "audience_missing"
  | "audience_mismatch"
  | "audience_array"
  | "algorithm_unsupported"
  | "algorithm_mismatch"
  | "kid_missing"
  | "exp_missing"
  | "expired"
  | "not_yet_valid"
  | "sub_missing";

export interface ProviderVerdict {
  index: number;
  type: "oidc" | "customJwt";
  /** The OIDC `domain` or customJwt `issuer`. */
  issuer: string;
  /** `null`: this provider accepts the token's claims (the signature is the server's to check). */
  reason: MismatchReason | null;
  /** A sentence naming the claim values involved; never contains the token. */
  detail: string;
}

export interface TokenExplanation {
  /** Some provider accepts the token's claims. */
  ok: boolean;
  /** Index of the first provider that accepts it. */
  matched: number | null;
  /** The matched provider, else the one the token got furthest with: the token was meant for it. */
  closest: number | null;
  /** Why that closest provider refuses the token (`null` when one matches): the answer to lead with. */
  reason: MismatchReason | null;
  /** One line, fit for a log. */
  summary: string;
  /** Always false: nothing here checks signatures, keys (JWKS) or reaches the network. */
  verified: false;
  /** Why the string is not a JWT at all (then `token` is null and no provider was consulted). */
  malformed: string | null;
  token: DecodedToken | null;
  providers: ProviderVerdict[];
  /** Accepted, but worth knowing: `iat_missing`, `issued_in_future`, `issuer_trailing_slash`, `kid_missing` (OIDC), `no_providers`. */
  warnings: Array<{ code: string; detail: string }>;
  /** Whole seconds relative to `now`: `expiresIn` < 0 once expired, `issuedAgo` < 0 when `iat` is in the future. */
  timing: { now: number; expiresIn: number | null; issuedAgo: number | null; lifetime: number | null };
}

export interface ExplainOptions {
  /** The clock to judge `exp`/`nbf` by, in ms. Default `Date.now()`. */
  now?: number;
  /** The `alg` values the server accepts on OIDC entries (customJwt entries name theirs). Default RS256 and EdDSA, as Convex. */
  algorithms?: readonly string[];
}

export const DEFAULT_ALGORITHMS: readonly string[] = Object.freeze(["RS256", "EdDSA"]);

function invalid(message: string): AuthlaneError {
  return new AuthlaneError(ErrorCodes.InvalidArgument, `explainToken: ${message}`);
}

function text(value: unknown, where: string, optional = false): string {
  if (value === undefined && optional) return "";
  if (typeof value !== "string" || value.length === 0) throw invalid(`${where} must be a non-empty string`);
  return value;
}

/** Validates a providers config and flattens it for the core: kind, issuer, applicationID, algorithm. */
export function flattenProviders(input: ProvidersInput): { flat: string[]; list: ProviderVerdict[] } {
  const providers = Array.isArray(input) ? input : (input as { providers?: unknown })?.providers;
  if (!Array.isArray(providers)) throw invalid("providers must be an array, or an object with a providers array");
  const flat: string[] = [];
  const list: ProviderVerdict[] = [];
  providers.forEach((provider: Record<string, unknown>, index: number) => {
    if (typeof provider !== "object" || provider === null) throw invalid(`providers[${index}] is not an object`);
    const where = `providers[${index}]`;
    if (provider.type === "customJwt") {
      const issuer = text(provider.issuer, `${where}.issuer`);
      text(provider.jwks, `${where}.jwks`);
      flat.push("customJwt", issuer, text(provider.applicationID, `${where}.applicationID`, true), text(provider.algorithm, `${where}.algorithm`));
      list.push({ index, type: "customJwt", issuer, reason: null, detail: "" });
    } else if (provider.type === undefined || provider.type === "oidc") {
      const domain = text(provider.domain, `${where}.domain`);
      flat.push("oidc", domain, text(provider.applicationID, `${where}.applicationID`), "");
      list.push({ index, type: "oidc", issuer: domain, reason: null, detail: "" });
    } else {
      throw invalid(`${where}.type ${JSON.stringify(provider.type)} is not "customJwt" (or absent for OIDC)`);
    }
  });
  return { flat, list };
}

interface CoreExplanation {
  token: DecodedToken | null;
  malformed: string | null;
  providers: Array<{ reason: MismatchReason | null; detail: string }>;
  matched: number | null;
  closest: number | null;
  warnings: Array<{ code: string; detail: string }>;
  timing: TokenExplanation["timing"];
  summary: string;
}

/** Joins the core's verdicts with the providers they are about. */
export function toExplanation(core: CoreExplanation, list: ProviderVerdict[]): TokenExplanation {
  return {
    ok: core.matched !== null,
    matched: core.matched,
    closest: core.closest,
    reason: core.closest === null ? null : (core.providers[core.closest]?.reason ?? null),
    summary: core.summary,
    verified: false,
    malformed: core.malformed,
    token: core.token,
    providers: core.providers.map((verdict, index) => ({ ...list[index], ...verdict })),
    warnings: core.warnings,
    timing: core.timing,
  };
}

export function algorithmList(algorithms: readonly string[] | undefined): string[] {
  if (algorithms === undefined) return [...DEFAULT_ALGORITHMS];
  if (!Array.isArray(algorithms) || algorithms.some((alg) => typeof alg !== "string")) {
    throw invalid("algorithms must be an array of strings");
  }
  return [...algorithms];
}

/**
 * Holds `token` against a Convex-style providers config and says which provider matches or, for
 * each, the first reason it does not. Synchronous; needs the WebAssembly module (`await
 * loadAuthlane()` or `auth.ready` first). Throws `AuthlaneError` `invalid_argument` for a bad
 * config; a bad token is a verdict (`malformed`), not an error.
 */
export function explainToken(token: string, providers: ProvidersInput, options: ExplainOptions = {}): TokenExplanation {
  if (!isWasmLoaded()) {
    throw new AuthlaneError(ErrorCodes.NotInitialized, "explainToken needs authlane's WebAssembly module: await loadAuthlane() first");
  }
  if (typeof token !== "string") throw invalid("token must be a string");
  const { flat, list } = flattenProviders(providers);
  const now = options.now ?? Date.now();
  if (!Number.isFinite(now) || now < 0) throw invalid("now must be a non-negative number of milliseconds");
  return toExplanation(explainTokenInWasm(token, flat, algorithmList(options.algorithms), now) as CoreExplanation, list);
}

/** One log line: the verdict, then the claims a reader compares with auth.config (never the token). */
export function describeRefusal(explanation: TokenExplanation): string {
  const token = explanation.token;
  const parts = [explanation.summary];
  if (token) {
    const expiry = explanation.timing.expiresIn === null ? "no exp" : explanation.timing.expiresIn > 0 ? `expires in ${explanation.timing.expiresIn} s` : `expired ${-explanation.timing.expiresIn} s ago`;
    parts.push(`token: iss ${JSON.stringify(token.iss)}, aud ${JSON.stringify(token.aud)}, alg ${token.alg ?? "none"}, kid ${token.kid ?? "none"}, ${expiry}`);
  }
  for (const warning of explanation.warnings) parts.push(`${warning.code}: ${warning.detail}`);
  if (explanation.providers.length === 0 && token) parts.push("pass createAuth({ diagnostics: { providers } }) to compare with your auth.config");
  return parts.join(" | ");
}

/** What createAuth calls when the server refuses a token: explain it, if anyone listens. */
export function refusalExplainer(
  diagnostics: { providers?: ProvidersInput; algorithms?: readonly string[] } | undefined,
  log: Logger,
): (session: WasmSession, generation: number) => void {
  if (!log.listening) return () => {};
  let flat: string[] = [];
  let list: ProviderVerdict[] = [];
  let algorithms = [...DEFAULT_ALGORITHMS];
  try {
    if (diagnostics?.providers) ({ flat, list } = flattenProviders(diagnostics.providers));
    algorithms = algorithmList(diagnostics?.algorithms);
  } catch (error) {
    console.warn(`[authlane] diagnostics ignored: ${(error as Error).message}`);
  }
  return (session, generation) => {
    const core = session.explainGeneration(generation, flat, algorithms) as CoreExplanation | null;
    if (!core) return;
    const explanation = toExplanation(core, list);
    log.explained(describeRefusal(explanation), explanation.reason);
  };
}
