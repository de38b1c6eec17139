//! One backoff per app (issue 12, item 3): with the provider down, the tabs of one app retry on
//! one schedule — the failing lock holder's — instead of each running its own. N tabs on one
//! virtual clock (`common::tabs`), the issuer down for 30 s while 20 s tokens run out.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use authlane::core::{AuthError, AuthState, Config, ErrorCode, FetchOutcome, LockGrant, Millis, PeerMessage, TokenNeed, TraceKind, Verdict};
use common::tabs::{Issuer, Tabs};
use common::{Harness, T0};

const OUTAGE_MS: u64 = 30_000;
/// The outage starts here: the tabs are settled, the next refresh (10 s after receipt) is ahead.
const OUTAGE_FROM: Millis = T0 + 5_000;

fn config() -> Config {
    Tabs::cross_tab_config()
}

/// The most calls one tab's backoff can make in `window_ms` from its first failure: the first
/// call, then a retry after each delay, every delay at least half its exponential step.
fn one_tab_backoff_bound(config: &Config, window_ms: u64) -> usize {
    let (mut calls, mut elapsed, mut step) = (1, 0, config.backoff_initial_ms);
    loop {
        elapsed += step / 2;
        if elapsed >= window_ms {
            return calls;
        }
        calls += 1;
        step = (step * 2).min(config.backoff_max_ms);
    }
}

/// Every fetch start of every tab in `[from, to)`, sorted.
fn fetch_starts(tabs: &Tabs, from: Millis, to: Millis) -> Vec<Millis> {
    let mut starts: Vec<Millis> = tabs
        .tabs
        .iter()
        .flat_map(|tab| tab.traces.iter().filter(|(_, kind)| matches!(kind, TraceKind::FetchStarted(..))).map(|(at, _)| T0 + at))
        .filter(|at| (from..to).contains(at))
        .collect();
    starts.sort();
    starts
}

struct Outage {
    tabs: Tabs,
    /// Calls the issuer failed while down.
    failed_calls: usize,
    /// Token calls from the provider's return until every tab held a token again, and how long that took.
    calls_to_recover: usize,
    recovered_after_ms: u64,
}

/// `count` tabs, signed in; the issuer goes down at `OUTAGE_FROM` for `OUTAGE_MS`; `late` opens
/// one more tab `late` ms into the outage. Runs until every tab holds a token again.
fn outage(count: usize, late: Option<u64>) -> Outage {
    let mut tabs = Tabs::new(count, config(), Issuer::new(20, 100));
    tabs.start_all();
    tabs.run_until(OUTAGE_FROM);
    assert!(tabs.tabs.iter().all(|tab| tab.session.state() == AuthState::Authenticated));
    tabs.issuer.down = true;
    if let Some(after) = late {
        tabs.run_until(OUTAGE_FROM + after);
        let index = tabs.add_tab();
        tabs.start(index);
    }
    tabs.run_until(OUTAGE_FROM + OUTAGE_MS);
    tabs.issuer.down = false;
    let failed_calls = tabs.issuer.failed_calls;
    let issued = tabs.issuer.tokens_issued;
    let back = tabs.now;
    let holds_fresh_token = |tabs: &Tabs| tabs.tabs.iter().all(|tab| tab.session.expires_at().is_some_and(|exp| exp > back));
    while !holds_fresh_token(&tabs) {
        assert!(tabs.now < back + 60_000, "the tabs did not recover within a minute of the provider's return");
        let next = tabs.next_due().expect("something is scheduled");
        tabs.run_until(next);
    }
    let (calls_to_recover, recovered_after_ms) = (tabs.issuer.tokens_issued - issued, tabs.now - back);
    Outage { tabs, failed_calls, calls_to_recover, recovered_after_ms }
}

