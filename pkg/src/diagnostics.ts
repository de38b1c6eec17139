// authlane/diagnostics: why a token was refused. A separate entry so that apps pay for it only when
// they import it; it shares the main bundle's WebAssembly decoder (imported as "./index.js").
import type { RefusalExplainer } from "./auth.js";
import { explainToken, readConfig, type ExplainOptions, type ProvidersInput, type TokenExplanation } from "./explain.js";

export { explainToken, DEFAULT_ALGORITHMS } from "./explain.js";
export type { ExplainOptions, MismatchReason, ProviderConfig, ProvidersInput, ProviderVerdict, TokenExplanation, WarningCode } from "./explain.js";

/** One log line: the verdict, then the claims a reader compares with auth.config (never the token). */
export function describeExplanation(explanation: TokenExplanation): string {
  const parts = [explanation.summary];
  const token = explanation.token;
  if (token) {
    const { expiresIn } = explanation.timing;
    const expiry = expiresIn === null ? "no exp" : expiresIn > 0 ? `expires in ${expiresIn} s` : `expired ${-expiresIn} s ago`;
    parts.push(`token: iss ${JSON.stringify(token.iss)}, aud ${JSON.stringify(token.aud)}, alg ${token.alg ?? "none"}, kid ${token.kid ?? "none"}, ${expiry}`);
  }
  for (const warning of explanation.warnings) parts.push(`${warning.code}: ${warning.detail}`);
  return parts.join(" | ");
}

/**
 * For `createAuth({ diagnostics })`: every token the server refuses is explained against your
 * `auth.config` in verbose mode (`[authlane] server refused the token: …`) and as an `onTrace`
 * `token_explained` event whose `code` is the reason. The config is checked now: a bad one throws
 * `invalid_argument` here rather than at the first refusal.
 */
export function explainRefusals(providers: ProvidersInput, options: Omit<ExplainOptions, "now"> = {}): RefusalExplainer {
  readConfig(providers, options);
  return (token) => {
    const explanation = explainToken(token, providers, options);
    return { line: describeExplanation(explanation), code: explanation.reason };
  };
}
