// WorkOS AuthKit → authlane. `authkit` is the client from createClient (@workos-inc/authkit-js;
// with React, useAuth()'s getAccessToken is the same). Convex auth.config (customJwt, no aud):
// { type: "customJwt", issuer: `https://api.workos.com/user_management/${clientId}`,
//   algorithm: "RS256", jwks: `https://api.workos.com/sso/jwks/${clientId}` }.
// getAccessToken() refreshes when the token is within its buffer of expiry, and
// { forceRefresh: true } refreshes at once. Never hand over the `accessToken` state of a hook:
// it can be stale, and a rejected token would come back again.
import { LoginRequiredError } from "@workos-inc/authkit-js";

export function workosFetchAccessToken(authkit) {
  return async ({ forceRefreshToken }) => {
    if (!authkit.getUser()) return null; // signed out
    try {
      return await authkit.getAccessToken({ forceRefresh: forceRefreshToken });
    } catch (error) {
      if (error instanceof LoginRequiredError) return null; // the session ended
      throw error; // a transient RefreshError: authlane retries
    }
  };
}
