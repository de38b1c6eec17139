// Failure harness: served under /variant/<kind>/ so that the package's wasm, fetched from beside
// ./dist/index.js, can be missing, an HTML page, or blocked by the page's CSP (see
// tests/browser/failures.test.js). It also instruments the module (below) for the trap and memory
// tests; nothing here ships.
import * as authlane from "./dist/index.js";

/**
 * The module's instance, seen by wrapping WebAssembly.instantiate*: its memory (to measure), and
 * its exports replaced by wrappers so a test can make the module trap. `trapNextCall()` makes the
 * next call into the module throw WebAssembly.RuntimeError, and every call after it too: that is
 * what a real trap leaves behind (a Rust RefCell still borrowed, so every later entry traps).
 */
const instrument = { memory: null, trapped: false, armed: false, callsAfterTrap: 0 };
window.instrument = instrument;
instrument.trapNextCall = () => {
  instrument.armed = true;
};

function wrapExports(exports) {
  const wrapped = {};
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value !== "function") {
      wrapped[name] = value;
      continue;
    }
    wrapped[name] = function (...args) {
      if (instrument.armed) {
        instrument.armed = false;
        instrument.trapped = true;
      }
      if (instrument.trapped) {
        instrument.callsAfterTrap++;
        throw new WebAssembly.RuntimeError("unreachable (test-injected trap)");
      }
      return value.apply(this, args);
    };
  }
  instrument.memory = exports.memory;
  return wrapped;
}

function instrumented(result) {
  const instance = result instanceof WebAssembly.Instance ? result : result.instance;
  // Still an Instance to `instanceof` (the glue checks it when it instantiates a compiled module).
  const fake = Object.setPrototypeOf({ exports: wrapExports(instance.exports) }, WebAssembly.Instance.prototype);
  return result instanceof WebAssembly.Instance ? fake : { instance: fake, module: result.module };
}

if (new URLSearchParams(location.search).has("instrument")) {
  const streaming = WebAssembly.instantiateStreaming;
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiateStreaming = (...args) => streaming.apply(WebAssembly, args).then(instrumented);
  WebAssembly.instantiate = (...args) => instantiate.apply(WebAssembly, args).then(instrumented);
}

function base64url(text) {
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

let serial = 0;
/** An unsigned-looking JWT issued now, living `lifetimeSeconds`. */
function mint(lifetimeSeconds = 60, sub = "user_1") {
  const iat = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: "RS256", typ: "JWT" }));
  const claims = base64url(JSON.stringify({ iss: "https://issuer.test", sub, aud: "convex", iat, exp: iat + lifetimeSeconds, jti: String(++serial) }));
  return `${header}.${claims}.sig${serial}`;
}

/** A fetchAccessToken whose calls wait until the test answers them. */
function heldFetcher() {
  const pending = [];
  let calls = 0;
  return {
    pending,
    get calls() {
      return calls;
    },
    fetchAccessToken: () => {
      calls++;
      return new Promise((resolve) => pending.push(resolve));
    },
  };
}

/** A minimal Convex-like client that confirms every token it is given. */
function confirmingClient() {
  const client = {
    setAuthCalls: 0,
    clearAuthCalls: 0,
    setAuth(fetchToken, onChange) {
      client.setAuthCalls++;
      void fetchToken({ forceRefreshToken: false }).then((token) => onChange?.(token != null));
    },
    clearAuth() {
      client.clearAuthCalls++;
    },
    query: async () => "ran",
  };
  return client;
}

/**
 * Settles a promise into a plain record: fulfilled value or the error's code. One still pending
 * after 3 s is recorded as such, so a test that would hang fails instead.
 */
async function outcome(promise, ms = 3000) {
  let timer;
  const deadline = new Promise((done) => (timer = setTimeout(() => done({ ok: false, code: `still pending after ${ms} ms` }), ms)));
  const settled = Promise.resolve(promise).then(
    (value) => ({ ok: true, value }),
    (error) => ({ ok: false, code: error?.code ?? String(error), message: error?.message }),
  );
  try {
    return await Promise.race([settled, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when `condition()` holds, checking after every macrotask; rejects after 3 s. */
async function until(condition, what, ms = 3000) {
  const end = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 1));
  }
}

/** A real macrotask, so pending promise chains have run. */
const flush = () =>
  new Promise((done) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => done();
    channel.port2.postMessage(0);
  });

window.harness = { authlane, mint, heldFetcher, confirmingClient, outcome, until, flush };
window.harnessReady = true;