#[test]
fn eight_tabs_call_a_downed_provider_no_more_than_one_tab_and_recover_with_one_call() {
    let one = outage(1, None);
    let eight = outage(8, None);
    let bound = one_tab_backoff_bound(&config(), OUTAGE_MS);
    println!(
        "calls during a {} s outage (20 s tokens): 1 tab {}, 8 tabs {} (one tab's backoff allows at most {bound}); \
         after it: 1 tab recovered with {} call(s) in {} ms, 8 tabs with {} call(s) in {} ms",
        OUTAGE_MS / 1000,
        one.failed_calls,
        eight.failed_calls,
        one.calls_to_recover,
        one.recovered_after_ms,
        eight.calls_to_recover,
        eight.recovered_after_ms,
    );
    assert!(one.failed_calls >= 3, "the outage was felt: {} failed calls", one.failed_calls);
    assert!(eight.failed_calls >= 3, "the outage was felt by 8 tabs: {} failed calls", eight.failed_calls);
    assert!(eight.failed_calls <= bound, "8 tabs made {} calls, one tab's backoff allows {bound}", eight.failed_calls);
    assert!(eight.failed_calls <= one.failed_calls, "8 tabs {} calls, one tab {}", eight.failed_calls, one.failed_calls);
    // The calls form one backoff: each retry waits at least half its exponential step after the last.
    let starts = fetch_starts(&eight.tabs, OUTAGE_FROM, OUTAGE_FROM + OUTAGE_MS);
    let mut step = config().backoff_initial_ms;
    for pair in starts.windows(2) {
        assert!(pair[1] - pair[0] >= step / 2, "retries {} ms apart, the app's backoff step was {step} ms: {starts:?}", pair[1] - pair[0]);
        step = (step * 2).min(config().backoff_max_ms);
    }
    assert_eq!(eight.calls_to_recover, 1, "one call signs every tab back in");
    assert!(eight.recovered_after_ms <= config().backoff_max_ms, "recovered {} ms after the provider returned", eight.recovered_after_ms);
    for (index, tab) in eight.tabs.tabs.iter().enumerate() {
        assert_eq!(tab.session.state(), AuthState::Authenticated, "tab {index}");
        assert_eq!(tab.session.token(), eight.tabs.tabs[0].session.token(), "tab {index} holds the app's token");
    }
    assert_eq!(eight.tabs.issuer.reuse_detections, 0);
}

#[test]
fn a_tab_opened_during_the_outage_honours_the_apps_backoff() {
    let late = outage(7, Some(9_000));
    let bound = one_tab_backoff_bound(&config(), OUTAGE_MS);
    let newcomer = &late.tabs.tabs[7];
    println!(
        "7 tabs and one opened 9 s into a {} s outage: {} calls (one tab's backoff allows {bound}); the late tab fetched {} time(s)",
        OUTAGE_MS / 1000,
        late.failed_calls,
        newcomer.fetch_calls
    );
    assert!(late.failed_calls <= bound, "{} calls, one tab's backoff allows {bound}", late.failed_calls);
    let starts = fetch_starts(&late.tabs, OUTAGE_FROM, OUTAGE_FROM + OUTAGE_MS);
    let mut step = config().backoff_initial_ms;
    for pair in starts.windows(2) {
        assert!(pair[1] - pair[0] >= step / 2, "retries {} ms apart with the app's step at {step} ms: {starts:?}", pair[1] - pair[0]);
        step = (step * 2).min(config().backoff_max_ms);
    }
    assert_eq!(late.calls_to_recover, 1);
    assert_eq!(newcomer.session.state(), AuthState::Authenticated);
}

/// One cross-tab session, signed in with a minute-long token (lock granted uncontended).
fn signed_in() -> Harness {
    let mut h = Harness::started(config());
    let (lock, _) = h.lock_requests[0];
    h.session.handle_lock_acquired(h.now, lock, LockGrant::Uncontended);
    h.drain();
    h.answer_fresh(60);
    assert_eq!(h.state(), AuthState::Authenticated);
    h
}

fn peer_failure(at: Millis, retry_at: Millis) -> String {
    PeerMessage::Failed { retry_at, failures: 40, code: ErrorCode::FetchFailed }.encode_at(at)
}

