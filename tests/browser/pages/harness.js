// Browser-test harness: exposes authlane, a fake Convex-like client and a token minter on window.
import * as authlane from "/pkg/dist/index.js";
import { FakeConvexClient } from "./fake-convex-client.js";

function base64url(text) {
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

let serial = 0;
/** An unsigned-looking JWT issued now (page clock) living `lifetimeSeconds`, with `extra` claims; distinct every call. */
function mint(lifetimeSeconds, { iatOffsetSeconds = 0, sub = "user_1", extra = {} } = {}) {
  const iat = Math.floor(Date.now() / 1000) + iatOffsetSeconds;
  const header = base64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "k1" }));
  const claims = base64url(JSON.stringify({ iss: "https://issuer.test", sub, aud: "convex", iat, exp: iat + lifetimeSeconds, jti: String(++serial), ...extra }));
  return `${header}.${claims}.sig${String(serial).padStart(6, "0")}`;
}

/** A scripted fetchAccessToken: each call takes the next answer (a function of the args). */
function scriptedFetcher(defaultAnswer) {
  const calls = [];
  const script = [];
  const fetchAccessToken = async (args) => {
    calls.push({ force: args.forceRefreshToken, at: Date.now() });
    const answer = script.length ? script.shift() : defaultAnswer;
    return answer(args);
  };
  return { fetchAccessToken, calls, script };
}

window.harness = { authlane, FakeConvexClient, mint, scriptedFetcher };
window.harnessReady = true;

/**
 * Resolves after every pending promise chain has run: a real macrotask (MessageChannel is not
 * faked by Playwright's clock), so tests wait on the event loop, not on time.
 */
window.harness.flush = () =>
  new Promise((done) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => done();
    channel.port2.postMessage(0);
  });
