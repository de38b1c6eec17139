// Clerk → authlane. `clerk` is a loaded Clerk instance (@clerk/clerk-js; with React, useAuth()'s
// getToken is the same method on the active session).
// Convex auth.config: { domain: CLERK_JWT_ISSUER_DOMAIN, applicationID: "convex" }.
// Clerk keeps each token (~60 s) in its cache until it nears expiry; `skipCache` asks Clerk's
// Frontend API for a new one, which is what a forced fetch (a rejection) needs.
export function clerkFetchAccessToken(clerk, { template = "convex" } = {}) {
  return async ({ forceRefreshToken }) => {
    if (!clerk.session) return null; // signed out
    // `template: null` for Clerk's Convex integration (the session token itself has aud "convex").
    // Errors are thrown, not turned into null: authlane retries a network blip.
    return clerk.session.getToken({ template: template ?? undefined, skipCache: forceRefreshToken });
  };
}
