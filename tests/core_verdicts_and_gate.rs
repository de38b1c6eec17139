//! Server verdicts, token requests from a wrapped client, and the expectAuth gate, on a virtual clock.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use authlane::core::{
    AuthError, AuthState, Config, ErrorCode, FetchOutcome, OpDecision, Output, TokenNeed, TraceKind, Verdict,
};
use common::{mint, Harness};

const HOUR_MS: u64 = 3_600_000;

fn config() -> Config {
    Config::default()
}

fn gated() -> Config {
    Config { expect_auth: true, ..Default::default() }
}

/// A started harness whose session has a client reporting verdicts (attached before `start`).
fn attached(config: Config) -> Harness {
    let mut h = Harness::new(config);
    h.session.attach_client();
    h.session.start(h.now);
    h.drain();
    h
}

fn count(h: &Harness, kind: TraceKind) -> usize {
    h.traces.iter().filter(|&&k| k == kind).count()
}

fn verdict(h: &mut Harness, generation: u64, verdict: Verdict) {
    h.session.handle_server_verdict(h.now, generation, verdict);
    h.drain();
}

fn request(h: &mut Harness, waiter: u32, need: TokenNeed) {
    h.session.handle_token_request(h.now, waiter, need);
    h.drain();
}

/// Drains the session's outputs without the harness, so a test can look at their exact shape.
fn raw_outputs(h: &mut Harness) -> Vec<Output> {
    std::iter::from_fn(|| h.session.poll()).collect()
}

fn error_code(h: &Harness) -> Option<ErrorCode> {
    h.session.error().map(|e| e.code)
}

// ---- server verdicts ----

#[test]
fn with_a_client_attached_loading_lasts_until_the_server_accepts() {
    let mut h = attached(config());
    assert_eq!(h.fetch_count(), 1);
    let token = h.answer_fresh(3_600);
    assert_eq!(h.session.generation(), 1);
    assert_eq!(h.token_changes, vec![1]);
    assert_eq!(h.state(), AuthState::Loading, "adopted, but not yet accepted");
    assert!(h.states.is_empty(), "no state change on adoption alone");
    // The wrapped client is handed the pending token to send.
    request(&mut h, 1, TokenNeed::Current);
    assert_eq!(h.resolved, vec![(1, Ok(Some((1, token))))]);
    assert_eq!(h.fetch_count(), 1);

    verdict(&mut h, 1, Verdict::Accepted);
    assert_eq!(h.state(), AuthState::Authenticated);
    assert_eq!(h.session.error(), None);
    assert_eq!(h.states, vec![AuthState::Authenticated]);
    assert_eq!(count(&h, TraceKind::ServerAccepted), 1);
    // A repeated acceptance is not news.
    verdict(&mut h, 1, Verdict::Accepted);
    assert_eq!(h.states, vec![AuthState::Authenticated]);
    assert_eq!(count(&h, TraceKind::ServerAccepted), 1);
    assert_eq!(h.fetch_count(), 1);
}

#[test]
fn a_rejection_forces_one_fetch_without_a_state_flash_and_a_second_settles_token_rejected() {
    let mut h = attached(config());
    h.answer_fresh(3_600);
    verdict(&mut h, 1, Verdict::Accepted);
    assert_eq!(h.states, vec![AuthState::Authenticated]);

    verdict(&mut h, 1, Verdict::Rejected);
    assert_eq!(h.fetch_count(), 2, "exactly one forced fetch");
    assert!(h.fetches[1].1, "the fetch after a rejection is forced");
    assert_eq!(h.state(), AuthState::Authenticated, "no flash while the replacement is fetched");
    assert_eq!(h.states, vec![AuthState::Authenticated]);
    assert_eq!(count(&h, TraceKind::ServerRejected), 1);
    assert!(h.traces.contains(&TraceKind::FetchStarted(authlane::core::FetchReason::Rejected, true)));
    // Nothing else starts while the replacement is on its way.
    h.advance(10_000);
    assert_eq!(h.fetch_count(), 2);

    h.answer_fresh(3_600);
    assert_eq!(h.session.generation(), 2);
    assert_eq!(h.states, vec![AuthState::Authenticated], "the replacement does not flash either");

    verdict(&mut h, 2, Verdict::Rejected);
    assert_eq!(h.state(), AuthState::Unauthenticated);
    assert_eq!(error_code(&h), Some(ErrorCode::TokenRejected));
    assert_eq!(h.states, vec![AuthState::Authenticated, AuthState::Unauthenticated]);
    assert_eq!(h.session.generation(), 0, "the rejected token is dropped");
    assert_eq!(h.session.poll_timeout(), None, "no timer left to fetch again");
    h.advance(HOUR_MS);
    assert_eq!(h.fetch_count(), 2, "no further fetches over an hour");
    assert_eq!(h.states, vec![AuthState::Authenticated, AuthState::Unauthenticated]);
}

