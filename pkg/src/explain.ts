// explainToken: why a Convex-style server would refuse a token ("No auth provider found matching the
// given token", "Could not verify token claim"). The core decodes the token (decodeToken); these rules
// hold its claims against an auth.config, provider by provider, in the order Convex checks them
// (issuer, audience, algorithm, key id, expiry, subject), so the first reason is the server's.
// No network, no signature check: a match never means the token is authentic.
// Imported through the main entry: the diagnostics bundle shares its WebAssembly instance.
import { AuthlaneError, ErrorCodes, decodeToken } from "./index.js";
import type { DecodedToken } from "./decode.js";

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

export type WarningCode = "iat_missing" | "issued_in_future" | "issuer_trailing_slash" | "kid_missing" | "no_providers";

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
  /** Index of the first provider that accepts them. */
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
  /** Accepted, but worth knowing. */
  warnings: Array<{ code: WarningCode; detail: string }>;
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

/** WorkOS issues AuthKit access tokens under this origin, not under the AuthKit domain. */
const WORKOS_API = "https://api.workos.com";

interface Provider {
  type: "oidc" | "customJwt";
  issuer: string;
  applicationID: string | null;
  algorithm: string | null;
}

type Refusal = [MismatchReason, string];
type Warnings = Map<WarningCode, string>;

function invalid(message: string): AuthlaneError {
  return new AuthlaneError(ErrorCodes.InvalidArgument, `explainToken: ${message}`);
}

function text(value: unknown, where: string, optional = false): string | null {
  if (value === undefined && optional) return null;
  if (typeof value !== "string" || value.length === 0) throw invalid(`${where} must be a non-empty string`);
  return value;
}

/** Validates a providers config (Convex's shape) and options; throws `invalid_argument` naming the field at fault. */
export function readConfig(providers: ProvidersInput, options: ExplainOptions): { configured: Provider[]; algorithms: readonly string[] } {
  const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
  if (!Array.isArray(algorithms) || algorithms.some((alg) => typeof alg !== "string")) throw invalid("algorithms must be an array of strings");
  return { configured: readProviders(providers), algorithms };
}

function readProviders(input: ProvidersInput): Provider[] {
  const list = Array.isArray(input) ? input : (input as { providers?: unknown } | null)?.providers;
  if (!Array.isArray(list)) throw invalid("providers must be an array, or an object with a providers array");
  return list.map((entry: Record<string, unknown>, index: number): Provider => {
    const where = `providers[${index}]`;
    if (typeof entry !== "object" || entry === null) throw invalid(`${where} is not an object`);
    if (entry.type === "customJwt") {
      text(entry.jwks, `${where}.jwks`);
      return {
        type: "customJwt",
        issuer: text(entry.issuer, `${where}.issuer`)!,
        applicationID: text(entry.applicationID, `${where}.applicationID`, true),
        algorithm: text(entry.algorithm, `${where}.algorithm`),
      };
    }
    if (entry.type !== undefined && entry.type !== "oidc") {
      throw invalid(`${where}.type ${JSON.stringify(entry.type)} is not "customJwt" (or absent for OIDC)`);
    }
    return { type: "oidc", issuer: text(entry.domain, `${where}.domain`)!, applicationID: text(entry.applicationID, `${where}.applicationID`), algorithm: null };
  });
}

const quoted = (value: string) => JSON.stringify(value);
const withoutTrailingSlashes = (value: string) => value.replace(/\/+$/, "");
const isWorkosApi = (url: string) => url === WORKOS_API || url.startsWith(`${WORKOS_API}/`);

