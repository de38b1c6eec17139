// The convex.test.js scenarios with a real external issuer: oidc-provider (npm, v9) in this process
// on 127.0.0.1, and the devserver started with `--auth-config` whose only provider is it
// (`{domain: issuer, applicationID: clientId}`, keys found through OIDC discovery; the embedded
// issuer is off). Each page signs in through oidc-provider's own login and consent pages
// (authorization code + PKCE, offline_access), keeps the refresh token in localStorage, and its
// fetchAccessToken spends it with the refresh_token grant — rotation and reuse detection on — and
// hands the ID token (aud = client id) to the real `convex` ConvexClient wrapped by authlane.
//
// Why the ID token: it is what Convex's OIDC providers verify (iss = domain, aud = applicationID =
// the client id), and oidc-provider issues a fresh one on every refresh_token grant of an openid
// grant. A JWT access token would need resource indicators and a resource server just to make the
// same claims. Time is compressed as in convex.test.js: 4 s ID tokens refreshed 2 s ahead, 20 s.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromium } from "../support/chromium.js";
import { buildOnce, startDevserver } from "./support/devserver.js";
import { startOidcIssuer } from "./support/oidc-issuer.js";

const LIFETIME = 4;
const LEEWAY = 2;
const SOAK_MS = 20_000;
const STORAGE_KEY = "e2e.refresh_token";
let browser;
let oidc;
let configDir;
let clients = 0;

before(async () => {
  buildOnce();
  browser = await launchChromium();
  oidc = await startOidcIssuer();
  configDir = mkdtempSync(join(tmpdir(), "authlane-oidc-"));
});

after(async () => {
  await browser?.close();
  await oidc?.close();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const label = (mode) => (mode === "bare" ? "bare convex    " : "authlane+convex");

/** Signs in through oidc-provider's dev interactions in `page` and redeems the code in the page. */
async function signIn(page, { clientId, redirectUri }) {
  const request = oidc.authorizationRequest({ clientId, redirectUri });
  await page.goto(request.url);
  if (await page.locator("input[name=login]").count()) {
    await page.fill("input[name=login]", "user_e2e");
    await page.fill("input[name=password]", "any");
    await page.click("button[type=submit]");
  } // else: signed in at the provider already (its session cookie), only the consent page is left
  await page.waitForSelector("input[name=prompt][value=consent]", { state: "attached" });
  await page.click("button[type=submit]");
  await page.waitForURL((url) => url.href.startsWith(redirectUri) && url.searchParams.has("code"));
  await page.waitForFunction(() => typeof window.redeemCode === "function");
  return page.evaluate((options) => window.redeemCode(options), {
    tokenEndpoint: oidc.tokenEndpoint, clientId, redirectUri, verifier: request.verifier, state: request.state, storageKey: STORAGE_KEY,
  });
}

/** A devserver trusting only oidc-provider, a client of its own, and a signed-in page running `mode`. */
async function openApp(t, mode, { lifetime = LIFETIME, leeway = LEEWAY, badFirst = false } = {}) {
  const clientId = `authlane-e2e-${++clients}-${mode}`;
  const config = join(configDir, `${clientId}.json`);
  writeFileSync(config, JSON.stringify({ providers: [{ domain: oidc.issuer, applicationID: clientId }] }));
  const server = await startDevserver(["--auth-config", config, "--no-embedded-issuer"]);
  t.after(() => server.stop());
  const redirectUri = `${server.origin}/e2e/index.html`;
  await oidc.addClient({ clientId, redirectUri, tokenTtl: lifetime });
  const context = await browser.newContext();
  const pageErrors = [];
  let page, firstRefreshToken, started;
  try {
    // oidc-provider's dev pages import a web font; nothing leaves 127.0.0.1.
    await context.route((url) => url.hostname !== "127.0.0.1", (route) => route.abort());
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    if (badFirst === "other-client") {
      // A real ID token from oidc-provider, but for another client of it (aud is not this app's).
      const otherId = `${clientId}-other`;
      await oidc.addClient({ clientId: otherId, redirectUri, tokenTtl: 60 });
      badFirst = { token: (await signIn(page, { clientId: otherId, redirectUri })).idToken };
      await page.evaluate((key) => localStorage.removeItem(key), STORAGE_KEY);
    }
    const signedIn = await signIn(page, { clientId, redirectUri });
    firstRefreshToken = signedIn.refreshToken;
    assert.deepEqual(signedIn.scope.split(" ").sort(), ["offline_access", "openid"]);
    started = Date.now();
    await page.evaluate((options) => window.startApp(options), {
      mode,
      leewaySeconds: leeway,
      badFirst,
      issuer: { tokenEndpoint: oidc.tokenEndpoint, clientId, pickToken: "id_token", storageKey: STORAGE_KEY },
    });
  } catch (error) {
    await context.close();
    await server.stop();
    throw error;
  }
  return {
    clientId,
    server,
    page,
    pageErrors,
    started,
    firstRefreshToken,
    issuerStats: () => oidc.stats(clientId),
    log: () => page.evaluate(() => structuredClone(window.log)),
    firstResult: () => page.waitForFunction(() => window.log.results.length > 0, null, { timeout: 15_000 }),
    async close() {
      await context.close();
      await server.stop();
    },
  };
}

/** A refresh_token grant from node (outside the page), as a thief or a stale tab would send it. */
async function refreshOutside(clientId, refreshToken) {
  const response = await fetch(oidc.tokenEndpoint, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId }),
  });
  return { status: response.status, body: await response.json() };
}

