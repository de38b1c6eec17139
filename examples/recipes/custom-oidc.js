// Any OIDC issuer → authlane, with no SDK: the refresh_token grant against its token endpoint.
// The refresh token (from your sign-in) lives in localStorage; rotating issuers hand back a new
// one each time, and authlane's cross-tab lock keeps two tabs from spending the same one.
// Convex auth.config: { domain: "https://issuer.example", applicationID: "<the token's aud>" }.
export function oidcFetchAccessToken({ tokenEndpoint, clientId, storageKey, tokenField = "id_token" }) {
  // Forced or not, each call is a grant: there is no cache to skip (authlane keeps the token and
  // calls only when a fresh one is due).
  return async () => {
    const refreshToken = localStorage.getItem(storageKey);
    if (!refreshToken) return null; // signed out
    const body = new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId });
    const response = await fetch(tokenEndpoint, { method: "POST", body });
    const answer = await response.json().catch(() => ({}));
    if (answer.error === "invalid_grant") {
      localStorage.removeItem(storageKey); // revoked or reused: the session is over
      return null;
    }
    if (!response.ok) throw new Error(`token endpoint answered ${response.status}`); // retried
    if (answer.refresh_token) localStorage.setItem(storageKey, answer.refresh_token);
    return answer[tokenField];
  };
}
