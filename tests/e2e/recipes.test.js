// The provider recipes (examples/recipes/*.js) end to end: one devserver whose --auth-config
// trusts every provider the way Convex's auth.config would, and one Chromium page per recipe
// running the real convex ConvexClient wrapped by authlane, with that recipe's fetchAccessToken
// over the provider's SDK: the real @workos-inc/authkit-js, or a named stand-in of the SDK's
// getter (tests/e2e/support/provider-standins.js) that mints the provider's token shape through
// POST /debug/mint. Each provider's host is a devserver tenant ({origin}/tenants/<name>); the
// rest — aud, trailing slash, claims, OIDC vs customJwt entry — is the provider's own. Where
// Convex's entry is customJwt (WorkOS, custom JWT), `issuer` is only compared, so it keeps the
// provider's real string and only the JWKS URL points here. Algorithms are EdDSA throughout (the
// devserver's key), where the providers sign RS256.
//
// Time is compressed: 4 s tokens refreshed 2 s ahead over a 10 s soak, providers' cache leeways
// scaled to 1 s; then 30 s tokens so that a key rotation's forced fetch stands alone.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { resolve } from "node:path";
import { launchChromium } from "../support/chromium.js";
import { buildOnce, repoRoot, startDevserver } from "./support/devserver.js";
import { customJwtRouteStandIn } from "./support/provider-standins.js";

const LIFETIME = 4;
const LEEWAY = 2;
const SOAK_MS = 10_000;
const LONG_LIFETIME = 30;
const CLIENT_IDS = {
  auth0: "Xk2vLq9Rj3TnM8pZ4wYc6bHd1sFa5gEu",
  kinde: "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
  workos: "client_01JRECIPES7Q3V8X2N5M4K6P0TB",
};
const CUSTOM_JWT = { issuer: "https://api.example.com", audience: "my-convex-app", userId: "user_custom" };

// What each recipe's tokens must carry (`iss` exactly, `sub`), and how startup meets the
// provider: "cache" when the SDK already holds a token from the sign-in, "mint" when not.
const RECIPES = {
  "convex-auth": { iss: (o) => `${o}/tenants/convex-auth`, sub: /^jd7f3k2m9q8w1e4r5t6y7u8i9o0p1a2s\|k[0-9a-f]{31}$/, startup: "cache" },
  clerk: { iss: (o) => `${o}/tenants/clerk`, sub: "user_2Clerk", startup: "mint" },
  auth0: { iss: (o) => `${o}/tenants/auth0/`, sub: "auth0|65a1f0c2d3e4f5a6b7c8d9e0", startup: "cache" },
  kinde: { iss: (o) => `${o}/tenants/kinde`, sub: "kp_0a1b2c3d4e5f", startup: "cache" },
  workos: { iss: () => `https://api.workos.com/user_management/${CLIENT_IDS.workos}`, sub: "user_01WORKOS", startup: "cache" },
  "custom-oidc": { iss: (o) => o, sub: "user_oidc", startup: "mint" },
  "custom-jwt": { iss: () => CUSTOM_JWT.issuer, sub: CUSTOM_JWT.userId, startup: "mint" },
};

/** Convex's auth.config for all of them; {origin} becomes the devserver's address. */
const AUTH_CONFIG = {
  providers: [
    { domain: "{origin}/tenants/convex-auth", applicationID: "convex" }, // CONVEX_SITE_URL
    { domain: "{origin}/tenants/clerk", applicationID: "convex" }, // https://<x>.clerk.accounts.dev
    { domain: "{origin}/tenants/auth0/", applicationID: CLIENT_IDS.auth0 }, // https://<tenant>.auth0.com/
    { domain: "{origin}/tenants/kinde", applicationID: "convex" }, // https://<business>.kinde.com
    // WorkOS's two entries (the second is AuthKit's access tokens); jwks: https://api.workos.com/sso/jwks/<client id>.
    { type: "customJwt", issuer: "https://api.workos.com/", algorithm: "EdDSA", applicationID: CLIENT_IDS.workos, jwks: "{origin}/tenants/workos/.well-known/jwks.json" },
    { type: "customJwt", issuer: `https://api.workos.com/user_management/${CLIENT_IDS.workos}`, algorithm: "EdDSA", jwks: "{origin}/tenants/workos/.well-known/jwks.json" },
    { type: "customJwt", issuer: CUSTOM_JWT.issuer, algorithm: "EdDSA", applicationID: CUSTOM_JWT.audience, jwks: "{origin}/tenants/custom-jwt/.well-known/jwks.json" },
    // custom-oidc: the embedded issuer, trusted by default ({origin}, applicationID "convex").
  ],
};

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
async function waitFor(check, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(100);
  }
}

