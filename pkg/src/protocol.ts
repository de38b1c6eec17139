// What the wasm session tells JavaScript: one object per output, `kind` naming the variant.
// Mirrors the Rust definitions (src/core/errors.rs ErrorCode, src/core/state.rs AuthState and
// TraceKind, src/core/session.rs TokenNeed, src/core/protocol.rs JsOutput); tests/protocol_types.rs
// fails when a kind, a field or a name here and there disagree (and when options.ts's defaults differ
// from the core's).

/** `ErrorCode::as_str` in src/core/errors.rs: the codes the core itself reports. */
export type CoreErrorCode =
  | "malformed_token"
  | "fetch_failed"
  | "fetch_timeout"
  | "invalid_callback_result"
  | "token_rejected"
  | "token_expired"
  | "signed_out"
  | "disposed";

/** `AuthState::as_str` in src/core/state.rs. */
export type AuthStatus = "loading" | "authenticated" | "unauthenticated";

/** `TraceKind::as_str` in src/core/state.rs. */
export type CoreTraceKind =
  | "fetch_started"
  | "token_adopted"
  | "same_token_returned"
  | "refresh_scheduled"
  | "fetch_failed"
  | "retry_scheduled"
  | "fetch_signed_out"
  | "stale_result_dropped"
  | "server_accepted"
  | "server_rejected"
  | "stale_verdict_ignored"
  | "operations_held"
  | "operations_released"
  | "operations_rejected"
  | "lock_acquired"
  | "lock_stolen"
  | "lock_lost"
  | "lock_released_on_timeout"
  | "lock_unavailable"
  | "peer_token_adopted"
  | "stale_broadcast_ignored"
  | "peer_message_ignored"
  | "peer_signed_out"
  | "fetch_skipped"
  | "initial_token_ignored"
  | "peer_fetch_failed";

/** `TokenNeed` in src/core/session.rs, as `WasmSession.requestToken` takes it (src/lib.rs). */
export const TokenNeed = { Current: 0, NewerThan: 1, Forced: 2 } as const;
export type TokenNeed = (typeof TokenNeed)[keyof typeof TokenNeed];

/**
 * `Input` in src/core/protocol.rs: the session's small inputs, through one export,
 * `WasmSession.input(kind, value, flag)` (src/lib.rs).
 */
export const Input = { ServerVerdict: 0, AttachClient: 1, DetachClient: 2, SubmitOperation: 3, CancelOperation: 4, SignOut: 5, BackdateFetch: 6 } as const;
export type Input = (typeof Input)[keyof typeof Input];

/** One output of the session: `JsOutput` in src/core/protocol.rs, serialized by serde-wasm-bindgen (`Driver::emit`). */
export type Output =
  | { kind: "token"; waiter: number; token: string | null; generation: number }
  | { kind: "token_error"; waiter: number; code: CoreErrorCode; detail: string }
  | { kind: "release"; operations: readonly number[] }
  | { kind: "reject"; operations: readonly number[]; code: CoreErrorCode; detail: string }
  | { kind: "token_changed"; generation: number }
  | { kind: "state"; status: AuthStatus; code: CoreErrorCode | null; detail: string | null }
  | {
      kind: "trace";
      event: CoreTraceKind;
      tokenTail: string | null;
      value: number | null;
      code: CoreErrorCode | null;
      detail: string | null;
    };

/**
 * `PeerMessage::Request.encode()` in src/core/peer_message.rs: how a tab asks the app's other tabs
 * for their token. The head start (head-start.ts) sends it before the core exists.
 */
export const PEER_REQUEST = '{"v":1,"kind":"request"}';