#[test]
fn a_peer_holds_the_app_back_no_longer_than_the_longest_backoff_step() {
    let mut h = signed_in();
    // A peer (or a record in storage) claims the app backs off until the end of time.
    h.session.handle_peer_message(h.now, &peer_failure(h.now, u64::MAX));
    h.drain();
    assert!(h.traces.contains(&TraceKind::PeerFetchFailed));
    let asked_at = h.now;
    h.session.handle_token_request(h.now, 1, TokenNeed::Forced);
    h.drain();
    let locks = h.lock_requests.len();
    h.advance(config().backoff_max_ms - 1);
    assert_eq!(h.lock_requests.len(), locks, "no attempt before the app's (clamped) retry time");
    h.advance(1);
    assert_eq!(h.lock_requests.len(), locks + 1, "the attempt {} ms after the request, not never", h.now - asked_at);
}

#[test]
fn a_token_the_server_rejects_is_replaced_at_once_whatever_the_backoff() {
    let mut h = signed_in();
    h.session.handle_peer_message(h.now, &peer_failure(h.now, h.now + 20_000));
    h.drain();
    let locks = h.lock_requests.len();
    let generation = h.session.generation();
    h.session.handle_server_verdict(h.now, generation, Verdict::Rejected);
    h.drain();
    assert_eq!(h.lock_requests.len(), locks + 1, "the replacement is asked for at once");
}

#[test]
fn a_failure_older_than_the_token_held_or_already_due_changes_nothing() {
    let mut h = signed_in();
    let minted = h.now;
    h.advance(1_000);
    // Failed before this tab's token was fetched: a success since answers it.
    h.session.handle_peer_message(h.now, &peer_failure(minted - 1, h.now + 20_000));
    // Its retry time has passed: a stale record from storage.
    h.session.handle_peer_message(h.now, &peer_failure(h.now, h.now));
    h.drain();
    assert!(!h.traces.contains(&TraceKind::PeerFetchFailed));
    let locks = h.lock_requests.len();
    h.session.handle_token_request(h.now, 1, TokenNeed::Forced);
    h.drain();
    assert_eq!(h.lock_requests.len(), locks + 1, "a fetch is not held back");
}

#[test]
fn a_tabs_own_request_out_decides_for_it_when_a_peer_fails() {
    let mut h = signed_in();
    h.session.handle_token_request(h.now, 1, TokenNeed::Forced);
    h.drain();
    let (lock, _) = *h.lock_requests.last().unwrap();
    h.session.handle_lock_acquired(h.now, lock, LockGrant::Uncontended);
    h.drain();
    assert_eq!(h.open_fetches.len(), 1, "this tab's forced request is out");
    h.session.handle_peer_message(h.now, &peer_failure(h.now, h.now + 20_000));
    h.drain();
    assert!(h.traces.contains(&TraceKind::PeerFetchFailed), "the peer's failure was heard");
    let token = h.answer_fresh(60);
    assert_eq!(h.session.token(), Some(token.as_str()), "this tab's own answer was dropped for the peer's failure");
    assert_eq!(h.session.generation(), 2);
}

#[test]
fn an_older_failure_does_not_undo_a_newer_one_nor_a_sign_out() {
    let mut h = signed_in();
    h.advance(2_000);
    // The app failed a moment ago and retries in 20 s; news of an older failure with an earlier
    // retry arrives late: the newer one stands.
    h.session.handle_peer_message(h.now, &peer_failure(h.now, h.now + 20_000));
    h.session.handle_peer_message(h.now, &peer_failure(h.now - 1_000, h.now + 5_000));
    h.drain();
    h.session.handle_token_request(h.now, 1, TokenNeed::Forced);
    h.drain();
    let locks = h.lock_requests.len();
    h.advance(19_999);
    assert_eq!(h.lock_requests.len(), locks, "the older failure's earlier retry replaced the newer one's");
    h.advance(1);
    assert_eq!(h.lock_requests.len(), locks + 1);

    // A failure from before this tab's sign-out is not this tab's business.
    let mut h = signed_in();
    h.advance(2_000);
    h.session.sign_out(h.now);
    h.drain();
    h.advance(1_000);
    h.session.handle_peer_message(h.now, &peer_failure(h.now - 2_000, h.now + 20_000));
    h.drain();
    assert!(!h.traces.contains(&TraceKind::PeerFetchFailed), "a failure older than the sign-out was taken");
}

