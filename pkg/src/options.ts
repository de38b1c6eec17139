// createAuth's options, checked at the door: every wrong type or out-of-range value throws
// `invalid_argument` synchronously, naming the option and what it takes, before anything loads.
// The defaults are the core's (`Config::default`, src/core/session/config.rs; tests/protocol_types.rs
// fails when they differ); the session receives resolved values only.
import type { AuthOptions, FetchAccessToken, RefusalExplainer, TokenStorage } from "./auth.js";
import { AuthlaneError, ErrorCodes } from "./errors.js";
import type { TraceEvent } from "./log.js";

/** The core's peer grace (a tab holding the lock waits this long for a peer's answer before fetching). */
const PEER_GRACE_MS = 50;
/** setTimeout's largest delay. */
const MAX_TIMER_MS = 2_147_483_647;

export const DEFAULTS = {
  refreshLeewaySeconds: 10,
  expectAuth: false,
  signedOutOperations: "run",
  fetchTimeoutMs: 30_000,
  lockTimeoutMs: 10_000,
  storage: "memory",
} as const;

/** The lock must outlast the peer grace and a typical fetch, or tabs re-queue forever. */
export const MIN_LOCK_TIMEOUT_MS = 1_000;
const MAX_LEEWAY_SECONDS = 86_400;

export interface ResolvedOptions {
  fetchAccessToken: FetchAccessToken;
  refreshLeewayMs: number;
  expectAuth: boolean;
  signedOutOperations: "run" | "reject";
  fetchTimeoutMs: number;
  /** `null`: this tab works alone. `name` `null`: derived from the backend (`crossTabName`). */
  crossTab: { name: string | null; lockTimeoutMs: number } | null;
  storage: "memory" | "session" | "local" | TokenStorage;
  verbose: boolean | ((line: string) => void);
  onTrace: ((event: TraceEvent) => void) | undefined;
  diagnostics: RefusalExplainer | undefined;
  /** `undefined` when none was given (or an empty string: a cookie that is there but empty). */
  initialToken: string | undefined;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "bigint") return "a BigInt";
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value);
  if (typeof value === "string") return value.length > 40 ? "a long string" : JSON.stringify(value);
  return typeof value === "object" ? "an object" : typeof value;
}

/** `option` is a path under `options` ("crossTab.name"), or "" for the options argument itself. */
function invalid(option: string, expected: string, value: unknown): AuthlaneError {
  const name = option ? `options.${option}` : "options";
  return new AuthlaneError(ErrorCodes.InvalidArgument, `createAuth: ${name} must be ${expected}, got ${describe(value)}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function number(option: string, value: unknown, fallback: number, min: number, max: number, expected: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) throw invalid(option, expected, value);
  return value;
}

function oneOf<T extends string>(option: string, value: unknown, fallback: T, allowed: readonly T[]): T {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw invalid(option, allowed.map((a) => JSON.stringify(a)).join(" or "), value);
  }
  return value as T;
}

function optionalFunction<F>(option: string, value: unknown): F | undefined {
  if (value !== undefined && typeof value !== "function") throw invalid(option, "a function", value);
  return value as F | undefined;
}

function crossTab(value: unknown): ResolvedOptions["crossTab"] {
  if (value === false) return null;
  if (value === undefined || value === true) return { name: null, lockTimeoutMs: DEFAULTS.lockTimeoutMs };
  if (!isPlainObject(value)) throw invalid("crossTab", "true, false or { name?, lockTimeoutMs? }", value);
  const name = value.name;
  if (name !== undefined && (typeof name !== "string" || name.length === 0)) {
    throw invalid("crossTab.name", "a non-empty string", name);
  }
  const lockTimeoutMs = number(
    "crossTab.lockTimeoutMs",
    value.lockTimeoutMs,
    DEFAULTS.lockTimeoutMs,
    MIN_LOCK_TIMEOUT_MS,
    MAX_TIMER_MS,
    `a finite number of milliseconds from ${MIN_LOCK_TIMEOUT_MS} (the lock must outlast the ${PEER_GRACE_MS} ms peer grace and a fetch) to ${MAX_TIMER_MS}`,
  );
  return { name: name ?? null, lockTimeoutMs };
}

function storage(value: unknown): ResolvedOptions["storage"] {
  if (value === undefined) return DEFAULTS.storage;
  if (value === "memory" || value === "session" || value === "local") return value;
  const expected = '"memory", "session", "local" or an object with getItem, setItem and removeItem methods';
  if (!isPlainObject(value)) throw invalid("storage", expected, value);
  for (const method of ["getItem", "setItem", "removeItem"]) {
    if (typeof value[method] !== "function") throw invalid(`storage.${method}`, "a function", value[method]);
  }
  return value as unknown as TokenStorage;
}

/**
 * Only the type is checked here: what the token says (malformed, expired, too close to expiry) is
 * judged by the core at start, which ignores a bad one with an `initial_token_ignored` trace and
 * fetches as usual — a stale cookie must never break the page.
 */
function initialToken(value: unknown): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw invalid("initialToken", "a string (a JWT), null or undefined", value);
  return value;
}

/** Checks every option and fills in the defaults; throws `invalid_argument` on the first wrong one. */
export function resolveOptions(options: AuthOptions): ResolvedOptions {
  if (!isPlainObject(options)) throw invalid("", "an object", options);
  const given = options as unknown as Record<string, unknown>;
  if (typeof given.fetchAccessToken !== "function") throw invalid("fetchAccessToken", "a function", given.fetchAccessToken);
  const verbose = given.verbose;
  if (verbose !== undefined && typeof verbose !== "boolean" && typeof verbose !== "function") {
    throw invalid("verbose", "a boolean or a function taking a line", verbose);
  }
  if (given.expectAuth !== undefined && typeof given.expectAuth !== "boolean") {
    throw invalid("expectAuth", "a boolean", given.expectAuth);
  }
  const leewaySeconds = number(
    "refreshLeewaySeconds",
    given.refreshLeewaySeconds,
    DEFAULTS.refreshLeewaySeconds,
    0,
    MAX_LEEWAY_SECONDS,
    `a finite number of seconds from 0 to ${MAX_LEEWAY_SECONDS}`,
  );
  return {
    fetchAccessToken: given.fetchAccessToken as FetchAccessToken,
    refreshLeewayMs: leewaySeconds * 1000,
    expectAuth: (given.expectAuth as boolean | undefined) ?? DEFAULTS.expectAuth,
    signedOutOperations: oneOf("signedOutOperations", given.signedOutOperations, DEFAULTS.signedOutOperations, ["run", "reject"]),
    fetchTimeoutMs: number(
      "fetchTimeoutMs",
      given.fetchTimeoutMs,
      DEFAULTS.fetchTimeoutMs,
      1,
      MAX_TIMER_MS,
      `a finite number of milliseconds from 1 to ${MAX_TIMER_MS}`,
    ),
    crossTab: crossTab(given.crossTab),
    storage: storage(given.storage),
    verbose: (verbose as ResolvedOptions["verbose"] | undefined) ?? false,
    onTrace: optionalFunction("onTrace", given.onTrace),
    diagnostics: optionalFunction("diagnostics", given.diagnostics),
    initialToken: initialToken(given.initialToken),
  };
}
