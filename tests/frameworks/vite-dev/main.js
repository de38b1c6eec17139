// The smallest app a Vite dev server pre-bundles authlane for: one session over the shared fake
// issuer's tokens. The page reports the status, and the error code if the session could not start.
import { createAuth } from "authlane";
import { mintJwt } from "../../support/fake-issuer.js";

const auth = createAuth({ fetchAccessToken: async () => mintJwt(600), crossTab: false });
const show = () => {
  const { status, error } = auth.getState();
  document.getElementById("status").textContent = error ? `${status}:${error.code}` : status;
};
auth.subscribe(show);
window.auth = auth;
