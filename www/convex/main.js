// The real-server demo: the real `convex` browser client (ConvexClient) wrapped by authlane, against
// the devserver (`make demo`): its sync endpoint on this origin, and its embedded issuer for tokens.
// www/build-demo.js bundles this file with esbuild into www/dist/convex/.
import "../shared/demo.css";
import "./page.css";
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";
import { createAuth } from "authlane";
import { createTimeline } from "../shared/timeline.js";

const $ = (id) => document.getElementById(id);

/** The issuer's rotating refresh token, shared by this page's tabs. */
const REFRESH_TOKEN_KEY = "authlane-demo:convex:refresh-token";

let calls = 0; // issuer calls from this tab: sign-ins and refresh_token grants
let signInToken = null; // the access token that came with the sign-in, for the first fetch after it
let ended = ""; // why the issuer ended the session, shown while signed out

/** An issuer call from this tab; throws (authlane retries) unless the issuer answered. */
async function callIssuer(path, body) {
  calls += 1;
  $("calls").textContent = String(calls);
  const response = await fetch(path, { method: "POST", body });
  const answer = await response.json().catch(() => ({}));
  if (response.ok) return answer;
  if (answer.error === "invalid_grant") return answer;
  throw new Error(`${path} answered ${response.status}${answer.error ? ` ${answer.error}` : ""}`);
}

/**
 * authlane's fetchAccessToken: null when signed out (no refresh token), else a refresh_token grant.
 * authlane runs it under its cross-tab lock, so the rotating refresh token read here is the
 * latest and no other tab spends it at the same time.
 */
async function fetchAccessToken({ forceRefreshToken }) {
  if (signInToken !== null && !forceRefreshToken) {
    const token = signInToken;
    signInToken = null;
    return token;
  }
  signInToken = null;
  const refreshToken = localStorage.getItem(REFRESH_TOKEN_KEY);
  if (refreshToken === null) return null;
  const answer = await callIssuer("/oauth/token", new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }));
  if (answer.error === "invalid_grant") {
    // Unknown (the devserver restarted), revoked or reused: this session is over.
    if (localStorage.getItem(REFRESH_TOKEN_KEY) === refreshToken) localStorage.removeItem(REFRESH_TOKEN_KEY);
    ended = `the issuer ended the session: ${answer.error_description ?? answer.error}`;
    return null;
  }
  localStorage.setItem(REFRESH_TOKEN_KEY, answer.refresh_token);
  return answer.access_token;
}

const timeline = createTimeline();
const auth = createAuth({
  fetchAccessToken,
  expectAuth: true, // the subscription below waits until the server has accepted the first token
  onTrace: timeline.onTrace,
  crossTab: { name: "authlane-demo-convex" }, // not the in-page issuer's pages' session
  verbose: true,
});

function render() {
  const { status, error, claims } = auth.getState();
  $("status").textContent = status;
  $("status").className = `status ${status}`;
  $("error").textContent = error ? `${error.code}: ${error.message}` : status === "unauthenticated" ? ended : "";
  $("subject").textContent = claims?.sub ?? "—";
  $("iss").textContent = claims?.iss ?? "—";
  $("loading").hidden = status !== "loading";
  $("signed-out").hidden = status !== "unauthenticated";
  $("sign-out").hidden = $("force").hidden = status !== "authenticated";
}
auth.subscribe(render);
render();

timeline.expiry.subscribe((text) => ($("expiry").textContent = text));
timeline.entries.subscribe((entries) => {
  $("timeline").replaceChildren(
    ...entries.map((entry) => {
      const kind = document.createElement("code");
      kind.textContent = entry.kind;
      const row = element("tr", "", element("td", "", entry.time), element("td", "", kind), element("td", "", entry.text));
      row.className = entry.group;
      return row;
    }),
  );
});

function element(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

function showMessages({ viewer, messages }) {
  $("viewer").textContent = viewer;
  $("messages").replaceChildren(
    ...(messages.length === 0
      ? [element("li", "hint", "No messages yet: send one.")]
      : messages.map(({ author, body }) => element("li", author === viewer ? "mine" : "", element("b", "", author), " ", body))),
  );
}

function showQueryError(error) {
  $("viewer").textContent = "anonymous";
  $("messages").replaceChildren(element("li", "hint", `messages:list failed: ${error.message.split("\n")[0]}`));
}

async function start() {
  const discovery = await fetch("/.well-known/openid-configuration").catch(() => null);
  if (!discovery?.ok) {
    $("no-server").hidden = false;
    return;
  }
  // The devserver's sync endpoint is on this origin: ws://<host>/api/<version>/sync.
  const client = auth.wrap(new ConvexClient(location.origin, { unsavedChangesWarning: false }));
  // Held by the expectAuth gate until the server accepts the first token (or auth settles signed out).
  client.onUpdate(anyApi.messages.list, {}, showMessages, showQueryError);

  $("send-form").onsubmit = (event) => {
    event.preventDefault();
    const body = $("message").value.trim();
    if (!body) return;
    $("send-error").textContent = "";
    client.mutation(anyApi.messages.send, { body }).then(
      () => ($("message").value = ""),
      (error) => ($("send-error").textContent = error.message.split("\n")[0]),
    );
  };
}

$("sign-in").onclick = async () => {
  const subject = $("sign-in-as").value.trim() || "user_demo";
  ended = "";
  try {
    const answer = await callIssuer("/auth/signin", JSON.stringify({ subject, name: subject }));
    signInToken = answer.access_token;
    localStorage.setItem(REFRESH_TOKEN_KEY, answer.refresh_token);
  } catch (error) {
    $("error").textContent = `sign-in failed: ${error.message}`;
    return;
  }
  auth.getToken().catch(() => {}); // after the provider signs in, getToken restarts the session
};
$("sign-out").onclick = () => {
  localStorage.removeItem(REFRESH_TOKEN_KEY);
  signInToken = null;
  void auth.signOut(); // every tab of this page signs out
};
$("force").onclick = () => auth.getToken({ forceRefresh: true }).catch(() => {});

// Another tab signed in: join its session (authlane asks that tab for its token before fetching).
window.addEventListener("storage", (event) => {
  if (event.key === REFRESH_TOKEN_KEY && event.oldValue === null && event.newValue !== null && auth.getState().status === "unauthenticated") {
    ended = "";
    auth.getToken().catch(() => {});
  }
});

start();
