#![cfg(not(target_arch = "wasm32"))]
//! A refresh lock that cannot be had, and one given back behind the session's back, on the
//! virtual clock: nothing waits forever for a lock (issue 12, items 5 and 6).
//! - A lock request is never left without a deadline: the wait steals, and a steal nobody grants
//!   gives up on the lock and fetches alone.
//! - A request the browser refuses (`handle_lock_unavailable`: an opaque origin, a SecurityError)
//!   makes the attempt waiting for it fetch alone at once; the next attempt asks again.
//! - A page hidden into the back/forward cache gives its locks back (`pagehide`); restored, it asks
//!   for the lock again instead of fetching under a lock it no longer holds.

mod common;

use authlane::core::{AuthState, Config, FetchOutcome, LockGrant, TokenNeed, TraceKind};
use common::tabs::{Issuer, Tabs};
use common::{mint, Harness};

fn cross_tab(lock_timeout_ms: u64, peer_grace_ms: u64) -> Config {
    Config { lock_timeout_ms, peer_grace_ms, ..Tabs::cross_tab_config() }
}

fn traced(h: &Harness, kind: TraceKind) -> usize {
    h.traces.iter().filter(|&&k| k == kind).count()
}

#[test]
fn a_steal_nobody_grants_gives_up_on_the_lock_and_fetches_alone() {
    // The lock manager never answers (a request lost, a thief frozen holding the takeover lock).
    let mut h = Harness::started(cross_tab(5_000, 50));
    assert_eq!(h.lock_requests.len(), 1);
    h.advance(5_000);
    assert_eq!(h.lock_requests.last(), Some(&(1, true)), "the wait turned into a steal");
    assert!(h.session.poll_timeout().is_some(), "no deadline is armed while the steal is outstanding");
    // A thief's hold is bounded by its grace and a lock timeout: past that, the steal is asked
    // again (the driver then takes the takeover lock too), and past that again, the tab gives up.
    h.advance(5_000 + 50 + 1);
    assert_eq!(h.lock_requests, vec![(1, false), (1, true), (1, true)], "the steal was forced");
    assert_eq!(h.fetch_count(), 0);
    h.advance(5_000 + 50 + 1);
    assert_eq!(traced(&h, TraceKind::LockUnavailable), 1);
    assert_eq!(h.lock_releases, vec![1], "the steal request is withdrawn");
    assert_eq!(h.fetch_count(), 1, "the tab fetched alone");
    h.answer_fresh(60);
    assert_eq!(h.state(), AuthState::Authenticated);
    // Only that attempt went without the lock: the next one asks for it again.
    h.session.handle_token_request(h.now, 1, TokenNeed::Forced);
    h.drain();
    assert_eq!(h.lock_requests.last(), Some(&(2, false)));
    assert_eq!(h.fetch_count(), 1);
}

#[test]
fn a_waiters_patience_after_stealing_outlasts_the_thiefs_hold() {
    // Stealing, the tab hears a thief take the lock (`Holding`): it waits the thief's whole bound
    // (grace + lock timeout) from then, never less than it would have waited anyway.
    let mut h = Harness::started(cross_tab(5_000, 200));
    h.advance(5_000);
    h.advance(100);
    h.session.handle_peer_message(h.now, &authlane::core::PeerMessage::Holding.encode());
    h.drain();
    let deadline = h.session.poll_timeout().expect("armed");
    assert_eq!(deadline, h.now + 5_000 + 200 + 1);
}

