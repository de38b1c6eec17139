// authlane/diagnostics' explainToken in Node (the WebAssembly decoder loaded from bytes): each reason
// a Convex-style provider refuses a token, in the order a server checks them, the warnings that do
// not refuse, typed errors for bad configs, and a seeded random run proving that it never throws on
// any token and that `matched` / `closest` keep their promises. The same rules are cross-checked
// against the devserver's verifier in tests/e2e/explain.test.js.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadAuthlane } from "authlane";
import { explainRefusals, explainToken } from "authlane/diagnostics";
import { base64urlEncode } from "../support/base64url.js";

const NOW_MS = 1_795_392_000_000; // 2026-11-23T00:00:00Z
const NOW = NOW_MS / 1000;

before(async () => {
  await loadAuthlane(readFileSync(fileURLToPath(import.meta.resolve("authlane/authlane_bg.wasm"))));
});

const b64 = (value) => base64urlEncode(typeof value === "string" ? value : JSON.stringify(value));
const jwt = (header, claims) => `${b64(header)}.${b64(claims)}.c2ln`;
const HEADER = { alg: "RS256", kid: "k1", typ: "JWT" };
const live = (claims) => ({ sub: "user_1", iat: NOW - 10, exp: NOW + 50, ...claims });
const oidc = (domain, applicationID = "convex") => ({ domain, applicationID });
const custom = (issuer, algorithm, applicationID) => ({ type: "customJwt", issuer, jwks: `${issuer}/jwks`, algorithm, ...(applicationID ? { applicationID } : {}) });
const explain = (token, providers, options = {}) => explainToken(token, providers, { now: NOW_MS, ...options });
const reasonOf = (token, provider) => explain(token, [provider]).providers[0].reason;