function checkIssuer(iss: string | null, provider: Provider, warnings: Warnings): Refusal | null {
  if (iss === null) return ["issuer_missing", "the token has no iss claim"];
  const wanted = provider.issuer;
  if (iss === wanted) return null;
  if (withoutTrailingSlashes(iss) === withoutTrailingSlashes(wanted)) {
    if (provider.type === "oidc") {
      if (!warnings.has("issuer_trailing_slash")) {
        warnings.set("issuer_trailing_slash", `iss ${quoted(iss)} and domain ${quoted(wanted)} differ by a trailing slash (ignored for OIDC domains)`);
      }
      return null;
    }
    return ["issuer_trailing_slash", `iss ${quoted(iss)} and issuer ${quoted(wanted)} differ only by a trailing slash; customJwt issuers must match exactly`];
  }
  // The AuthKit domain is configured as an OIDC domain (or is an *.authkit.app issuer).
  const namesAuthkit = provider.type === "oidc" || wanted.includes(".authkit.app");
  if (isWorkosApi(iss) && !isWorkosApi(wanted) && namesAuthkit) {
    return [
      "issuer_workos_authkit_domain",
      `iss ${quoted(iss)} is WorkOS's API, not the configured ${quoted(wanted)} (the AuthKit domain): WorkOS access tokens need a customJwt provider with issuer ${quoted(iss)} and WorkOS's JWKS`,
    ];
  }
  return ["issuer_mismatch", `iss ${quoted(iss)} is not ${quoted(wanted)}`];
}

function checkAudience(aud: readonly string[], provider: Provider): Refusal | null {
  const wanted = provider.applicationID;
  if (wanted === null) return null;
  if (aud.length === 0) return ["audience_missing", `no aud claim; applicationID is ${quoted(wanted)}`];
  if (aud.includes(wanted)) {
    // OIDC ID-token verification refuses untrusted audiences beside the client's own.
    const others = aud.filter((item) => item !== wanted).length;
    if (provider.type === "oidc" && others > 0) {
      return ["audience_array", `aud holds applicationID ${quoted(wanted)} and ${others} other audience(s), which OIDC verification refuses: send the ID token, not an access token`];
    }
    return null;
  }
  if (aud.length > 1) return ["audience_mismatch", `aud is an array of ${aud.length} audiences and none is applicationID ${quoted(wanted)}`];
  return ["audience_mismatch", `aud ${quoted(aud[0])} is not applicationID ${quoted(wanted)}`];
}

function checkAlgorithm(alg: string | null, provider: Provider, algorithms: readonly string[]): Refusal | null {
  if (alg === null) return ["algorithm_unsupported", "the header has no alg"];
  // customJwt: exactly the configured algorithm. OIDC: any the server supports.
  if (provider.type === "customJwt") {
    return alg === provider.algorithm ? null : ["algorithm_mismatch", `alg ${quoted(alg)} but the provider's algorithm is ${quoted(provider.algorithm ?? "")}`];
  }
  return algorithms.includes(alg) ? null : ["algorithm_unsupported", `alg ${quoted(alg)} is not one of ${algorithms.join(" ")}`];
}

function checkTimes(token: DecodedToken, timing: TokenExplanation["timing"]): Refusal | null {
  if (timing.expiresIn === null) return ["exp_missing", "no exp claim"];
  const skew = timing.issuedAgo !== null && timing.issuedAgo < 0 ? ` (iat is ${-timing.issuedAgo} s in this device's future: check the clocks)` : "";
  if (timing.expiresIn <= 0) {
    const lifetime = timing.lifetime !== null ? `, ${timing.lifetime} s after iat` : "";
    return ["expired", `expired ${-timing.expiresIn} s ago by this device's clock${lifetime}${skew}`];
  }
  if (token.nbf !== null && token.nbf > timing.now) return ["not_yet_valid", `not valid for another ${token.nbf - timing.now} s (nbf)${skew}`];
  return null;
}

function check(token: DecodedToken, provider: Provider, algorithms: readonly string[], timing: TokenExplanation["timing"], warnings: Warnings): Refusal | null {
  const refusal = checkIssuer(token.iss, provider, warnings) ?? checkAudience(token.aud, provider) ?? checkAlgorithm(token.alg, provider, algorithms);
  if (refusal) return refusal;
  if (!token.kid) {
    if (provider.type === "customJwt") return ["kid_missing", "the header has no kid, which customJwt providers require to pick a key from the JWKS"];
    if (!warnings.has("kid_missing")) {
      warnings.set("kid_missing", "no kid: the server can only use the JWKS's single key, so the token fails while two are published (key rotation)");
    }
  }
  return checkTimes(token, timing) ?? (token.sub ? null : ["sub_missing", "no sub claim: the server has no user to identify"]);
}