#[test]
fn a_first_token_and_its_replacement_rejected_while_loading_settle_straight_to_unauthenticated() {
    let mut h = attached(config());
    h.answer_fresh(3_600);
    verdict(&mut h, 1, Verdict::Rejected);
    assert_eq!(h.fetch_count(), 2);
    assert!(h.fetches[1].1);
    assert_eq!(h.state(), AuthState::Loading);
    assert!(h.states.is_empty());
    h.answer_fresh(3_600);
    assert_eq!(h.state(), AuthState::Loading, "the replacement awaits its own verdict");
    verdict(&mut h, 2, Verdict::Rejected);
    assert_eq!(h.states, vec![AuthState::Unauthenticated]);
    assert_eq!(error_code(&h), Some(ErrorCode::TokenRejected));
    h.advance(HOUR_MS);
    assert_eq!(h.fetch_count(), 2);
}

#[test]
fn an_acceptance_between_two_rejections_resets_the_count() {
    let mut h = attached(config());
    h.answer_fresh(3_600);
    verdict(&mut h, 1, Verdict::Accepted);

    verdict(&mut h, 1, Verdict::Rejected);
    assert_eq!(h.fetch_count(), 2);
    h.answer_fresh(3_600);
    verdict(&mut h, 2, Verdict::Accepted);
    assert_eq!(h.state(), AuthState::Authenticated);

    // A later rejection is a first rejection again: one more forced fetch, not a sign-out.
    verdict(&mut h, 2, Verdict::Rejected);
    assert_eq!(h.fetch_count(), 3);
    assert!(h.fetches[2].1);
    assert_eq!(h.state(), AuthState::Authenticated);
    h.answer_fresh(3_600);
    verdict(&mut h, 3, Verdict::Accepted);
    assert_eq!(h.state(), AuthState::Authenticated);
    assert_eq!(h.states, vec![AuthState::Authenticated]);
    assert_eq!(h.session.error(), None);
    assert_eq!(h.fetch_count(), 3);
}

#[test]
fn a_forced_refresh_returning_the_rejected_token_settles_without_a_loop() {
    let mut h = attached(config());
    let token = h.answer_fresh(3_600);
    verdict(&mut h, 1, Verdict::Accepted);
    verdict(&mut h, 1, Verdict::Rejected);
    assert_eq!(h.fetch_count(), 2);
    h.answer(FetchOutcome::Token(token));
    assert_eq!(h.state(), AuthState::Unauthenticated);
    assert_eq!(error_code(&h), Some(ErrorCode::TokenRejected));
    assert_eq!(h.session.generation(), 0);
    assert_eq!(h.token_changes, vec![1], "the identical token is not a new generation");
    h.advance(HOUR_MS);
    assert_eq!(h.fetch_count(), 2, "no refetch loop");
}

#[test]
fn verdicts_for_another_generation_are_ignored() {
    let mut h = attached(config());
    h.answer_fresh(3_600);
    verdict(&mut h, 1, Verdict::Rejected);
    h.answer_fresh(3_600);
    assert_eq!(h.session.generation(), 2);
    assert_eq!(h.state(), AuthState::Loading);

    // A late acceptance of the rejected token must not authenticate its replacement.
    verdict(&mut h, 1, Verdict::Accepted);
    assert_eq!(count(&h, TraceKind::StaleVerdictIgnored), 1);
    assert_eq!(h.state(), AuthState::Loading);
    // A late rejection of it must not count as the replacement's.
    verdict(&mut h, 1, Verdict::Rejected);
    assert_eq!(count(&h, TraceKind::StaleVerdictIgnored), 2);
    assert_eq!(h.state(), AuthState::Loading);
    assert_eq!(h.fetch_count(), 2);
    // Nor does a verdict on a generation never issued.
    verdict(&mut h, 99, Verdict::Rejected);
    verdict(&mut h, 0, Verdict::Accepted);
    assert_eq!(count(&h, TraceKind::StaleVerdictIgnored), 4);
    assert_eq!(h.state(), AuthState::Loading);
    assert_eq!(h.fetch_count(), 2);
    assert_eq!(count(&h, TraceKind::ServerRejected), 1);

    verdict(&mut h, 2, Verdict::Accepted);
    assert_eq!(h.states, vec![AuthState::Authenticated]);
}

