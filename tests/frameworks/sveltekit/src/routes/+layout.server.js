// Runs on the server for every request: the user's access-token cookie becomes the client
// session's `initialToken`, and the token endpoint's origin comes from the server's environment.
// A page carrying the user's token must never sit in a shared cache.
import { env } from "$env/dynamic/private";

export function load({ cookies, setHeaders }) {
  const initialToken = cookies.get("authlane_token") ?? null;
  if (initialToken) setHeaders({ "cache-control": "private, no-store" });
  return { initialToken, issuer: env.AUTHLANE_ISSUER };
}
