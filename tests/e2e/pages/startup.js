// The startup benchmark's page (scripts/bench-startup.js): the real `convex` ConvexClient, bare or
// wrapped by authlane, started as the page's script runs, as an app would; or bare with authlane's
// package imported and its module loaded but no session ("imported": what the package's presence
// costs, apart from anything the session does); or wrapped with the user's token rendered into the
// page, as a server component or a SvelteKit `load` renders it ("initial": `initialToken`, from
// ?token=). It records, in ms from
// navigation start, when the script ran, when the token fetches started and ended, authlane's own
// milestones (module ready, lock, acceptance) and the first query result computed with the user's
// identity. The token comes from a second devserver's /debug/mint, a provider answering from its
// session (one round trip per call, no rotation), so bare tabs can fetch as often as convex asks.
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";
import { createAuth, loadAuthlane } from "authlane";

const SUBJECT = "user_bench";
const FIRST_RESULT = "authlane-bench:first-result";
const now = () => performance.now();
const sinceNavigation = (epochMs) => epochMs - performance.timeOrigin;
const marks = { script: now(), fetches: [], trace: {}, firstResult: null };
window.marks = marks;

// The provider: another devserver on its own origin (?provider=), minting with its own key
// (CORS, a simple request: no preflight).
const provider = new URLSearchParams(location.search).get("provider");

async function fetchAccessToken() {
  const fetch_ = { start: now(), end: null };
  marks.fetches.push(fetch_);
  const exp = Math.floor(Date.now() / 1000) + 600;
  const response = await fetch(`${provider}/debug/mint`, {
    method: "POST",
    body: JSON.stringify({ claims: { iss: provider, sub: SUBJECT, aud: "convex", iat: exp - 600, exp } }),
  });
  const { token } = await response.json();
  fetch_.end = now();
  return token;
}

// Each mode is its own bundle (scripts/bench-startup.js defines BENCH_MODE), so the bare page
// neither downloads nor compiles authlane's module.
const options = { unsavedChangesWarning: false };
let client;
if (BENCH_MODE === "authlane" || BENCH_MODE === "initial") {
  const auth = createAuth({
    fetchAccessToken,
    initialToken: BENCH_MODE === "initial" ? new URLSearchParams(location.search).get("token") : undefined,
    expectAuth: true,
    crossTab: { name: "bench" },
    onTrace: (event) => {
      marks.trace[event.kind] ??= sinceNavigation(event.at);
    },
  });
  auth.ready.then(() => (marks.moduleReady = now()));
  client = auth.wrap(new ConvexClient(location.origin, options));
} else {
  if (BENCH_MODE === "imported") loadAuthlane().then(() => (marks.moduleReady = now()));
  client = new ConvexClient(location.origin, { ...options, expectAuth: true });
  client.setAuth(fetchAccessToken);
}
client.onUpdate(anyApi.messages.list, {}, (value) => {
  if (value.viewer !== SUBJECT || marks.firstResult !== null) return;
  marks.firstResult = now();
  // The benchmark waits for this line: polling the page from Playwright would run Playwright's
  // own script in the page, on the main thread, while it is being measured.
  console.log(FIRST_RESULT);
});