#[test]
fn a_duplicate_rejection_of_the_same_generation_counts_once() {
    let mut h = attached(config());
    h.answer_fresh(3_600);
    verdict(&mut h, 1, Verdict::Accepted);
    verdict(&mut h, 1, Verdict::Rejected);
    verdict(&mut h, 1, Verdict::Rejected);
    assert_eq!(count(&h, TraceKind::ServerRejected), 1);
    assert_eq!(h.fetch_count(), 2, "still one forced fetch");
    assert_eq!(h.state(), AuthState::Authenticated, "not signed out by the duplicate");
    h.answer_fresh(3_600);
    assert_eq!(h.session.generation(), 2);
    verdict(&mut h, 2, Verdict::Accepted);
    assert_eq!(h.states, vec![AuthState::Authenticated]);
}

// ---- token requests from a wrapped websocket client ----

#[test]
fn newer_than_resolves_from_the_cache_when_a_newer_fresh_token_is_held() {
    let mut h = Harness::started(config());
    let first = h.answer_fresh(3_600);
    request(&mut h, 1, TokenNeed::NewerThan(0));
    assert_eq!(h.resolved, vec![(1, Ok(Some((1, first))))]);
    assert_eq!(h.fetch_count(), 1, "no fetch for a token newer than 0");

    // The client holds generation 1 and reports it bad: the core must fetch.
    request(&mut h, 2, TokenNeed::NewerThan(1));
    assert_eq!(h.fetch_count(), 2);
    assert!(h.fetches[1].1, "NewerThan(current) forces");
    assert_eq!(h.resolved.len(), 1, "not answered with the token it already has");
    let second = h.answer_fresh(3_600);
    assert_eq!(h.resolved[1], (2, Ok(Some((2, second.clone())))));

    // Another client still on generation 1 asks: generation 2 is fresh, so no fetch.
    request(&mut h, 3, TokenNeed::NewerThan(1));
    assert_eq!(h.resolved[2], (3, Ok(Some((2, second)))));
    assert_eq!(h.fetch_count(), 2);

    // Generation 2 past its refresh point is not fresh: even NewerThan(1) waits for a fetch.
    let refresh_at = h.session.refresh_at().unwrap();
    h.advance_to(refresh_at);
    assert_eq!(h.fetch_count(), 3, "the proactive refresh");
    request(&mut h, 4, TokenNeed::NewerThan(1));
    assert_eq!(h.resolved.len(), 3);
    assert_eq!(h.fetch_count(), 3, "joins the refresh under way");
    let third = h.answer_fresh(3_600);
    assert_eq!(h.resolved[3], (4, Ok(Some((3, third)))));
}

#[test]
fn newer_than_the_current_generation_forces_a_fetch_even_when_fresh() {
    let mut h = Harness::started(config());
    h.answer_fresh(3_600);
    assert_eq!(h.fetch_count(), 1);
    assert!(h.open_fetches.is_empty());
    request(&mut h, 1, TokenNeed::NewerThan(1));
    assert_eq!(h.fetch_count(), 2);
    assert_eq!(h.fetches[1], (h.fetches[1].0, true, h.now));
    // Two clients reporting the same generation share the forced fetch.
    request(&mut h, 2, TokenNeed::NewerThan(1));
    assert_eq!(h.fetch_count(), 2);
    let token = h.answer_fresh(3_600);
    assert_eq!(h.resolved, vec![(1, Ok(Some((2, token.clone())))), (2, Ok(Some((2, token))))]);
}

// ---- the expectAuth gate ----

