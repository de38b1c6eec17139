// A Hasura-like GraphQL-over-WebSocket server for the graphql-ws end-to-end tests: the real
// `graphql-ws` server (`graphql-ws/use/ws` on `ws`, schema by `graphql`) on 127.0.0.1, checking
// the JWT in connection_init the way Hasura's JWT mode does, plus the token issuer it trusts.
//
// One HTTP server carries everything:
//   GET  /jwks               the issuer's JWKS (RS256; the verifier fetches it, Hasura's `jwk_url`)
//   POST /token              a fresh JWT {sub, lifetime?} with Hasura's claims namespace
//   GET  /debug/stats        counters and the per-connection message log
//   POST /debug/faults       {rejectNextConnects: n, rejectCode?}: refuse the next n token-carrying
//                            inits (closing with rejectCode, 4403 by default)
//   POST /debug/revoke-key   sign with a new key from now on; the JWKS drops the old one
//   POST /debug/drop         close every socket with 1012 (service restart)
//   WS   /v1/graphql         graphql-transport-ws; anything else under / is a static file from `dir`
//
// Like Hasura: the token is `connectionParams.headers.Authorization: Bearer <jwt>`; its signature
// (JWKS), `exp`, `aud`/`iss` when configured and the namespace's x-hasura-allowed-roles,
// x-hasura-default-role and x-hasura-user-id are checked; a bad token closes the socket with 4403;
// no token connects as the unauthorized role ("anonymous"); and an accepted socket is closed when
// its token expires (4403 "JWTExpired" here; the test proves the client's refresh beats it).
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { WebSocketServer } from "ws";
import { useServer } from "graphql-ws/use/ws";
import { GraphQLInt, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString } from "graphql";
import { SignJWT, createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify } from "jose";

export const HASURA_NAMESPACE = "https://hasura.io/jwt/claims";
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".wasm": "application/wasm" };
const tail = (token) => (typeof token === "string" ? `…${token.slice(-6)}` : null);

const Identity = new GraphQLObjectType({
  name: "Identity",
  fields: { id: { type: GraphQLString }, role: { type: new GraphQLNonNull(GraphQLString) } },
});
const Tick = new GraphQLObjectType({
  name: "Tick",
  fields: { n: { type: new GraphQLNonNull(GraphQLInt) }, userId: { type: GraphQLString }, role: { type: new GraphQLNonNull(GraphQLString) } },
});
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: "Query",
    fields: { me: { type: new GraphQLNonNull(Identity), resolve: (_, __, { session }) => ({ id: session.userId, role: session.role }) } },
  }),
  mutation: new GraphQLObjectType({
    name: "Mutation",
    fields: {
      // Counts executions after a delay: a mutation re-sent by a reconnect would count twice.
      bump: {
        type: new GraphQLNonNull(GraphQLInt),
        args: { delayMs: { type: GraphQLInt } },
        resolve: async (_, { delayMs }, { stats }) => {
          await sleep(delayMs ?? 0);
          return ++stats.mutations;
        },
      },
    },
  }),
  subscription: new GraphQLObjectType({
    name: "Subscription",
    fields: {
      ticks: {
        type: new GraphQLNonNull(Tick),
        args: { everyMs: { type: GraphQLInt } },
        subscribe: async function* (_, { everyMs }, { session }) {
          for (let n = 0; ; n++) {
            yield { ticks: { n, userId: session.userId, role: session.role } };
            await sleep(everyMs ?? 250);
          }
        },
      },
    },
  }),
});

/**
 * Starts the server. `jwt` is a HASURA_GRAPHQL_JWT_SECRET-like config: `{ type: "RS256",
 * jwk_url?, claims_namespace?, claims_format?: "json" | "stringified_json", audience?, issuer? }`
 * (`jwk_url` defaults to this server's /jwks). `lifetime`: token lifetime in seconds.
 */
