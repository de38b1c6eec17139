// The smallest app a Vite dev server pre-bundles authlane for: one session over an in-page token.
// The page reports the status, and the error code if the session could not start.
import { createAuth } from "authlane";

const base64url = (value) => btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const iat = Math.floor(Date.now() / 1000);
const token = `${base64url({ alg: "RS256", typ: "JWT" })}.${base64url({ sub: "user_1", iat, exp: iat + 600 })}.unsigned`;

const auth = createAuth({ fetchAccessToken: async () => token, crossTab: false });
const show = () => {
  const { status, error } = auth.getState();
  document.getElementById("status").textContent = error ? `${status}:${error.code}` : status;
};
auth.subscribe(show);
window.auth = auth;
