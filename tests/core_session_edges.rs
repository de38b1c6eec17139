//! The single-session edges (issue 11): no stored token outlives a sign-out at the provider, a
//! forced request is answered only by a token fetched after it, every waiter settles in bounded
//! time, and the gate lets held operations go before anyone hears the verdict. Virtual clock.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use authlane::core::{
    AuthState, Config, ErrorCode, FetchOutcome, LockGrant, OpDecision, Output, PeerMessage, TokenNeed, Verdict,
};
use common::{jwt_from_claims, mint, Harness};

const HOUR_MS: u64 = 3_600_000;

fn persisted() -> Config {
    Config { persist: true, ..Default::default() }
}

fn request(h: &mut Harness, waiter: u32, need: TokenNeed) {
    h.session.handle_token_request(h.now, waiter, need);
    h.drain();
}

fn verdict(h: &mut Harness, generation: u64, verdict: Verdict) {
    h.session.handle_server_verdict(h.now, generation, verdict);
    h.drain();
}

/// A started, persisting session with a client that reports verdicts.
fn persisted_with_client() -> Harness {
    let mut h = Harness::new(persisted());
    h.session.attach_client();
    h.session.start(h.now);
    h.drain();
    h
}

/// What a reload finds in storage: the last record written, `None` once removed (or never written).
fn stored(h: &Harness) -> Option<String> {
    h.persisted.last().cloned().flatten()
}

/// A new session in a reloaded page, restoring `record` the way the driver does, then started.
fn reload(record: Option<String>) -> Harness {
    let mut h = Harness::new(persisted());
    if let Some(record) = record {
        h.session.handle_peer_message(h.now, &record);
    }
    h.session.start(h.now);
    h.drain();
    h
}

fn error_of(h: &Harness, waiter: u32) -> Option<ErrorCode> {
    h.resolved.iter().find(|(w, _)| *w == waiter).and_then(|(_, result)| result.as_ref().err().map(|e| e.code))
}

fn answered(h: &Harness, waiter: u32) -> bool {
    h.resolved.iter().any(|(w, _)| *w == waiter)
}

// ---- 1. the stored record goes with the sign-out ----

#[test]
fn a_callback_answering_null_removes_the_stored_token_so_a_reload_is_not_signed_in() {
    let mut h = Harness::started(persisted());
    h.answer_fresh(3_600);
    assert!(stored(&h).is_some(), "the token was persisted");
    // The user signed out at the provider; the next forced fetch learns it.
    request(&mut h, 1, TokenNeed::Forced);
    h.answer(FetchOutcome::SignedOut);
    assert_eq!(h.state(), AuthState::Unauthenticated);
    assert_eq!(stored(&h), None, "the record is removed");

    let reloaded = reload(stored(&h));
    assert_eq!(reloaded.state(), AuthState::Loading, "nothing restored: the reload asks the callback");
    assert_eq!(reloaded.fetch_count(), 1);
}

#[test]
fn a_final_rejection_removes_the_stored_token() {
    let mut h = persisted_with_client();
    h.answer_fresh(3_600);
    verdict(&mut h, 1, Verdict::Rejected);
    h.answer_fresh(3_600);
    assert!(stored(&h).is_some());
    verdict(&mut h, 2, Verdict::Rejected);
    assert_eq!(h.session.error().map(|e| e.code), Some(ErrorCode::TokenRejected));
    assert_eq!(stored(&h), None);
    let reloaded = reload(stored(&h));
    assert_eq!(reloaded.session.generation(), 0, "the rejected token is not restored");
}

#[test]
fn a_forced_refresh_returning_the_rejected_token_removes_it_too() {
    let mut h = persisted_with_client();
    let token = h.answer_fresh(3_600);
    verdict(&mut h, 1, Verdict::Rejected);
    h.answer(FetchOutcome::Token(token));
    assert_eq!(h.session.error().map(|e| e.code), Some(ErrorCode::TokenRejected));
    assert_eq!(stored(&h), None);
}

#[test]
fn a_failing_issuer_does_not_remove_a_stored_token_that_is_still_valid() {
    let mut h = Harness::started(persisted());
    h.answer_fresh(3_600);
    request(&mut h, 1, TokenNeed::Forced);
    h.answer(FetchOutcome::Failed(authlane::core::AuthError::new(ErrorCode::FetchFailed, "offline")));
    assert_eq!(h.state(), AuthState::Authenticated);
    assert!(stored(&h).is_some(), "a transient failure is not a sign-out");
}

// ---- 2. a forced request wants a token fetched after it ----

/// A cross-tab session holding its own token (generation 1), at T0 + 10 s.
fn cross_tab_with_token() -> Harness {
    let mut h = Harness::new(Config { cross_tab: true, ..Default::default() });
    h.session.start(h.now);
    h.drain();
    let (lock, _) = h.lock_requests[0];
    h.session.handle_lock_acquired(h.now, lock, LockGrant::MaybeContended);
    h.drain();
    h.advance(50);
    assert_eq!(h.fetch_count(), 1);
    h.answer_fresh(60);
    h.advance(10_000);
    assert_eq!(h.session.generation(), 1);
    h
}