#[test]
fn a_refused_lock_request_makes_the_session_work_alone() {
    let mut h = Harness::started(cross_tab(10_000, 50));
    let (lock, _) = h.lock_requests[0];
    h.session.handle_lock_unavailable(h.now, lock);
    h.drain();
    assert_eq!(traced(&h, TraceKind::LockUnavailable), 1, "a trace says the tab works alone");
    assert_eq!(h.fetch_count(), 1, "fetched at once, without the lock");
    assert!(h.lock_releases.is_empty(), "nothing to give back: the request failed");
    h.answer_fresh(60);
    assert_eq!(h.state(), AuthState::Authenticated);
    // The next attempt asks again (a refusal may pass), and is refused again: alone again.
    h.session.handle_token_request(h.now, 1, TokenNeed::Forced);
    h.drain();
    assert_eq!(h.lock_requests.len(), 2);
    assert_eq!(h.fetch_count(), 1, "waiting for the lock");
    let (second, _) = h.lock_requests[1];
    h.session.handle_lock_unavailable(h.now, second);
    h.drain();
    assert_eq!(h.fetch_count(), 2);
    assert_eq!(traced(&h, TraceKind::LockUnavailable), 2);
    h.answer_fresh(60);
    // A refusal of a request nobody waits for (late, or for an old id) changes nothing.
    h.session.handle_lock_unavailable(h.now, 99);
    h.drain();
    assert_eq!(traced(&h, TraceKind::LockUnavailable), 2);
}

#[test]
fn a_refusal_while_holding_a_grant_is_ignored() {
    let mut h = Harness::started(cross_tab(10_000, 50));
    let (lock, _) = h.lock_requests[0];
    h.session.handle_lock_acquired(h.now, lock, LockGrant::Uncontended);
    h.drain();
    assert_eq!(h.fetch_count(), 1);
    h.session.handle_lock_unavailable(h.now, lock);
    h.drain();
    assert_eq!(traced(&h, TraceKind::LockUnavailable), 0);
    h.answer(FetchOutcome::Token(mint(h.now, 60, 1)));
    assert_eq!(h.lock_releases, vec![lock]);
}

/// Two tabs, signed in; the lease, so every grant waits the peer grace (100 ms); a slow issuer.
fn two_tabs() -> Tabs {
    let mut issuer = Issuer::new(60, 1_000);
    issuer.reuse_window_ms = 0;
    let mut tabs = Tabs::new(2, cross_tab(5_000, 100), issuer);
    tabs.use_lease();
    tabs.start_all();
    tabs.run_for(3_000);
    for tab in 0..2 {
        assert_eq!(tabs.tabs[tab].session.state(), AuthState::Authenticated);
    }
    tabs
}

#[test]
fn a_page_restored_from_the_back_forward_cache_in_its_grace_asks_for_the_lock_again() {
    let mut tabs = two_tabs();
    // Tab 0 takes the lock for a forced refresh and is in its peer grace when the user navigates
    // away: the page enters the back/forward cache and its driver gives the lock back.
    tabs.ask(0, 1, TokenNeed::Forced);
    assert_eq!(tabs.lock_holder().map(|(tab, _)| tab), Some(0), "tab 0 holds the lock, in its grace");
    tabs.hide(0);
    assert_eq!(tabs.lock_holder(), None, "the fault: pagehide gave the lock back");
    // Tab 1 refreshes meanwhile: it takes the free lock and its request is out.
    tabs.ask(1, 2, TokenNeed::Forced);
    tabs.run_for(150);
    assert_eq!(tabs.pending_fetches().len(), 1, "tab 1's request is at the issuer");
    // The user comes back: the page is restored with its grace overdue.
    let fetches_before = tabs.tabs[0].fetch_calls;
    tabs.show(0);
    assert_eq!(tabs.tabs[0].fetch_calls, fetches_before, "tab 0 fetched under a lock it gave back");
    tabs.run_for(5_000);
    assert_eq!(tabs.issuer.reuse_detections, 0, "two tabs presented one refresh token");
    // Queued again behind tab 1, tab 0 takes tab 1's token, fetched after it asked: its forced
    // request is answered without a fetch of its own.
    assert_eq!(tabs.tabs[0].fetch_calls, fetches_before);
    let answered = tabs.tabs[0].tokens_used.last().expect("tab 0's request was answered").1.clone();
    assert_eq!(Some(answered.as_str()), tabs.tabs[1].session.token());
    for tab in 0..2 {
        assert_eq!(tabs.tabs[tab].session.state(), AuthState::Authenticated, "tab {tab}");
    }
}

