// The vanilla demo: authlane over the in-page issuer and backend (www/shared/, shared with the
// React and Svelte demos), showing the session, time to expiry and the onTrace timeline.
import { createAuth } from "/pkg/dist/index.js";
import { explainRefusals } from "/pkg/dist/diagnostics.js";
import { DEMO_PROVIDERS, mountExplainPanel } from "./explain-panel.js";
import { createDemoBackend, describeAnswer } from "./shared/backend.js";
import { createDemoIssuer } from "./shared/issuer.js";
import { createTimeline } from "./shared/timeline.js";

const $ = (id) => document.getElementById(id);

const issuer = createDemoIssuer();
const timeline = createTimeline();
const backend = createDemoBackend();
const auth = createAuth({
  fetchAccessToken: issuer.fetchAccessToken,
  expectAuth: true, // operations wait until the server has accepted the first token
  onTrace: timeline.onTrace,
  crossTab: { name: "authlane-demo" }, // the demo's pages are separate bundles: one name makes them one app
  verbose: true,
  // Refused tokens are explained against the backend's auth config (timeline: token_explained).
  diagnostics: explainRefusals(DEMO_PROVIDERS),
});
auth.ready.then(() => mountExplainPanel(() => auth.getToken()));
const client = auth.wrap(backend.client);

function render() {
  const { status, error, claims } = auth.getState();
  $("status").textContent = status;
  $("status").className = `status ${status}`;
  $("error").textContent = error ? `${error.code}: ${error.message}` : "";
  $("subject").textContent = claims?.sub ?? "—";
  $("iss").textContent = claims?.iss ?? "—";
  $("loading").hidden = status !== "loading";
  $("sign-in").hidden = status !== "unauthenticated";
  $("sign-out").hidden = $("force").hidden = status !== "authenticated";
}
auth.subscribe(render);
render();

timeline.expiry.subscribe((text) => ($("expiry").textContent = text));
issuer.calls.subscribe((calls) => ($("calls").textContent = String(calls)));
backend.identity.subscribe((identity) => ($("identity").textContent = identity ?? "anonymous"));
backend.lastAnswer.subscribe((answer) => ($("answer").textContent = describeAnswer(answer)));
timeline.entries.subscribe((entries) => {
  $("timeline").replaceChildren(
    ...entries.map((entry) => {
      const row = document.createElement("tr");
      row.className = entry.group;
      const kind = document.createElement("code");
      kind.textContent = entry.kind;
      row.append(cell(entry.time), cell(kind), cell(entry.text));
      return row;
    }),
  );
});

function cell(content) {
  const td = document.createElement("td");
  td.append(content);
  return td;
}

const runQuery = () => client.query("whoami").catch(() => {});
runQuery(); // held by the gate until the server accepts the first token

$("sign-in").onclick = () => {
  issuer.signIn();
  auth.getToken().catch(() => {}); // after the provider signs in, getToken restarts the session
};
$("sign-out").onclick = () => {
  issuer.signOut();
  void auth.signOut();
};
$("force").onclick = () => auth.getToken({ forceRefresh: true }).catch(() => {});
$("query").onclick = runQuery;
$("issuer-down").onchange = (event) => issuer.down.set(event.target.checked);
$("issuer-garbage").onchange = (event) => issuer.garbage.set(event.target.checked);
$("server-rejects").onchange = (event) => backend.rejectTokens.set(event.target.checked);
