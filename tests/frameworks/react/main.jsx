// Browser entry: ?source=auth passes a session created here; otherwise the provider creates it from options.
import { StrictMode, version } from "react";
import { createRoot } from "react-dom/client";
import { createAuth } from "authlane";
import { App } from "./App.jsx";
import { createFakeConvexClient, createFakeIssuer, createProbe } from "../shared/fakes.js";

const issuer = createFakeIssuer({ lifetimeSeconds: 4 });
const options = { fetchAccessToken: issuer.fetchAccessToken, refreshLeewaySeconds: 2 };
const auth = new URLSearchParams(location.search).get("source") === "auth" ? createAuth(options) : undefined;
const convexClient = createFakeConvexClient();
const probe = createProbe();
// The tests read the client's auth changes as `convexClient.log`.
window.app = { issuer, convexClient: { log: convexClient.authChanges }, probe, reactVersion: version };

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <App auth={auth} options={options} issuer={issuer} convexClient={convexClient} probe={probe} />
  </StrictMode>,
);
