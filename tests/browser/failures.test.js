// The unhappy paths at the wasm boundary, in Chromium: a module that cannot load (404, a dev
// server's HTML page, a CSP without 'wasm-unsafe-eval'), a module that traps, oversized strings
// from the callback, storage and peers, and app code that throws. Pages are served under
// /variant/<kind>/ (see pages/failures.js) so each can break the wasm beside the bundle its own way.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { launchChromium } from "../support/chromium.js";
import { startStaticServer } from "../support/static-server.js";

const repo = (path) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const TYPES = { html: "text/html; charset=utf-8", js: "text/javascript; charset=utf-8", wasm: "application/wasm" };

/** /variant/<kind>/dist/… is the built package, /variant/<kind>/… the test pages; <kind> breaks the wasm. */
async function serveVariant(request, response) {
  const match = /^\/variant\/(ok|missing|html|csp)\/(.*)$/.exec(new URL(request.url, "http://x").pathname);
  if (!match) return false;
  const [, kind, rest] = match;
  const extension = rest.split(".").pop();
  const headers = { "content-type": TYPES[extension] ?? "application/octet-stream", "cache-control": "no-store" };
  // script-src without 'wasm-unsafe-eval': scripts run, WebAssembly does not compile.
  if (kind === "csp" && extension === "html") headers["content-security-policy"] = "script-src 'self'";
  if (rest === "dist/authlane_bg.wasm" && kind === "missing") {
    response.writeHead(404, { "content-type": "text/plain" }).end("not found");
    return true;
  }
  if (rest === "dist/authlane_bg.wasm" && kind === "html") {
    // What a single-page-app dev server answers for a file it does not have.
    response.writeHead(200, { ...headers, "content-type": "text/html" }).end("<!doctype html><div id=app></div>");
    return true;
  }
  try {
    const body = await readFile(repo(rest.startsWith("dist/") ? `pkg/${rest}` : `tests/browser/pages/${rest}`));
    response.writeHead(200, headers).end(body);
  } catch {
    response.writeHead(404).end("not found");
  }
  return true;
}

let browser;
let server;

