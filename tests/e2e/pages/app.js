// The page under test, bundled by esbuild at test time with the real `convex` browser client and
// the built `authlane` package. `window.startApp(options)` builds one client:
//   mode "authlane": auth.wrap(new ConvexClient(origin))  ·  mode "bare": client.setAuth(fetcher)
// with the same fetchAccessToken (a refresh_token grant per call, no cache), and records every
// fetch, query result and query error in `window.log`.
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";
import { createAuth } from "authlane";
import { explainRefusals } from "authlane/diagnostics";

const log = { fetches: [], results: [], errors: [], authChanges: [], fetchFailures: [], verbose: [], wire: [] };
window.log = log;

let sockets = 0;
/**
 * The client's websocket, recording each frame's type in order (`log.wire`): which socket, which
 * way, and for the client's ModifyQuerySet how many queries it adds, for the server's Transition
 * whether it accepted a token (identity moved).
 */
class RecordingWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    const socket = ++sockets;
    this.socket = socket;
    this.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      const accepted = message.type === "Transition" && message.endVersion.identity > message.startVersion.identity;
      log.wire.push({ socket, dir: "in", type: message.type, accepted });
    });
  }

  send(data) {
    const message = JSON.parse(data);
    const adds = message.type === "ModifyQuerySet" ? message.modifications.filter((change) => change.type === "Add").length : 0;
    log.wire.push({ socket: this.socket, dir: "out", type: message.type, adds });
    super.send(data);
  }
}

const tail = (token) => (typeof token === "string" ? `…${token.slice(-6)}` : String(token));

/**
 * Returns a fetchAccessToken that spends the refresh token once per call (it rotates). With
 * `storageKey` the refresh token lives in localStorage (as an SDK would keep it across reloads).
 */
function refreshTokenProvider({ tokenEndpoint, refreshToken, clientId, pickToken, badFirst, storageKey }) {
  let current = refreshToken;
  const load = () => (storageKey ? localStorage.getItem(storageKey) : current);
  const save = (value) => (storageKey ? localStorage.setItem(storageKey, value) : (current = value));
  return async ({ forceRefreshToken }) => {
    const entry = { at: performance.now(), force: Boolean(forceRefreshToken) };
    log.fetches.push(entry);
    // badFirst {token}: a given token first (e.g. a real issuer's ID token for another client).
    if (badFirst?.token && log.fetches.length === 1) return badFirst.token;
    if (badFirst && log.fetches.length === 1) {
      // A well-signed token for the wrong audience: the server must reject it.
      const answer = await (await fetch("/debug/sign", {
        method: "POST",
        body: JSON.stringify({ iss: location.origin, sub: "intruder", aud: "someone-else", exp: Math.floor(Date.now() / 1000) + 60 }),
      })).json();
      return answer.token;
    }
    const body = new URLSearchParams({ grant_type: "refresh_token", refresh_token: load() });
    if (clientId) body.set("client_id", clientId);
    const response = await fetch(tokenEndpoint, { method: "POST", body });
    if (!response.ok) {
      log.fetchFailures.push(response.status);
      throw new Error(`token endpoint answered ${response.status}`);
    }
    const answer = await response.json();
    save(answer.refresh_token);
    const token = answer[pickToken ?? "access_token"];
    entry.token = tail(token);
    return token;
  };
}

window.startApp = async ({ mode, leewaySeconds, subject = "user_e2e", badFirst = false, issuer, signedOutOperations }) => {
  let tokenEndpoint = "/oauth/token";
  let refreshToken;
  if (issuer) {
    ({ tokenEndpoint, refreshToken } = issuer);
  } else {
    const signIn = await fetch("/auth/signin", { method: "POST", body: JSON.stringify({ subject }) });
    refreshToken = (await signIn.json()).refresh_token;
  }
  const fetchAccessToken = refreshTokenProvider({
    tokenEndpoint, refreshToken, clientId: issuer?.clientId, pickToken: issuer?.pickToken, badFirst, storageKey: issuer?.storageKey,
  });
  const options = { authRefreshTokenLeewaySeconds: leewaySeconds, unsavedChangesWarning: false, webSocketConstructor: RecordingWebSocket };
  let client;
  if (mode === "authlane") {
    const auth = createAuth({
      fetchAccessToken, expectAuth: true, refreshLeewaySeconds: leewaySeconds, crossTab: false, signedOutOperations,
      // The devserver's embedded issuer, as its auth config would list it: refused tokens are explained.
      verbose: (line) => log.verbose.push(line),
      diagnostics: explainRefusals([{ domain: location.origin, applicationID: "convex" }]),
    });
    auth.subscribe(() => log.authChanges.push(auth.getState().status));
    window.auth = auth;
    client = auth.wrap(new ConvexClient(location.origin, options));
  } else {
    client = new ConvexClient(location.origin, { ...options, expectAuth: true });
    client.setAuth(fetchAccessToken, (isAuthenticated) => log.authChanges.push(isAuthenticated ? "authenticated" : "unauthenticated"));
  }
  window.client = client;
  client.onUpdate(
    anyApi.messages.list,
    {},
    (value) => log.results.push({ at: performance.now(), viewer: value.viewer, count: value.messages.length }),
    (error) => log.errors.push(error.message),
  );
};

/**
 * The end of an authorization-code sign-in (PKCE): redeems `?code=` of this page's URL at the
 * issuer's token endpoint (a CORS request) and keeps the refresh token in localStorage.
 */
window.redeemCode = async ({ tokenEndpoint, clientId, redirectUri, verifier, state, storageKey }) => {
  const params = new URLSearchParams(location.search);
  if (params.get("state") !== state) throw new Error(`state mismatch: ${location.search}`);
  const body = new URLSearchParams({
    grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectUri, client_id: clientId, code_verifier: verifier,
  });
  const response = await fetch(tokenEndpoint, { method: "POST", body });
  const answer = await response.json();
  if (!response.ok || !answer.refresh_token) throw new Error(`code exchange: ${response.status} ${JSON.stringify(answer)}`);
  localStorage.setItem(storageKey, answer.refresh_token);
  history.replaceState(null, "", location.pathname);
  return { scope: answer.scope, refreshToken: answer.refresh_token, idToken: answer.id_token };
};

window.send = (body) => window.client.mutation(anyApi.messages.send, { body });