let browser;
let server;
const pages = {};
let routeLifetime = LIFETIME;
let customJwt;
const configFile = resolve(tmpdir(), `authlane-recipes-${process.pid}.json`);

before(async () => {
  buildOnce();
  const out = resolve(repoRoot, "tests/e2e/out/recipes");
  mkdirSync(out, { recursive: true });
  execFileSync(resolve(repoRoot, "node_modules/.bin/esbuild"), [
    "tests/e2e/pages/recipes.js", "--bundle", "--format=esm", "--target=es2022", "--log-level=warning",
    `--outfile=${resolve(out, "app.js")}`,
  ], { cwd: repoRoot, stdio: "inherit" });
  copyFileSync(resolve(repoRoot, "pkg/dist/authlane_bg.wasm"), resolve(out, "authlane_bg.wasm"));
  copyFileSync(resolve(repoRoot, "tests/e2e/pages/index.html"), resolve(out, "index.html"));
  writeFileSync(configFile, JSON.stringify(AUTH_CONFIG));
  server = await startDevserver(["--token-lifetime", String(LIFETIME), "--auth-config", configFile]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(configFile, { force: true });
});

async function openRecipe(t, name) {
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  if (name === "custom-jwt") {
    customJwt = customJwtRouteStandIn({ origin: server.origin, ...CUSTOM_JWT, lifetime: () => routeLifetime });
    await context.route("**/api/convex-token", (route) => customJwt.handle(route));
  }
  await page.goto(`${server.origin}/e2e/recipes/index.html`);
  await page.waitForFunction(() => typeof window.startRecipe === "function");
  await page.evaluate((options) => window.startRecipe(options), { name, leewaySeconds: LEEWAY, clientIds: CLIENT_IDS });
  const read = () => page.evaluate(() => ({ log: structuredClone(window.log), stats: window.providerStats() }));
  pages[name] = { page, context, pageErrors, read };
}

const expected = (name) => ({ iss: RECIPES[name].iss(server.origin), sub: RECIPES[name].sub });
const subjectFits = (name, sub) => (RECIPES[name].sub instanceof RegExp ? RECIPES[name].sub.test(sub) : sub === RECIPES[name].sub);

test("every recipe: accepted identity, 1 startup fetch, no expired token over 2.5 lifetimes, a rejection costs 1 forced fetch past the SDK's cache, a provider sign-out is null", async (t) => {
  // AUTHLANE_RECIPES=clerk,auth0 runs a subset.
  const names = process.env.AUTHLANE_RECIPES?.split(",") ?? Object.keys(RECIPES);
  // One page at a time: seven pages starting at once on a busy machine can take longer than a
  // 4 s token's cache window between a recipe's sign-in and its first fetch.
  for (const name of names) await openRecipe(t, name);
  try {
    await Promise.all(names.map((name) => pages[name].page.waitForFunction(() => window.log.results.some((r) => r.subject !== null), null, { timeout: 20_000 })));
  } catch (error) {
    for (const name of names) {
      const { log } = await pages[name].read();
      console.log(`${name}: fetches ${JSON.stringify(log.fetches.slice(0, 2).map(({ force, iss, sub, token }) => ({ force, iss, sub, token })))} ` +
        `results ${JSON.stringify(log.results)} errors ${JSON.stringify(log.errors)} auth ${log.authChanges.join(",")} pageErrors ${pages[name].pageErrors.join(" | ")}`);
    }
    console.log(JSON.stringify(await server.stats()));
    throw error;
  }
  const started = Date.now();
  const report = {};

  // Startup: the first fetch is unforced, and the next one is the refresh scheduled LEEWAY
  // seconds before that token's exp (convex's own second startup fetch is answered by authlane
  // from its cache). The SDK answers from its cache when the sign-in left it a token.
  const startup = {};
  for (const name of names) {
    const { log } = await pages[name].read();
    const [first, second] = log.fetches;
    startup[name] = { stats: first.providerStats };
    assert.equal(first.force, false, `${name}: the startup fetch is unforced`);
    assert.ok(!second || second.wall >= (first.exp - LEEWAY) * 1000 - 250,
      `${name}: startup costs one fetch; the second is the scheduled refresh (${second?.wall - first.exp * 1000} ms from exp)`);
    assert.equal(first.iss, expected(name).iss, `${name}: iss`);
    assert.ok(subjectFits(name, first.sub), `${name}: sub ${first.sub}`);
  }
  for (const name of names.filter((name) => RECIPES[name].startup === "mint")) {
    assert.equal(startup[name].stats.mints, 1, `${name}: the startup fetch got a new token (nothing cached before it)`);
  }
  for (const name of names.filter((name) => RECIPES[name].startup === "cache")) {
    const firstFetchStats = startup[name].stats;
    assert.ok(firstFetchStats.cacheHits >= 1, `${name}: the startup fetch was served from the SDK's cache ${JSON.stringify(firstFetchStats)}`);
  }

  // Soak: 4 s tokens over 10 s.
  await sleep(Math.max(0, SOAK_MS - (Date.now() - started)));
  const soaked = await server.stats();
  assert.equal(soaked.authRejections, 0, JSON.stringify(soaked));
  assert.equal(soaked.expiredSessionErrors, 0, "no session ran on an expired token");
  assert.equal(soaked.reuseDetections, 0, "no rotating refresh token was presented twice");
  for (const name of names) {
    const { log } = await pages[name].read();
    const { iss } = expected(name);
    assert.deepEqual(log.errors, [], `${name}: no query error`);
    assert.deepEqual(pages[name].pageErrors, [], `${name}: no page error`);
    assert.ok(log.results.every((r) => subjectFits(name, r.subject) && r.issuer === iss.replace(/\/$/, "")),
      `${name}: every users:viewer result is the signed-in identity: ${JSON.stringify(log.results.slice(0, 3))}`);
    // A refresh may still be out at the provider when the soak ends: judge the answered ones.
    const answered = log.fetches.filter((fetch) => fetch.returnedAt !== undefined);
    const foreign = answered.filter((fetch) => fetch.iss !== iss || !subjectFits(name, fetch.sub));
    assert.deepEqual(foreign, [], `${name}: every token has the provider's iss and sub`);
    assert.deepEqual(log.fetches.filter((fetch) => fetch.expired), [], `${name}: no token was already expired when handed over`);
    assert.ok(log.fetches.length >= SOAK_MS / 1000 / LIFETIME, `${name}: refreshed through the soak (${log.fetches.length} fetches)`);
    assert.ok(log.fetches.slice(1).every((fetch) => fetch.force), `${name}: refreshes are forced`);
    assert.ok(!log.authChanges.includes("unauthenticated"), `${name}: never signed out`);
    report[name] = { soakFetches: log.fetches.length, soakSeconds: (Date.now() - started) / 1000 };
  }

  // Longer tokens, so that nothing is due while a key rotation is answered.
  routeLifetime = LONG_LIFETIME;
  await server.post("/debug/faults", { tokenLifetimeSeconds: LONG_LIFETIME });
  await Promise.all(names.map((name) => pages[name].page.evaluate((seconds) => window.setLifetime(seconds), LONG_LIFETIME)));
  for (const name of names) {
    await pages[name].page.waitForFunction((seconds) => {
      const last = window.log.fetches.at(-1);
      return last.exp - last.iat >= seconds && window.log.accepted.includes(last.tail);
    }, LONG_LIFETIME, { timeout: 10_000 });
  }
  await sleep(300);
  const beforeRotation = {};
  for (const name of names) beforeRotation[name] = await pages[name].read();
  const acceptedBefore = (await server.stats()).authAccepted;

  // A server rejection: the devserver rotates its key, every session's token stops verifying.
  await server.post("/debug/rotate-keys");
  for (const name of names) {
    await pages[name].page.waitForFunction((count) => {
      const last = window.log.fetches.at(-1);
      return window.log.fetches.length > count && window.log.accepted.includes(last.tail);
    }, beforeRotation[name].log.fetches.length, { timeout: 10_000 });
  }
  await sleep(1000);
  const rotated = await server.stats();
  for (const name of names) {
    const { log, stats } = await pages[name].read();
    const added = log.fetches.slice(beforeRotation[name].log.fetches.length);
    assert.equal(added.length, 1, `${name}: the rejection cost one fetch`);
    assert.equal(added[0].force, true, `${name}: and it was forced`);
    assert.equal(stats.mints - beforeRotation[name].stats.mints, 1, `${name}: the forced fetch got a new token from the provider`);
    assert.equal(stats.cacheHits - beforeRotation[name].stats.cacheHits, 0, `${name}: it bypassed the SDK's cache`);
    assert.ok(subjectFits(name, log.results.at(-1).subject), `${name}: accepted again`);
    assert.equal(await pages[name].page.evaluate(() => window.auth.getState().status), "authenticated");
    assert.deepEqual(log.errors, [], `${name}: no query error`);
    Object.assign(report[name], { rotationFetches: added.length, stats });
  }
  assert.ok(rotated.authAccepted >= acceptedBefore + names.length, "every page was accepted again");
  assert.equal(rotated.rejectionsByReason.TokenExpired, undefined, "no expired token was ever sent");
  assert.equal(rotated.reuseDetections, 0);
  if (customJwt) assert.equal(customJwt.stats.mints, (await pages["custom-jwt"].read()).log.fetches.length, "custom JWT: one route call per fetch");

  // Signed out at the provider: the recipe answers null, which authlane takes as final (no retry
  // loop), where a provider error would have been thrown and retried.
  customJwt?.signOut();
  for (const name of names) {
    const { page } = pages[name];
    await page.evaluate(() => window.endSession());
    const fetchesBefore = (await pages[name].read()).log.fetches.length;
    assert.equal(await page.evaluate(() => window.auth.getToken({ forceRefresh: true })), null, `${name}: signed out, the recipe answers null`);
    assert.equal(await page.evaluate(() => window.auth.getState().status), "unauthenticated", `${name}: unauthenticated`);
    report[name].signOutFrom = fetchesBefore;
  }
  await sleep(1500);
  for (const name of names) {
    const { log } = await pages[name].read();
    assert.equal(log.fetches.length, report[name].signOutFrom + 1, `${name}: one fetch after the sign-out, no retries`);
    assert.equal(log.fetches.at(-1).token, null);
  }

  for (const [name, r] of Object.entries(report)) {
    console.log(`${name.padEnd(11)}: startup 1 fetch (${RECIPES[name].startup === "cache" ? "SDK cache" : "new token"}); ` +
      `${r.soakFetches} fetches in ${r.soakSeconds.toFixed(1)} s = ${(r.soakFetches / (r.soakSeconds / LIFETIME)).toFixed(2)} per ${LIFETIME} s lifetime; ` +
      `rotation ${r.rotationFetches} forced fetch; provider calls ${r.stats.calls}, cache hits ${r.stats.cacheHits}, tokens minted ${r.stats.mints}`);
  }
  console.log(`devserver: authAccepted ${rotated.authAccepted}, rejections ${JSON.stringify(rotated.rejectionsByReason)}, ` +
    `sessions closed by the rotation ${rotated.expiredSessionErrors}, jwksFetches ${rotated.jwksFetches}`);
  await Promise.all(names.map((name) => pages[name].context.close()));
});
