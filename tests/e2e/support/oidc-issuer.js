// oidc-provider (npm, v9) in-process on 127.0.0.1: the external issuer of tests/e2e/oidc.test.js.
// Authorization code + PKCE for public clients (token_endpoint_auth_method "none"), offline_access,
// refresh-token rotation on; its dev interactions (login + consent pages) are the sign-in UI.
// State lives in an in-memory adapter owned here, so `rotateKeys()` can swap in a new Provider
// instance with a new signing key (new kid, old key gone) while every grant and refresh token
// survives — as a restarted provider with a persistent store would behave.
import { createServer } from "node:http";
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import Provider from "oidc-provider";
import { base64urlEncode } from "../../support/base64url.js";

/** A Map-backed oidc-provider adapter (with expiry, grant revocation and consumption). */
function memoryAdapterFactory(store) {
  const live = (key) => {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt && entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };
  return class MemoryAdapter {
    constructor(model) {
      this.model = model;
    }
    key(id) {
      return `${this.model}:${id}`;
    }
    async upsert(id, payload, expiresIn) {
      store.set(this.key(id), { payload: structuredClone(payload), expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : 0 });
      if (payload.grantId) {
        const members = store.get(`grant:${payload.grantId}`)?.payload ?? new Set();
        members.add(this.key(id));
        store.set(`grant:${payload.grantId}`, { payload: members, expiresAt: 0 });
      }
      if (payload.uid) store.set(`${this.model}:uid:${payload.uid}`, { payload: id, expiresAt: 0 });
    }
    async find(id) {
      const payload = live(this.key(id));
      return payload && structuredClone(payload);
    }
    async findByUid(uid) {
      const id = live(`${this.model}:uid:${uid}`);
      return id === undefined ? undefined : this.find(id);
    }
    async findByUserCode() {
      return undefined;
    }
    async consume(id) {
      const entry = store.get(this.key(id));
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id) {
      store.delete(this.key(id));
    }
    async revokeByGrantId(grantId) {
      for (const key of store.get(`grant:${grantId}`)?.payload ?? []) store.delete(key);
      store.delete(`grant:${grantId}`);
    }
  };
}

function signingKey() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = `e2e-${randomBytes(4).toString("hex")}`;
  return { ...privateKey.export({ format: "jwk" }), kid, use: "sig", alg: "RS256" };
}

/**
 * Starts the issuer. Each client registered with `addClient` has its own ID/access token lifetime
 * (`tokenTtl`, seconds) and its own counters (`stats(clientId)`).
 */
export async function startOidcIssuer() {
  const store = new Map();
  const Adapter = memoryAdapterFactory(store);
  const ttls = new Map();
  const corsOrigins = new Map(); // client id -> the page origin allowed to call the token endpoint
  const counters = new Map();
  const count = (clientId, name) => {
    const row = counters.get(clientId) ?? { codeExchanges: 0, refreshes: 0, reuseDetections: 0, grantsRevoked: 0, grantErrors: 0 };
    row[name] += 1;
    counters.set(clientId, row);
  };
  const cookieKeys = [randomBytes(32).toString("hex")];
  let key = signingKey();
  let current;

  const server = createServer((request, response) => current.callback()(request, response));
  await new Promise((ready) => server.listen(0, "127.0.0.1", ready));
  const issuer = `http://127.0.0.1:${server.address().port}`;

  const build = () => {
    const tokenTtl = (ctx, token, client) => ttls.get(client?.clientId) ?? 60;
    const provider = new Provider(issuer, {
      adapter: Adapter,
      jwks: { keys: [key] },
      cookies: { keys: cookieKeys },
      findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
      scopes: ["openid", "offline_access"],
      rotateRefreshToken: true,
      clientBasedCORS: (ctx, origin, client) => corsOrigins.get(client.clientId) === origin,
      features: { devInteractions: { enabled: true } },
      ttl: {
        IdToken: tokenTtl,
        AccessToken: tokenTtl,
        AuthorizationCode: 60,
        Interaction: 600,
        Session: 3600,
        Grant: 3600,
        RefreshToken: 3600,
      },
    });
    provider.on("grant.success", (ctx) => {
      const clientId = ctx.oidc.client?.clientId;
      count(clientId, ctx.oidc.params.grant_type === "refresh_token" ? "refreshes" : "codeExchanges");
    });
    provider.on("grant.error", (ctx, error) => {
      const clientId = ctx.oidc.client?.clientId;
      count(clientId, "grantErrors");
      // The refresh_token grant's reuse detection: a consumed (rotated) refresh token came back;
      // oidc-provider destroys it and revokes the whole grant.
      if (error.error_detail === "refresh token already used") count(clientId, "reuseDetections");
    });
    provider.on("grant.revoked", (ctx) => count(ctx.oidc.client?.clientId, "grantsRevoked"));
    provider.on("server_error", (ctx, error) => console.error("oidc-provider server_error", error));
    return provider;
  };
  current = build();

  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    kid: () => key.kid,
    stats: (clientId) => ({ codeExchanges: 0, refreshes: 0, reuseDetections: 0, grantsRevoked: 0, grantErrors: 0, ...counters.get(clientId) }),

    /** Registers a public client (stored in the adapter, as a registered client would be). */
    async addClient({ clientId, redirectUri, tokenTtl }) {
      ttls.set(clientId, tokenTtl);
      corsOrigins.set(clientId, new URL(redirectUri).origin);
      await new Adapter("Client").upsert(clientId, {
        client_id: clientId,
        token_endpoint_auth_method: "none",
        application_type: "web",
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        redirect_uris: [redirectUri],
      });
    },

    /** The authorization request (PKCE S256) and the verifier that redeems its code. */
    authorizationRequest({ clientId, redirectUri }) {
      const verifier = base64urlEncode(randomBytes(32));
      const state = base64urlEncode(randomBytes(12));
      const url = new URL(`${issuer}/auth`);
      for (const [name, value] of Object.entries({
        client_id: clientId,
        response_type: "code",
        redirect_uri: redirectUri,
        scope: "openid offline_access",
        prompt: "consent",
        state,
        code_challenge: base64urlEncode(createHash("sha256").update(verifier).digest()),
        code_challenge_method: "S256",
      })) url.searchParams.set(name, value);
      return { url: url.href, verifier, state };
    },

    /** A new signing key with a new kid; the old one is no longer published or used. */
    rotateKeys() {
      key = signingKey();
      current = build();
      return key.kid;
    },

    close: () => new Promise((done) => {
      server.closeAllConnections();
      server.close(done);
    }),
  };
}