before(async () => {
  server = await startStaticServer([], { api: serveVariant });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh page of the given variant; authlane's console.errors are collected. */
async function open(kind, { instrument = false } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const authlaneErrors = [];
  const pageErrors = [];
  page.on("console", (message) => {
    if (message.type() === "error" && message.text().startsWith("[authlane]")) authlaneErrors.push(message.text());
  });
  page.on("pageerror", (error) => pageErrors.push(error));
  await page.goto(`${server.origin}/variant/${kind}/failures.html${instrument ? "?instrument" : ""}`);
  await page.waitForFunction(() => window.harnessReady === true);
  return { page, authlaneErrors, pageErrors, close: () => context.close() };
}

/**
 * With the module failing to load: a getToken made before the failure, one after, a held
 * operation (expectAuth) and a signOut all settle with wasm_load_failed, and the state says so.
 */
async function loadFailureScenario(page) {
  return page.evaluate(async () => {
    const { authlane, heldFetcher, confirmingClient, outcome } = window.harness;
    const started = performance.now();
    const fetcher = heldFetcher();
    const auth = authlane.createAuth({ fetchAccessToken: fetcher.fetchAccessToken, expectAuth: true, crossTab: false });
    const wrapped = auth.wrap(confirmingClient());
    const early = outcome(auth.getToken());
    const held = outcome(wrapped.query("messages:list", {}));
    const ready = await outcome(auth.ready);
    const settledAfterMs = performance.now() - started;
    const later = await outcome(auth.getToken());
    const laterHeld = await outcome(wrapped.query("messages:list", {}));
    const signOut = await outcome(auth.signOut());
    const state = auth.getState();
    auth.dispose();
    return {
      ready,
      early: await early,
      held: await held,
      later,
      laterHeld,
      signOut,
      settledAfterMs,
      state: { status: state.status, code: state.error?.code ?? null, message: state.error?.message ?? null },
      fetches: fetcher.calls,
    };
  });
}

function assertLoadFailure(result) {
  for (const call of ["ready", "early", "held", "later", "laterHeld", "signOut"]) {
    assert.equal(result[call].ok, false, `${call} settles as a failure`);
    assert.equal(result[call].code, "wasm_load_failed", `${call}: ${result[call].message}`);
  }
  assert.equal(result.state.status, "unauthenticated");
  assert.equal(result.state.code, "wasm_load_failed", "the state carries the error: not an ordinary sign-out");
  assert.equal(result.fetches, 0);
  assert.ok(result.settledAfterMs < 1000, `settled after ${result.settledAfterMs} ms`);
}

describe("a module that cannot load settles everything with wasm_load_failed and says why once", () => {
  test("a 404", { timeout: 30_000 }, async (t) => {
    const h = await open("missing");
    t.after(h.close);
    const result = await loadFailureScenario(h.page);
    assertLoadFailure(result);
    console.log(`404: settled in ${result.settledAfterMs.toFixed(0)} ms; ${h.authlaneErrors[0]}`);
    assert.equal(h.authlaneErrors.length, 1, h.authlaneErrors.join("\n"));
    assert.match(h.authlaneErrors[0], /authlane_bg\.wasm answered 404/);
    assert.match(result.state.message, /answered 404/);
  });

  test("a dev server's HTML page where the wasm should be", { timeout: 30_000 }, async (t) => {
    const h = await open("html");
    t.after(h.close);
    const result = await loadFailureScenario(h.page);
    assertLoadFailure(result);
    console.log(`text/html: settled in ${result.settledAfterMs.toFixed(0)} ms; ${h.authlaneErrors[0]}`);
    assert.equal(h.authlaneErrors.length, 1, h.authlaneErrors.join("\n"));
    assert.match(h.authlaneErrors[0], /came back as text\/html: a dev server did not find authlane_bg\.wasm beside the script/);
  });

  test("a Content-Security-Policy without 'wasm-unsafe-eval'", { timeout: 30_000 }, async (t) => {
    const h = await open("csp");
    t.after(h.close);
    // The fault happens: this page's CSP refuses to compile any WebAssembly.
    const blocked = await h.page.evaluate(() =>
      WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])).then(() => "compiled", (error) => error.message),
    );
    assert.match(blocked, /unsafe-eval|Content Security Policy/i);
    const result = await loadFailureScenario(h.page);
    assertLoadFailure(result);
    console.log(`CSP: settled in ${result.settledAfterMs.toFixed(0)} ms; ${h.authlaneErrors[0]}`);
    assert.equal(h.authlaneErrors.length, 1, h.authlaneErrors.join("\n"));
    assert.match(h.authlaneErrors[0], /Content-Security-Policy does not allow WebAssembly: add 'wasm-unsafe-eval'/);
  });
});

