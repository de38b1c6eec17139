// A consumer's TypeScript against authlane/graphql-ws' declarations, with graphql-ws' own types (see app.tsx).
import { createAuth } from "authlane";
import { wrapGraphqlWs } from "authlane/graphql-ws";
import { createClient } from "graphql-ws";

export function connect(): () => void {
  const auth = createAuth({ fetchAccessToken: () => null, expectAuth: true });
  const client = wrapGraphqlWs(auth, createClient, {
    url: "wss://my-project.hasura.app/v1/graphql",
    retryAttempts: 5,
    signedOut: "close",
    tokenParams: (jwt, params) => ({ ...params, headers: { authorization: `Bearer ${jwt}` } }),
  });
  client.restart();
  // @ts-expect-error graphql-ws' own options are checked: retryAttempts is a number
  wrapGraphqlWs(auth, createClient, { url: "wss://x", retryAttempts: "many" });
  return client.subscribe({ query: "subscription { messages { id } }" }, { next() {}, error() {}, complete() {} });
}