/** How far down the checks a refused token got: the provider it got furthest with was meant for it. */
const RANK: Record<MismatchReason, number> = {
  issuer_missing: 0,
  issuer_mismatch: 0,
  issuer_trailing_slash: 1,
  issuer_workos_authkit_domain: 1,
  audience_missing: 2,
  audience_mismatch: 2,
  audience_array: 2,
  algorithm_unsupported: 3,
  algorithm_mismatch: 3,
  kid_missing: 4,
  exp_missing: 5,
  expired: 5,
  not_yet_valid: 5,
  sub_missing: 6,
};

function summarize(verdicts: ProviderVerdict[], matched: number | null): string {
  const name = (verdict: ProviderVerdict) => `${verdict.type} ${verdict.issuer}`;
  if (matched !== null) return `provider ${matched} (${name(verdicts[matched])}) matches; the server still checks the signature against its JWKS`;
  if (verdicts.length === 0) return "no providers to match against";
  return `no provider matches: ${verdicts.map((verdict) => `[${verdict.index}] ${name(verdict)} → ${verdict.reason}: ${verdict.detail}`).join("; ")}`;
}

/**
 * Holds `token` against a Convex-style providers config and says which provider matches or, for
 * each, the first reason it does not. Synchronous; the decoder is authlane's WebAssembly core, so
 * it needs the module loaded (`await loadAuthlane()` or `auth.ready`). Throws `AuthlaneError`
 * `invalid_argument` for a bad config; a bad token is a verdict (`malformed`), not an error.
 */
export function explainToken(token: string, providers: ProvidersInput, options: ExplainOptions = {}): TokenExplanation {
  if (typeof token !== "string") throw invalid("token must be a string");
  const { configured, algorithms } = readConfig(providers, options);
  const nowMs = options.now ?? Date.now();
  if (!Number.isFinite(nowMs) || nowMs < 0) throw invalid("now must be a non-negative number of milliseconds");
  const now = Math.floor(nowMs / 1000);

  let decoded: DecodedToken;
  try {
    decoded = decodeToken(token);
  } catch (error) {
    if ((error as AuthlaneError).code !== ErrorCodes.MalformedToken) throw error;
    const malformed = (error as Error).message;
    return { ok: false, matched: null, closest: null, reason: null, summary: `not a JWT: ${malformed}`, verified: false, malformed, token: null, providers: [], warnings: [], timing: { now, expiresIn: null, issuedAgo: null, lifetime: null } };
  }

  const timing = {
    now,
    expiresIn: decoded.exp === null ? null : decoded.exp - now,
    issuedAgo: decoded.iat === null ? null : now - decoded.iat,
    lifetime: decoded.exp !== null && decoded.iat !== null && decoded.exp > decoded.iat ? decoded.exp - decoded.iat : null,
  };
  const warnings: Warnings = new Map();
  if (timing.issuedAgo === null) warnings.set("iat_missing", "no iat: the lifetime is estimated from exp on this device's clock");
  else if (timing.issuedAgo < 0) warnings.set("issued_in_future", `iat is ${-timing.issuedAgo} s ahead of this device's clock: the device or the issuer has the wrong time`);
  if (configured.length === 0) warnings.set("no_providers", "no providers were given");

  const verdicts: ProviderVerdict[] = configured.map((provider, index) => {
    const refusal = check(decoded, provider, algorithms, timing, warnings);
    return { index, type: provider.type, issuer: provider.issuer, reason: refusal?.[0] ?? null, detail: refusal?.[1] ?? "matches (the signature is not checked here)" };
  });
  const matchedIndex = verdicts.findIndex((verdict) => verdict.reason === null);
  const matched = matchedIndex >= 0 ? matchedIndex : null;
  let closest = matched;
  if (closest === null) {
    for (const verdict of verdicts) if (closest === null || RANK[verdict.reason!] > RANK[verdicts[closest].reason!]) closest = verdict.index;
  }
  return {
    ok: matched !== null,
    matched,
    closest,
    reason: closest === null ? null : verdicts[closest].reason,
    summary: summarize(verdicts, matched),
    verified: false,
    malformed: null,
    token: decoded,
    providers: verdicts,
    warnings: [...warnings].map(([code, detail]) => ({ code, detail })),
    timing,
  };
}