describe("a trap in the module fails every session on the page with internal_error", () => {
  /** Two sessions share the module; one has a held operation and a pending getToken, the other a pending getToken. */
  async function twoSessions(page) {
    await page.evaluate(async () => {
      const { authlane, heldFetcher, confirmingClient, flush } = window.harness;
      const make = (name) => {
        const fetcher = heldFetcher();
        const statuses = [];
        const auth = authlane.createAuth({ fetchAccessToken: fetcher.fetchAccessToken, expectAuth: true, crossTab: { name } });
        auth.subscribe(() => statuses.push(auth.getState().status));
        return { auth, fetcher, statuses };
      };
      const first = make("first");
      const second = make("second");
      await Promise.all([first.auth.ready, second.auth.ready]);
      await flush();
      first.wrapped = first.auth.wrap(confirmingClient());
      window.s = { first, second };
    });
  }

  async function observe(page, settle) {
    return page.evaluate(async (settle) => {
      const { outcome, flush } = window.harness;
      const { first, second } = window.s;
      const held = outcome(first.wrapped.query("messages:list", {}));
      const firstToken = outcome(first.auth.getToken());
      const secondToken = outcome(second.auth.getToken());
      await flush();
      const callsBefore = window.instrument.callsAfterTrap;
      const started = performance.now();
      window.instrument.trapNextCall();
      if (settle === "call") {
        // A call from JavaScript into the module traps.
        first.auth.signOut().catch(() => {});
      } else {
        // A callback from the event loop traps: the fetch's promise settles into the module.
        for (const answer of first.fetcher.pending.splice(0)) answer(window.harness.mint());
      }
      const results = { held: await held, firstToken: await firstToken, secondToken: await secondToken };
      const settledAfterMs = performance.now() - started;
      const later = await outcome(second.auth.getToken());
      let disposeThrew = null;
      try {
        first.auth.dispose();
        second.auth.dispose();
      } catch (error) {
        disposeThrew = String(error);
      }
      const state = (auth) => ({ status: auth.getState().status, code: auth.getState().error?.code ?? null });
      return {
        ...results,
        later,
        settledAfterMs,
        disposeThrew,
        trapsThrown: window.instrument.callsAfterTrap - callsBefore,
        firstState: state(first.auth),
        secondState: state(second.auth),
        firstStatuses: first.statuses,
        secondStatuses: second.statuses,
      };
    }, settle);
  }

  function assertTrapped(result) {
    assert.ok(result.trapsThrown >= 1, "the injected trap happened");
    for (const call of ["held", "firstToken", "secondToken", "later"]) {
      assert.equal(result[call].ok, false, `${call} settles as a failure`);
      assert.equal(result[call].code, "internal_error", `${call}: ${result[call].message}`);
    }
    assert.deepEqual(result.firstState, { status: "unauthenticated", code: "internal_error" });
    assert.deepEqual(result.secondState, { status: "unauthenticated", code: "internal_error" });
    assert.deepEqual(result.secondStatuses, ["unauthenticated"], "the other session is told too");
    assert.equal(result.disposeThrew, null, "dispose() still works");
    assert.ok(result.settledAfterMs < 1000, `settled after ${result.settledAfterMs} ms`);
  }

  const WHERE = [
    ["call", "a trap in a call from JavaScript"],
    ["event", "a trap in a callback from the event loop (a settled fetch)"],
  ];
  for (const [where, name] of WHERE) {
    test(name, { timeout: 30_000 }, async (t) => {
      const h = await open("ok", { instrument: true });
      t.after(h.close);
      await twoSessions(h.page);
      const result = await observe(h.page, where);
      assertTrapped(result);
      console.log(`${name}: settled in ${result.settledAfterMs.toFixed(1)} ms; ${h.authlaneErrors[0]}`);
      assert.equal(h.authlaneErrors.length, 1, h.authlaneErrors.join("\n"));
      assert.match(h.authlaneErrors[0], /trapped \(unreachable \(test-injected trap\)\)/);
    });
  }
});

describe("strings are measured before they enter the module", () => {
  test("a 100 MB token from fetchAccessToken is malformed_token and does not grow the module's memory", { timeout: 30_000 }, async (t) => {
    const h = await open("ok", { instrument: true });
    t.after(h.close);
    const result = await h.page.evaluate(async () => {
      const { authlane, until, flush } = window.harness;
      const huge = "a".repeat(100 * 1024 * 1024);
      const traces = [];
      let before = null;
      const fetchAccessToken = async () => {
        before = window.instrument.memory.buffer.byteLength;
        return huge;
      };
      const auth = authlane.createAuth({ fetchAccessToken, crossTab: false, onTrace: (event) => traces.push(event) });
      await until(() => traces.some((e) => e.kind === "fetch_failed"), "the fetch to fail");
      await flush();
      const afterBytes = window.instrument.memory.buffer.byteLength;
      auth.dispose();
      return { before, after: afterBytes, length: huge.length, failures: traces.filter((e) => e.kind === "fetch_failed").map((e) => e.code) };
    });
    console.log(`100 MB token: wasm memory ${result.before} → ${result.after} bytes`);
    assert.equal(result.length, 100 * 1024 * 1024);
    assert.equal(result.failures[0], "malformed_token");
    assert.equal(result.after, result.before, "the module's memory did not grow");
  });

  test("a 20 MB stored record and a 40 MB peer message are ignored without growing the memory", { timeout: 30_000 }, async (t) => {
    const h = await open("ok", { instrument: true });
    t.after(h.close);
    const result = await h.page.evaluate(async () => {
      const { authlane, mint, outcome, flush } = window.harness;
      const record = "{".repeat(20 * 1024 * 1024);
      let reads = 0;
      let before = null;
      const storage = {
        getItem: () => {
          reads++;
          before = window.instrument.memory.buffer.byteLength;
          return record;
        },
        setItem() {},
        removeItem() {},
      };
      let fetches = 0;
      const auth = authlane.createAuth({ fetchAccessToken: async () => (fetches++, mint()), crossTab: { name: "big" }, storage });
      await auth.getToken();
      const afterRecord = window.instrument.memory.buffer.byteLength;
      // Twice the record: memory freed after the record cannot hide a copy of the message.
      const huge = "{".repeat(40 * 1024 * 1024);
      // A peer's message on the app's channel: a second channel object sees it delivered too.
      const witness = new BroadcastChannel("authlane:big");
      const delivered = new Promise((done) => (witness.onmessage = (event) => done(event.data.length)));
      const peer = new BroadcastChannel("authlane:big");
      peer.postMessage(huge);
      const deliveredLength = (await outcome(delivered)).value;
      peer.close();
      await flush();
      const afterBytes = window.instrument.memory.buffer.byteLength;
      const status = auth.getState().status;
      witness.close();
      auth.dispose();
      return { before, afterRecord, after: afterBytes, reads, fetches, deliveredLength, status };
    });
    console.log(`20 MB record, 40 MB message: wasm memory ${result.before} → ${result.afterRecord} → ${result.after} bytes`);
    assert.equal(result.reads, 1, "the oversized record was read");
    assert.equal(result.deliveredLength, 40 * 1024 * 1024, "the oversized message was delivered");
    assert.equal(result.fetches, 1, "the session fetched its own token instead");
    assert.equal(result.status, "authenticated");
    assert.equal(result.afterRecord, result.before, "the stored record did not grow the module's memory");
    assert.equal(result.after, result.before, "the peer message did not grow the module's memory");
  });
});

