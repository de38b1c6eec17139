// The "Why was my token refused?" panel: explainToken on a pasted (or this tab's) token against a
// pasted auth.config. Everything happens in the page: no network, no signature check.
import { explainToken } from "/pkg/dist/diagnostics.js";

const $ = (id) => document.getElementById(id);

/** The in-page backend's auth config: what a Convex deployment trusting the demo issuer would list. */
export const DEMO_PROVIDERS = { providers: [{ domain: "https://demo.invalid", applicationID: "convex" }] };

function render(explanation) {
  const lines = [explanation.summary];
  for (const provider of explanation.providers) {
    lines.push(`  [${provider.index}] ${provider.type} ${provider.issuer}: ${provider.reason ?? "matches"}${provider.reason ? ` — ${provider.detail}` : ""}`);
  }
  for (const warning of explanation.warnings) lines.push(`  warning ${warning.code}: ${warning.detail}`);
  if (explanation.token) {
    const { iss, aud, sub, alg, kid } = explanation.token;
    const { expiresIn, issuedAgo, lifetime } = explanation.timing;
    lines.push(`  token: iss ${JSON.stringify(iss)} aud ${JSON.stringify(aud)} sub ${JSON.stringify(sub)} alg ${alg} kid ${kid}`);
    lines.push(`  times: expires in ${expiresIn ?? "—"} s, issued ${issuedAgo ?? "—"} s ago, lifetime ${lifetime ?? "—"} s`);
  }
  lines.push("  (decoded only: the signature and the JWKS were not checked)");
  return lines.join("\n");
}

/** Wires the panel; `currentToken()` resolves to this tab's token (or null). */
export function mountExplainPanel(currentToken) {
  $("explain-providers").value = JSON.stringify(DEMO_PROVIDERS, null, 2);
  $("explain-current").onclick = async () => {
    $("explain-token").value = (await currentToken().catch(() => null)) ?? "";
    $("explain-run").click();
  };
  $("explain-run").onclick = () => {
    const output = $("explanation");
    try {
      const explanation = explainToken($("explain-token").value.trim(), JSON.parse($("explain-providers").value));
      output.textContent = render(explanation);
      output.className = explanation.ok ? "ok" : "refused";
      output.dataset.reason = explanation.reason ?? "";
    } catch (error) {
      output.textContent = `${error.code ?? error.name}: ${error.message}`;
      output.className = "refused";
      output.dataset.reason = error.code ?? "";
    }
  };
}
