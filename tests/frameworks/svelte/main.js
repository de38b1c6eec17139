// Browser entry: ?source=auth passes setupAuthlane a session created here; otherwise it creates one from options.
import { mount } from "svelte";
import { createAuth } from "authlane";
import App from "./App.svelte";
import { createFakeIssuer, createProbe } from "../shared/fakes.js";

const issuer = createFakeIssuer({ lifetimeSeconds: 4 });
const options = { fetchAccessToken: issuer.fetchAccessToken, refreshLeewaySeconds: 2 };
const auth = new URLSearchParams(location.search).get("source") === "auth" ? createAuth(options) : undefined;
const probe = createProbe();
window.app = { issuer, probe };

mount(App, { target: document.getElementById("root"), context: new Map([["example", { issuer, options, auth, probe }]]) });
