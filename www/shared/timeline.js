// The timeline every demo page shows: authlane's `onTrace` events, formatted, newest first, and the
// token's time to expiry as authlane estimates it (from `token_adopted` / `peer_token_adopted`,
// whose value is the token's remaining lifetime in ms).
import { createObservable } from "./observable.js";

/** What each trace kind is about, for colouring its row. */
const GROUPS = {
  fetch_started: "fetch",
  fetch_signed_out: "fetch",
  stale_result_dropped: "fetch",
  token_adopted: "token",
  same_token_returned: "token",
  refresh_scheduled: "refresh",
  retry_scheduled: "failure",
  fetch_failed: "failure",
  server_accepted: "verdict",
  server_rejected: "verdict",
  token_explained: "verdict",
  stale_verdict_ignored: "verdict",
  operations_held: "gate",
  operations_released: "gate",
  operations_rejected: "gate",
  state: "state",
};

export function groupOf(kind) {
  return GROUPS[kind] ?? (kind.startsWith("lock_") || kind.startsWith("peer_") || kind.includes("broadcast") || kind === "fetch_skipped" ? "tabs" : "other");
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const operations = (count) => `${count} operation${count === 1 ? "" : "s"}`;

/** The human part of one trace event. */
export function describeEvent({ kind, detail, tokenTail, value, code }) {
  switch (kind) {
    case "fetch_started":
      return (detail ?? "").replace(/,/g, ", ");
    case "token_adopted":
    case "peer_token_adopted":
      return [tokenTail, value !== null ? `valid ${seconds(value)}` : "no exp"].filter(Boolean).join(" · ");
    case "refresh_scheduled":
    case "retry_scheduled":
      return value !== null ? `in ${seconds(value)}` : "";
    case "operations_held":
    case "operations_released":
    case "operations_rejected":
      return value !== null ? operations(value) : "";
    case "state":
      return [`→ ${detail}`, code].filter(Boolean).join(" · ");
    default:
      return [detail, tokenTail, value !== null ? String(value) : null, code].filter(Boolean).join(" · ");
  }
}

/** 14:03:07.215 */
export function clockTime(at) {
  const date = new Date(at);
  const two = (n) => String(n).padStart(2, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

/**
 * `onTrace` for createAuth, and what to render from it: `entries` (newest first, at most `limit`:
 * { id, time, kind, group, text }) and `expiry` ("17 s", or "—" without a token), ticking.
 */
export function createTimeline({ limit = 200 } = {}) {
  const entries = createObservable([]);
  const expiry = createObservable("—");
  let expiresAt = null;
  let nextId = 1;

  const tick = () => {
    expiry.set(expiresAt === null ? "—" : `${Math.max(0, Math.round((expiresAt - Date.now()) / 1000))} s`);
  };
  setInterval(tick, 250);

  const onTrace = (event) => {
    if (event.kind === "token_adopted" || event.kind === "peer_token_adopted") {
      expiresAt = event.value === null ? null : event.at + event.value;
    } else if (event.kind === "state" && event.detail === "unauthenticated") {
      expiresAt = null;
    }
    const entry = {
      id: nextId++,
      time: clockTime(event.at),
      kind: event.kind,
      group: groupOf(event.kind),
      text: describeEvent(event),
    };
    entries.set([entry, ...entries.get()].slice(0, limit));
    tick();
  };

  return { onTrace, entries, expiry };
}
