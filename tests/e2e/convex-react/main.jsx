// A Convex React app as users write it: the real convex/react ConvexReactClient and useQuery,
// signed in through authlane, in one of the two ways the README gives (`?path=`):
//   provider: <AuthlaneProvider auth> + <ConvexProviderWithAuth useAuth={useAuthFromAuthlane}>
//   wrap:     <AuthlaneProvider auth> + <ConvexProvider client={auth.wrap(convex)}>
// The refresh token lives in localStorage (shared by the tabs of one browser context, rotated on
// every use). Every token call, rendered auth status and rendered `users:viewer` result goes to
// `window.log` for tests/e2e/convex-react.test.js.
import { createRoot } from "react-dom/client";
import { useEffect } from "react";
import { ConvexProvider, ConvexProviderWithAuth, ConvexReactClient, useConvexAuth, useQuery } from "convex/react";
import { anyApi } from "convex/server";
import { createAuth } from "authlane";
import { AuthlaneProvider, useAuthFromAuthlane, useAuthlane } from "authlane/react";

const params = new URLSearchParams(location.search);
const path = params.get("path");
const leewaySeconds = Number(params.get("leeway"));
const REFRESH_TOKEN_KEY = "convex-react-refresh-token";

const log = { fetches: [], statuses: [], results: [] };
window.log = log;
const now = () => performance.timeOrigin + performance.now();

/** A refresh_token grant per call, like an SDK that keeps its refresh token in localStorage. */
async function fetchAccessToken({ forceRefreshToken }) {
  const entry = { start: now(), end: null, force: forceRefreshToken };
  log.fetches.push(entry);
  try {
    const body = new URLSearchParams({ grant_type: "refresh_token", refresh_token: localStorage.getItem(REFRESH_TOKEN_KEY) });
    const response = await fetch("/oauth/token", { method: "POST", body });
    if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
    const answer = await response.json();
    localStorage.setItem(REFRESH_TOKEN_KEY, answer.refresh_token);
    return answer.access_token;
  } finally {
    entry.end = now();
  }
}

// `?initial=1`: the page as a server would render it with the user's token from a cookie (the test
// puts the token in window.renderedToken), handed to the session as `initialToken`.
const initialToken = params.get("initial") === "1" ? window.renderedToken : undefined;
const auth = createAuth({ fetchAccessToken, refreshLeewaySeconds: leewaySeconds, expectAuth: true, crossTab: { name: "convex-react" }, initialToken });
// The client options the README gives for each path. ConvexProviderWithAuth: convex's expectAuth
// holds queries until the first token is sent (the provider calls setAuth only once the session is
// authenticated), initialAuthTokenReuse keeps convex from forcing a second token once the first is
// confirmed (`?reuse=0` leaves it out), and convex's leeway is above authlane's so that its asks
// land before the session's refresh. auth.wrap(convex) drives convex's refreshes itself.
const convex = new ConvexReactClient(
  location.origin,
  path === "provider"
    ? { expectAuth: true, initialAuthTokenReuse: params.get("reuse") !== "0", authRefreshTokenLeewaySeconds: leewaySeconds + 2, unsavedChangesWarning: false }
    : { expectAuth: true, authRefreshTokenLeewaySeconds: leewaySeconds, unsavedChangesWarning: false },
);

/** Records each rendered change: convex's auth status (provider path) or the session's (wrap path). */
function Probe({ status }) {
  const viewer = useQuery(anyApi.users.viewer, {});
  const shown = viewer === undefined ? "pending" : viewer === null ? null : viewer.subject;
  useEffect(() => {
    if (log.statuses.at(-1) !== status) log.statuses.push(status);
  }, [status]);
  useEffect(() => {
    if (log.results.at(-1)?.viewer !== shown) log.results.push({ at: now(), viewer: shown });
  }, [shown]);
  return <p id="viewer">{String(shown)}</p>;
}

function ConvexAuthProbe() {
  const { isLoading, isAuthenticated } = useConvexAuth();
  return <Probe status={isLoading ? "loading" : isAuthenticated ? "authenticated" : "unauthenticated"} />;
}

function SessionProbe() {
  return <Probe status={useAuthlane().status} />;
}

const app =
  path === "provider" ? (
    <AuthlaneProvider auth={auth}>
      <ConvexProviderWithAuth client={convex} useAuth={useAuthFromAuthlane}>
        <ConvexAuthProbe />
      </ConvexProviderWithAuth>
    </AuthlaneProvider>
  ) : (
    <AuthlaneProvider auth={auth}>
      <ConvexProvider client={auth.wrap(convex)}>
        <SessionProbe />
      </ConvexProvider>
    </AuthlaneProvider>
  );

createRoot(document.getElementById("root")).render(app);
