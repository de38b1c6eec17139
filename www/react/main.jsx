// The React demo: the in-page issuer and backend (www/shared/) under authlane/react.
import { StrictMode, useSyncExternalStore } from "react";
import { createRoot } from "react-dom/client";
import { createAuth } from "authlane";
import { AuthlaneProvider, AuthLoading, Authenticated, Unauthenticated, useAuthlane } from "authlane/react";
import { createDemoBackend, describeAnswer } from "../shared/backend.js";
import { createDemoIssuer } from "../shared/issuer.js";
import { createTimeline } from "../shared/timeline.js";

const issuer = createDemoIssuer();
const timeline = createTimeline();
const backend = createDemoBackend();
// Created outside React (the provider's preferred form), so the backend can be wrapped at once.
const auth = createAuth({
  fetchAccessToken: issuer.fetchAccessToken,
  expectAuth: true, // operations wait until the server has accepted the first token
  onTrace: timeline.onTrace,
  crossTab: { name: "authlane-demo" }, // the demo's pages are separate bundles: one name makes them one app
});
const client = auth.wrap(backend.client);

const runQuery = () => client.query("whoami").catch(() => {});
runQuery(); // held by the gate until the server accepts the first token

/** Reads one of the demo's observables (www/shared/observable.js). */
function useObservable(observable) {
  return useSyncExternalStore(observable.subscribe, observable.get);
}

function SessionPanel() {
  const { status, error, claims } = useAuthlane();
  const expiry = useObservable(timeline.expiry);
  const calls = useObservable(issuer.calls);
  const identity = useObservable(backend.identity);
  const answer = useObservable(backend.lastAnswer);
  return (
    <div className="panel">
      <div>State</div>
      <div>
        <span id="status" className={`status ${status}`}>{status}</span>{" "}
        <span id="error">{error ? `${error.code}: ${error.message}` : ""}</span>
      </div>
      <div>Subject</div>
      <div id="subject">{claims?.sub ?? "—"}</div>
      <div>Issuer</div>
      <div id="iss">{claims?.iss ?? "—"}</div>
      <div>Token expires in</div>
      <div id="expiry">{expiry}</div>
      <div>Issuer calls (this tab)</div>
      <div id="calls">{calls}</div>
      <div>Server identity</div>
      <div id="identity">{identity ?? "anonymous"}</div>
      <div>Last query</div>
      <div id="answer">{describeAnswer(answer)}</div>
    </div>
  );
}

function Controls() {
  const { getToken, signOut } = useAuthlane();
  return (
    <>
      <div className="controls">
        <AuthLoading>
          <span id="loading" className="hint">Loading…</span>
        </AuthLoading>
        <Unauthenticated>
          <button
            id="sign-in"
            onClick={() => {
              issuer.signIn();
              getToken().catch(() => {}); // after the provider signs in, getToken restarts the session
            }}
          >
            Sign in
          </button>
        </Unauthenticated>
        <Authenticated>
          <button
            id="sign-out"
            onClick={() => {
              issuer.signOut();
              void signOut();
            }}
          >
            Sign out
          </button>
          <button id="force" onClick={() => getToken({ forceRefresh: true }).catch(() => {})}>
            Force refresh
          </button>
        </Authenticated>
        <button id="query" onClick={runQuery}>
          Run a query
        </button>
      </div>
      <div className="controls">
        <label>
          <input type="checkbox" id="issuer-down" onChange={(event) => issuer.down.set(event.target.checked)} /> Issuer down (callback
          throws)
        </label>
        <label>
          <input type="checkbox" id="issuer-garbage" onChange={(event) => issuer.garbage.set(event.target.checked)} /> Issuer returns
          garbage
        </label>
        <label>
          <input type="checkbox" id="server-rejects" onChange={(event) => backend.rejectTokens.set(event.target.checked)} /> Server
          rejects tokens
        </label>
      </div>
    </>
  );
}

function Timeline() {
  const entries = useObservable(timeline.entries);
  return (
    <>
      <h2>Timeline</h2>
      <table>
        <tbody id="timeline">
          {entries.map((entry) => (
            <tr key={entry.id} className={entry.group}>
              <td>{entry.time}</td>
              <td>
                <code>{entry.kind}</code>
              </td>
              <td>{entry.text}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <AuthlaneProvider auth={auth}>
      <SessionPanel />
      <Controls />
      <Timeline />
    </AuthlaneProvider>
  </StrictMode>,
);
