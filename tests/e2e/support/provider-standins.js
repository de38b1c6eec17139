// Stand-ins for identity-provider SDKs that cannot run here: each is named after the SDK it
// imitates and keeps that SDK's getter — its signature, its cache and what makes it skip the
// cache — while its tokens come from the devserver's POST /debug/mint with the provider's claims
// (iss, aud, sub shape, extra claims; EdDSA where the provider signs RS256). Why not the real
// SDKs: @clerk/clerk-js loads its environment and tokens from Clerk's Frontend API (https on
// Clerk's hosts); @auth0/auth0-spa-js needs an RS256 ID token and Auth0's /authorize and
// /oauth/token; @kinde-oss/kinde-auth-pkce-js needs Kinde's /oauth2/token and its cookies;
// @convex-dev/auth's client is a React provider calling the `auth:signIn` action of a Convex
// deployment. WorkOS AuthKit runs for real (see recipes.test.js).
//
// Lifetimes and cache leeways are parameters: the providers' defaults are noted at each one, and
// the test scales them down (4 s tokens). Every stand-in counts `calls`, `cacheHits` and `mints`.

const now = () => Math.floor(Date.now() / 1000);
/** A lifetime given as seconds or as a function answering seconds (tests change it mid-run). */
const seconds = (lifetime) => (typeof lifetime === "function" ? lifetime() : lifetime);

/** Claims signed by the devserver's embedded key (`header` overrides alg/typ/kid; null drops). */
async function mint(origin, claims, header) {
  const response = await fetch(`${origin}/debug/mint`, {
    method: "POST",
    body: JSON.stringify(header ? { claims, header } : { claims }),
  });
  if (!response.ok) throw new Error(`/debug/mint answered ${response.status}`);
  return (await response.json()).token;
}

function counters() {
  return { calls: 0, cacheHits: 0, mints: 0 };
}

/**
 * Stands in for a loaded Clerk instance (@clerk/clerk-js) with one active session:
 * `clerk.session.getToken({ template, skipCache })`. Clerk caches each token per session and
 * template and serves it until less than its leeway (LEEWAY 10 s + SYNC_LEEWAY 5 s in clerk-js's
 * tokenCache) is left; `skipCache: true` fetches a new one from the Frontend API. Concurrent calls
 * share one request. The "convex" JWT template: Clerk's default claims (azp = the page's origin,
 * exp, iat, iss = the Frontend API URL, jti, nbf = iat - allowed clock skew 5 s, sid, sub
 * user_…) plus the template's `aud: "convex"`, name, email…; lifetime 60 s by default.
 */
