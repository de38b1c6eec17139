//! The peer grace after a lock grant: waited when a peer's broadcast may be racing the grant,
//! skipped when the grant proves no peer could be (the lock was free, nobody queued, when asked).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use authlane::core::{Config, LockGrant, Session, TokenNeed, TraceKind};
use common::tabs::{Issuer, Tabs, Work};
use common::{Harness, T0};

const LATENCY_MS: u64 = 100;

fn tabs(count: usize) -> Tabs {
    Tabs::new(count, Tabs::cross_tab_config(), Issuer::new(60, LATENCY_MS))
}

/// When (ms after T0), at `from` or later, tab `index` first traced a kind matching `is_kind`.
fn first_after(tabs: &Tabs, index: usize, from: u64, is_kind: fn(&TraceKind) -> bool) -> Option<u64> {
    tabs.tabs[index].traces.iter().find(|(at, kind)| *at >= from && is_kind(kind)).map(|(at, _)| *at)
}

fn is_lock_acquired(kind: &TraceKind) -> bool {
    *kind == TraceKind::LockAcquired
}

fn is_fetch_started(kind: &TraceKind) -> bool {
    matches!(kind, TraceKind::FetchStarted(..))
}

fn lock_acquired_at(tabs: &Tabs, index: usize) -> Option<u64> {
    first_after(tabs, index, 0, is_lock_acquired)
}

fn fetch_started_at(tabs: &Tabs, index: usize) -> Option<u64> {
    first_after(tabs, index, 0, is_fetch_started)
}

#[test]
fn a_lone_tab_fetches_in_the_millisecond_its_lock_is_granted() {
    let mut tabs = tabs(1);
    tabs.start_all();
    assert_eq!(lock_acquired_at(&tabs, 0), Some(0));
    assert_eq!(fetch_started_at(&tabs, 0), Some(0), "no peer grace: nobody held or queued for the lock");
    tabs.run_for(LATENCY_MS);
    assert_eq!(tabs.issuer.tokens_issued, 1);
}

#[test]
fn tabs_opened_together_fetch_once_the_first_at_once() {
    let mut tabs = tabs(8);
    tabs.start_all();
    assert_eq!(fetch_started_at(&tabs, 0), Some(0), "the first asker found the lock free");
    tabs.run_for(1_000);
    assert_eq!(tabs.issuer.tokens_issued, 1, "the queued tabs took tab 0's token");
    assert_eq!(tabs.total_fetch_calls(), 1);
    assert_eq!(tabs.issuer.reuse_detections, 0);
}

#[test]
fn a_grant_handed_over_ahead_of_the_holders_broadcast_waits_the_grace_and_skips_the_fetch() {
    // Tab 0 finds the lock free and fetches at once; tab 1 queues behind it.
    let mut tabs = tabs(2);
    tabs.start_all();
    assert_eq!(tabs.lock_holder().map(|(tab, _)| tab), Some(0));
    // Tab 0's response lands: it broadcasts its token, then releases, handing the lock to tab 1.
    tabs.fire_timers_at(T0 + LATENCY_MS);
    assert_eq!(tabs.step_once(Some(Work::FetchResult)), Some(Work::FetchResult));
    // The race the grace is for: the grant reaches tab 1 before the broadcast does.
    assert_eq!(tabs.pending_work(), vec![Work::Message, Work::Grant]);
    assert_eq!(tabs.step_once(Some(Work::Grant)), Some(Work::Grant));
    assert_eq!(lock_acquired_at(&tabs, 1), Some(LATENCY_MS));
    assert_eq!(tabs.tabs[1].fetch_calls, 0, "a handed-over grant waits the grace");
    assert_eq!(tabs.step_once(Some(Work::Message)), Some(Work::Message));
    tabs.run_for(1_000);
    assert_eq!(tabs.tabs[1].fetch_calls, 0, "the broadcast arrived within the grace");
    assert!(tabs.tabs[1].traces.iter().any(|(_, kind)| *kind == TraceKind::FetchSkipped));
    assert_eq!(tabs.issuer.tokens_issued, 1);
}

#[test]
fn with_a_peer_present_a_free_lock_still_waits_the_grace_and_so_does_a_hand_over() {
    let mut tabs = tabs(2);
    tabs.start_all();
    tabs.run_for(1_000);
    let grace = Tabs::cross_tab_config().peer_grace_ms;
    // Tab 0 forces a refresh: the lock is free, but tab 1 is there and might answer, so tab 0
    // waits the grace. 10 ms into tab 0's fetch, tab 1 forces one too and queues: tab 0's token was
    // fetched before tab 1 asked, so it does not answer tab 1, which fetches once handed the lock,
    // after the grace.
    let forced = |session: &mut Session, now| session.handle_token_request(now, 7, TokenNeed::Forced);
    let asked = tabs.now - T0;
    tabs.call(0, "force", forced);
    tabs.run_for(grace + 10);
    assert_eq!(first_after(&tabs, 0, asked, is_fetch_started), Some(asked + grace), "tab 0 waited the grace");
    tabs.call(1, "force", forced);
    tabs.run_for(1_000);
    let handed_over = asked + grace + LATENCY_MS;
    assert_eq!(first_after(&tabs, 1, asked, is_lock_acquired), Some(handed_over), "when tab 0's fetch was done");
    assert_eq!(first_after(&tabs, 1, asked, is_fetch_started), Some(handed_over + grace));
    assert_eq!(tabs.issuer.reuse_detections, 0);
}

/// One cross-tab session that asked for the lock at startup and was granted it as `grant`.
fn started_and_granted(grant: LockGrant) -> Harness {
    let mut h = Harness::started(Tabs::cross_tab_config());
    let (lock, _) = h.lock_requests[0];
    h.session.handle_lock_acquired(h.now, lock, grant);
    h.drain();
    h
}

#[test]
fn an_uncontended_grant_fetches_at_the_same_virtual_millisecond() {
    let h = started_and_granted(LockGrant::Uncontended);
    assert_eq!(h.fetches.iter().map(|&(_, _, at)| at).collect::<Vec<_>>(), vec![T0]);
    assert_eq!(h.session.poll_timeout(), Some(T0 + Config::default().lock_timeout_ms), "next: the lock hold timer, no grace");
}

#[test]
fn a_maybe_contended_grant_fetches_when_the_grace_is_over() {
    let mut h = started_and_granted(LockGrant::MaybeContended);
    let grace = Config::default().peer_grace_ms;
    h.advance(grace - 1);
    assert_eq!(h.fetch_count(), 0, "still in the grace");
    h.advance(1);
    assert_eq!(h.fetches.iter().map(|&(_, _, at)| at).collect::<Vec<_>>(), vec![T0 + grace]);
}

#[test]
fn an_uncontended_grant_delivered_a_lock_timeout_after_the_request_waits_the_grace() {
    // The tab was frozen with the grant queued: a thief may have stolen it meanwhile, its news
    // still behind the grant. The grace gives that news time to arrive.
    let mut h = Harness::started(Tabs::cross_tab_config());
    let (lock, _) = h.lock_requests[0];
    h.advance(Config::default().lock_timeout_ms);
    h.session.handle_lock_acquired(h.now, lock, LockGrant::Uncontended);
    h.drain();
    assert_eq!(h.fetch_count(), 0, "a stale grant waits the grace");
    h.advance(Config::default().peer_grace_ms);
    assert_eq!(h.fetch_count(), 1);
}