fn peer_token(minted_at: u64, lifetime_s: u64, serial: u32) -> (String, String) {
    let token = mint(minted_at, lifetime_s, serial);
    let message = PeerMessage::Token { token: token.clone(), expires_at: Some(minted_at + lifetime_s * 1000) };
    (token, message.encode_at(minted_at))
}

#[test]
fn a_peers_older_longer_lived_token_does_not_answer_a_forced_request() {
    let mut h = cross_tab_with_token();
    let asked_at = h.now;
    request(&mut h, 7, TokenNeed::Forced);
    let (lock, _) = *h.lock_requests.last().unwrap();
    // A peer shares a token it fetched 5 s before the request, living an hour.
    let (older, message) = peer_token(asked_at - 5_000, 3_600, 900);
    h.session.handle_peer_message(h.now, &message);
    h.drain();
    assert_eq!(h.session.token(), Some(older.as_str()), "the peer's token is adopted for everyone else");
    assert!(!answered(&h, 7), "but it was fetched before the forced request");

    h.session.handle_lock_acquired(h.now, lock, LockGrant::MaybeContended);
    h.drain();
    h.advance(50);
    assert_eq!(h.fetch_count(), 2, "the forced request still fetches");
    assert!(h.fetches[1].1, "forced");
    let fresh = h.answer_fresh(60);
    let (_, result) = h.resolved.iter().find(|(w, _)| *w == 7).expect("answered");
    assert_eq!(result.as_ref().unwrap().as_ref().map(|(_, t)| t.as_str()), Some(fresh.as_str()));
}

#[test]
fn a_peers_token_fetched_after_the_request_answers_it_without_a_fetch() {
    let mut h = cross_tab_with_token();
    request(&mut h, 7, TokenNeed::Forced);
    let (lock, _) = *h.lock_requests.last().unwrap();
    h.advance(100);
    let (newer, message) = peer_token(h.now - 50, 60, 901);
    h.session.handle_peer_message(h.now, &message);
    h.drain();
    let (_, result) = h.resolved.iter().find(|(w, _)| *w == 7).expect("answered by the peer's fresh token");
    assert_eq!(result.as_ref().unwrap().as_ref().map(|(_, t)| t.as_str()), Some(newer.as_str()));
    h.session.handle_lock_acquired(h.now, lock, LockGrant::MaybeContended);
    h.drain();
    h.advance(1_000);
    assert_eq!(h.fetch_count(), 1, "no fetch of its own");
}

#[test]
fn a_forced_request_joining_a_fetch_started_before_it_gets_a_fetch_of_its_own() {
    let mut h = Harness::started(Config::default());
    h.answer_fresh(60);
    h.advance(50_000);
    assert_eq!(h.fetch_count(), 2, "the proactive refresh is out");
    h.advance(300);
    request(&mut h, 7, TokenNeed::Forced);
    assert_eq!(h.fetch_count(), 2, "joins it for now");
    h.answer_fresh(60);
    assert!(!answered(&h, 7), "that fetch started 300 ms before the request");
    assert_eq!(h.fetch_count(), 3);
    let fresh = h.answer_fresh(60);
    let (_, result) = h.resolved.iter().find(|(w, _)| *w == 7).expect("answered");
    assert_eq!(result.as_ref().unwrap().as_ref().map(|(_, t)| t.as_str()), Some(fresh.as_str()));
}

// ---- 3. every waiter settles while the callback keeps failing ----

fn failed() -> FetchOutcome {
    FetchOutcome::Failed(authlane::core::AuthError::new(ErrorCode::FetchFailed, "issuer down"))
}

/// Answers every fetch with a failure until `until`, firing timers on the way.
fn fail_until(h: &mut Harness, until: u64) {
    while h.now < until {
        while !h.open_fetches.is_empty() {
            h.answer(failed());
        }
        let next = h.session.poll_timeout().unwrap_or(until).min(until);
        h.advance_to(next.max(h.now + 1));
    }
}

