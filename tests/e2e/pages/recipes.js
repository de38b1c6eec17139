// The provider-recipes page, bundled by esbuild at test time: `window.startRecipe(options)` signs
// in with one provider (its stand-in, or the real @workos-inc/authkit-js), builds that recipe's
// fetchAccessToken from examples/recipes/, and runs the real convex ConvexClient wrapped by
// authlane on a `users:viewer` subscription. `window.log` records every fetch (forced or not, the
// token's claims, whether it had already expired when handed over, the provider's counters after
// it), the tokens the server accepted, every query result and error; `window.providerStats()`
// reads the provider's counters (calls, cache hits, tokens minted); `window.endSession()` ends the
// provider's session the provider's way.
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";
import { createAuth } from "authlane";
import { createClient } from "@workos-inc/authkit-js";
import { auth0FetchAccessToken } from "../../../examples/recipes/auth0.js";
import { clerkFetchAccessToken } from "../../../examples/recipes/clerk.js";
import { convexAuthFetchAccessToken } from "../../../examples/recipes/convex-auth.js";
import { customJwtFetchAccessToken } from "../../../examples/recipes/custom-jwt.js";
import { oidcFetchAccessToken } from "../../../examples/recipes/custom-oidc.js";
import { kindeFetchAccessToken } from "../../../examples/recipes/kinde.js";
import { workosFetchAccessToken } from "../../../examples/recipes/workos.js";
import { auth0StandIn, clerkStandIn, convexAuthStandIn, kindeStandIn } from "../support/provider-standins.js";
import { claimsOf } from "../../support/fake-issuer.js";

const log = { fetches: [], results: [], errors: [], authChanges: [], accepted: [] };
window.log = log;

const settings = { lifetime: 4, leeway: 1 }; // token lifetime and the providers' cache leeways (s)
window.setLifetime = (seconds) => (settings.lifetime = seconds);

/** Counts this page's requests whose URL contains `part` (for the providers that really fetch). */
const requestCounts = {};
const realFetch = window.fetch.bind(window);
window.fetch = (input, init) => {
  const url = String(input instanceof Request ? input.url : input);
  for (const part of Object.keys(requestCounts)) if (url.includes(part)) requestCounts[part] += 1;
  return realFetch(input, init);
};
function countRequests(part) {
  requestCounts[part] = 0;
  return () => requestCounts[part];
}

/** Presents a spent refresh token again: the devserver's reuse detection revokes the session. */
async function replay(endpoint, body) {
  const response = await realFetch(endpoint, { method: "POST", body: JSON.stringify(body) });
  if (response.status !== 400) throw new Error(`replaying a spent refresh token answered ${response.status}`);
}

async function signInAtDevserver(subject, name) {
  const response = await realFetch("/auth/signin", { method: "POST", body: JSON.stringify({ subject, name }) });
  return (await response.json()).refresh_token;
}