#[test]
fn a_peers_failure_of_the_kind_this_tab_had_keeps_its_error_and_another_kind_says_where_it_came_from() {
    // A tab whose own startup attempts all failed (unauthenticated with its own error), queued for
    // the lock again at its retry, when a peer's failure arrives.
    let failing_tab = || {
        let mut h = Harness::started(config());
        while h.state() != AuthState::Unauthenticated {
            let (lock, _) = *h.lock_requests.last().unwrap();
            h.session.handle_lock_acquired(h.now, lock, LockGrant::Uncontended);
            h.drain();
            h.answer(FetchOutcome::Failed(AuthError::new(ErrorCode::FetchFailed, "the provider is down")));
            let retry_at = h.session.poll_timeout().expect("a retry is scheduled");
            h.advance_to(retry_at);
        }
        h
    };
    let mut h = failing_tab();
    h.session.handle_peer_message(h.now, &peer_failure(h.now, h.now + 20_000));
    h.drain();
    assert_eq!(h.session.error(), Some(AuthError::new(ErrorCode::FetchFailed, "the provider is down")), "the same failure changed the error");

    let mut h = failing_tab();
    let timeout = PeerMessage::Failed { retry_at: h.now + 20_000, failures: 4, code: ErrorCode::FetchTimeout }.encode_at(h.now);
    h.session.handle_peer_message(h.now, &timeout);
    h.drain();
    let error = h.session.error().expect("still unauthenticated, with an error");
    assert_eq!(error.code, ErrorCode::FetchTimeout, "another kind of failure kept this tab's old one");
    assert_ne!(error.detail, "the provider is down");
}

#[test]
fn a_forced_request_held_back_by_the_app_is_fetched_forced_at_the_apps_retry() {
    let mut h = signed_in();
    h.session.handle_peer_message(h.now, &peer_failure(h.now, h.now + 20_000));
    h.drain();
    h.session.handle_token_request(h.now, 1, TokenNeed::Forced);
    h.drain();
    h.advance(20_000);
    let (lock, _) = *h.lock_requests.last().unwrap();
    h.session.handle_lock_acquired(h.now, lock, LockGrant::Uncontended);
    h.drain();
    let &(_, forced, at) = h.fetches.last().unwrap();
    assert_eq!(at, h.now, "the retry's fetch");
    assert!(forced, "a forced request was retried unforced: a provider's cache could answer it with an older token");
}

#[test]
fn a_success_after_the_apps_failure_ends_its_backoff_and_a_wake_retries_at_once() {
    // A peer's token fetched after the app's failure: the app has recovered, a forced request
    // goes out at once.
    let mut h = signed_in();
    h.advance(1_000);
    h.session.handle_peer_message(h.now, &peer_failure(h.now, h.now + 20_000));
    h.advance(1_000);
    let recovered = common::mint(h.now, 60, 7);
    let offer = PeerMessage::Token { token: recovered.clone(), expires_at: None }.encode_at(h.now);
    h.session.handle_peer_message(h.now, &offer);
    h.drain();
    assert_eq!(h.session.token(), Some(recovered.as_str()));
    let locks = h.lock_requests.len();
    h.session.handle_token_request(h.now, 1, TokenNeed::Forced);
    h.drain();
    assert_eq!(h.lock_requests.len(), locks + 1, "held back by a failure the app has recovered from");

    // The page wakes while the app backs off: like a tab alone, it retries now.
    let mut h = signed_in();
    h.session.handle_peer_message(h.now, &peer_failure(h.now, h.now + 20_000));
    h.session.handle_token_request(h.now, 1, TokenNeed::Forced);
    h.drain();
    let locks = h.lock_requests.len();
    h.advance(1_000);
    h.session.handle_wake(h.now);
    h.drain();
    assert_eq!(h.lock_requests.len(), locks + 1, "a wake did not retry now");
}