describe("explainToken", () => {
  test("a match names its provider, says the signature is unchecked, and gives the timing", () => {
    const verdict = explain(jwt(HEADER, live({ iss: "https://idp.example", aud: "convex" })), [oidc("https://other.example"), oidc("https://idp.example")]);
    assert.equal(verdict.ok, true);
    assert.equal(verdict.matched, 1);
    assert.equal(verdict.closest, 1);
    assert.equal(verdict.reason, null);
    assert.equal(verdict.verified, false);
    assert.equal(verdict.providers[0].reason, "issuer_mismatch");
    assert.match(verdict.summary, /^provider 1 \(oidc https:\/\/idp\.example\) matches; the server still checks the signature/);
    assert.deepEqual(verdict.timing, { now: NOW, expiresIn: 50, issuedAgo: 10, lifetime: 60 });
    assert.deepEqual(verdict.warnings, []);
  });

  test("issuer: missing, different, a trailing slash (OIDC ignores it, customJwt does not), and WorkOS", () => {
    const valid = (iss) => jwt(HEADER, live({ iss, aud: "convex" }));
    assert.equal(reasonOf(jwt(HEADER, live({ aud: "convex" })), oidc("https://a")), "issuer_missing");
    assert.equal(reasonOf(valid("https://b"), oidc("https://a")), "issuer_mismatch");
    const auth0 = explain(valid("https://tenant.auth0.com/"), [oidc("https://tenant.auth0.com")]);
    assert.equal(auth0.matched, 0);
    assert.equal(auth0.warnings[0].code, "issuer_trailing_slash");
    assert.equal(reasonOf(valid("https://api.workos.com/"), custom("https://api.workos.com", "RS256")), "issuer_trailing_slash");
    const workos = explain(valid("https://api.workos.com/user_management/client_01ABC"), [oidc("https://quiet-sky-12.authkit.app", "client_01ABC")]);
    assert.equal(workos.reason, "issuer_workos_authkit_domain");
    assert.match(workos.providers[0].detail, /customJwt provider with issuer "https:\/\/api\.workos\.com\/user_management\/client_01ABC"/);
    assert.equal(reasonOf(valid("https://api.workos.community"), oidc("https://x.authkit.app")), "issuer_mismatch");
  });

  test("audience: missing, another, and an OIDC array with extra audiences (an access token)", () => {
    const withAud = (aud) => jwt(HEADER, live({ iss: "https://idp", aud }));
    assert.equal(reasonOf(jwt(HEADER, live({ iss: "https://idp" })), oidc("https://idp")), "audience_missing");
    assert.equal(reasonOf(withAud([]), oidc("https://idp")), "audience_missing");
    assert.equal(reasonOf(withAud("api"), oidc("https://idp")), "audience_mismatch");
    assert.equal(reasonOf(withAud(["https://api", "https://idp/userinfo"]), oidc("https://idp")), "audience_mismatch");
    const extra = explain(withAud(["convex", "https://idp/userinfo"]), [oidc("https://idp")]);
    assert.equal(extra.reason, "audience_array");
    assert.match(extra.providers[0].detail, /1 other audience/);
    assert.equal(reasonOf(withAud(["convex"]), oidc("https://idp")), null);
    assert.equal(reasonOf(withAud(["app", "x"]), custom("https://idp", "RS256", "app")), null);
    assert.equal(reasonOf(withAud("anything"), custom("https://idp", "RS256")), null, "customJwt without applicationID skips aud");
    assert.equal(reasonOf(withAud("anything"), custom("https://idp", "RS256", "app")), "audience_mismatch");
  });

  test("algorithm and kid: OIDC takes the server's list and the JWKS's only key; customJwt names both", () => {
    const claims = live({ iss: "https://idp", aud: "convex" });
    for (const alg of ["HS256", "none", "ES256"]) assert.equal(reasonOf(jwt({ alg, kid: "k" }, claims), oidc("https://idp")), "algorithm_unsupported", alg);
    assert.equal(reasonOf(jwt({ kid: "k" }, claims), oidc("https://idp")), "algorithm_unsupported");
    assert.equal(explain(jwt({ alg: "ES256", kid: "k" }, claims), [oidc("https://idp")], { algorithms: ["ES256"] }).matched, 0);
    assert.equal(reasonOf(jwt({ alg: "ES256", kid: "k" }, claims), custom("https://idp", "RS256")), "algorithm_mismatch");
    assert.equal(reasonOf(jwt({ alg: "ES256", kid: "k" }, claims), custom("https://idp", "ES256")), null);
    assert.equal(reasonOf(jwt({ alg: "RS256" }, claims), custom("https://idp", "RS256")), "kid_missing");
    assert.equal(reasonOf(jwt({ alg: "RS256", kid: "" }, claims), custom("https://idp", "RS256")), "kid_missing");
    const noKid = explain(jwt({ alg: "RS256" }, claims), [oidc("https://idp")]);
    assert.equal(noKid.matched, 0);
    assert.equal(noKid.warnings[0].code, "kid_missing");
  });

  test("times: how far off, exp == now is expired, and a future iat is called clock skew", () => {
    const at = (claims) => jwt(HEADER, { iss: "https://idp", aud: "convex", sub: "u", ...claims });
    assert.equal(reasonOf(at({}), oidc("https://idp")), "exp_missing");
    const expired = explain(at({ iat: NOW - 100, exp: NOW - 40 }), [oidc("https://idp")]);
    assert.equal(expired.reason, "expired");
    assert.match(expired.providers[0].detail, /^expired 40 s ago by this device's clock, 60 s after iat/);
    assert.equal(expired.timing.expiresIn, -40);
    assert.equal(reasonOf(at({ iat: NOW - 60, exp: NOW }), oidc("https://idp")), "expired");
    const ahead = explain(at({ iat: NOW + 300, exp: NOW + 360, nbf: NOW + 300 }), [oidc("https://idp")]);
    assert.equal(ahead.reason, "not_yet_valid");
    assert.match(ahead.providers[0].detail, /iat is 300 s in this device's future/);
    assert.equal(ahead.warnings[0].code, "issued_in_future");
    const noIat = explain(at({ exp: NOW + 5 }), [oidc("https://idp")]);
    assert.equal(noIat.matched, 0);
    assert.equal(noIat.warnings[0].code, "iat_missing");
  });

  test("sub is checked last; closest is the provider the token got furthest with", () => {
    assert.equal(reasonOf(jwt(HEADER, { iss: "https://idp", aud: "convex", iat: NOW, exp: NOW + 60 }), oidc("https://idp")), "sub_missing");
    const token = jwt(HEADER, live({ iss: "https://jwt.example", aud: "other" }));
    const verdict = explain(token, [oidc("https://idp"), oidc("https://jwt.example"), custom("https://jwt.example/", "RS256")]);
    assert.equal(verdict.closest, 1, "past the issuer (audience_mismatch) beats a near miss on it");
    assert.equal(verdict.reason, "audience_mismatch");
    const nearMiss = explain(token, [oidc("https://idp"), custom("https://jwt.example/", "RS256")]);
    assert.equal(nearMiss.closest, 1);
    assert.equal(nearMiss.reason, "issuer_trailing_slash");
    assert.match(nearMiss.summary, /^no provider matches: \[0\] oidc https:\/\/idp → issuer_mismatch: .*; \[1\] customJwt https:\/\/jwt\.example\/ → issuer_trailing_slash/);
  });

  test("a malformed token is a verdict; a malformed config is a typed error; neither leaks the token", () => {
    const verdict = explain("not-a-jwt", [oidc("https://idp")]);
    assert.equal(verdict.ok, false);
    assert.match(verdict.malformed, /three dot-separated segments/);
    assert.deepEqual(verdict.providers, []);
    assert.match(verdict.summary, /^not a JWT/);
    for (const [providers, field] of [
      [[{ domain: "https://x" }], /providers\[0\]\.applicationID/],
      [[{ type: "customJwt", issuer: "https://x", algorithm: "RS256" }], /providers\[0\]\.jwks/],
      [[{ type: "saml" }], /providers\[0\]\.type/],
      [{ providers: "no" }, /providers must be an array/],
    ]) {
      assert.throws(() => explain("a.b.c", providers), (error) => error.code === "invalid_argument" && field.test(error.message));
      assert.throws(() => explainRefusals(providers), (error) => error.code === "invalid_argument", "explainRefusals checks the config up front");
    }
    const secret = "c2VjcmV0LXNpZ25hdHVyZQ";
    const token = `${b64(HEADER)}.${b64(live({ iss: "https://b", aud: "convex" }))}.${secret}`;
    const text = JSON.stringify(explain(token, [oidc("https://a"), custom("https://b", "ES256")]));
    assert.ok(!text.includes(secret) && !text.includes(token.slice(0, 30)), "no part of the token's encoding is echoed");
  });

  test("explainRefusals gives createAuth one token-free line and the leading reason", () => {
    const explainer = explainRefusals([oidc("https://idp")]);
    const token = jwt(HEADER, { ...live({ iss: "https://idp", aud: "someone-else" }), exp: Math.floor(Date.now() / 1000) + 60 });
    const { line, code } = explainer(token);
    assert.equal(code, "audience_mismatch");
    assert.match(line, /audience_mismatch: aud "someone-else" is not applicationID "convex" \| token: iss "https:\/\/idp", aud \["someone-else"\], alg RS256, kid k1, expires in \d+ s/);
    assert.ok(!line.includes(token.split(".")[1]));
  });
});

// ---- a seeded random run: never throws on a token, and the verdict keeps its promises ----

function rng(seed) {
  let state = BigInt(seed) * 0x9e3779b97f4a7c15n + 0xd1b54a32d192ed03n;
  return (n) => {
    state ^= state >> 12n;
    state ^= (state << 25n) & 0xffffffffffffffffn;
    state ^= state >> 27n;
    return Number(((state * 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn) % BigInt(n));
  };
}

function randomToken(below) {
  const pick = (items) => items[below(items.length)];
  if (below(10) === 0) return Array.from({ length: below(40) }, () => String.fromCharCode(below(128))).join("");
  const maybeSlash = (value) => (below(4) === 0 ? `${value}/` : value);
  const header = {};
  if (below(8)) header.alg = pick(["RS256", "ES256", "none", "", "EdDSA"]);
  if (below(8)) header.kid = pick(["k", ""]);
  const claims = {};
  if (below(8)) claims.iss = maybeSlash(pick(["https://idp", "https://api.workos.com", "https://api.workos.com/user_management/c", "", "é"]));
  if (below(8)) claims.aud = pick(["convex", ["convex", "x"], [], "x", 7, null, ["a", "b"], ["convex"]]);
  for (const name of ["iat", "exp", "nbf"]) if (below(4)) claims[name] = pick([2 ** 64, -5, 0, 1.5, "soon", NOW + below(1000) - 500, NOW + below(1000) - 500]);
  if (below(8)) claims.sub = pick(["u", "", 3]);
  return jwt(header, claims);
}

test("random tokens and configs: never a throw, matched is the first clean provider, closest is set when providers are", () => {
  for (let seed = 0; seed < 2000; seed++) {
    const below = rng(seed);
    const token = randomToken(below);
    const providers = Array.from({ length: below(4) }, () => {
      const issuer = ["https://idp", "https://api.workos.com", "https://x.authkit.app", "https://other"][below(4)] + (below(4) === 0 ? "/" : "");
      return below(2) === 0 ? oidc(issuer, below(3) === 0 ? "x" : "convex") : custom(issuer, ["RS256", "ES256", "EdDSA"][below(3)], [undefined, "convex", "x"][below(3)]);
    });
    const now = NOW_MS + below(2_000_000) - 1_000_000;
    const verdict = explainToken(token, providers, { now });
    if (verdict.malformed !== null) {
      assert.deepEqual([verdict.providers, verdict.matched, verdict.token], [[], null, null], `seed ${seed}`);
      continue;
    }
    assert.equal(verdict.providers.length, providers.length, `seed ${seed}`);
    const firstClean = verdict.providers.findIndex((provider) => provider.reason === null);
    assert.equal(verdict.matched, firstClean >= 0 ? firstClean : null, `seed ${seed}`);
    assert.equal(verdict.closest !== null, providers.length > 0, `seed ${seed}`);
    assert.equal(verdict.ok, verdict.matched !== null, `seed ${seed}`);
    if (verdict.matched !== null) {
      const { token: claims } = verdict;
      assert.ok(claims.sub && claims.exp > Math.floor(now / 1000), `seed ${seed}: a match is live and names a user`);
      if (providers[verdict.matched].type === "customJwt") assert.ok(claims.kid && claims.alg === providers[verdict.matched].algorithm, `seed ${seed}`);
    }
  }
});
