//! pkg/src/protocol.ts spells the core's names for TypeScript; this test holds it to the Rust
//! definitions. Each list below is guarded by an exhaustive `match`, so a new variant fails to
//! compile here until it is listed, and then fails the comparison until protocol.ts has it.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;

use authlane::core::{AuthState, ErrorCode, FetchReason, TraceKind};

fn union_members(source: &str, name: &str) -> BTreeSet<String> {
    let start = source.find(&format!("export type {name} =")).unwrap_or_else(|| panic!("protocol.ts lacks {name}"));
    let body = &source[start..];
    let body = &body[..body.find(';').expect("the union ends with ;")];
    body.split('"').skip(1).step_by(2).map(String::from).collect()
}

fn protocol() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pkg/src/protocol.ts")).expect("pkg/src/protocol.ts")
}

fn names<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> BTreeSet<String> {
    all.iter().map(|&item| name(item).to_string()).collect()
}

#[test]
fn error_codes_match_the_core() {
    use ErrorCode::*;
    let all = [MalformedToken, FetchFailed, FetchTimeout, InvalidCallbackResult, TokenRejected, TokenExpired, SignedOut, Disposed];
    for code in all {
        match code {
            MalformedToken | FetchFailed | FetchTimeout | InvalidCallbackResult | TokenRejected | TokenExpired | SignedOut | Disposed => {}
        }
    }
    assert_eq!(union_members(&protocol(), "CoreErrorCode"), names(&all, ErrorCode::as_str));
}

#[test]
fn statuses_match_the_core() {
    let all = [AuthState::Loading, AuthState::Authenticated, AuthState::Unauthenticated];
    for state in all {
        match state {
            AuthState::Loading | AuthState::Authenticated | AuthState::Unauthenticated => {}
        }
    }
    assert_eq!(union_members(&protocol(), "AuthStatus"), names(&all, AuthState::as_str));
}

#[test]
fn trace_kinds_match_the_core() {
    use TraceKind::*;
    let all = [
        FetchStarted(FetchReason::Startup, false), TokenAdopted, SameTokenReturned, RefreshScheduled, FetchFailed,
        RetryScheduled, FetchSignedOut, StaleResultDropped, ServerAccepted, ServerRejected, StaleVerdictIgnored,
        OperationsHeld, OperationsReleased, OperationsRejected, LockAcquired, LockStolen, LockLost,
        LockReleasedOnTimeout, LockUnavailable, PeerTokenAdopted, StaleBroadcastIgnored, PeerMessageIgnored,
        PeerSignedOut, FetchSkipped,
    ];
    for kind in all {
        match kind {
            FetchStarted(..) | TokenAdopted | SameTokenReturned | RefreshScheduled | FetchFailed | RetryScheduled
            | FetchSignedOut | StaleResultDropped | ServerAccepted | ServerRejected | StaleVerdictIgnored
            | OperationsHeld | OperationsReleased | OperationsRejected | LockAcquired | LockStolen | LockLost
            | LockReleasedOnTimeout | LockUnavailable | PeerTokenAdopted | StaleBroadcastIgnored | PeerMessageIgnored | PeerSignedOut
            | FetchSkipped => {}
        }
    }
    assert_eq!(union_members(&protocol(), "CoreTraceKind"), names(&all, TraceKind::as_str));
}
