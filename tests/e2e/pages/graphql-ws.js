// The graphql-ws page under test, bundled by esbuild at test time with the real `graphql-ws`
// browser client and the built `authlane` package. `window.startApp(options)` creates the session
// and `wrapGraphqlWs(auth, createClient, …)` against the Hasura-like server that served the page,
// subscribes to `ticks` at once (before anything is authenticated) and records every token fetch,
// tick, subscription error and socket close in `window.log`.
import { createClient } from "graphql-ws";
import { createAuth } from "authlane";
import { wrapGraphqlWs } from "authlane/graphql-ws";

const log = { fetches: [], ticks: [], errors: [], closes: [], states: [] };
window.log = log;
const tail = (token) => (typeof token === "string" ? `…${token.slice(-6)}` : String(token));

window.startApp = ({ leewaySeconds = 2, subject = "user_e2e", signedOut, expectAuth = true, lifetime } = {}) => {
  const fetchAccessToken = async ({ forceRefreshToken }) => {
    const entry = { at: performance.now(), force: Boolean(forceRefreshToken) };
    log.fetches.push(entry);
    const response = await fetch("/token", { method: "POST", body: JSON.stringify({ sub: subject, lifetime }) });
    const { access_token: token } = await response.json();
    entry.token = tail(token);
    return token;
  };
  const auth = createAuth({ fetchAccessToken, expectAuth, refreshLeewaySeconds: leewaySeconds, crossTab: false });
  auth.subscribe(() => {
    const { status, error } = auth.getState();
    log.states.push(error ? `${status}:${error.code}` : status);
  });
  window.auth = auth;
  const client = wrapGraphqlWs(auth, createClient, {
    url: `ws://${location.host}/v1/graphql`,
    signedOut,
    on: { closed: (event) => log.closes.push(event.code) },
  });
  window.client = client;
  window.stopTicks = client.subscribe(
    { query: "subscription { ticks(everyMs: 200) { n userId role } }" },
    {
      next: ({ data }) => log.ticks.push({ at: performance.now(), ...data.ticks }),
      error: (error) => log.errors.push(error?.code ?? error?.message ?? JSON.stringify(error)),
      complete: () => {},
    },
  );
};

/** `query { me }` through the gated `iterate`. */
window.me = async () => {
  for await (const result of window.client.iterate({ query: "query { me { id role } }" })) return result.data.me;
  return null;
};

/** `mutation { bump }` (slow on the server) through the gated `subscribe`. */
window.bump = (delayMs) =>
  new Promise((resolve, reject) => {
    let result;
    window.client.subscribe({ query: `mutation { bump(delayMs: ${delayMs}) }` }, {
      next: ({ data }) => (result = data.bump),
      error: reject,
      complete: () => resolve(result),
    });
  });

window.lastTick = () => log.ticks.at(-1) ?? null;
