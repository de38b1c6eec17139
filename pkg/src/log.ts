// Verbose logging and the trace stream. Tokens arrive here already redacted by the core
// (an ellipsis and their last six characters); nothing in this file ever sees a whole token.
import type { AuthlaneError } from "./errors.js";
import type { CoreTraceKind } from "./protocol.js";

/** Every `TraceEvent.kind`: the core's trace kinds, state changes, and refusal explanations. */
export type TraceEventKind = CoreTraceKind | "state" | "token_explained";

/** One timeline event, as `onTrace` receives it. */
export interface TraceEvent {
  /** `Date.now()` when it happened. */
  at: number;
  /** e.g. `fetch_started`, `token_adopted`, `refresh_scheduled`, `server_accepted`, `operations_released`. */
  kind: TraceEventKind;
  /** `…` and the last six characters of the token concerned, when there is one. */
  tokenTail: string | null;
  /** A delay, lifetime or count, depending on the kind. */
  value: number | null;
  /** The error code, for failures. */
  code: string | null;
  /** Extra detail, e.g. `proactive,forced` for `fetch_started`. */
  detail: string | null;
}

/** Reports an exception thrown by the app's code (`source` names it); never rethrows. */
export type ThrowReporter = (source: string, error: unknown) => void;

/**
 * One console.error per source and session: a listener that throws on every change must not
 * flood the console, and must never stop the state update or the other listeners.
 */
export function createThrowReporter(): ThrowReporter {
  const reported = new Set<string>();
  return (source, error) => {
    if (reported.has(source)) return;
    reported.add(source);
    console.error(`[authlane] ${source} threw (reported once; authlane carries on):`, error);
  };
}

export interface Logger {
  /** Someone hears these lines or events (diagnostics costing work are skipped otherwise). */
  readonly listening: boolean;
  /** A one-line diagnosis of a token the server refused (token-free: claims and reasons only). */
  explained(line: string, code: string | null): void;
  trace(kind: CoreTraceKind, tokenTail: string | null, value: number | null, code: string | null, detail: string | null): void;
  state(status: string, error: AuthlaneError | null): void;
}

export function createLogger(
  verbose: boolean | ((line: string) => void) | undefined,
  onTrace: ((event: TraceEvent) => void) | undefined,
  report: ThrowReporter,
): Logger {
  // console's methods need no `this` (a namespace, by the Console standard).
  const sink = typeof verbose === "function" ? verbose : verbose ? console.debug : null;
  const line = (text: string) => {
    if (!sink) return;
    try {
      sink(text);
    } catch (error) {
      report("the verbose sink", error);
    }
  };
  const event = (kind: TraceEventKind, tokenTail: string | null, value: number | null, code: string | null, detail: string | null) => {
    if (!onTrace) return;
    try {
      onTrace({ at: Date.now(), kind, tokenTail, value, code, detail });
    } catch (error) {
      report("onTrace", error);
    }
  };
  return {
    listening: sink !== null || onTrace !== undefined,
    explained(text, code) {
      line(`[authlane] server refused the token: ${text}`);
      event("token_explained", null, null, code, text);
    },
    trace(kind, tokenTail, value, code, detail) {
      if (sink) {
        const parts = [`[authlane] ${kind}`];
        if (detail) parts.push(`(${detail})`);
        if (tokenTail) parts.push(tokenTail);
        if (value !== null) parts.push(String(value));
        if (code) parts.push(code);
        line(parts.join(" "));
      }
      event(kind, tokenTail, value, code, detail);
    },
    state(status, error) {
      line(`[authlane] state → ${status}${error ? ` (${error.code}: ${error.message})` : ""}`);
      event("state", null, null, error?.code ?? null, status);
    },
  };
}
