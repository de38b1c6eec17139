//! One clock per app (issue 12, item 4): with the device clock an hour ahead, a provider's fresh
//! token looks an hour old until a forced fetch teaches a tab the skew. The tabs share the machine
//! clock, so what one tab learns is every tab's, and tabs opened later read it from storage: a
//! skewed machine costs one extra fetch per app, not per tab. N tabs on one virtual clock.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use authlane::core::{AuthState, FetchOutcome, FetchReason, LockGrant, PeerMessage, Slot, TokenNeed, TraceKind};
use common::tabs::{Issuer, Tabs};
use common::{mint, Harness};

const HOUR_MS: u64 = 3_600_000;
const RUN_MS: u64 = 60_000;

/// `count` tabs opening together on a device whose clock is `ahead_ms` ahead of the issuer's,
/// run for a minute of 20 s tokens.
fn run(count: usize, ahead_ms: u64) -> Tabs {
    let mut issuer = Issuer::new(20, 100);
    issuer.clock_behind_ms = ahead_ms;
    let mut tabs = Tabs::new(count, Tabs::cross_tab_config(), issuer);
    tabs.start_all();
    tabs.run_for(RUN_MS);
    tabs
}

fn stale_fetches(tabs: &Tabs) -> usize {
    let stale = |kind: &TraceKind| matches!(kind, TraceKind::FetchStarted(FetchReason::Stale, _));
    tabs.tabs.iter().map(|tab| tab.traces.iter().filter(|(_, kind)| stale(kind)).count()).sum()
}

#[test]
fn eight_tabs_on_a_clock_an_hour_ahead_cost_at_most_one_extra_fetch_over_one_tab() {
    let one_true = run(1, 0);
    let one = run(1, HOUR_MS);
    let eight = run(8, HOUR_MS);
    println!(
        "token calls over {} s of 20 s tokens: 1 tab with a true clock {}, 1 tab an hour ahead {}, 8 tabs an hour ahead {} \
         (fetches of a token that looked stale: 1 tab {}, 8 tabs {})",
        RUN_MS / 1000,
        one_true.total_fetch_calls(),
        one.total_fetch_calls(),
        eight.total_fetch_calls(),
        stale_fetches(&one),
        stale_fetches(&eight),
    );
    // The skew was in effect: the lone tab found the provider's fresh token an hour old once.
    assert_eq!(stale_fetches(&one), 1, "one tab relearns nothing after its first forced fetch");
    assert!(one.total_fetch_calls() <= one_true.total_fetch_calls() + 1, "a skewed clock costs one tab at most one extra fetch");
    assert!(
        eight.total_fetch_calls() <= one.total_fetch_calls(),
        "8 tabs made {} calls where one tab's schedule needs {}",
        eight.total_fetch_calls(),
        one.total_fetch_calls()
    );
    assert!(eight.total_fetch_calls() <= one_true.total_fetch_calls() + 1, "at most one extra fetch for the whole app");
    assert_eq!(eight.issuer.reuse_detections, 0);
    for (index, tab) in eight.tabs.iter().enumerate() {
        assert_eq!(tab.states, vec![AuthState::Authenticated], "tab {index} never flashed");
    }
}

#[test]
fn a_tab_opened_later_reads_the_learnt_skew_and_fetches_once() {
    let mut issuer = Issuer::new(20, 100);
    issuer.clock_behind_ms = HOUR_MS;
    let mut tabs = Tabs::new(1, Tabs::cross_tab_config(), issuer);
    tabs.start_all();
    tabs.run_for(2_000);
    assert_eq!(tabs.tabs[0].fetch_calls, 2, "the first tab learnt the skew: its cached-looking token, then a forced one");
    // Every tab closes; later another opens, alone, with no token to take from a peer.
    tabs.close(0);
    tabs.run_for(60_000);
    let late = tabs.add_tab();
    tabs.start(late);
    tabs.run_for(2_000);
    println!("a tab opened a minute after the skew was learnt, alone: {} token call(s)", tabs.tabs[late].fetch_calls);
    assert_eq!(tabs.tabs[late].session.state(), AuthState::Authenticated);
    assert_eq!(tabs.tabs[late].fetch_calls, 1, "the stored skew made the provider's token look as fresh as it is");
}

