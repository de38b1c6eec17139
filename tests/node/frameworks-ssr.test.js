// Server rendering with the framework bindings (Node, no window): importing `authlane`,
// `authlane/react` and `authlane/svelte` by package name (through the package's exports) and
// rendering the React and Svelte example apps to HTML must not throw, create no session, call no
// token source and start no timer. The apps render their loading UI, as a client's first render would.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { compile } from "svelte/compiler";

const root = fileURLToPath(new URL("../..", import.meta.url));
const frameworks = join(root, "tests/frameworks");
// Inside the repository, so the compiled apps resolve `authlane/*`, react and svelte from node_modules.
const out = join(frameworks, "out/ssr");

/** Records every timer started while `run` runs (setTimeout, setInterval, setImmediate). */
async function timersStartedBy(run) {
  const names = ["setTimeout", "setInterval", "setImmediate"];
  const originals = names.map((name) => globalThis[name]);
  const started = [];
  names.forEach((name, i) => {
    globalThis[name] = function (...args) {
      started.push(`${name}: ${new Error().stack.split("\n").slice(2, 4).join(" <- ")}`);
      return originals[i].apply(this, args);
    };
  });
  try {
    return { result: await run(), started };
  } finally {
    names.forEach((name, i) => (globalThis[name] = originals[i]));
  }
}

before(async () => {
  await rm(out, { recursive: true, force: true });
  await mkdir(join(out, "svelte"), { recursive: true });
  // The React app's JSX, bundled alone: every package import stays a bare import Node resolves.
  await build({
    entryPoints: [join(frameworks, "react/App.jsx")],
    bundle: true,
    packages: "external",
    format: "esm",
    platform: "node",
    jsx: "automatic",
    logLevel: "warning",
    outfile: join(out, "react-app.js"),
  });
  // The Svelte app's components, compiled for the server.
  for (const file of (await readdir(join(frameworks, "svelte"))).filter((f) => f.endsWith(".svelte"))) {
    const source = await readFile(join(frameworks, "svelte", file), "utf8");
    const { js } = compile(source, { filename: file, generate: "server" });
    await writeFile(join(out, "svelte", `${file}.js`), js.code.replace(/(from\s+["']\.\/[^"']+\.svelte)(["'])/g, "$1.js$2"));
  }
});

after(() => rm(out, { recursive: true, force: true }));

test("Node ESM resolves authlane, authlane/react and authlane/svelte through the exports map, and importing them starts no timer", async () => {
  assert.equal(typeof globalThis.window, "undefined");
  for (const [specifier, file] of [["authlane", "index.js"], ["authlane/react", "react.js"], ["authlane/svelte", "svelte.js"]]) {
    assert.equal(import.meta.resolve(specifier), pathToFileURL(join(root, "pkg/dist", file)).href);
  }
  const { result, started } = await timersStartedBy(async () => ({
    core: await import("authlane"),
    react: await import("authlane/react"),
    svelte: await import("authlane/svelte"),
  }));
  assert.deepEqual(started, []);
  assert.equal(typeof result.core.createAuth, "function");
  assert.deepEqual(
    Object.keys(result.react).sort(),
    ["AuthLoading", "Authenticated", "AuthlaneProvider", "Unauthenticated", "useAuthFromAuthlane", "useAuthlane"],
  );
  assert.deepEqual(Object.keys(result.svelte).sort(), ["getAuthlane", "setupAuthlane"]);
});

test("the React example app renders to a string on the server: loading, no fetch, no timer", async () => {
  const { createElement } = await import("react");
  const { renderToString } = await import("react-dom/server");
  const { createAuth } = await import("authlane");
  const { createFakeConvexClient, createFakeIssuer, createProbe } = await import(pathToFileURL(join(frameworks, "shared/fakes.js")).href);
  const { result: pages, started } = await timersStartedBy(async () => {
    const { App } = await import(pathToFileURL(join(out, "react-app.js")).href);
    const render = (source) => {
      const issuer = createFakeIssuer();
      const options = { fetchAccessToken: issuer.fetchAccessToken };
      const auth = source === "auth" ? createAuth(options) : undefined;
      const probe = createProbe();
      const html = renderToString(
        createElement(App, { auth, options, issuer, probe, convexClient: createFakeConvexClient() }),
      );
      auth?.dispose();
      return { html, issuer, probe };
    };
    return [render("options"), render("auth")];
  });
  assert.deepEqual(started, []);
  for (const { html, issuer, probe } of pages) {
    assert.match(html, /<span id="status">loading<\/span>/);
    assert.match(html, /<span id="convex-status">loading<\/span>/);
    assert.match(html, /id="loading"/);
    assert.doesNotMatch(html, /id="signed-(in|out)"/);
    assert.equal(issuer.calls.length, 0);
    assert.deepEqual(probe.renders, { loading: 1, authenticated: 0, unauthenticated: 0 });
  }
});

test("the Svelte example app renders on the server: loading, no session, no fetch, no timer", async () => {
  const { render } = await import("svelte/server");
  const { createAuth } = await import("authlane");
  const { createFakeIssuer, createProbe } = await import(pathToFileURL(join(frameworks, "shared/fakes.js")).href);
  const { result: pages, started } = await timersStartedBy(async () => {
    const { default: App } = await import(pathToFileURL(join(out, "svelte/App.svelte.js")).href);
    const renderWith = (source) => {
      const issuer = createFakeIssuer();
      const options = { fetchAccessToken: issuer.fetchAccessToken };
      const auth = source === "auth" ? createAuth(options) : undefined;
      const probe = createProbe();
      const { body } = render(App, { context: new Map([["example", { issuer, options, auth, probe }]]) });
      auth?.dispose();
      return { body, issuer, probe, source };
    };
    return [renderWith("options"), renderWith("auth")];
  });
  assert.deepEqual(started, []);
  for (const { body, issuer, probe, source } of pages) {
    assert.match(body, /<span id="status">loading<\/span>/);
    assert.match(body, /<span id="store-status">loading<\/span>/);
    assert.match(body, /id="loading"/);
    assert.doesNotMatch(body, /id="signed-(in|out)"/);
    assert.equal(issuer.calls.length, 0);
    assert.deepEqual(probe.renders, { loading: 1, authenticated: 0, unauthenticated: 0 });
    assert.equal(probe.sessions.length, source === "auth" ? 1 : 0, "setupAuthlane creates nothing on the server");
  }
});

test("the React hooks and gates outside <AuthlaneProvider> fail with a clear error", async () => {
  const { createElement } = await import("react");
  const { renderToString } = await import("react-dom/server");
  const { Authenticated, useAuthlane } = await import("authlane/react");
  const Orphan = () => (useAuthlane(), null);
  assert.throws(() => renderToString(createElement(Orphan)), /useAuthlane\(\) must be used inside <AuthlaneProvider>/);
  assert.throws(() => renderToString(createElement(Authenticated, null, "x")), /must be used inside <AuthlaneProvider>/);
});
