// Kinde → authlane. `kinde` is a client from createKindeClient (@kinde-oss/kinde-auth-pkce-js),
// created with `audience: "convex"` so the access token is meant for Convex.
// Convex auth.config: { domain: KINDE_ISSUER_URL, applicationID: "convex" } (aud is an array).
// getAccessToken() answers from storage while the token has 30 s left and refreshes after;
// getToken({ isForceRefresh: true }) spends the refresh token at /oauth2/token at once.
export function kindeFetchAccessToken(kinde) {
  return async ({ forceRefreshToken }) => {
    const token = forceRefreshToken
      ? await kinde.getToken({ isForceRefresh: true })
      : await kinde.getAccessToken();
    if (token) return token;
    // Kinde answers undefined for "signed out" and for "the refresh failed": while it still
    // holds a user, throw, so authlane retries instead of signing out.
    if (kinde.getUser()?.id) throw new Error("Kinde returned no access token");
    return null;
  };
}
