//! A fetch begun ahead of the session (the driver's head start while the module loads) counts
//! from when it really began: a sign-out after that moment drops its token, as it would drop the
//! token of any fetch that old. Only an unforced fetch still out can be backdated.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use authlane::core::{AuthState, Config, FetchOutcome, LockGrant, PeerMessage, TokenNeed};
use common::{mint, Harness, T0};

/// A cross-tab session started at T0 and granted its first lock uncontended: its startup fetch is out.
fn fetching() -> Harness {
    let mut harness = Harness::started(Config { cross_tab: true, ..Config::default() });
    let (lock, _) = harness.lock_requests[0];
    harness.session.handle_lock_acquired(harness.now, lock, LockGrant::Uncontended);
    harness.drain();
    assert_eq!(harness.fetch_count(), 1);
    harness
}

#[test]
fn a_fetch_begun_ahead_counts_from_then_for_a_later_sign_out() {
    let began_at = T0 - 40;
    // Control: without the backdate, a sign-out between the early call and the session's fetch
    // predates the fetch, and its token is kept.
    let mut control = fetching();
    control.session.handle_peer_message(control.now, &PeerMessage::SignedOut.encode_at(T0 - 10));
    control.drain();
    control.answer_fresh(60);
    assert_eq!(control.state(), AuthState::Authenticated);

    let mut harness = fetching();
    assert!(harness.session.backdate_fetch(began_at));
    harness.session.handle_peer_message(harness.now, &PeerMessage::SignedOut.encode_at(T0 - 10));
    harness.drain();
    assert_eq!(harness.state(), AuthState::Unauthenticated, "the early call predates the sign-out");
    harness.answer_fresh(60);
    assert_eq!(harness.state(), AuthState::Unauthenticated, "its token signs nobody back in");
    assert!(harness.broadcasts.iter().all(|message| !message.contains("\"token\"")), "nor is it shared");
}

#[test]
fn the_backdated_fetch_shares_its_token_stamped_with_the_early_start() {
    let mut harness = fetching();
    assert!(harness.session.backdate_fetch(T0 - 40));
    harness.answer_fresh(60);
    let shared = harness.broadcasts.iter().find(|message| message.contains("\"token\"")).expect("the token is broadcast");
    assert!(shared.contains(&format!("\"at\":{}", T0 - 40)), "{shared}");
}

#[test]
fn a_recalled_sign_out_after_the_early_call_refuses_the_backdate() {
    let mut harness = Harness::new(Config { cross_tab: true, ..Config::default() });
    harness.session.recall_sign_out(T0 - 5);
    harness.session.start(harness.now);
    harness.drain();
    let (lock, _) = harness.lock_requests[0];
    harness.session.handle_lock_acquired(harness.now, lock, LockGrant::Uncontended);
    harness.drain();
    assert!(!harness.session.backdate_fetch(T0 - 40), "the early call began before a sign-out this tab knows of");
    assert!(harness.session.backdate_fetch(T0 - 4), "a call begun after it may stand for the fetch");
}

#[test]
fn only_an_unforced_fetch_still_out_can_be_backdated() {
    let mut harness = Harness::started(Config { cross_tab: true, ..Config::default() });
    assert!(!harness.session.backdate_fetch(T0 - 1), "waiting for the lock: no fetch is out");
    let (lock, _) = harness.lock_requests[0];
    harness.session.handle_lock_acquired(harness.now, lock, LockGrant::Uncontended);
    harness.drain();
    assert!(!harness.session.backdate_fetch(T0 + 1), "not later than the fetch itself");
    assert!(harness.session.backdate_fetch(T0), "begun in the very millisecond the fetch started: it stands for it");
    harness.answer(FetchOutcome::Token(mint(harness.now, 60, 1)));
    assert!(!harness.session.backdate_fetch(T0 - 1), "its result is in");

    // A forced fetch never stands in for an unforced early call.
    harness.session.handle_token_request(harness.now, 1, TokenNeed::Forced);
    harness.drain();
    let (lock, _) = *harness.lock_requests.last().unwrap();
    harness.session.handle_lock_acquired(harness.now, lock, LockGrant::MaybeContended);
    harness.advance(1_000);
    assert_eq!(harness.fetches.last().map(|&(_, forced, _)| forced), Some(true));
    assert!(!harness.session.backdate_fetch(T0 - 1));
}
