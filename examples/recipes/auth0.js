// Auth0 → authlane. `auth0` is an Auth0Client (@auth0/auth0-spa-js; with React, useAuth0()'s
// getAccessTokenSilently takes the same options). Convex verifies the ID token, whose `aud` is
// the client id: { domain: "https://<tenant>.auth0.com/", applicationID: AUTH0_CLIENT_ID }.
// cacheMode "off" skips Auth0's cache (a refresh_token grant with useRefreshTokens, otherwise a
// silent iframe); "on" serves the cached tokens until 60 s before they expire.
const SIGNED_OUT = new Set(["login_required", "missing_refresh_token", "invalid_grant"]);

export function auth0FetchAccessToken(auth0) {
  return async ({ forceRefreshToken }) => {
    try {
      const response = await auth0.getTokenSilently({
        detailedResponse: true,
        cacheMode: forceRefreshToken ? "off" : "on",
      });
      return response.id_token;
    } catch (error) {
      if (SIGNED_OUT.has(error?.error)) return null; // no session left
      throw error; // anything else is retried by authlane
    }
  };
}
