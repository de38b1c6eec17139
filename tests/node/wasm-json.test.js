// The wasm module reads JSON with the JavaScript engine's JSON.parse (src/web/json.rs), not with a
// parser of its own: what that changes at the edges, checked through decodeToken in Node (the same
// module and the same V8 JSON.parse as Chromium). Native `cargo test` covers serde_json's side.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { decodeToken, loadAuthlane } from "authlane";
import { base64urlEncode } from "../support/base64url.js";

before(async () => {
  await loadAuthlane(readFileSync(fileURLToPath(import.meta.resolve("authlane/authlane_bg.wasm"))));
});

const jwt = (claimsJson) => `${base64urlEncode('{"alg":"RS256","typ":"JWT"}')}.${base64urlEncode(claimsJson)}.c2ln`;
const refusal = (token) => {
  try {
    decodeToken(token);
  } catch (error) {
    return error.code;
  }
  return "decoded";
};

describe("JSON through JSON.parse", () => {
  test("an array nested thousands deep is refused as a claim, without recursing (no stack overflow trap)", () => {
    const depth = 6_000;
    const token = jwt(`{"exp":1,"aud":${"[".repeat(depth)}${"]".repeat(depth)}}`);
    assert.ok(token.length < 16 * 1024, "within the token size bound");
    assert.equal(refusal(token), "malformed_token");
    // The module still works afterwards: a trap would have made every later call throw.
    assert.equal(decodeToken(jwt('{"exp":2,"aud":["a","b"]}')).exp, 2);
    const objects = jwt(`{"exp":3,"aud":"x","x":${'{"a":'.repeat(depth / 3)}1${"}".repeat(depth / 3)}}`);
    assert.ok(objects.length < 16 * 1024, "within the token size bound");
    assert.deepEqual(decodeToken(objects).aud, ["x"]);
  });

  test("numbers: integers exact to 2^53, fractions floored, out-of-range and negative refused", () => {
    assert.equal(decodeToken(jwt('{"exp":253402300799}')).exp, 253402300799);
    assert.equal(decodeToken(jwt('{"exp":1700000060.75,"iat":17e8}')).exp, 1700000060);
    assert.equal(decodeToken(jwt('{"iat":17e8}')).iat, 1700000000);
    for (const bad of ['{"exp":1e400}', '{"exp":-1}', '{"exp":-0.5}', '{"exp":253402300800}', '{"exp":"1"}', '{"exp":null}', '{"aud":[1]}']) {
      assert.equal(refusal(jwt(bad)), "malformed_token", bad);
    }
  });

  test("syntax errors, non-objects and invalid UTF-8 are malformed; a repeated member keeps its last value (JSON.parse)", () => {
    for (const bad of ["{", '{"exp":1,}', "[1]", "42", '"text"', "null"]) {
      assert.equal(refusal(jwt(bad)), "malformed_token", bad);
    }
    const invalidUtf8 = `${base64urlEncode("{}")}.${Buffer.from([0x7b, 0xff, 0x7d]).toString("base64url")}.c2ln`;
    assert.equal(refusal(invalidUtf8), "malformed_token");
    assert.equal(decodeToken(jwt('{"exp":1,"exp":2}')).exp, 2);
  });
});