describe("convex ConvexClient + authlane against the devserver, oidc-provider as the issuer", () => {
  test(`${LIFETIME} s ID tokens over ${SOAK_MS / 1000} s: no unauthenticated result, no expired-token AuthError, no refresh-token reuse`, async (t) => {
    const apps = { authlane: await openApp(t, "authlane"), bare: await openApp(t, "bare") };
    try {
      await Promise.all(Object.values(apps).map((app) => app.firstResult()));
      await sleep(Math.max(0, SOAK_MS - (Date.now() - apps.authlane.started)));
      const report = {};
      for (const [mode, app] of Object.entries(apps)) {
        const log = await app.log();
        const stats = await app.server.stats();
        const issued = app.issuerStats();
        const seconds = (Date.now() - app.started) / 1000;
        report[mode] = { log, stats, issued };
        console.log(`${label(mode)}: ${log.fetches.length} fetches in ${seconds.toFixed(1)} s ` +
          `= ${(log.fetches.length / (seconds / LIFETIME)).toFixed(2)} per ${LIFETIME} s ID-token lifetime (leeway ${LEEWAY} s); ` +
          `oidc-provider refresh grants ${issued.refreshes}, reuse detections ${issued.reuseDetections}, grants revoked ${issued.grantsRevoked}; ` +
          `auth rejections ${stats.authRejections}, expired-token AuthErrors ${stats.expiredSessionErrors}, ` +
          `unauthenticated results ${log.errors.filter((e) => e.includes("Unauthenticated")).length}`);
      }
      const { log, stats, issued } = report.authlane;
      assert.deepEqual(log.errors, [], "no Unauthenticated (or other) query errors");
      assert.ok(log.results.every((result) => result.viewer === "user_e2e"), JSON.stringify(log.results));
      assert.equal(stats.authRejections, 0, JSON.stringify(stats));
      assert.equal(stats.expiredSessionErrors, 0, "no AuthError caused by an expired token");
      assert.equal(issued.reuseDetections, 0, "no refresh token was presented twice");
      assert.equal(issued.grantsRevoked, 0);
      assert.deepEqual(log.fetchFailures, []);
      // Every fetch was one refresh_token grant (±1: one may be in flight while both are read).
      assert.ok(Math.abs(issued.refreshes - log.fetches.length) <= 1, `${issued.refreshes} grants, ${log.fetches.length} fetches`);
      assert.ok(log.fetches.length >= SOAK_MS / 1000 / LIFETIME, `refreshed through the soak: ${log.fetches.length}`);
      assert.equal(await apps.authlane.page.evaluate(() => window.auth.getState().status), "authenticated");
      assert.equal(await apps.authlane.page.evaluate(() => window.send("hello").then(() => "sent")), "sent");
      await apps.authlane.page.waitForFunction(() => window.log.results.at(-1).count === 1);
      assert.deepEqual(apps.authlane.pageErrors, []);

      // Reuse detection is on: the first (long rotated) refresh token presented again revokes the
      // grant, and with it the refresh token the page holds now.
      const app = apps.authlane;
      const replay = await refreshOutside(app.clientId, app.firstRefreshToken);
      assert.equal(replay.status, 400);
      assert.equal(replay.body.error, "invalid_grant");
      const held = await app.page.evaluate((key) => localStorage.getItem(key), STORAGE_KEY);
      const afterRevoke = await refreshOutside(app.clientId, held);
      assert.equal(afterRevoke.status, 400, "the grant was revoked");
      const issuedAfter = app.issuerStats();
      console.log(`authlane+convex: replaying the first refresh token: ${replay.status} ${replay.body.error}; ` +
        `reuse detections ${issuedAfter.reuseDetections}, grants revoked ${issuedAfter.grantsRevoked}; the page's current refresh token then: ${afterRevoke.status}`);
      assert.equal(issuedAfter.reuseDetections, 1);
      assert.equal(issuedAfter.grantsRevoked, 1);
    } finally {
      await Promise.all(Object.values(apps).map((app) => app.close()));
    }
  });

  test("expectAuth holds the query until the server accepted a token (a rejected first token releases nothing)", async (t) => {
    // The first fetch hands over oidc-provider's ID token for another client of it.
    const app = await openApp(t, "authlane", { badFirst: "other-client" });
    try {
      await app.firstResult();
      const log = await app.log();
      const stats = await app.server.stats();
      console.log(`authlane+convex: first token rejected (${Object.keys(stats.rejectionsByReason).join(",")}); ` +
        `${log.fetches.length} fetches until the first result, which is ${log.results[0].viewer}'s`);
      assert.deepEqual(stats.rejectionsByReason, { AudienceMismatch: 1 }, "the first token was rejected");
      assert.equal(stats.authAccepted, 1);
      assert.equal(log.fetches.length, 2, "one forced refresh after the rejection");
      assert.equal(log.fetches[1].force, true);
      assert.deepEqual(log.errors, [], "no query ran unauthenticated");
      assert.equal(log.results[0].viewer, "user_e2e", "the first result is already the signed-in user's");
      assert.ok(!log.authChanges.includes("unauthenticated"), log.authChanges.join(","));
      assert.equal(app.issuerStats().reuseDetections, 0);
    } finally {
      await app.close();
    }
  });

  test("startup with a fresh token costs 1 fetch; an oidc-provider key rotation (new kid) costs one forced refresh and recovers", async (t) => {
    // 30 s ID tokens, 10 s leeway: no scheduled refresh falls inside the window.
    const apps = { authlane: await openApp(t, "authlane", { lifetime: 30, leeway: 10 }), bare: await openApp(t, "bare", { lifetime: 30, leeway: 10 }) };
    try {
      await Promise.all(Object.values(apps).map((app) => app.firstResult()));
      await sleep(1500); // convex's own second startup fetch follows the confirmation at once
      const before = {};
      for (const [mode, app] of Object.entries(apps)) {
        before[mode] = (await app.log()).fetches.length;
        console.log(`${label(mode)}: startup with a fresh token cost ${before[mode]} fetch(es)`);
      }
      const oldKid = oidc.kid();
      const newKid = oidc.rotateKeys();
      // The devserver learns of it like Convex would on an unknown kid; here its sessions are told
      // to re-verify at once (their tokens' kid is gone from the JWKS).
      for (const app of Object.values(apps)) await app.server.post("/debug/refresh-jwks");
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
        console.log(`${label(mode)}: key rotation (kid ${oldKid} -> ${newKid}) cost ${after[mode].fetches.length - before[mode]} fetch(es); ` +
          `UnknownKid AuthErrors ${stats.expiredSessionErrors}, rejections ${stats.authRejections}, JWKS fetches ${stats.jwksFetches}, ` +
          `reuse detections ${apps[mode].issuerStats().reuseDetections}`);
      }
      assert.equal(before.authlane, 1, "authlane: startup with a fresh token costs 1 fetch");
      const log = after.authlane;
      assert.equal(log.fetches.length - before.authlane, 1, "exactly one forced refresh");
      assert.equal(log.fetches.at(-1).force, true);
      assert.deepEqual(log.errors, []);
      assert.equal((await apps.authlane.server.stats()).authRejections, 0, "the new token verified at once");
      assert.equal(apps.authlane.issuerStats().reuseDetections, 0);
      assert.equal(await apps.authlane.page.evaluate(() => window.send("after rotation").then(() => "sent")), "sent");
      await apps.authlane.page.waitForFunction(() => window.log.results.at(-1).count === 1 && window.log.results.at(-1).viewer === "user_e2e");
      assert.equal(await apps.authlane.page.evaluate(() => window.auth.getState().status), "authenticated");
    } finally {
      await Promise.all(Object.values(apps).map((app) => app.close()));
    }
  });
});
