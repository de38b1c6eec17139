// The demo: authlane over an in-page issuer, showing state, expiry and the timeline.
import { createAuth, decodeToken } from "/pkg/dist/index.js";

const LIFETIME_SECONDS = 20;
const $ = (id) => document.getElementById(id);
let signedIn = true;
let calls = 0;

function base64url(text) {
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Stands in for an identity provider's SDK (unsigned demo tokens; the client never verifies). */
async function fetchAccessToken({ forceRefreshToken }) {
  calls++;
  $("calls").textContent = String(calls);
  await new Promise((resolve) => setTimeout(resolve, 150));
  if ($("issuer-down").checked) throw new Error("issuer unreachable");
  if ($("issuer-garbage").checked) return 42;
  if (!signedIn) return null;
  const iat = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "demo" }));
  const claims = base64url(JSON.stringify({ iss: "https://demo.invalid", sub: "user_demo", aud: "convex", iat, exp: iat + LIFETIME_SECONDS, jti: crypto.randomUUID(), forced: forceRefreshToken }));
  return `${header}.${claims}.demo-signature-${calls}`;
}

const auth = createAuth({ fetchAccessToken, onTrace: addToTimeline, verbose: true });
let expiresAt = null;

function addToTimeline(event) {
  const row = document.createElement("tr");
  const time = new Date(event.at).toLocaleTimeString();
  const parts = [event.detail, event.tokenTail, event.value !== null ? `${event.value}` : null, event.code].filter(Boolean);
  row.innerHTML = `<td>${time}</td><td><code>${event.kind}</code></td><td>${parts.join(" · ")}</td>`;
  $("timeline").prepend(row);
}

function render() {
  const state = auth.getState();
  $("status").textContent = state.status;
  $("status").className = `status ${state.status}`;
  $("error").textContent = state.error ? `${state.error.code}: ${state.error.message}` : "";
  $("subject").textContent = state.claims?.sub ?? "—";
}

async function refreshExpiry() {
  const token = auth.getState().isAuthenticated ? await auth.getToken().catch(() => null) : null;
  expiresAt = token ? decodeToken(token).exp * 1000 : null;
}

auth.subscribe(render);
auth.subscribe(refreshExpiry);
auth.ready.then(render);
setInterval(() => {
  $("expiry").textContent = expiresAt ? `${Math.max(0, Math.round((expiresAt - Date.now()) / 1000))} s` : "—";
}, 250);
setInterval(refreshExpiry, 1000);

$("sign-in").onclick = () => {
  signedIn = true;
  auth.getToken().catch(() => {});
};
$("sign-out").onclick = () => {
  signedIn = false;
  auth.signOut();
};
$("force").onclick = () => auth.getToken({ forceRefresh: true }).catch(() => {});
