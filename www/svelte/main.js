// The Svelte demo: the in-page issuer and backend (www/shared/) under authlane/svelte.
import { mount } from "svelte";
import App from "./App.svelte";
import { createDemoBackend } from "../shared/backend.js";
import { createDemoIssuer } from "../shared/issuer.js";
import { createTimeline } from "../shared/timeline.js";

mount(App, {
  target: document.getElementById("root"),
  context: new Map([["demo", { issuer: createDemoIssuer(), backend: createDemoBackend(), timeline: createTimeline() }]]),
});
