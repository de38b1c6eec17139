// A session in whatever origin this page gets: loaded into a sandboxed iframe without
// allow-same-origin it runs in an opaque origin, where Web Locks and storage refuse every call.
// Records first what the context allows (window.probe: the faults), then runs a session whose
// fetcher mints tokens in the page (window.auth, window.stats). Query: ?storage=.
import { createAuth } from "/pkg/dist/index.js";
import { mintJwt } from "/tests/support/fake-issuer.js";

const params = new URLSearchParams(location.search);
const probe = { origin: self.origin, broadcastChannel: typeof BroadcastChannel };
try {
  probe.localStorage = typeof localStorage.getItem("probe");
} catch (error) {
  probe.localStorage = `throws ${error.name}`;
}
try {
  probe.locks = await navigator.locks.request("authlane-probe", () => "granted");
} catch (error) {
  probe.locks = `rejects ${error.name}`;
}
window.probe = probe;

const stats = { fetchCalls: 0, traces: [], errors: [] };
window.stats = stats;
const auth = createAuth({
  fetchAccessToken: async () => {
    stats.fetchCalls++;
    return mintJwt(60);
  },
  storage: params.get("storage") ?? "memory",
  onTrace: (event) => stats.traces.push(event.kind),
});
window.auth = auth;
window.settled = auth.settled.then((state) => state.status);
