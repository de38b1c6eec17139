// Hasura's claims namespace, read from a token's payload. The core decodes registered claims only;
// this one namespaced object is decoded here (the payload was already validated by the core).

export const HASURA_CLAIMS_NAMESPACE = "https://hasura.io/jwt/claims";

/**
 * The `https://hasura.io/jwt/claims` object of a JWT (unverified), also in Hasura's
 * `stringified_json` claims format; `null` when absent or not an object.
 */
export function hasuraClaims(token: string | null | undefined): Record<string, unknown> | null {
  try {
    const payload = token?.split(".")[1];
    if (!payload) return null;
    const bytes = Uint8Array.from(atob(payload.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    let claims: unknown = JSON.parse(new TextDecoder().decode(bytes))?.[HASURA_CLAIMS_NAMESPACE];
    if (typeof claims === "string") claims = JSON.parse(claims);
    return claims !== null && typeof claims === "object" && !Array.isArray(claims) ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
