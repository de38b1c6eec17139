//! The public auth state and the trace records that verbose logs and the demo timeline show.

use alloc::string::String;

use super::errors::AuthError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthState {
    /// Not settled yet: the first token is being fetched or awaits the server's verdict.
    Loading,
    /// A token is held and (when a client is attached) the server has accepted one.
    Authenticated,
    /// Signed out, or auth failed for good; `Session::error` says which.
    Unauthenticated,
}

impl AuthState {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthState::Loading => "loading",
            AuthState::Authenticated => "authenticated",
            AuthState::Unauthenticated => "unauthenticated",
        }
    }
}

/// Why a fetch was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchReason {
    Startup,
    Proactive,
    /// The token looked close to expiry on receipt.
    Stale,
    Rejected,
    Retry,
    Requested,
}

impl FetchReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FetchReason::Startup => "startup",
            FetchReason::Proactive => "proactive",
            FetchReason::Stale => "stale",
            FetchReason::Rejected => "rejected",
            FetchReason::Retry => "retry",
            FetchReason::Requested => "requested",
        }
    }
}

/// One line of the session's timeline. Tokens appear only as `token_tail` (redacted). Built by
/// one constructor per kind that carries more than its kind ([`Trace::event`] for the others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub kind: TraceKind,
    /// `…` plus the last six characters of the token concerned.
    pub token_tail: Option<String>,
    /// A duration in ms: a token's estimated validity left, or the delay to a refresh or retry.
    pub millis: Option<u64>,
    /// How many operations were held, released or rejected.
    pub count: Option<u64>,
    pub error: Option<AuthError>,
}

impl Trace {
    /// A kind that carries nothing else.
    pub fn event(kind: TraceKind) -> Self {
        Trace { kind, token_tail: None, millis: None, count: None, error: None }
    }

    pub fn fetch_started(reason: FetchReason, forced: bool) -> Self {
        Self::event(TraceKind::FetchStarted(reason, forced))
    }

    /// A token of ours adopted, with its estimated validity (none without `exp`).
    pub fn token_adopted(tail: String, left_ms: Option<u64>) -> Self {
        Trace { token_tail: Some(tail), millis: left_ms, ..Self::event(TraceKind::TokenAdopted) }
    }

    /// A peer's (or storage's) token adopted, with its estimated validity.
    pub fn peer_token_adopted(tail: String, left_ms: Option<u64>) -> Self {
        Trace { token_tail: Some(tail), millis: left_ms, ..Self::event(TraceKind::PeerTokenAdopted) }
    }

    pub fn same_token_returned(tail: String) -> Self {
        Self::with_token(TraceKind::SameTokenReturned, tail)
    }

    pub fn server_accepted(tail: String) -> Self {
        Self::with_token(TraceKind::ServerAccepted, tail)
    }

    pub fn server_rejected(tail: String) -> Self {
        Self::with_token(TraceKind::ServerRejected, tail)
    }

    pub fn stale_broadcast_ignored(tail: String) -> Self {
        Self::with_token(TraceKind::StaleBroadcastIgnored, tail)
    }

    /// The page's `initialToken` was not taken (the start fetches as usual).
    pub fn initial_token_ignored(tail: String) -> Self {
        Self::with_token(TraceKind::InitialTokenIgnored, tail)
    }

    pub fn refresh_scheduled(delay_ms: u64) -> Self {
        Trace { millis: Some(delay_ms), ..Self::event(TraceKind::RefreshScheduled) }
    }

    pub fn retry_scheduled(delay_ms: u64) -> Self {
        Trace { millis: Some(delay_ms), ..Self::event(TraceKind::RetryScheduled) }
    }

    pub fn fetch_failed(error: AuthError) -> Self {
        Trace { error: Some(error), ..Self::event(TraceKind::FetchFailed) }
    }

    pub fn operations_held(count: usize) -> Self {
        Self::operations(TraceKind::OperationsHeld, count)
    }

    pub fn operations_released(count: usize) -> Self {
        Self::operations(TraceKind::OperationsReleased, count)
    }

    pub fn operations_rejected(count: usize) -> Self {
        Self::operations(TraceKind::OperationsRejected, count)
    }

    fn with_token(kind: TraceKind, tail: String) -> Self {
        Trace { token_tail: Some(tail), ..Self::event(kind) }
    }

    fn operations(kind: TraceKind, count: usize) -> Self {
        Trace { count: Some(count as u64), ..Self::event(kind) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceKind {
    FetchStarted(FetchReason, bool),
    TokenAdopted,
    SameTokenReturned,
    RefreshScheduled,
    FetchFailed,
    RetryScheduled,
    FetchSignedOut,
    StaleResultDropped,
    ServerAccepted,
    ServerRejected,
    StaleVerdictIgnored,
    OperationsHeld,
    OperationsReleased,
    OperationsRejected,
    LockAcquired,
    LockStolen,
    LockLost,
    LockReleasedOnTimeout,
    /// The lock cannot be had (refused by the browser, or a steal nobody grants): this tab fetches
    /// without it.
    LockUnavailable,
    PeerTokenAdopted,
    StaleBroadcastIgnored,
    PeerMessageIgnored,
    PeerSignedOut,
    /// A peer's token answered the need before this tab fetched.
    FetchSkipped,
    /// The server-rendered initial token failed a check: the start fetches as usual.
    InitialTokenIgnored,
    /// Another tab's fetch failed: this tab retries with the app, after the delay given.
    PeerFetchFailed,
}

impl TraceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TraceKind::FetchStarted(..) => "fetch_started",
            TraceKind::TokenAdopted => "token_adopted",
            TraceKind::SameTokenReturned => "same_token_returned",
            TraceKind::RefreshScheduled => "refresh_scheduled",
            TraceKind::FetchFailed => "fetch_failed",
            TraceKind::RetryScheduled => "retry_scheduled",
            TraceKind::FetchSignedOut => "fetch_signed_out",
            TraceKind::StaleResultDropped => "stale_result_dropped",
            TraceKind::ServerAccepted => "server_accepted",
            TraceKind::ServerRejected => "server_rejected",
            TraceKind::StaleVerdictIgnored => "stale_verdict_ignored",
            TraceKind::OperationsHeld => "operations_held",
            TraceKind::OperationsReleased => "operations_released",
            TraceKind::OperationsRejected => "operations_rejected",
            TraceKind::LockAcquired => "lock_acquired",
            TraceKind::LockStolen => "lock_stolen",
            TraceKind::LockLost => "lock_lost",
            TraceKind::LockReleasedOnTimeout => "lock_released_on_timeout",
            TraceKind::LockUnavailable => "lock_unavailable",
            TraceKind::PeerTokenAdopted => "peer_token_adopted",
            TraceKind::StaleBroadcastIgnored => "stale_broadcast_ignored",
            TraceKind::PeerMessageIgnored => "peer_message_ignored",
            TraceKind::PeerSignedOut => "peer_signed_out",
            TraceKind::FetchSkipped => "fetch_skipped",
            TraceKind::InitialTokenIgnored => "initial_token_ignored",
            TraceKind::PeerFetchFailed => "peer_fetch_failed",
        }
    }
}