#[test]
fn held_operations_are_released_in_call_order_on_acceptance_then_everything_runs() {
    let mut h = Harness::new(gated());
    h.session.attach_client();
    assert!(h.session.is_holding_operations());
    assert_eq!(h.session.submit_operation(1), OpDecision::Hold, "held before start");
    h.session.start(h.now);
    h.drain();
    assert_eq!(h.session.submit_operation(2), OpDecision::Hold, "held while fetching");
    h.answer_fresh(3_600);
    assert_eq!(h.session.submit_operation(3), OpDecision::Hold, "held after adoption, before acceptance");
    h.drain();
    assert!(h.released.is_empty());
    assert_eq!(count(&h, TraceKind::OperationsHeld), 3);

    h.session.handle_server_verdict(h.now, 1, Verdict::Accepted);
    let outputs = raw_outputs(&mut h);
    let releases: Vec<_> = outputs.iter().filter(|o| matches!(o, Output::ReleaseOperations(_))).collect();
    assert_eq!(releases, vec![&Output::ReleaseOperations(vec![1, 2, 3])], "one release, in call order");
    let state_at = outputs.iter().position(|o| matches!(o, Output::StateChanged { .. })).unwrap();
    let release_at = outputs.iter().position(|o| matches!(o, Output::ReleaseOperations(_))).unwrap();
    assert!(state_at < release_at, "the state is Authenticated by the time the operations run");
    assert!(!h.session.is_holding_operations());
    assert_eq!(h.session.submit_operation(4), OpDecision::Run);

    // A background refresh brings a token with a pending verdict: nothing is held again.
    let refresh_at = h.session.refresh_at().unwrap();
    h.advance_to(refresh_at);
    assert_eq!(h.fetch_count(), 2);
    assert_eq!(h.session.submit_operation(5), OpDecision::Run, "during the refresh");
    h.answer_fresh(3_600);
    assert_eq!(h.session.generation(), 2);
    assert_eq!(h.session.submit_operation(6), OpDecision::Run, "with generation 2 pending");
    // Even a rejection of the new token and its forced refetch do not re-hold.
    verdict(&mut h, 2, Verdict::Rejected);
    assert_eq!(h.session.submit_operation(7), OpDecision::Run);
    assert!(!h.session.is_holding_operations());
    assert!(h.released.is_empty(), "released via raw outputs, not again through the harness");
    assert!(h.rejected.is_empty());
}

#[test]
fn a_cancelled_held_operation_is_not_released() {
    let mut h = attached(gated());
    for op in 1..=4 {
        assert_eq!(h.session.submit_operation(op), OpDecision::Hold);
    }
    assert!(h.session.cancel_operation(2));
    assert!(!h.session.cancel_operation(2), "already gone");
    assert!(!h.session.cancel_operation(42), "never held");
    h.answer_fresh(3_600);
    assert!(h.session.cancel_operation(4), "still held after adoption");
    verdict(&mut h, 1, Verdict::Accepted);
    assert_eq!(h.released, vec![1, 3]);
    assert!(!h.session.cancel_operation(1), "released operations cannot be cancelled");
    assert!(h.rejected.is_empty());
}

#[test]
fn signed_out_releases_held_operations_by_default() {
    let mut h = attached(gated());
    assert_eq!(h.session.submit_operation(1), OpDecision::Hold);
    assert_eq!(h.session.submit_operation(2), OpDecision::Hold);
    h.answer(FetchOutcome::SignedOut);
    assert_eq!(h.states, vec![AuthState::Unauthenticated]);
    assert_eq!(h.session.error(), None);
    assert_eq!(h.released, vec![1, 2]);
    assert!(h.rejected.is_empty());
    assert_eq!(h.session.submit_operation(3), OpDecision::Run);
}

#[test]
fn signed_out_rejects_held_operations_when_configured() {
    let mut h = attached(Config { reject_held_when_signed_out: true, ..gated() });
    assert_eq!(h.session.submit_operation(1), OpDecision::Hold);
    assert_eq!(h.session.submit_operation(2), OpDecision::Hold);
    h.answer(FetchOutcome::SignedOut);
    assert_eq!(h.state(), AuthState::Unauthenticated);
    assert!(h.released.is_empty());
    let rejected: Vec<_> = h.rejected.iter().map(|(op, e)| (*op, e.code)).collect();
    assert_eq!(rejected, vec![(1, ErrorCode::SignedOut), (2, ErrorCode::SignedOut)]);
    assert_eq!(count(&h, TraceKind::OperationsRejected), 1);
    assert_eq!(h.session.submit_operation(3), OpDecision::Run);
}

