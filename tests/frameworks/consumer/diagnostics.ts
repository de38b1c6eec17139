// A consumer's TypeScript against authlane/diagnostics' declarations (see app.tsx).
import { createAuth, loadAuthlane, type RefusalExplainer } from "authlane";
import { explainRefusals, explainToken, type MismatchReason, type TokenExplanation } from "authlane/diagnostics";

export async function diagnose(token: string): Promise<MismatchReason | null> {
  await loadAuthlane();
  const verdict: TokenExplanation = explainToken(token, { providers: [{ domain: "https://idp.example", applicationID: "convex" }] });
  // @ts-expect-error verdicts are never verified: `verified` is the literal false
  const verified: true = verdict.verified;
  void verified;
  return verdict.reason;
}

export function withDiagnostics(): void {
  const diagnostics: RefusalExplainer = explainRefusals([{ type: "customJwt", issuer: "https://jwt.example/", jwks: "https://jwt.example/jwks", algorithm: "RS256" }]);
  createAuth({ fetchAccessToken: () => null, verbose: true, diagnostics });
}
