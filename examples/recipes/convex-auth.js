// Convex Auth (@convex-dev/auth) → authlane. Convex Auth keeps its JWT and refresh token in
// localStorage (`__convexAuthJWT_<namespace>`, `__convexAuthRefreshToken_<namespace>`) and
// refreshes by calling the `auth:signIn` action with the refresh token, which rotates.
// `convexAuth` does those two things: `token()` (the JWT held now, or null) and `refresh()`
// (spend the refresh token; the new JWT, or null when the session is gone).
// Convex auth.config: { domain: process.env.CONVEX_SITE_URL, applicationID: "convex" }.
export function convexAuthFetchAccessToken(convexAuth) {
  return async ({ forceRefreshToken }) =>
    // Unforced: the JWT held now, as Convex Auth's own fetcher does (authlane refreshes it at
    // once if it is stale). Forced: a rotation; authlane's cross-tab lock lets one tab spend it.
    forceRefreshToken ? convexAuth.refresh() : convexAuth.token();
}