#[test]
fn a_page_restored_while_waiting_for_the_lock_queues_again_at_once() {
    let mut tabs = two_tabs();
    tabs.issuer.latency_ms = 3_000;
    // Tab 1 refreshes (3 s at the issuer); tab 0 queues behind it and is then hidden.
    tabs.ask(1, 1, TokenNeed::Forced);
    tabs.run_for(150);
    tabs.ask(0, 2, TokenNeed::Forced);
    tabs.hide(0);
    tabs.run_for(500);
    tabs.show(0);
    // Queued again at once (not after a lock timeout, and without stealing from tab 1).
    tabs.run_for(4_000);
    assert_eq!(tabs.tabs[0].traces.iter().filter(|(_, k)| *k == TraceKind::LockStolen).count(), 0);
    assert_eq!(tabs.tabs[0].fetch_calls, 2, "tab 0's forced refresh ran after tab 1's");
    assert_eq!(tabs.issuer.reuse_detections, 0);
}

#[test]
fn a_thief_frozen_holding_the_takeover_lock_does_not_hang_the_next_stealer() {
    // Found by the unsteered random sequences: a thief frozen in its grace keeps the takeover lock
    // that stealers queue on, and every later stealer waited behind it for good.
    let mut tabs = Tabs::new(3, cross_tab(5_000, 100), Issuer::new(60, 500));
    tabs.start_all();
    tabs.run_for(2_000);
    // Tab 0 takes the lock for a forced refresh and is frozen in its grace.
    tabs.ask(0, 1, TokenNeed::Forced);
    assert_eq!(tabs.lock_holder().map(|(tab, _)| tab), Some(0));
    tabs.freeze(0);
    // Tabs 1 and 2 queue behind it; after a lock timeout both steal: tab 1 first, which is then
    // frozen in its own grace, holding the takeover lock; tab 2 queues behind it.
    tabs.ask(1, 2, TokenNeed::Forced);
    tabs.ask(2, 3, TokenNeed::Forced);
    let asked = tabs.now;
    tabs.run_until(asked + 5_000);
    assert_eq!(tabs.lock_holder().map(|(tab, _)| tab), Some(1), "tab 1 stole the lock");
    tabs.freeze(1);
    let before = tabs.tabs[2].fetch_calls;
    tabs.run_for(30_000);
    assert_eq!(tabs.tabs[2].fetch_calls, before + 1, "tab 2 waited behind the frozen thief for good");
    assert_eq!(tabs.lock_holder(), None, "tab 2 fetched under the lock and released it");
    tabs.thaw(0);
    tabs.thaw(1);
    tabs.run_for(5_000);
    assert_eq!(tabs.issuer.reuse_detections, 0);
    let tokens: Vec<_> = tabs.tabs.iter().map(|t| t.session.token().map(String::from)).collect();
    assert!(tokens.iter().all(|t| t.is_some() && *t == tokens[2]), "every tab on tab 2's token: {tokens:?}");
}

#[test]
fn a_sign_out_keeps_an_abandoned_fetchs_lock_bounded_by_the_hold_timeout() {
    // Found by the unsteered sequences (5,000 runs): a sign-out stopped every timer, the hold timer
    // of a lock kept for an abandoned fetch too, so a callback that never settles kept the lock for
    // good and the tab's own next attempt had to steal it from itself.
    let mut h = Harness::started(Config { lock_timeout_ms: 60_000, ..cross_tab(60_000, 50) });
    let (lock, _) = h.lock_requests[0];
    h.session.handle_lock_acquired(h.now, lock, LockGrant::Uncontended);
    h.drain();
    assert_eq!(h.fetch_count(), 1, "fetching under the lock; the callback never settles");
    // The 30 s fetch timeout abandons the attempt: its lock is kept until the request lands, at
    // most until the hold timeout (60 s after the fetch started).
    let started = h.now;
    h.advance(30_000);
    assert!(h.lock_releases.is_empty(), "kept while the request is out");
    // Another tab signs the user out.
    let signed_out = authlane::core::PeerMessage::SignedOut.encode_at(h.now + 1_000);
    h.advance(1_000);
    h.session.handle_peer_message(h.now, &signed_out);
    h.drain();
    assert_eq!(h.state(), AuthState::Unauthenticated);
    h.advance_to(started + 60_000);
    assert!(h.lock_releases.contains(&lock), "the lock kept for the abandoned fetch was never given back");
}
