// createAuth checks its options at the door: each wrong type or out-of-range value throws
// AuthlaneError("invalid_argument") synchronously, naming the option and what it takes. Validation
// runs before anything loads, so Node (no window, no wasm) is enough.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createAuth, AuthlaneError } from "../../pkg/dist/index.js";

const fetchAccessToken = async () => null;
const store = { getItem: () => null, setItem() {}, removeItem() {} };

/** [option path, the options to pass, what the message must say it expects]. */
const WRONG = [
  ["options", null, /options must be an object, got null/],
  ["options", [fetchAccessToken], /options must be an object, got an array/],
  ["fetchAccessToken", { fetchAccessToken: undefined }, /options\.fetchAccessToken must be a function, got undefined/],
  ["fetchAccessToken", { fetchAccessToken: "https://issuer/token" }, /options\.fetchAccessToken must be a function, got "https/],

  ["refreshLeewaySeconds", { refreshLeewaySeconds: 30n }, /options\.refreshLeewaySeconds must be a finite number of seconds from 0 to 86400, got a BigInt/],
  ["refreshLeewaySeconds", { refreshLeewaySeconds: NaN }, /options\.refreshLeewaySeconds .* got NaN/],
  ["refreshLeewaySeconds", { refreshLeewaySeconds: Infinity }, /options\.refreshLeewaySeconds .* got Infinity/],
  ["refreshLeewaySeconds", { refreshLeewaySeconds: -1 }, /options\.refreshLeewaySeconds .* got -1/],
  ["refreshLeewaySeconds", { refreshLeewaySeconds: "10" }, /options\.refreshLeewaySeconds .* got "10"/],
  ["refreshLeewaySeconds", { refreshLeewaySeconds: [10] }, /options\.refreshLeewaySeconds .* got an array/],
  ["refreshLeewaySeconds", { refreshLeewaySeconds: 86_401 }, /options\.refreshLeewaySeconds .* got 86401/],

  ["fetchTimeoutMs", { fetchTimeoutMs: 0 }, /options\.fetchTimeoutMs must be a finite number of milliseconds from 1 to 2147483647, got 0/],
  ["fetchTimeoutMs", { fetchTimeoutMs: -5 }, /options\.fetchTimeoutMs .* got -5/],
  ["fetchTimeoutMs", { fetchTimeoutMs: NaN }, /options\.fetchTimeoutMs .* got NaN/],
  ["fetchTimeoutMs", { fetchTimeoutMs: Infinity }, /options\.fetchTimeoutMs .* got Infinity/],
  ["fetchTimeoutMs", { fetchTimeoutMs: 5000n }, /options\.fetchTimeoutMs .* got a BigInt/],
  ["fetchTimeoutMs", { fetchTimeoutMs: 2 ** 31 }, /options\.fetchTimeoutMs .* got 2147483648/],

  ["expectAuth", { expectAuth: "yes" }, /options\.expectAuth must be a boolean, got "yes"/],
  ["expectAuth", { expectAuth: 1 }, /options\.expectAuth must be a boolean, got 1/],

  ["signedOutOperations", { signedOutOperations: "drop" }, /options\.signedOutOperations must be "run" or "reject", got "drop"/],
  ["signedOutOperations", { signedOutOperations: true }, /options\.signedOutOperations must be "run" or "reject", got boolean/],

  ["verbose", { verbose: "debug" }, /options\.verbose must be a boolean or a function taking a line, got "debug"/],
  ["verbose", { verbose: console }, /options\.verbose must be a boolean or a function .* got an object/],
  ["onTrace", { onTrace: [] }, /options\.onTrace must be a function, got an array/],
  ["onTrace", { onTrace: "log" }, /options\.onTrace must be a function, got "log"/],
  ["diagnostics", { diagnostics: {} }, /options\.diagnostics must be a function, got an object/],

  ["crossTab", { crossTab: "app" }, /options\.crossTab must be true, false or \{ name\?, lockTimeoutMs\? \}, got "app"/],
  ["crossTab", { crossTab: ["app"] }, /options\.crossTab must be .* got an array/],
  ["crossTab", { crossTab: null }, /options\.crossTab must be .* got null/],
  ["crossTab.name", { crossTab: { name: "" } }, /options\.crossTab\.name must be a non-empty string, got ""/],
  ["crossTab.name", { crossTab: { name: 42 } }, /options\.crossTab\.name must be a non-empty string, got 42/],
  ["crossTab.name", { crossTab: { name: ["app"] } }, /options\.crossTab\.name must be a non-empty string, got an array/],
  ["crossTab.lockTimeoutMs", { crossTab: { lockTimeoutMs: 5n } }, /options\.crossTab\.lockTimeoutMs must be .* got a BigInt/],
  ["crossTab.lockTimeoutMs", { crossTab: { lockTimeoutMs: 0 } }, /options\.crossTab\.lockTimeoutMs .* got 0/],
  ["crossTab.lockTimeoutMs", { crossTab: { lockTimeoutMs: 40 } }, /options\.crossTab\.lockTimeoutMs must be a finite number of milliseconds from 1000 \(the lock must outlast the 50 ms peer grace and a fetch\).* got 40/],
  ["crossTab.lockTimeoutMs", { crossTab: { lockTimeoutMs: NaN } }, /options\.crossTab\.lockTimeoutMs .* got NaN/],
  ["crossTab.lockTimeoutMs", { crossTab: { lockTimeoutMs: Infinity } }, /options\.crossTab\.lockTimeoutMs .* got Infinity/],

  ["storage", { storage: "Local" }, /options\.storage must be "memory", "session", "local" or an object with getItem, setItem and removeItem methods, got "Local"/],
  ["storage", { storage: true }, /options\.storage must be .* got boolean/],
  ["storage", { storage: [] }, /options\.storage must be .* got an array/],
  ["storage.getItem", { storage: { setItem() {}, removeItem() {} } }, /options\.storage\.getItem must be a function, got undefined/],
  ["storage.removeItem", { storage: { getItem: () => null, setItem() {}, removeItem: "x" } }, /options\.storage\.removeItem must be a function, got "x"/],
  ["initialToken", { initialToken: 42 }, /options\.initialToken must be a string \(a JWT\), null or undefined, got 42/],
  ["initialToken", { initialToken: { value: "x" } }, /options\.initialToken must be .* got an object/],
  ["initialToken", { initialToken: ["x"] }, /options\.initialToken must be .* got an array/],
];

describe("a wrong option throws invalid_argument synchronously, naming it", () => {
  for (const [option, extra, message] of WRONG) {
    const options = extra === null || Array.isArray(extra) ? extra : { fetchAccessToken, ...extra };
    test(`${option}: ${describeValue(extra)}`, () => {
      let thrown;
      try {
        createAuth(options);
      } catch (error) {
        thrown = error;
      }
      assert.ok(thrown instanceof AuthlaneError, `expected an AuthlaneError, got ${thrown}`);
      assert.equal(thrown.code, "invalid_argument");
      assert.match(thrown.message, message);
    });
  }
});

function describeValue(extra) {
  if (extra === null || Array.isArray(extra)) return String(extra);
  const shown = (_, v) => (typeof v === "function" ? "fn" : typeof v === "bigint" ? `${v}n` : Number.isNaN(v) || Math.abs(v) === Infinity ? String(v) : v);
  return JSON.stringify(extra, shown);
}

describe("right options are accepted", () => {
  const RIGHT = [
    {},
    { refreshLeewaySeconds: 0, fetchTimeoutMs: 1, expectAuth: true, signedOutOperations: "reject" },
    { refreshLeewaySeconds: undefined, signedOutOperations: undefined, verbose: undefined },
    { crossTab: false },
    { crossTab: true },
    { crossTab: { name: "app", lockTimeoutMs: 1000 } },
    { crossTab: {} },
    { storage: "memory" },
    { storage: "session" },
    { storage: "local" },
    { storage: store },
    { verbose: true, onTrace() {}, diagnostics: () => ({ line: "", code: null }) },
    { verbose: () => {} },
    // A token's content is judged at start, never at the door: a bad one is ignored with a trace.
    { initialToken: null },
    { initialToken: "" },
    { initialToken: "not-a-jwt" },
  ];
  for (const extra of RIGHT) {
    test(describeValue(extra) || "only fetchAccessToken", () => {
      const auth = createAuth({ fetchAccessToken, ...extra });
      assert.equal(auth.getState().status, "loading");
      auth.dispose();
    });
  }
});