export async function startHasuraLike({ dir, lifetime = 60, jwt = {}, unauthorizedRole = "anonymous" } = {}) {
  const audience = jwt.audience ?? "hasura-e2e";
  const stats = {
    tokensIssued: 0,
    connects: 0,
    accepted: 0,
    anonymous: 0,
    rejections: 0,
    rejectionsByReason: {},
    expiryCloses: 0,
    subscribes: 0,
    mutations: 0,
    connections: [],
  };
  const faults = { rejectNextConnects: 0, rejectCode: 4403 };
  let signing = await newKey();
  let origin = "";

  async function newKey() {
    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
    const kid = `k${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
  }

  async function issue({ sub = "user_e2e", lifetime: seconds = lifetime, format = jwt.claims_format ?? "json" } = {}) {
    const claims = { "x-hasura-allowed-roles": ["user"], "x-hasura-default-role": "user", "x-hasura-user-id": sub };
    const namespace = jwt.claims_namespace ?? HASURA_NAMESPACE;
    stats.tokensIssued++;
    return new SignJWT({ [namespace]: format === "stringified_json" ? JSON.stringify(claims) : claims })
      .setProtectedHeader({ alg: "RS256", kid: signing.jwk.kid, typ: "JWT" })
      .setIssuer(jwt.issuer ?? origin)
      .setAudience(audience)
      .setSubject(sub)
      .setIssuedAt()
      .setJti(crypto.randomUUID()) // RS256 is deterministic: without it, two tokens minted in one second are equal
      .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
      .sign(signing.privateKey);
  }

  /** Hasura's JWT mode: returns the session, or throws with the reason (closed with 4403). */
  let keys;
  async function authenticate(params) {
    const headers = params?.headers ?? {};
    const header = headers.Authorization ?? headers.authorization;
    if (header === undefined) {
      if (!unauthorizedRole) throw new Error("Missing 'Authorization' or 'Cookie' header in JWT authentication mode");
      return { role: unauthorizedRole, userId: null, exp: null, token: null };
    }
    const token = String(header).replace(/^Bearer\s+/i, "");
    if (faults.rejectNextConnects > 0) {
      faults.rejectNextConnects--;
      throw Object.assign(new Error("Injected"), { closeCode: faults.rejectCode });
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(token, keys, { algorithms: [jwt.type ?? "RS256"], audience, issuer: jwt.issuer ?? origin }));
    } catch (error) {
      throw new Error(error.code === "ERR_JWT_EXPIRED" ? "JWTExpired" : error.code === "ERR_JWKS_NO_MATCHING_KEY" ? "JWKSNoMatchingKey" : "JWTInvalid");
    }
    let claims = payload[jwt.claims_namespace ?? HASURA_NAMESPACE];
    if (typeof claims === "string") claims = JSON.parse(claims);
    const allowed = claims?.["x-hasura-allowed-roles"];
    const role = headers["x-hasura-role"] ?? claims?.["x-hasura-default-role"];
    if (!Array.isArray(allowed)) throw new Error("JWTMissingAllowedRoles");
    if (!role || !allowed.includes(role)) throw new Error("JWTRoleNotAllowed");
    return { role, userId: claims["x-hasura-user-id"] ?? null, exp: payload.exp, token };
  }

  const server = createServer(async (request, response) => {
    const url = new URL(request.url, "http://localhost");
    const json = (value) => response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(value));
    const body = async () => {
      let text = "";
      for await (const chunk of request) text += chunk;
      return text ? JSON.parse(text) : {};
    };
    if (url.pathname === "/jwks") return json({ keys: [signing.jwk] });
    if (url.pathname === "/token" && request.method === "POST") return json({ access_token: await issue(await body()) });
    if (url.pathname === "/debug/stats") return json(stats);
    if (url.pathname === "/debug/faults" && request.method === "POST") return json(Object.assign(faults, await body()));
    if (url.pathname === "/debug/revoke-key" && request.method === "POST") {
      signing = await newKey();
      return json({ kid: signing.jwk.kid });
    }
    if (url.pathname === "/debug/drop" && request.method === "POST") {
      for (const socket of sockets.clients) socket.close(1012, "Service Restart");
      return json({ dropped: sockets.clients.size });
    }
    const file = normalize(join(dir ?? "/nonexistent", url.pathname.endsWith("/") ? url.pathname + "index.html" : url.pathname));
    try {
      if (!dir || !file.startsWith(dir + "/")) throw new Error("outside");
      const content = await readFile(file);
      response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
      response.end(content);
    } catch {
      response.writeHead(404).end("not found");
    }
  });

  const sockets = new WebSocketServer({ server, path: "/v1/graphql" });
  // Registered before graphql-ws's handler: logs every message in the order the server saw it.
  sockets.on("connection", (socket) => {
    const record = { id: stats.connections.length + 1, token: null, role: null, log: [], closed: null };
    stats.connections.push(record);
    socket.record = record;
    socket.on("message", (data) => {
      const message = JSON.parse(String(data));
      record.log.push(message.type === "subscribe" ? `subscribe ${message.payload.query.match(/\{\s*(\w+)/)?.[1]}` : message.type);
    });
    const send = socket.send.bind(socket);
    socket.send = (data, ...rest) => {
      const { type } = JSON.parse(String(data));
      if (type !== "next") record.log.push(`→ ${type}`);
      return send(data, ...rest);
    };
    socket.on("close", (code, reason) => {
      record.closed = { code, reason: String(reason) };
      clearTimeout(socket.expiryTimer);
    });
  });
  useServer(
    {
      schema,
      context: (ctx) => ({ session: ctx.extra.socket.session, stats }),
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        const record = socket.record;
        stats.connects++;
        const header = ctx.connectionParams?.headers?.Authorization;
        record.token = tail(header?.replace(/^Bearer\s+/i, "")) ?? null;
        let session;
        try {
          session = await authenticate(ctx.connectionParams);
        } catch (error) {
          stats.rejections++;
          stats.rejectionsByReason[error.message] = (stats.rejectionsByReason[error.message] ?? 0) + 1;
          socket.close(error.closeCode ?? 4403, `${error.closeCode === 4401 ? "Unauthorized" : "Forbidden"}: ${error.message}`);
          return false;
        }
        socket.session = session;
        record.role = session.role;
        if (session.token === null) stats.anonymous++;
        else {
          stats.accepted++;
          // Hasura closes a JWT-authenticated socket when its token expires.
          socket.expiryTimer = setTimeout(() => {
            stats.expiryCloses++;
            socket.close(4403, "Forbidden: JWTExpired");
          }, Math.max(0, session.exp * 1000 - Date.now()));
        }
        return true;
      },
      onSubscribe: () => {
        stats.subscribes++;
      },
    },
    sockets,
  );

  await new Promise((ready) => server.listen(0, "127.0.0.1", ready));
  origin = `http://127.0.0.1:${server.address().port}`;
  keys = createRemoteJWKSet(new URL(jwt.jwk_url ?? `${origin}/jwks`), { cooldownDuration: 0, cacheMaxAge: 0 });
  return {
    origin,
    wsUrl: `ws://127.0.0.1:${server.address().port}/v1/graphql`,
    stats: () => structuredClone(stats),
    faults,
    issue,
    async revokeKey() {
      signing = await newKey();
    },
    async close() {
      for (const socket of sockets.clients) socket.terminate();
      await new Promise((done) => sockets.close(done));
      await new Promise((done) => server.close(done));
    },
  };
}
