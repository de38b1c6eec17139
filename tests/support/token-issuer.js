// A token endpoint for browser tests: signs users in, mints short-lived access tokens (unsigned
// JWT-shaped: the client never verifies), and rotates refresh tokens with reuse detection — a
// refresh token presented twice revokes its whole family, unless inside `reuseWindowMs` of its
// first use (convex-auth allows 10 s). Counters at GET /stats; fault switches at POST /config.
// Node only (the HTTP part); the tokens come from the shared minting core in fake-issuer.js.
// `tokenRequests`, `inFlight` and `maxInFlight` count /token requests (received, being answered,
// most answered at once); `freshTokenOnReuse` makes a tolerated reuse sign a new access token.
// `config.hold`: a request that arrives while it is on stays out (after its delay) until the test
// calls `releaseHeld()` — a fault that lasts exactly as long as the test needs it, at any speed.

import { mintJwt } from "./fake-issuer.js";

async function readJson(request) {
  let body = "";
  for await (const chunk of request) body += chunk;
  try {
    return JSON.parse(body || "{}");
  } catch {
    return {};
  }
}

function send(response, status, body) {
  response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  response.end(JSON.stringify(body));
}

export function createTokenIssuer({ lifetimeSeconds = 20, reuseWindowMs = 0, freshTokenOnReuse = false } = {}) {
  const config = { lifetimeSeconds, reuseWindowMs, freshTokenOnReuse, delayMs: 0, fail: false, hold: false };
  const stats = { signIns: 0, refreshes: 0, reuseDetections: 0, toleratedReuses: 0, rejected: 0, tokenRequests: 0, inFlight: 0, maxInFlight: 0 };
  /** refresh token → { family, usedAt, next } */
  const refreshTokens = new Map();
  const revokedFamilies = new Set();
  let serial = 0;
  let releaseHeld;
  let held = new Promise((resolve) => (releaseHeld = resolve));

  const issue = (family) => {
    const refreshToken = `rt_${family}_${++serial}_${Math.random().toString(36).slice(2)}`;
    refreshTokens.set(refreshToken, { family, usedAt: null, next: null });
    const accessToken = mintJwt(config.lifetimeSeconds, { iss: "http://issuer.test" });
    return { access_token: accessToken, refresh_token: refreshToken, expires_in: config.lifetimeSeconds };
  };

  const refresh = (presented) => {
    const record = refreshTokens.get(presented);
    if (!record || revokedFamilies.has(record.family)) {
      stats.rejected++;
      return [401, { error: "invalid_grant" }];
    }
    if (record.usedAt !== null) {
      if (config.reuseWindowMs > 0 && Date.now() - record.usedAt <= config.reuseWindowMs) {
        stats.toleratedReuses++;
        if (!config.freshTokenOnReuse) return [200, record.next];
        const { access_token, expires_in } = issue(record.family); // its refresh token goes unused
        return [200, { ...record.next, access_token, expires_in }];
      }
      stats.reuseDetections++;
      revokedFamilies.add(record.family);
      return [401, { error: "invalid_grant", error_description: "refresh token reuse detected; session revoked" }];
    }
    stats.refreshes++;
    record.usedAt = Date.now();
    record.next = issue(record.family);
    return [200, record.next];
  };

  return {
    stats,
    config,
    /** Lets every request held so far go on (later arrivals wait only if `config.hold` is on then). */
    releaseHeld() {
      releaseHeld();
      held = new Promise((resolve) => (releaseHeld = resolve));
    },
    /** Handles /signin, /token, /stats, /config; returns false for anything else. */
    async handle(request, response) {
      const path = new URL(request.url, "http://localhost").pathname;
      if (path === "/stats") {
        send(response, 200, stats);
        return true;
      }
      if (path === "/config" && request.method === "POST") {
        Object.assign(config, await readJson(request));
        send(response, 200, config);
        return true;
      }
      if (path !== "/signin" && path !== "/token") return false;
      // The delay is the one configured when the request arrives (a test may change it meanwhile).
      const delayMs = config.delayMs;
      const gate = config.hold ? held : null;
      if (path === "/token") {
        stats.tokenRequests++;
        stats.maxInFlight = Math.max(stats.maxInFlight, ++stats.inFlight);
      }
      try {
        const body = await readJson(request);
        if (delayMs > 0) await new Promise((done) => setTimeout(done, delayMs));
        if (gate) await gate;
        if (config.fail) {
          send(response, 503, { error: "unavailable" });
        } else if (path === "/signin") {
          stats.signIns++;
          send(response, 200, issue(`f${stats.signIns}`));
        } else {
          const [status, answer] = refresh(body.refresh_token);
          send(response, status, answer);
        }
      } finally {
        if (path === "/token") stats.inFlight--;
      }
      return true;
    },
  };
}