describe("app code that throws is reported once and stops nothing", () => {
  test("throwing listeners, onTrace, verbose sink and a wrapped client's setAuth/clearAuth", { timeout: 30_000 }, async (t) => {
    const h = await open("ok");
    t.after(h.close);
    const result = await h.page.evaluate(async () => {
      const { authlane, mint, confirmingClient, until, flush } = window.harness;
      const boom = (what) => () => {
        throw new Error(`${what} broke`);
      };
      let fetches = 0;
      const auth = authlane.createAuth({
        fetchAccessToken: async () => (fetches++, mint(60, `user_${fetches}`)),
        crossTab: false,
        onTrace: boom("onTrace"),
        verbose: boom("verbose"),
      });
      const seen = [];
      auth.subscribe(boom("first listener"));
      auth.subscribe(() => seen.push(auth.getState().status));
      auth.subscribe(boom("third listener"));
      const client = confirmingClient();
      const setAuth = client.setAuth;
      client.setAuth = (...args) => {
        // The first call is auth.wrap's own; later pushes (a new token) throw.
        if (client.setAuthCalls > 0) {
          client.setAuthCalls++;
          throw new Error("setAuth broke");
        }
        return setAuth(...args);
      };
      client.clearAuth = () => {
        client.clearAuthCalls++;
        throw new Error("clearAuth broke");
      };
      auth.wrap(client);
      await auth.ready;
      await until(() => auth.getState().status === "authenticated", "authenticated");
      await auth.getToken({ forceRefresh: true }); // a new identity: listeners and setAuth are called again
      await flush();
      const afterRefresh = auth.getState().claims?.sub;
      await auth.signOut();
      await flush();
      return { seen, afterRefresh, final: auth.getState().status, setAuthCalls: client.setAuthCalls, clearAuthCalls: client.clearAuthCalls };
    });
    assert.deepEqual(result.seen, ["authenticated", "authenticated", "unauthenticated"], "every state change reached the listener between two throwing ones");
    assert.equal(result.afterRefresh, "user_2");
    assert.equal(result.final, "unauthenticated");
    assert.ok(result.setAuthCalls >= 2, "a refreshed token was pushed to the client (and its setAuth threw)");
    assert.equal(result.clearAuthCalls, 1, "sign-out cleared the client (and its clearAuth threw)");
    const sources = h.authlaneErrors.map((line) => /^\[authlane\] (.*?) threw/.exec(line)?.[1]).sort();
    console.log(`reported: ${sources.join("; ")}`);
    assert.deepEqual(sources, ["a subscribe listener", "a wrapped client's setAuth or clearAuth", "onTrace", "the verbose sink"], "each source reported once");
    assert.deepEqual(h.pageErrors, []);
  });
});
