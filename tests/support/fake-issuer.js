// The one fake issuer every suite and the demo mint tokens with. Browser-safe (the test pages,
// the framework apps and the demo import it; so does the Node token endpoint, token-issuer.js).
// Tokens are unsigned JWT-shaped strings: authlane reads claims, it never verifies signatures.
import { base64urlDecode, base64urlEncode } from "./base64url.js";

let serial = 0;

/** Six random base36 characters: a token's tail, which logs and the demo timeline show. */
function randomTail() {
  return Math.random().toString(36).slice(2, 8).padEnd(6, "0");
}

/**
 * A JWT-shaped token issued now (this process's or page's clock, so a faked clock moves it too),
 * living `lifetimeSeconds`. Distinct on every call: `jti` counts, and the signature ends in a
 * random tail (tabs minting at once still differ).
 */
export function mintJwt(lifetimeSeconds, { sub = "user_1", iss = "https://issuer.test", aud = "convex", kid = "test", iatOffsetSeconds = 0, claims = {} } = {}) {
  const iat = Math.floor(Date.now() / 1000) + iatOffsetSeconds;
  const jti = String(++serial);
  const header = base64urlEncode(JSON.stringify({ alg: "RS256", typ: "JWT", kid }));
  const payload = base64urlEncode(JSON.stringify({ iss, sub, aud, iat, exp: iat + lifetimeSeconds, jti, ...claims }));
  return `${header}.${payload}.sig${jti}-${randomTail()}`;
}

/** The claims of a JWT-shaped token, or null when it is not one. */
export function claimsOf(token) {
  try {
    return JSON.parse(base64urlDecode(token.split(".")[1]));
  } catch {
    return null;
  }
}

/** A signed-in flag held in memory (one page). The demo passes one kept in localStorage. */
export function memorySession(signedIn = false) {
  return {
    isSignedIn: () => signedIn,
    signIn: () => void (signedIn = true),
    signOut: () => void (signedIn = false),
  };
}

/**
 * An issuer whose `fetchAccessToken` has convex-js's contract: a JWT while signed in, else null.
 * `latencyMs` delays each answer (decided after the delay, as a network round trip would);
 * `fault()` is read then: "down" throws, "garbage" answers a number. Every call is recorded in
 * `calls` as { force, at, answered: "token" | "null" | "error" | "garbage" } ("pending" meanwhile).
 */
export function createFakeIssuer({ lifetimeSeconds = 4, latencyMs = 0, session = memorySession(), fault = () => null, onCall = () => {}, ...claimOptions } = {}) {
  const issuer = {
    calls: [],
    get signedIn() {
      return session.isSignedIn();
    },
    signIn: () => session.signIn(),
    signOut: () => session.signOut(),
    fetchAccessToken: async ({ forceRefreshToken }) => {
      const call = { force: forceRefreshToken, at: Date.now(), answered: "pending" };
      issuer.calls.push(call);
      onCall(call);
      if (latencyMs > 0) await new Promise((done) => setTimeout(done, latencyMs));
      const broken = fault();
      if (broken === "down") {
        call.answered = "error";
        throw new Error("issuer unreachable");
      }
      if (broken === "garbage") {
        call.answered = "garbage";
        return 42;
      }
      if (!session.isSignedIn()) {
        call.answered = "null";
        return null;
      }
      call.answered = "token";
      return mintJwt(lifetimeSeconds, { ...claimOptions, claims: { forced: forceRefreshToken, ...claimOptions.claims } });
    },
  };
  return issuer;
}
