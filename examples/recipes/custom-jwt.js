// Your own backend's JWT → authlane. A route of yours, behind your session cookie, signs a JWT
// (e.g. with jose): header kid, alg, typ; claims iss, sub, aud, iat, exp.
// Convex auth.config: { type: "customJwt", issuer: "https://api.example.com", algorithm: "RS256",
//   jwks: "https://api.example.com/.well-known/jwks.json", applicationID: "my-convex-app" }.
// Forced or not, each call asks the route for a newly signed token (no-store keeps the HTTP
// cache out of it); authlane keeps the token and calls only when a fresh one is due.
export function customJwtFetchAccessToken({ url }) {
  return async () => {
    const response = await fetch(url, { method: "POST", credentials: "include", cache: "no-store" });
    if (response.status === 401) return null; // no session: signed out
    if (!response.ok) throw new Error(`${url} answered ${response.status}`); // retried
    return (await response.json()).token;
  };
}
