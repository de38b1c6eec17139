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

/// One line of the session's timeline. Tokens appear only as `token_tail` (redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub kind: TraceKind,
    /// `…` plus the last six characters of the token concerned.
    pub token_tail: Option<String>,
    /// A duration or deadline in ms, where the kind has one.
    pub millis: Option<u64>,
    pub error: Option<AuthError>,
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
    PeerTokenAdopted,
    StaleBroadcastIgnored,
    PeerMessageIgnored,
    PeerSignedOut,
    /// A peer's token answered the need before this tab fetched.
    FetchSkipped,
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
            TraceKind::PeerTokenAdopted => "peer_token_adopted",
            TraceKind::StaleBroadcastIgnored => "stale_broadcast_ignored",
            TraceKind::PeerMessageIgnored => "peer_message_ignored",
            TraceKind::PeerSignedOut => "peer_signed_out",
            TraceKind::FetchSkipped => "fetch_skipped",
        }
    }
}