/// A tab alone that reads `record` (from storage) before it starts, and whose startup fetch (unforced:
/// the provider may answer from its cache) returns `token`.
fn start_alone_after(record: &str, token: String) -> Harness {
    let mut h = Harness::new(Tabs::cross_tab_config());
    h.session.handle_peer_message(h.now, record);
    h.session.start(h.now);
    h.drain();
    let (lock, _) = h.lock_requests[0];
    h.session.handle_lock_acquired(h.now, lock, LockGrant::Uncontended);
    h.drain();
    h.answer(FetchOutcome::Token(token));
    h
}

#[test]
fn an_implausible_or_outdated_skew_from_a_peer_or_storage_is_ignored() {
    // A cached token 55 s into its minute: stale, whatever a peer says about the clocks.
    for (label, read_at_offset, issuer_at_offset) in [
        ("two years of skew", 0, 2 * 366 * 24 * HOUR_MS),
        ("a reading from two days ago", 2 * 24 * HOUR_MS, 2 * 24 * HOUR_MS + HOUR_MS),
        ("a reading from the future", 0u64.wrapping_sub(HOUR_MS), 0),
    ] {
        let lie = PeerMessage::Clock { issuer_at: common::T0.saturating_sub(issuer_at_offset) }.encode_at(common::T0.wrapping_sub(read_at_offset));
        let h = start_alone_after(&lie, mint(common::T0 - 55_000, 60, 1));
        assert!(
            h.traces.contains(&TraceKind::FetchStarted(FetchReason::Stale, true)),
            "{label}: the old cached token was taken for fresh"
        );
    }
}

#[test]
fn a_plausible_skew_from_storage_is_used() {
    // The machine clock `ahead` of the issuer's, read `age` ago: the provider's fresh token (its iat
    // on the issuer's clock) is judged fresh. Within a year of skew and a day of age, the reading holds.
    for (label, ahead, age) in [
        ("an hour ahead, read a minute ago", HOUR_MS, 60_000),
        ("an hour ahead, read 23 hours ago", HOUR_MS, 23 * HOUR_MS),
        ("300 days ahead, read a minute ago", 300 * 24 * HOUR_MS, 60_000),
    ] {
        let read_at = common::T0 - age;
        let reading = PeerMessage::Clock { issuer_at: read_at - ahead }.encode_at(read_at);
        let h = start_alone_after(&reading, mint(common::T0 - ahead, 60, 1));
        assert_eq!(h.fetch_count(), 1, "{label}: the provider's fresh token was judged stale");
        assert_eq!(h.state(), AuthState::Authenticated, "{label}");
    }
}

#[test]
fn a_slow_answer_on_a_true_clock_teaches_the_app_no_skew() {
    // The provider takes 8 s to answer (within the lock timeout). Measured at the answer, the
    // issuer's clock would look 8 s behind, and every tab would take cached tokens for 8 s younger
    // than they are.
    let mut tabs = Tabs::new(2, Tabs::cross_tab_config(), Issuer::new(60, 8_000));
    tabs.start_all();
    tabs.run_for(9_000);
    tabs.call(0, "getToken({ forceRefresh: true })", |session, now| session.handle_token_request(now, 1, TokenNeed::Forced));
    tabs.run_for(9_000);
    assert_eq!(tabs.issuer.tokens_issued, 2, "the startup fetch and the forced one");
    assert!(tabs.remembered.get(Slot::Clock.as_str()).is_none(), "no skew recorded: {:?}", tabs.remembered);
}
