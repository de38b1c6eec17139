// explainToken cross-checked against the devserver's verifier: a table of tokens crafted one fault
// at a time (signed by the devserver's key through /debug/mint) goes to both. For each, the two
// must agree on accepted vs refused, and explainToken's leading reason must be the devserver's
// rejection code. The one place they may differ is named: a kid the JWKS lacks is invisible to a
// check that has no keys (explainToken says so with `verified: false`).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromium } from "../support/chromium.js";
import { buildOnce, startDevserver } from "./support/devserver.js";

/** The auth config both sides judge by (`{origin}`: the devserver's own address). */
const PROVIDERS = [
  { domain: "{origin}/tenants/acme", applicationID: "convex" },
  { type: "customJwt", issuer: "https://api.workos.com/user_management/client_01", jwks: "{origin}/.well-known/jwks.json", algorithm: "EdDSA" },
  { type: "customJwt", issuer: "https://jwt.example/", jwks: "{origin}/.well-known/jwks.json", algorithm: "EdDSA", applicationID: "app-1" },
];

/** explainToken's reason families for each devserver rejection code. */
const SERVER_CODE_OF = {
  issuer_missing: "NoAuthProvider",
  issuer_mismatch: "NoAuthProvider",
  issuer_trailing_slash: "NoAuthProvider",
  issuer_workos_authkit_domain: "NoAuthProvider",
  audience_missing: "AudienceMismatch",
  audience_mismatch: "AudienceMismatch",
  audience_array: "AudienceMismatch",
  algorithm_unsupported: "InvalidAlgorithm",
  algorithm_mismatch: "InvalidAlgorithm",
  kid_missing: "UnknownKid",
  exp_missing: "MalformedToken",
  expired: "TokenExpired",
  sub_missing: "MalformedToken",
};

const now = () => Math.floor(Date.now() / 1000);
const live = (claims) => ({ sub: "user_1", iat: now() - 5, exp: now() + 600, ...claims });

/** [name, header overrides, claims (with {origin}), explainToken's expected leading reason (null: accepted)]. */
const CASES = [
  ["valid OIDC token", {}, live({ iss: "{origin}/tenants/acme", aud: "convex" }), null],
  ["OIDC iss with a trailing slash (Auth0 style)", {}, live({ iss: "{origin}/tenants/acme/", aud: "convex" }), null],
  ["aud as a one-item array", {}, live({ iss: "{origin}/tenants/acme", aud: ["convex"] }), null],
  ["OIDC token without kid (the JWKS's only key)", { kid: null }, live({ iss: "{origin}/tenants/acme", aud: "convex" }), null],
  ["no iat", {}, { iss: "{origin}/tenants/acme", aud: "convex", sub: "u", exp: now() + 600 }, null],
  ["valid customJwt (WorkOS access token shape)", {}, live({ iss: "https://api.workos.com/user_management/client_01" }), null],
  ["customJwt with applicationID", {}, live({ iss: "https://jwt.example/", aud: "app-1" }), null],
  ["unknown issuer", {}, live({ iss: "{origin}/tenants/other", aud: "convex" }), "issuer_mismatch"],
  ["no iss", {}, live({ aud: "convex" }), "issuer_missing"],
  ["customJwt issuer without its trailing slash", {}, live({ iss: "https://jwt.example", aud: "app-1" }), "issuer_trailing_slash"],
  ["WorkOS API iss against the AuthKit-domain config", {}, live({ iss: "https://api.workos.com/", aud: "convex" }), "issuer_workos_authkit_domain"],
  ["no aud", {}, live({ iss: "{origin}/tenants/acme" }), "audience_missing"],
  ["aud for another app", {}, live({ iss: "{origin}/tenants/acme", aud: "api://backend" }), "audience_mismatch"],
  ["aud array without the applicationID", {}, live({ iss: "{origin}/tenants/acme", aud: ["api://a", "api://b"] }), "audience_mismatch"],
  ["aud array with another audience beside it (an access token)", {}, live({ iss: "{origin}/tenants/acme", aud: ["convex", "{origin}/userinfo"] }), "audience_array"],
  ["customJwt aud mismatch", {}, live({ iss: "https://jwt.example/", aud: "app-2" }), "audience_mismatch"],
  ["HS256 header", { alg: "HS256" }, live({ iss: "{origin}/tenants/acme", aud: "convex" }), "algorithm_unsupported"],
  ["ES256 on an OIDC entry (Convex: RS256 or EdDSA)", { alg: "ES256" }, live({ iss: "{origin}/tenants/acme", aud: "convex" }), "algorithm_unsupported"],
  ["customJwt alg other than configured", { alg: "ES256" }, live({ iss: "https://api.workos.com/user_management/client_01" }), "algorithm_mismatch"],
  ["customJwt token without kid", { kid: null }, live({ iss: "https://api.workos.com/user_management/client_01" }), "kid_missing"],
  ["expired", {}, { iss: "{origin}/tenants/acme", aud: "convex", sub: "u", iat: now() - 120, exp: now() - 60 }, "expired"],
  ["no exp", {}, { iss: "{origin}/tenants/acme", aud: "convex", sub: "u", iat: now() }, "exp_missing"],
  ["no sub", {}, { iss: "{origin}/tenants/acme", aud: "convex", iat: now(), exp: now() + 600 }, "sub_missing"],
];