export function clerkStandIn({ origin, frontendApi, userId, lifetime = 60, leeway = 15 }) {
  const stats = counters();
  const sessionId = `sess_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
  const cache = new Map(); // template → Promise<{ jwt, exp }>
  let signedIn = true;
  const templates = {
    convex: { aud: "convex", name: "Ada Lovelace", email: "ada@example.com", email_verified: true, given_name: "Ada", family_name: "Lovelace" },
  };
  const session = {
    id: sessionId,
    async getToken({ template, skipCache = false } = {}) {
      stats.calls += 1;
      if (!signedIn) return null;
      const key = template ?? "__session";
      const cached = cache.get(key);
      if (!skipCache && cached) {
        const entry = await cached;
        if (entry.exp - now() > leeway) {
          stats.cacheHits += 1;
          return entry.jwt;
        }
      }
      const fresh = (async () => {
        stats.mints += 1;
        const iat = now();
        const claims = {
          azp: location.origin, exp: iat + seconds(lifetime), iat, iss: frontendApi, jti: crypto.randomUUID().slice(0, 20),
          nbf: iat - 5, sid: sessionId, sub: userId, ...(template ? templates[template] : { v: 2 }),
        };
        return { jwt: await mint(origin, claims), exp: claims.exp };
      })();
      cache.set(key, fresh);
      fresh.catch(() => cache.delete(key));
      return (await fresh).jwt;
    },
  };
  return {
    get session() {
      return signedIn ? session : null;
    },
    signOut() {
      signedIn = false;
      cache.clear();
    },
    stats,
  };
}

/**
 * Stands in for an Auth0Client (@auth0/auth0-spa-js) after loginWithRedirect with
 * `useRefreshTokens: true`: `getTokenSilently({ cacheMode, detailedResponse })`. The cache entry
 * (ID token, access token, refresh token) expires with the *access token's* `expires_in`, and
 * "on" serves it until 60 s before that (`_getEntryFromCache`); "off" always runs the
 * refresh_token grant, which rotates the refresh token. Concurrent calls share one request. The
 * ID token (what Convex verifies): iss = "https://<tenant>.auth0.com/" (trailing slash), aud =
 * client id, sub "auth0|…", sid, profile claims; 36000 s by default. Access tokens live 86400 s.
 */
export function auth0StandIn({ origin, domain, clientId, audience, userId, lifetime = 36000, accessTokenLifetime = 86400, cacheLeeway = 60 }) {
  const stats = counters();
  const sid = crypto.randomUUID().replaceAll("-", "").slice(0, 32);
  let entry = null; // { id_token, access_token, refresh_token, expires_in, scope, expiresAt }
  let refreshToken = `v1.${crypto.randomUUID()}`;
  let pending = null;
  const scope = "openid profile email offline_access";

  async function grant() {
    const iat = now();
    const idToken = await mint(origin, {
      nickname: "ada", name: "Ada Lovelace", picture: "https://example.com/ada.png", updated_at: new Date().toISOString(),
      email: "ada@example.com", email_verified: true, iss: domain, aud: clientId, sub: userId, iat, exp: iat + seconds(lifetime), sid,
    });
    const expiresIn = seconds(accessTokenLifetime);
    const accessToken = await mint(origin, {
      iss: domain, sub: userId, aud: [audience, `${domain}userinfo`], iat, exp: iat + expiresIn, scope, azp: clientId,
    });
    refreshToken = `v1.${crypto.randomUUID()}`; // rotation
    entry = { id_token: idToken, access_token: accessToken, refresh_token: refreshToken, expires_in: expiresIn, scope, expiresAt: iat + expiresIn };
    return entry;
  }

  return {
    /** What loginWithRedirect + handleRedirectCallback leave in the cache. */
    async login() {
      await grant();
    },
    async isAuthenticated() {
      return entry !== null;
    },
    async getTokenSilently({ cacheMode = "on", detailedResponse = false } = {}) {
      stats.calls += 1;
      if (entry === null) throw Object.assign(new Error("Login required"), { error: "login_required" });
      let result;
      if (cacheMode !== "off" && entry.expiresAt - cacheLeeway > now()) {
        stats.cacheHits += 1;
        result = entry;
      } else {
        if (!pending) {
          stats.mints += 1;
          pending = grant().finally(() => (pending = null));
        }
        result = await pending;
      }
      const { id_token, access_token, expires_in } = result;
      return detailedResponse ? { id_token, access_token, expires_in, scope: result.scope } : access_token;
    },
    async logout() {
      entry = null;
    },
    stats,
  };
}

/**
 * Stands in for a Kinde client (@kinde-oss/kinde-auth-pkce-js createKindeClient, created with
 * `audience`): `getAccessToken()` answers the stored access token while it has more than 30 s
 * left (EARLY_EXPIRATION) and otherwise refreshes; `getToken({ isForceRefresh: true })` always
 * runs the refresh_token grant at /oauth2/token. Both answer undefined when no token can be had.
 * The access token: iss = "https://<business>.kinde.com", aud = [audience], azp = client id,
 * sub "kp_…", jti, org_code, permissions, scp; its lifetime is set per application in Kinde.
 */
export function kindeStandIn({ origin, domain, clientId, audience, userId, lifetime = 86400, earlyExpiration = 30 }) {
  const stats = counters();
  let bundle = null; // { access_token, exp }
  let user = { id: userId, given_name: "Ada", family_name: "Lovelace", email: "ada@example.com", picture: undefined };

  async function refresh() {
    if (!user) return undefined;
    const iat = now();
    const claims = {
      aud: [audience], azp: clientId, exp: iat + seconds(lifetime), iat, iss: domain, jti: crypto.randomUUID(), org_code: "org_1f2e3d4c5b6",
      permissions: [], scp: ["openid", "profile", "email", "offline"], sub: userId,
    };
    bundle = { access_token: await mint(origin, claims), exp: claims.exp };
    return bundle.access_token;
  }

  return {
    /** What the redirect callback leaves in storage. */
    async login() {
      await refresh();
    },
    async getAccessToken() {
      stats.calls += 1;
      if (bundle && bundle.exp - earlyExpiration > now()) {
        stats.cacheHits += 1;
        return bundle.access_token;
      }
      stats.mints += 1;
      return refresh();
    },
    /** Deprecated in 4.x but the pkce client's only forced refresh. */
    async getToken({ isForceRefresh = false } = {}) {
      if (!isForceRefresh) return this.getAccessToken();
      stats.calls += 1;
      stats.mints += 1;
      return refresh();
    },
    getUser() {
      return user ?? undefined;
    },
    async isAuthenticated() {
      return Boolean(await this.getAccessToken());
    },
    async logout() {
      bundle = null;
      user = null;
    },
    stats,
  };
}

/**
 * Stands in for @convex-dev/auth's client token logic (ConvexAuthProvider's fetchAccessToken):
 * the JWT and refresh token live in localStorage under `__convexAuthJWT_<namespace>` and
 * `__convexAuthRefreshToken_<namespace>`; `token()` is the JWT held now (no expiry check, as
 * Convex Auth's unforced path); `refresh()` takes a navigator.locks mutex, returns the JWT another
 * tab produced while it waited, and otherwise spends the refresh token through the `auth:signIn`
 * action (here: a mint) and stores the rotated pair. The JWT (convex-dev/auth tokens.js): claims
 * sub = "<userId>|<sessionId>", iat, iss = CONVEX_SITE_URL, aud "convex", exp; 1 h by default.
 */
// Convex Auth's header is `{ alg: "RS256" }` only, and its JWKS key has no kid either; Convex
// (and the devserver) take such tokens for OIDC entries by using the JWKS's only key.
const CONVEX_AUTH_HEADER = { typ: null, kid: null };
export function convexAuthStandIn({ origin, siteUrl, userId, namespace, lifetime = 3600 }) {
  const stats = counters();
  const sessionId = `k${crypto.randomUUID().replaceAll("-", "").slice(0, 31)}`;
  const jwtKey = `__convexAuthJWT_${namespace}`;
  const refreshKey = `__convexAuthRefreshToken_${namespace}`;

  async function signInAction() {
    const iat = now();
    const claims = { sub: `${userId}|${sessionId}`, iat, iss: siteUrl, aud: "convex", exp: iat + seconds(lifetime) };
    const token = await mint(origin, claims, CONVEX_AUTH_HEADER);
    localStorage.setItem(jwtKey, token);
    localStorage.setItem(refreshKey, `${sessionId}|${crypto.randomUUID()}`);
    return token;
  }

  return {
    async signIn() {
      await signInAction();
    },
    token() {
      stats.calls += 1;
      const token = localStorage.getItem(jwtKey);
      if (token) stats.cacheHits += 1;
      return token;
    },
    async refresh() {
      stats.calls += 1;
      const before = localStorage.getItem(jwtKey);
      return navigator.locks.request(refreshKey, async () => {
        const after = localStorage.getItem(jwtKey);
        if (after !== before) {
          stats.cacheHits += 1; // another tab refreshed while this one waited
          return after;
        }
        if (!localStorage.getItem(refreshKey)) return null;
        localStorage.setItem(refreshKey, ""); // spent before the call, as Convex Auth does
        stats.mints += 1;
        return signInAction();
      });
    },
    signOut() {
      localStorage.removeItem(jwtKey);
      localStorage.removeItem(refreshKey);
    },
    stats,
  };
}

/**
 * Stands in for your backend's token route in the custom-JWT recipe (served to the page with
 * Playwright's page.route, so it runs in the test process): each POST signs a new JWT with kid,
 * alg, typ and iss, sub, aud, iat, exp, as a route using jose would; 401 once signed out.
 */
export function customJwtRouteStandIn({ origin, issuer, audience, userId, lifetime }) {
  const stats = counters();
  let signedIn = true;
  return {
    async handle(route) {
      stats.calls += 1;
      if (!signedIn) return route.fulfill({ status: 401, contentType: "application/json", body: "{}" });
      stats.mints += 1;
      const iat = now();
      const token = await mint(origin, { iss: issuer, sub: userId, aud: audience, iat, exp: iat + seconds(lifetime) });
      await route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ token }) });
    },
    /** The session cookie is gone: the route answers 401. */
    signOut() {
      signedIn = false;
    },
    stats,
  };
}
