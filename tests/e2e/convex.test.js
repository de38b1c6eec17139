// End to end with parts nobody here wrote: the real `convex` browser client (ConvexClient 1.48),
// wrapped by authlane, in Chromium, against the devserver (a Convex-like sync endpoint that
// verifies tokens against its embedded issuer's JWKS and pushes identity-dependent results).
// The same scenarios run against the bare `convex` client with the same fetchAccessToken, in the
// same run, for BENCHMARKS.md (printed as `# ` lines).
//
// Time is compressed: 4 s tokens refreshed 2 s ahead, over 20 s (the README's 20 s tokens / 10 s
// leeway scaled by 1/5; the 2-minute soak by 1/6).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "../support/chromium.js";
import { startAppPage } from "./support/app-page.js";
import { buildOnce, startDevserver } from "./support/devserver.js";

const LIFETIME = 4;
const LEEWAY = 2;
const SOAK_MS = 20_000;
let browser;

before(async () => {
  buildOnce();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** A devserver and a page running one client (`mode`: "authlane" or "bare"). */
async function openApp(t, mode, { lifetime = LIFETIME, leeway = LEEWAY, badFirst = false, signedOutOperations } = {}) {
  const server = await startDevserver(["--token-lifetime", String(lifetime)]);
  t.after(() => server.stop());
  const { context, page, pageErrors, started, log } = await startAppPage(browser, `${server.origin}/e2e/index.html`, { mode, leewaySeconds: leeway, badFirst, signedOutOperations });
  return {
    server,
    page,
    pageErrors,
    started,
    log,
    firstResult: () => page.waitForFunction(() => window.log.results.length > 0, null, { timeout: 15_000 }),
    async close() {
      await context.close();
      await server.stop();
    },
  };
}

/** One socket's frames, as `out:Type` / `in:Type`, the query-adding ModifyQuerySet as `out:AddQuery`, an accepting Transition as `in:Accepted`. */
function framesOf(wire, socket) {
  return wire
    .filter((frame) => frame.socket === socket)
    .map((frame) => `${frame.dir}:${frame.adds > 0 ? "AddQuery" : frame.accepted ? "Accepted" : frame.type}`);
}

describe("convex ConvexClient + authlane against the devserver", () => {
  test(`${LIFETIME} s tokens over ${SOAK_MS / 1000} s: no unauthenticated result, no expired-token AuthError`, async (t) => {
    const apps = { authlane: await openApp(t, "authlane"), bare: await openApp(t, "bare") };
    try {
      await Promise.all(Object.values(apps).map((app) => app.firstResult()));
      await sleep(Math.max(0, SOAK_MS - (Date.now() - apps.authlane.started)));
      const report = {};
      for (const [mode, app] of Object.entries(apps)) {
        const log = await app.log();
        const stats = await app.server.stats();
        const seconds = (Date.now() - app.started) / 1000;
        report[mode] = { log, stats };
        console.log(`${mode === "bare" ? "bare convex    " : "authlane+convex"}: ${log.fetches.length} fetches in ${seconds.toFixed(1)} s ` +
          `= ${(log.fetches.length / (seconds / LIFETIME)).toFixed(2)} per ${LIFETIME} s token lifetime (leeway ${LEEWAY} s); ` +
          `auth rejections ${stats.authRejections}, expired-token AuthErrors ${stats.expiredSessionErrors}, ` +
          `unauthenticated results ${log.errors.filter((e) => e.includes("Unauthenticated")).length}, refresh-token reuse ${stats.reuseDetections}`);
      }
      const { log, stats } = report.authlane;
      assert.deepEqual(log.errors, [], "no Unauthenticated (or other) query errors");
      assert.ok(log.results.every((result) => result.viewer === "user_e2e"), JSON.stringify(log.results));
      assert.equal(stats.authRejections, 0, JSON.stringify(stats));
      assert.equal(stats.expiredSessionErrors, 0, "no AuthError caused by an expired token");
      assert.equal(stats.reuseDetections, 0);
      assert.ok(log.fetches.length >= SOAK_MS / 1000 / LIFETIME, `refreshed through the soak: ${log.fetches.length}`);
      assert.equal(await apps.authlane.page.evaluate(() => window.auth.getState().status), "authenticated");
      assert.equal(await apps.authlane.page.evaluate(() => window.send("hello").then(() => "sent")), "sent");
      await apps.authlane.page.waitForFunction(() => window.log.results.at(-1).count === 1);
      assert.deepEqual(apps.authlane.pageErrors, []);
    } finally {
      await Promise.all(Object.values(apps).map((app) => app.close()));
    }
  });

  test("a query released behind a rejected first token never runs: the server closes the socket at the token, and the query's first result is the user's", async (t) => {
    const app = await openApp(t, "authlane", { badFirst: true });
    try {
      await app.firstResult();
      const log = await app.log();
      const stats = await app.server.stats();
      const sockets = [...new Set(log.wire.map((frame) => frame.socket))].map((socket) => `socket ${socket}: ${framesOf(log.wire, socket).join(" ")}`).join("; ");
      assert.deepEqual(stats.rejectionsByReason, { AudienceMismatch: 1 }, `the first token was rejected, once: ${sockets}`);
      assert.equal(stats.authAccepted, 1);
      assert.equal(log.fetches.length, 2, "one forced refresh after the rejection");
      assert.equal(log.fetches[1].force, true);
      // The fault happened: the query went out right behind the refused token, on the same socket,
      // and the server closed it there (else this test proves nothing about what follows a refusal).
      // (An empty ModifyQuerySet may come between: convex sends one when the socket opens.)
      const first = framesOf(log.wire, 1);
      const afterToken = first.slice(first.indexOf("out:Authenticate"));
      const answered = afterToken.findIndex((frame) => frame.startsWith("in:"));
      const sent = afterToken.indexOf("out:AddQuery");
      assert.ok(sent > 0 && sent < answered, `the query went out behind the token: ${first.join(" ")}`);
      assert.deepEqual(afterToken.slice(answered).filter((frame) => frame.startsWith("in:")), ["in:AuthError"], `and the socket answered nothing else: ${first.join(" ")}`);
      assert.deepEqual(log.errors, [], "no query ran unauthenticated");
      assert.equal(log.results[0].viewer, "user_e2e", "the first result is already the signed-in user's");
      assert.ok(!log.authChanges.includes("unauthenticated"), log.authChanges.join(","));
      // Verbose mode explained the refusal against the providers config, without the token.
      const explained = log.verbose.filter((line) => line.includes("server refused the token"));
      assert.equal(explained.length, 1, log.verbose.join("\n"));
      assert.match(explained[0], /audience_mismatch: aud "someone-else" is not applicationID "convex"/);
      assert.ok(!log.verbose.some((line) => /eyJ[\w-]+\.[\w-]+\./.test(line)), "no verbose line holds a JWT");
    } finally {
      await app.close();
    }
  });

  test("expectAuth: the held query goes out right behind the token, one round trip as with convex's own; with signedOutOperations 'reject' only after the acceptance", async (t) => {
    const apps = { run: await openApp(t, "authlane"), reject: await openApp(t, "authlane", { signedOutOperations: "reject" }) };
    try {
      await Promise.all(Object.values(apps).map((app) => app.firstResult()));
      const frames = {};
      for (const [mode, app] of Object.entries(apps)) {
        const log = await app.log();
        assert.deepEqual(log.errors, []);
        assert.equal(log.results[0].viewer, "user_e2e");
        frames[mode] = framesOf(log.wire, 1);
        console.log(`# signedOutOperations ${mode}: the first socket's frames ${frames[mode].join(" ")}`);
        // Never ahead of the token, whichever the policy.
        assert.ok(frames[mode].indexOf("out:AddQuery") > frames[mode].indexOf("out:Authenticate"), frames[mode].join(" "));
      }
      // "run": the query is sent before anything comes back for the token.
      const afterToken = frames.run.slice(frames.run.indexOf("out:Authenticate") + 1);
      assert.equal(afterToken.find((frame) => frame.startsWith("in:")) !== undefined, true, frames.run.join(" "));
      assert.ok(afterToken.indexOf("out:AddQuery") < afterToken.findIndex((frame) => frame.startsWith("in:")), `sent behind the token: ${frames.run.join(" ")}`);
      // "reject": a refusal must be able to reject it, so it waits for the server's yes.
      assert.ok(frames.reject.indexOf("out:AddQuery") > frames.reject.indexOf("in:Accepted"), `held until accepted: ${frames.reject.join(" ")}`);
    } finally {
      await Promise.all(Object.values(apps).map((app) => app.close()));
    }
  });

  test("startup with a fresh token costs 1 fetch; a server-side key rotation (new kid) costs one forced refresh and recovers", async (t) => {
    // 30 s tokens, 10 s leeway: no scheduled refresh falls inside the window.
    const apps = { authlane: await openApp(t, "authlane", { lifetime: 30, leeway: 10 }), bare: await openApp(t, "bare", { lifetime: 30, leeway: 10 }) };
    try {
      await Promise.all(Object.values(apps).map((app) => app.firstResult()));
      await sleep(1500); // convex's own second startup fetch follows the confirmation at once
      const before = {};
      for (const [mode, app] of Object.entries(apps)) {
        before[mode] = (await app.log()).fetches.length;
        console.log(`${mode === "bare" ? "bare convex    " : "authlane+convex"}: startup with a fresh token cost ${before[mode]} fetch(es)`);
        await app.server.post("/debug/rotate-keys");
      }
      for (const app of Object.values(apps)) {
        for (let waited = 0; (await app.server.stats()).authAccepted < 2; waited += 100) {
          assert.ok(waited < 10_000, "re-authenticated within 10 s");
          await sleep(100);
        }
      }
      await sleep(1000);
      const after = {};
      for (const [mode, app] of Object.entries(apps)) after[mode] = await app.log();
      for (const mode of ["authlane", "bare"]) {
        const stats = await apps[mode].server.stats();
        console.log(`${mode === "bare" ? "bare convex    " : "authlane+convex"}: key rotation cost ${after[mode].fetches.length - before[mode]} fetch(es); ` +
          `UnknownKid AuthErrors ${stats.expiredSessionErrors}, rejections ${stats.authRejections}`);
      }
      assert.equal(before.authlane, 1, "authlane: startup with a fresh token costs 1 fetch");
      const log = after.authlane;
      assert.equal(log.fetches.length - before.authlane, 1, "exactly one forced refresh");
      assert.equal(log.fetches.at(-1).force, true);
      assert.deepEqual(log.errors, []);
      assert.equal(await apps.authlane.page.evaluate(() => window.send("after rotation").then(() => "sent")), "sent");
      await apps.authlane.page.waitForFunction(() => window.log.results.at(-1).count === 1 && window.log.results.at(-1).viewer === "user_e2e");
      assert.equal(await apps.authlane.page.evaluate(() => window.auth.getState().status), "authenticated");
    } finally {
      await Promise.all(Object.values(apps).map((app) => app.close()));
    }
  });
});