let server;
let browser;
let page;

const withOrigin = (value) => JSON.parse(JSON.stringify(value).replaceAll("{origin}", server.origin));

async function serverVerdict(token) {
  const response = await fetch(`${server.origin}/debug/verify`, { method: "POST", body: token });
  return response.json();
}

const explain = (token) =>
  page.evaluate(({ token, providers }) => window.authlane.explainToken(token, providers), { token, providers: withOrigin(PROVIDERS) });

before(async () => {
  buildOnce();
  const dir = mkdtempSync(join(tmpdir(), "authlane-explain-"));
  const config = join(dir, "auth.config.json");
  writeFileSync(config, JSON.stringify({ providers: PROVIDERS }));
  server = await startDevserver(["--no-embedded-issuer", "--auth-config", config, "--serve", "/pkg=pkg"]);
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(`${server.origin}/e2e/index.html`);
  await page.evaluate(async () => {
    const { loadAuthlane } = await import("/pkg/dist/index.js");
    await loadAuthlane();
    window.authlane = await import("/pkg/dist/diagnostics.js");
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe("explainToken agrees with the devserver's verifier", () => {
  for (const [name, header, claims, expected] of CASES) {
    test(name, async () => {
      const { token } = await server.post("/debug/mint", { header, claims: withOrigin(claims) });
      const [verdict, explanation] = await Promise.all([serverVerdict(token), explain(token)]);
      assert.equal(explanation.verified, false);
      assert.equal(explanation.reason, expected, explanation.summary);
      assert.equal(verdict.accepted, expected === null, `devserver: ${verdict.reason}: ${verdict.detail}`);
      if (expected !== null) assert.equal(verdict.reason, SERVER_CODE_OF[expected], verdict.detail);
      assert.ok(!JSON.stringify(explanation).includes(token), "the explanation never contains the token");
    });
  }

  test("not a JWT: malformed on both sides, and no provider consulted", async () => {
    const verdict = await serverVerdict("not.a-jwt");
    const explanation = await explain("not.a-jwt");
    assert.equal(verdict.reason, "MalformedToken");
    assert.equal(explanation.ok, false);
    assert.match(explanation.malformed, /segments|base64url|JSON/);
    assert.deepEqual(explanation.providers, []);
  });

  test("beyond the claims: a kid the JWKS lacks passes explainToken, which says it checked no key", async () => {
    const { token } = await server.post("/debug/mint", { header: { kid: "rotated-away" }, claims: withOrigin(live({ iss: "{origin}/tenants/acme", aud: "convex" })) });
    const verdict = await serverVerdict(token);
    const explanation = await explain(token);
    assert.equal(verdict.reason, "UnknownKid");
    assert.equal(explanation.ok, true);
    assert.match(explanation.summary, /signature/);
  });

  test("a bad providers config is a typed error, not a verdict", async () => {
    const error = await page.evaluate(() => {
      try {
        window.authlane.explainToken("a.b.c", [{ domain: "https://x" }]);
      } catch (thrown) {
        return { name: thrown.name, code: thrown.code, message: thrown.message };
      }
      return null;
    });
    assert.deepEqual({ name: error.name, code: error.code }, { name: "AuthlaneError", code: "invalid_argument" });
    assert.match(error.message, /providers\[0\]\.applicationID/);
  });
});