#[test]
fn forced_and_newer_waiters_fail_after_the_first_retry_while_a_token_without_exp_is_held() {
    let mut h = Harness::started(Config::default());
    h.answer(FetchOutcome::Token(jwt_from_claims(r#"{"iss":"https://issuer.test","sub":"user_1"}"#)));
    assert_eq!(h.state(), AuthState::Authenticated);
    request(&mut h, 1, TokenNeed::Forced);
    request(&mut h, 2, TokenNeed::NewerThan(1));
    request(&mut h, 3, TokenNeed::Current);
    assert!(answered(&h, 3), "a current request is answered from the held token");
    h.answer(failed());
    assert!(!answered(&h, 1) && !answered(&h, 2), "one failure: the retry after the first backoff step may succeed");
    let retry_at = h.session.poll_timeout().expect("a retry is scheduled");
    assert!(retry_at - h.now <= Config::default().backoff_initial_ms);
    fail_until(&mut h, retry_at + 1);
    assert_eq!(error_of(&h, 1), Some(ErrorCode::FetchFailed));
    assert_eq!(error_of(&h, 2), Some(ErrorCode::FetchFailed));
    assert_eq!(h.state(), AuthState::Authenticated, "the held token still stands");
    assert_eq!(h.fetch_count(), 3, "startup, the forced fetch and one retry");
}

#[test]
fn a_waiter_settles_even_when_the_callback_never_settles() {
    let config = Config::default();
    let mut h = Harness::started(config.clone());
    h.answer_fresh(3_600);
    request(&mut h, 1, TokenNeed::Forced);
    // Nobody answers: two fetch timeouts and one backoff step later the waiter has its answer.
    h.advance(2 * config.fetch_timeout_ms + config.backoff_initial_ms);
    assert_eq!(error_of(&h, 1), Some(ErrorCode::FetchTimeout));
    assert_eq!(h.state(), AuthState::Authenticated);
}

#[test]
fn a_success_after_one_failure_answers_the_waiters_with_the_new_token() {
    let mut h = Harness::started(Config::default());
    h.answer_fresh(3_600);
    request(&mut h, 1, TokenNeed::Forced);
    h.answer(failed());
    let retry_at = h.session.poll_timeout().unwrap();
    h.advance_to(retry_at);
    let fresh = h.answer_fresh(3_600);
    let (_, result) = h.resolved.iter().find(|(w, _)| *w == 1).expect("answered");
    assert_eq!(result.as_ref().unwrap().as_ref().map(|(_, t)| t.as_str()), Some(fresh.as_str()));
}

// ---- 7. held operations keep their place when the gate opens ----

/// Performs outputs as a driver does, up to and including the first state change (where the
/// JavaScript face notifies listeners), and returns them.
fn perform_through_state_change(h: &mut Harness) -> Vec<Output> {
    let mut performed = Vec::new();
    while let Some(output) = h.session.poll() {
        let state_change = matches!(output, Output::StateChanged { .. });
        performed.push(output);
        if state_change {
            break;
        }
    }
    performed
}

fn releases(outputs: &[Output]) -> Vec<Vec<u32>> {
    outputs.iter().filter_map(|o| if let Output::ReleaseOperations(ops) = o { Some(ops.clone()) } else { None }).collect()
}

#[test]
fn an_operation_a_listener_submits_on_acceptance_runs_after_the_held_ones() {
    let mut h = Harness::new(Config { expect_auth: true, ..Default::default() });
    h.session.attach_client();
    h.session.start(h.now);
    h.drain();
    assert_eq!(h.session.submit_operation(1), OpDecision::Hold);
    h.drain();
    h.answer_fresh(HOUR_MS / 1000);
    h.session.handle_server_verdict(h.now, 1, Verdict::Accepted);
    let first = perform_through_state_change(&mut h);
    assert!(releases(&first).is_empty(), "the state is authenticated before held operations run");
    // A listener hears "authenticated" and submits an operation before the release is performed.
    assert_eq!(h.session.submit_operation(2), OpDecision::Hold, "it queues behind the held one");
    let rest: Vec<Output> = std::iter::from_fn(|| h.session.poll()).collect();
    assert_eq!(releases(&rest), vec![vec![1, 2]], "one release, in call order");
    assert_eq!(h.session.submit_operation(3), OpDecision::Run, "once performed, the gate is simply open");
}

#[test]
fn an_operation_a_listener_submits_on_a_signed_out_settlement_runs_after_the_held_ones() {
    let mut h = Harness::new(Config { expect_auth: true, ..Default::default() });
    h.session.start(h.now);
    h.drain();
    assert_eq!(h.session.submit_operation(1), OpDecision::Hold);
    h.drain();
    let fetch = h.open_fetches.remove(0);
    h.session.handle_fetch_result(h.now, fetch, FetchOutcome::SignedOut);
    perform_through_state_change(&mut h);
    assert_eq!(h.session.submit_operation(2), OpDecision::Hold);
    let rest: Vec<Output> = std::iter::from_fn(|| h.session.poll()).collect();
    assert_eq!(releases(&rest), vec![vec![1, 2]]);
}

// ---- 6. a client that lets go ----

#[test]
fn when_the_last_client_detaches_a_token_awaiting_its_verdict_settles_authenticated() {
    let mut h = Harness::new(Config::default());
    h.session.attach_client();
    h.session.attach_client();
    h.session.start(h.now);
    h.drain();
    h.answer_fresh(3_600);
    assert_eq!(h.state(), AuthState::Loading, "waits for a verdict");
    h.session.detach_client(h.now);
    h.drain();
    assert_eq!(h.state(), AuthState::Loading, "one client still reports");
    h.session.detach_client(h.now);
    h.drain();
    assert_eq!(h.states, vec![AuthState::Authenticated]);
}