/** The provider's SDK (or stand-in), signed in, with that recipe's fetchAccessToken. */
async function provider(name, { origin, clientIds }) {
  const lifetime = () => settings.lifetime;
  switch (name) {
    case "clerk": {
      // A Clerk development instance's Frontend API URL, https://<x>.clerk.accounts.dev, is a tenant here.
      const clerk = clerkStandIn({ origin, frontendApi: `${origin}/tenants/clerk`, userId: "user_2Clerk", lifetime, leeway: settings.leeway });
      return { fetchAccessToken: clerkFetchAccessToken(clerk), stats: () => clerk.stats, endSession: () => clerk.signOut() };
    }
    case "auth0": {
      const auth0 = auth0StandIn({
        origin, domain: `${origin}/tenants/auth0/`, clientId: clientIds.auth0, audience: "https://api.example.com",
        userId: "auth0|65a1f0c2d3e4f5a6b7c8d9e0", lifetime, accessTokenLifetime: () => 2 * lifetime(), cacheLeeway: settings.leeway,
      });
      await auth0.login();
      return { fetchAccessToken: auth0FetchAccessToken(auth0), stats: () => auth0.stats, endSession: () => auth0.logout() };
    }
    case "kinde": {
      const kinde = kindeStandIn({
        origin, domain: `${origin}/tenants/kinde`, clientId: clientIds.kinde, audience: "convex", userId: "kp_0a1b2c3d4e5f",
        lifetime, earlyExpiration: settings.leeway,
      });
      await kinde.login();
      return { fetchAccessToken: kindeFetchAccessToken(kinde), stats: () => kinde.stats, endSession: () => kinde.logout() };
    }
    case "convex-auth": {
      const convexAuth = convexAuthStandIn({
        origin, siteUrl: `${origin}/tenants/convex-auth`, userId: "jd7f3k2m9q8w1e4r5t6y7u8i9o0p1a2s",
        namespace: origin.replace(/[^a-zA-Z0-9]/g, ""), lifetime,
      });
      await convexAuth.signIn();
      return { fetchAccessToken: convexAuthFetchAccessToken(convexAuth), stats: () => convexAuth.stats, endSession: () => convexAuth.signOut() };
    }
    case "workos": {
      // The real AuthKit client on this origin's /user_management/authenticate (the devserver's
      // WorkOS-shaped endpoint); devMode keeps the refresh token in localStorage, seeded here as
      // a finished sign-in would leave it. refreshBufferInterval is AuthKit's 10 s scaled like the
      // tokens; onBeforeAutoRefresh false leaves the refresh schedule to authlane.
      const firstRefreshToken = await signInAtDevserver("user_01WORKOS", "Ada");
      localStorage.setItem(`workos:refresh-token:${clientIds.workos}`, firstRefreshToken);
      const grants = countRequests("/user_management/authenticate");
      const authkit = await createClient(clientIds.workos, {
        apiHostname: location.hostname, port: Number(location.port), https: false, devMode: true,
        refreshBufferInterval: settings.leeway, onBeforeAutoRefresh: () => false,
      });
      const stats = { calls: 0, signInGrants: grants() };
      const getAccessToken = authkit.getAccessToken.bind(authkit);
      authkit.getAccessToken = (options) => {
        stats.calls += 1;
        return getAccessToken(options);
      };
      return {
        fetchAccessToken: workosFetchAccessToken(authkit),
        stats: () => ({ calls: stats.calls, mints: grants() - stats.signInGrants, cacheHits: stats.calls - (grants() - stats.signInGrants) }),
        // The session ends server-side: replaying the spent first refresh token revokes its family.
        endSession: () => replay("/user_management/authenticate", { client_id: clientIds.workos, grant_type: "refresh_token", refresh_token: firstRefreshToken }),
      };
    }
    case "custom-oidc": {
      // Any issuer: the devserver's own, its refresh_token grant with rotation and reuse detection.
      const firstRefreshToken = await signInAtDevserver("user_oidc", "Ada");
      localStorage.setItem("oidc:refresh-token", firstRefreshToken);
      const grants = countRequests("/oauth/token");
      const fetchAccessToken = oidcFetchAccessToken({
        tokenEndpoint: "/oauth/token", clientId: "convex", storageKey: "oidc:refresh-token", tokenField: "access_token",
      });
      return {
        fetchAccessToken,
        stats: () => ({ calls: log.fetches.length, mints: grants(), cacheHits: 0 }),
        endSession: () => replay("/oauth/token", { grant_type: "refresh_token", refresh_token: firstRefreshToken }),
      };
    }
    case "custom-jwt": {
      // /api/convex-token is answered by the test process (page.route): your backend's route.
      const calls = countRequests("/api/convex-token");
      return {
        fetchAccessToken: customJwtFetchAccessToken({ url: "/api/convex-token" }),
        stats: () => ({ calls: calls(), mints: calls(), cacheHits: 0 }),
        endSession: () => {}, // the test process makes the route answer 401
      };
    }
    default:
      throw new Error(`unknown provider ${name}`);
  }
}

window.startRecipe = async ({ name, leewaySeconds, clientIds }) => {
  const { fetchAccessToken, stats, endSession } = await provider(name, { origin: location.origin, clientIds });
  window.providerStats = () => structuredClone(stats());
  window.endSession = endSession;
  const recorded = async (args) => {
    const entry = { at: performance.now(), wall: Date.now(), force: Boolean(args.forceRefreshToken) };
    log.fetches.push(entry);
    const token = await fetchAccessToken(args);
    entry.returnedAt = performance.now();
    entry.providerStats = structuredClone(stats()); // the provider's counters once this fetch was answered
    if (typeof token === "string") {
      const { iss, sub, aud, iat, exp } = claimsOf(token);
      Object.assign(entry, { iss, sub, aud, iat, exp, tail: token.slice(-6), expired: exp <= Date.now() / 1000 });
    } else {
      entry.token = token;
    }
    return token;
  };
  const onTrace = (event) => {
    if (event.kind === "server_accepted") log.accepted.push(event.tokenTail?.slice(-6));
  };
  const auth = createAuth({ fetchAccessToken: recorded, expectAuth: true, refreshLeewaySeconds: leewaySeconds, crossTab: false, onTrace });
  auth.subscribe(() => log.authChanges.push(auth.getState().status));
  window.auth = auth;
  const client = auth.wrap(new ConvexClient(location.origin, { unsavedChangesWarning: false }));
  window.client = client;
  client.onUpdate(
    anyApi.users.viewer,
    {},
    (viewer) => log.results.push({ at: performance.now(), subject: viewer?.subject ?? null, issuer: viewer?.issuer ?? null }),
    (error) => log.errors.push(error.message),
  );
};