#[test]
fn dispose_rejects_held_operations_and_later_requests() {
    let mut h = attached(gated());
    assert_eq!(h.session.submit_operation(1), OpDecision::Hold);
    assert_eq!(h.session.submit_operation(2), OpDecision::Hold);
    request(&mut h, 10, TokenNeed::Current);
    assert!(h.resolved.is_empty());
    h.session.dispose();
    h.drain();
    let rejected: Vec<_> = h.rejected.iter().map(|(op, e)| (*op, e.code)).collect();
    assert_eq!(rejected, vec![(1, ErrorCode::Disposed), (2, ErrorCode::Disposed)]);
    assert!(h.released.is_empty());
    assert_eq!(h.resolved.len(), 1);
    assert_eq!(h.resolved[0].0, 10);
    assert_eq!(h.resolved[0].1.as_ref().unwrap_err().code, ErrorCode::Disposed);

    for (waiter, need) in [(11, TokenNeed::Current), (12, TokenNeed::Forced), (13, TokenNeed::NewerThan(0))] {
        request(&mut h, waiter, need);
        let (id, result) = h.resolved.last().unwrap();
        assert_eq!(*id, waiter);
        assert_eq!(result.as_ref().unwrap_err().code, ErrorCode::Disposed);
    }
    assert_eq!(h.fetch_count(), 1, "no fetch after dispose");
    // The startup fetch's late result, verdicts, timers and wakes are all ignored.
    h.answer_fresh(3_600);
    verdict(&mut h, 1, Verdict::Accepted);
    h.session.handle_wake(h.now);
    h.advance(HOUR_MS);
    assert_eq!(h.session.generation(), 0);
    assert_eq!(h.fetch_count(), 1);
    assert!(h.released.is_empty());
    assert_eq!(h.rejected.len(), 2);
}

#[test]
fn sign_out_drops_the_in_flight_fetch_and_settles_the_gate() {
    let mut h = attached(gated());
    assert_eq!(h.session.submit_operation(1), OpDecision::Hold);
    let startup = h.fetches[0].0;
    assert!(h.session.is_fetching());
    h.session.sign_out(h.now);
    h.drain();
    assert!(!h.session.is_fetching());
    assert_eq!(h.states, vec![AuthState::Unauthenticated]);
    assert_eq!(h.released, vec![1], "signed out: held operations run unauthenticated");
    h.session.handle_fetch_result(h.now, startup, FetchOutcome::Token(mint(h.now, 3_600, 1)));
    h.drain();
    assert!(h.traces.contains(&TraceKind::StaleResultDropped));
    assert_eq!(h.session.generation(), 0);
    assert!(h.token_changes.is_empty());
    verdict(&mut h, 1, Verdict::Accepted);
    assert_eq!(h.state(), AuthState::Unauthenticated, "no token, so no verdict applies");
    assert_eq!(h.states, vec![AuthState::Unauthenticated]);
    h.advance(HOUR_MS);
    assert_eq!(h.fetch_count(), 1);
}

#[test]
fn without_expect_auth_nothing_is_ever_held() {
    let mut h = Harness::new(config());
    h.session.attach_client();
    let mut op = 0;
    let mut run = |h: &mut Harness| {
        op += 1;
        assert_eq!(h.session.submit_operation(op), OpDecision::Run, "op {op}");
        assert!(!h.session.is_holding_operations());
    };
    run(&mut h);
    h.session.start(h.now);
    h.drain();
    run(&mut h);
    h.answer_fresh(3_600);
    run(&mut h);
    assert_eq!(h.state(), AuthState::Loading, "still awaiting the verdict, yet nothing is held");
    verdict(&mut h, 1, Verdict::Rejected);
    run(&mut h);
    h.answer(FetchOutcome::Failed(AuthError::new(ErrorCode::FetchFailed, "down")));
    run(&mut h);
    h.session.sign_out(h.now);
    h.drain();
    run(&mut h);
    h.session.dispose();
    h.drain();
    run(&mut h);
    assert!(!h.session.cancel_operation(1));
    assert!(h.released.is_empty());
    assert!(h.rejected.is_empty());
    assert_eq!(count(&h, TraceKind::OperationsHeld), 0);
}

// ---- contract of `start` ----

