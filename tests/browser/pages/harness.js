// Browser-test harness: exposes authlane, a fake Convex-like client and a token minter on window.
import * as authlane from "/pkg/dist/index.js";
import { FakeConvexClient } from "/tests/support/fake-convex.js";
import { mintJwt } from "/tests/support/fake-issuer.js";

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

// mint(lifetimeSeconds, options): a JWT-shaped token issued on the page clock, distinct every call.
window.harness = { authlane, FakeConvexClient, mint: mintJwt, scriptedFetcher };
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
