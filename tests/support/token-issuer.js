// A token endpoint for browser tests: signs users in, mints short-lived access tokens (unsigned
// JWT-shaped: the client never verifies), and rotates refresh tokens with reuse detection — a
// refresh token presented twice revokes its whole family, unless inside `reuseWindowMs` of its
// first use (convex-auth allows 10 s). Counters at GET /stats; fault switches at POST /config.
// Node only (the HTTP part); the tokens come from the shared minting core in fake-issuer.js.

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

export function createTokenIssuer({ lifetimeSeconds = 20, reuseWindowMs = 0 } = {}) {
  const config = { lifetimeSeconds, reuseWindowMs, delayMs: 0, fail: false };
  const stats = { signIns: 0, refreshes: 0, reuseDetections: 0, toleratedReuses: 0, rejected: 0 };
  /** refresh token → { family, usedAt, next } */
  const refreshTokens = new Map();
  const revokedFamilies = new Set();
  let serial = 0;

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
        return [200, record.next];
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
      const body = await readJson(request);
      if (config.delayMs > 0) await new Promise((done) => setTimeout(done, config.delayMs));
      if (config.fail) {
        send(response, 503, { error: "unavailable" });
        return true;
      }
      if (path === "/signin") {
        stats.signIns++;
        send(response, 200, issue(`f${stats.signIns}`));
        return true;
      }
      const [status, answer] = refresh(body.refresh_token);
      send(response, status, answer);
      return true;
    },
  };
}