#[test]
fn calling_start_again_while_a_startup_retry_waits_does_nothing() {
    // `Session::start` is documented: "Calling it again, or after a token is held, does nothing."
    // A driver that calls it twice (a remount, a double effect) must not bypass the backoff.
    let mut h = Harness::started(config());
    h.answer(FetchOutcome::Failed(AuthError::new(ErrorCode::FetchFailed, "issuer down")));
    let retry_at = h.session.poll_timeout().expect("a retry is scheduled");
    assert!(retry_at > h.now);
    h.session.start(h.now);
    h.drain();
    assert_eq!(h.fetch_count(), 1, "the second start fetched at once instead of waiting for the retry");
    h.advance_to(retry_at);
    assert_eq!(h.fetch_count(), 2, "the retry happens on schedule");
}

// ---- NewerThan while Unauthenticated ----

#[test]
fn newer_than_while_signed_out_with_no_token_answers_at_once_without_fetching() {
    // The design: a client asking to replace its token cannot reopen a settled session.
    let mut h = attached(config());
    h.answer(FetchOutcome::SignedOut);
    request(&mut h, 1, TokenNeed::NewerThan(0));
    assert_eq!(h.resolved, vec![(1, Ok(None))]);
    assert_eq!(h.fetch_count(), 1);
    // After a double rejection the settled error is the answer.
    let mut h = attached(config());
    h.answer_fresh(3_600);
    verdict(&mut h, 1, Verdict::Rejected);
    h.answer_fresh(3_600);
    verdict(&mut h, 2, Verdict::Rejected);
    request(&mut h, 1, TokenNeed::NewerThan(2));
    assert_eq!(h.resolved.len(), 1);
    assert_eq!(h.resolved[0].1.as_ref().unwrap_err().code, ErrorCode::TokenRejected);
    assert_eq!(h.fetch_count(), 2, "no fetch: no rejection loop");
    // Current reopens it.
    request(&mut h, 2, TokenNeed::Current);
    assert_eq!(h.fetch_count(), 3);
}

#[test]
fn newer_than_while_unauthenticated_still_sees_a_token_held_for_the_servers_verdict() {
    // With a client attached, a session re-opened after sign-out holds its new token while
    // still `Unauthenticated`, waiting for the server's verdict.
    let mut h = attached(config());
    h.answer(FetchOutcome::SignedOut);
    request(&mut h, 1, TokenNeed::Current);
    assert_eq!(h.fetch_count(), 2);
    let token = h.answer_fresh(3_600);
    assert_eq!(h.resolved, vec![(1, Ok(Some((1, token.clone()))))]);
    assert_eq!(h.state(), AuthState::Unauthenticated, "awaiting the verdict");
    // A fresh token newer than 0 is held: it must be the answer, not "signed out".
    request(&mut h, 2, TokenNeed::NewerThan(0));
    assert_eq!(h.resolved[1], (2, Ok(Some((1, token)))), "told signed out while a usable token is held");
    assert_eq!(h.fetch_count(), 2);

    // The server rejects it: the core fetches a replacement (rejection 1 of 2), and a client
    // asking for a token newer than the rejected one must get that replacement, not "signed out".
    verdict(&mut h, 1, Verdict::Rejected);
    assert_eq!(h.fetch_count(), 3);
    request(&mut h, 3, TokenNeed::NewerThan(1));
    assert_eq!(h.resolved.len(), 2, "answered before the replacement arrived");
    let replacement = h.answer_fresh(3_600);
    assert_eq!(h.resolved[2], (3, Ok(Some((2, replacement)))));
}

#[test]
fn the_token_getter_follows_the_current_token() {
    let mut h = Harness::started(Config::default());
    assert_eq!(h.session.token(), None);
    let first = h.answer_fresh(60);
    assert_eq!(h.session.token(), Some(first.as_str()));
    h.session.handle_server_verdict(h.now, h.session.generation(), Verdict::Rejected);
    h.drain();
    let second = h.answer_fresh(60);
    assert_eq!(h.session.token(), Some(second.as_str()), "the forced replacement");
    h.session.handle_server_verdict(h.now, h.session.generation(), Verdict::Rejected);
    h.drain();
    assert_eq!(h.state(), AuthState::Unauthenticated);
    assert_eq!(h.session.token(), None, "a settled session holds no token");
}
