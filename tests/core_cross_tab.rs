//! Cross-tab coordination: N simulated tabs, one lock manager, one bus, one rotating issuer,
//! one virtual clock.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use authlane::core::{decode, AuthState, Config, LockGrant, PeerMessage, TraceKind, Verdict};
use common::tabs::{Issuer, Tabs};
use common::{mint, Harness};

const TWO_MINUTES: u64 = 120_000;

fn issuer() -> Issuer {
    Issuer::new(20, 100)
}

/// Runs `count` tabs for two minutes of 20 s tokens, asking every tab for its token each second.
fn run_tabs(count: usize, config: Config) -> Tabs {
    run(Tabs::new(count, config, issuer()))
}

fn run(mut tabs: Tabs) -> Tabs {
    tabs.start_all();
    for second in 1..=TWO_MINUTES / 1000 {
        tabs.run_for(1000);
        tabs.request_tokens(second as u32);
    }
    tabs
}

fn assert_no_expired_token_used(tabs: &Tabs) {
    for (index, tab) in tabs.tabs.iter().enumerate() {
        assert!(!tab.tokens_used.is_empty(), "tab {index} never got a token");
        for (at, token) in &tab.tokens_used {
            let exp_ms = decode(token).unwrap().claims.exp.unwrap() * 1000;
            assert!(*at < exp_ms, "tab {index} was handed a token expired {} ms ago", at - exp_ms);
        }
    }
}

#[test]
fn eight_tabs_cost_the_issuer_what_one_tab_costs() {
    // A lone tab skips the peer grace, so its refreshes drift 50 ms earlier each cycle than those
    // of tabs with peers present; on the lease every holder waits it, and the schedules match.
    let mut one = Tabs::new(1, Tabs::cross_tab_config(), issuer());
    one.use_lease();
    let one = run(one);
    let eight = run_tabs(8, Tabs::cross_tab_config());
    let independent = run_tabs(8, Config::default());
    println!(
        "issuer tokens over 2 min of 20 s tokens: 1 tab {}, 8 tabs cross-tab {}, 8 tabs independent {} (reuse detections {})",
        one.issuer.tokens_issued, eight.issuer.tokens_issued, independent.issuer.tokens_issued, independent.issuer.reuse_detections
    );
    assert_eq!(eight.issuer.tokens_issued, one.issuer.tokens_issued, "ratio 1.0");
    assert_eq!(eight.total_fetch_calls(), one.total_fetch_calls());
    assert_eq!(eight.issuer.reuse_detections, 0);
    assert_no_expired_token_used(&eight);
    for tab in &eight.tabs {
        assert_eq!(tab.states, vec![AuthState::Authenticated], "no tab flashed");
    }
    // Without coordination the same tabs hammer the issuer and trip its reuse detection.
    assert!(independent.total_fetch_calls() >= 8 * one.total_fetch_calls() / 2);
    assert!(independent.issuer.reuse_detections > 0);
}

#[test]
fn eight_tabs_through_twenty_rotations_never_reuse_a_refresh_token() {
    let mut tabs = Tabs::new(8, Tabs::cross_tab_config(), issuer());
    tabs.start_all();
    // 20 s tokens refresh 10 s after receipt; each cycle also spends the lock grace and latency.
    tabs.run_for(20 * 10_150 + 1_000);
    assert_eq!(tabs.issuer.reuse_detections, 0);
    assert!(!tabs.issuer.revoked);
    assert_eq!(tabs.issuer.tokens_issued, 21, "startup plus 20 refreshes");
}

#[test]
fn a_new_tab_takes_a_peers_token_without_fetching() {
    let mut tabs = Tabs::new(2, Tabs::cross_tab_config(), issuer());
    tabs.tabs[0].session.start(tabs.now);
    tabs.drain(0);
    tabs.run_for(1_000);
    assert_eq!(tabs.tabs[0].session.state(), AuthState::Authenticated);
    tabs.tabs[1].session.start(tabs.now);
    tabs.drain(1);
    tabs.settle();
    assert_eq!(tabs.tabs[1].fetch_calls, 0);
    assert_eq!(tabs.tabs[1].session.state(), AuthState::Authenticated);
    assert_eq!(tabs.issuer.tokens_issued, 1);
}

#[test]
fn the_lock_holder_closed_mid_refresh_hands_over_within_bounded_time() {
    // The closed tab's request reached the issuer but its response was never stored, so the next
    // refresh re-sends that refresh token: issuers with rotation allow this within a short window
    // (convex-auth: 10 s), which is what keeps the session alive here.
    let mut issuer = Issuer::new(20, 2_000);
    issuer.reuse_window_ms = 10_000;
    let mut tabs = Tabs::new(4, Tabs::cross_tab_config(), issuer);
    tabs.start_all();
    tabs.run_for(3_000);
    let calls_before: Vec<usize> = tabs.tabs.iter().map(|t| t.fetch_calls).collect();
    tabs.run_until(common::T0 + 13_000);
    let leader = (0..4).find(|&i| tabs.tabs[i].fetch_calls > calls_before[i]).expect("a tab is refreshing");
    tabs.close(leader);
    let closed_at = tabs.now;
    // Bounded: the browser frees a closed tab's lock at once; the next tab needs grace + latency.
    tabs.run_for(3_000);
    let survivors: Vec<usize> = (0..4).filter(|&i| i != leader).collect();
    for &index in &survivors {
        let expires_at = tabs.tabs[index].session.expires_at().unwrap();
        assert!(expires_at > closed_at + 15_000, "tab {index} has no refreshed token 3 s after the leader closed");
    }
    assert_eq!(tabs.issuer.reuse_detections, 0);
    tabs.run_for(60_000);
    for &index in &survivors {
        assert_eq!(tabs.tabs[index].session.state(), AuthState::Authenticated);
        assert_eq!(tabs.tabs[index].states, vec![AuthState::Authenticated]);
    }
}

#[test]
fn a_frozen_lock_holder_is_stolen_from_after_the_lock_timeout() {
    let config = Config { lock_timeout_ms: 5_000, ..Tabs::cross_tab_config() };
    let mut tabs = Tabs::new(3, config, Issuer::new(30, 100));
    tabs.start_all();
    // Tab 0 takes the lock for the refresh at 20 s (free, so it would fetch at once) and is frozen
    // before the grant reaches it: the lock's holder, not fetching.
    tabs.run_until(common::T0 + 19_000);
    while tabs.lock_holder().is_none() {
        tabs.fire_timers_at(tabs.next_due().expect("a refresh is due"));
    }
    assert_eq!(tabs.lock_holder().map(|(tab, _)| tab), Some(0));
    let fetches_before = tabs.total_fetch_calls();
    tabs.freeze(0);
    tabs.run_for(25_000);
    let stealers: Vec<usize> = (1..3).filter(|&i| tabs.tabs[i].session.expires_at().unwrap() > common::T0 + 40_000).collect();
    assert_eq!(stealers, vec![1, 2], "both live tabs hold a refreshed token");
    assert!(tabs.total_fetch_calls() > fetches_before);
    tabs.thaw(0);
    tabs.run_for(1_000);
    assert_eq!(tabs.tabs[0].session.state(), AuthState::Authenticated);
    assert!(tabs.tabs[0].session.expires_at().unwrap() > common::T0 + 40_000, "the thawed tab took the peers' token");
    assert_eq!(tabs.issuer.reuse_detections, 0);
}

#[test]
fn two_tabs_forced_by_rejections_at_once_share_one_fetch() {
    let mut tabs = Tabs::new(2, Tabs::cross_tab_config(), issuer());
    tabs.start_all();
    tabs.run_for(1_000);
    let issued = tabs.issuer.tokens_issued;
    let generation = tabs.tabs[0].session.generation();
    for index in 0..2 {
        let gen = tabs.tabs[index].session.generation();
        tabs.tabs[index].session.handle_server_verdict(tabs.now, gen, Verdict::Rejected);
        tabs.drain(index);
    }
    tabs.run_for(1_000);
    assert_eq!(tabs.issuer.tokens_issued, issued + 1, "one forced fetch serves both");
    for index in 0..2 {
        assert!(tabs.tabs[index].session.generation() > generation);
        assert_eq!(tabs.tabs[index].session.state(), AuthState::Authenticated);
    }
}

#[test]
fn a_peers_newer_token_satisfies_a_forced_refresh_but_never_the_rejected_token() {
    let mut h = Harness::started(Tabs::cross_tab_config());
    // Alone: the lock is granted at once and nobody answers during the grace.
    assert!(h.open_fetches.is_empty(), "no fetch before the lock");
    let (lock, steal) = h.lock_requests[0];
    assert!(!steal);
    h.session.handle_lock_acquired(h.now, lock, LockGrant::MaybeContended);
    h.drain();
    h.advance(50);
    let first = mint(h.now, 60, 1);
    h.answer(authlane::core::FetchOutcome::Token(first.clone()));
    assert_eq!(h.lock_releases, vec![lock]);
    let rejected_generation = h.session.generation();
    h.session.handle_server_verdict(h.now, rejected_generation, Verdict::Rejected);
    h.drain();
    let fetches = h.fetch_count();
    // A peer offers the very token our server rejected: ignored.
    let offer = PeerMessage::Token { token: first.clone(), expires_at: Some(h.now + 60_000) }.encode();
    h.session.handle_peer_message(h.now, &offer);
    h.drain();
    assert_eq!(h.session.generation(), rejected_generation);
    assert!(h.traces.contains(&TraceKind::StaleBroadcastIgnored));
    // A newer token from a peer satisfies the forced refresh before any fetch.
    let newer = mint(h.now, 60, 2);
    let offer = PeerMessage::Token { token: newer, expires_at: Some(h.now + 60_000) }.encode();
    h.session.handle_peer_message(h.now, &offer);
    h.drain();
    assert_eq!(h.session.generation(), rejected_generation + 1);
    assert_eq!(h.fetch_count(), fetches, "no fetch: the peer's token was enough");
    assert!(!h.session.is_fetching());
    assert!(h.traces.contains(&TraceKind::FetchSkipped));
    let (lock, _) = *h.lock_requests.last().unwrap();
    assert_eq!(h.lock_releases.last(), Some(&lock), "the lock request was abandoned");
}

#[test]
fn a_stale_broadcast_is_ignored() {
    let mut tabs = Tabs::new(2, Tabs::cross_tab_config(), issuer());
    tabs.start_all();
    tabs.run_for(15_000);
    let generation = tabs.tabs[1].session.generation();
    let old = mint(common::T0, 20, 99);
    tabs.inject(0, &PeerMessage::Token { token: old, expires_at: Some(common::T0 + 20_000) }.encode());
    assert_eq!(tabs.tabs[1].session.generation(), generation);
}

#[test]
fn sign_out_in_one_tab_signs_out_every_tab_and_clears_storage() {
    let config = Config { persist: true, ..Tabs::cross_tab_config() };
    let mut tabs = Tabs::new(8, config, issuer());
    tabs.start_all();
    tabs.run_for(1_000);
    tabs.tabs[3].session.sign_out(tabs.now);
    tabs.drain(3);
    tabs.settle();
    for (index, tab) in tabs.tabs.iter().enumerate() {
        assert_eq!(tab.session.state(), AuthState::Unauthenticated, "tab {index}");
        assert_eq!(tab.states.last(), Some(&AuthState::Unauthenticated));
    }
    let calls = tabs.total_fetch_calls();
    tabs.run_for(TWO_MINUTES);
    assert_eq!(tabs.total_fetch_calls(), calls, "nobody refreshes after signing out");
}

#[test]
fn garbage_on_the_channel_is_counted_and_ignored() {
    let mut tabs = Tabs::new(2, Tabs::cross_tab_config(), issuer());
    tabs.start_all();
    tabs.run_for(1_000);
    let generation = tabs.tabs[1].session.generation();
    let garbage = [
        "",
        "not json",
        "{\"v\":2,\"kind\":\"signed_out\"}",
        "{\"v\":1,\"kind\":\"token\",\"token\":\"a.b\"}",
        "{\"v\":1,\"kind\":\"token\",\"token\":\"x.y.z\",\"expiresAt\":\"soon\"}",
        "{\"v\":1,\"kind\":\"explode\"}",
    ];
    for text in garbage {
        tabs.inject(0, text);
    }
    assert_eq!(tabs.tabs[1].session.ignored_peer_messages(), garbage.len() as u64);
    assert_eq!(tabs.tabs[1].session.generation(), generation);
    assert_eq!(tabs.tabs[1].session.state(), AuthState::Authenticated);
}

#[test]
fn a_persisted_token_restores_without_a_fetch_and_sign_out_removes_it() {
    let config = Config { persist: true, ..Config::default() };
    let mut h = Harness::started(config.clone());
    h.answer_fresh(60);
    let record = h.persisted.last().cloned().flatten().expect("the token was persisted");
    h.session.sign_out(h.now);
    h.drain();
    assert_eq!(h.persisted.last(), Some(&None));

    // A new page load: the driver feeds the stored record before starting.
    let mut reloaded = Harness::new(config);
    reloaded.now += 5_000;
    reloaded.session.handle_peer_message(reloaded.now, &record);
    reloaded.session.start(reloaded.now);
    reloaded.drain();
    assert_eq!(reloaded.fetch_count(), 0);
    assert_eq!(reloaded.session.state(), AuthState::Authenticated);
    assert_eq!(reloaded.session.refresh_at(), Some(common::T0 + 50_000));
}

#[test]
fn cross_tab_off_emits_nothing_for_peers() {
    let mut h = Harness::started(Config::default());
    h.answer_fresh(60);
    h.advance(120_000);
    assert!(h.lock_requests.is_empty() && h.broadcasts.is_empty() && h.persisted.is_empty());
}

/// Grants a cross-tab session the lock it asked for last and lets its grace run out: its fetch is out.
fn grant_and_fetch(h: &mut Harness) {
    let (lock, _) = *h.lock_requests.last().expect("a lock request");
    h.session.handle_lock_acquired(h.now, lock, LockGrant::MaybeContended);
    h.drain();
    h.advance(Config::default().peer_grace_ms);
    assert_eq!(h.open_fetches.len(), 1, "the fetch is out");
}

/// Runs one cross-tab session's fetch to completion: lock granted, grace over, fresh token.
fn fetch_under_lock(h: &mut Harness) {
    grant_and_fetch(h);
    h.answer_fresh(60);
}

#[test]
fn a_token_fetched_before_a_sign_out_never_signs_a_tab_back_in() {
    let mut a = Harness::started(Tabs::cross_tab_config());
    let mut b = Harness::started(Tabs::cross_tab_config());
    fetch_under_lock(&mut a);
    b.session.handle_peer_message(b.now, a.broadcasts.last().unwrap());
    b.drain();
    assert_eq!(b.session.state(), AuthState::Authenticated);

    // B's forced fetch starts; A signs out while it is out; B's token (a new one, minted before
    // the sign-out) reaches A before A's sign-out reaches B.
    b.session.handle_token_request(b.now, 1, authlane::core::TokenNeed::Forced);
    b.drain();
    grant_and_fetch(&mut b);
    let fetch_started_at = b.fetches.last().unwrap().2;
    a.advance_to(b.now + 10);
    a.session.sign_out(a.now);
    a.drain();
    let signed_out = a.broadcasts.last().unwrap().clone();
    b.advance_to(a.now + 10);
    let b_token = mint(b.now, 60, 2);
    b.answer(authlane::core::FetchOutcome::Token(b_token.clone()));
    let b_broadcast = b.broadcasts.last().unwrap().clone();
    assert_eq!(
        PeerMessage::decode_with_time(&b_broadcast),
        Ok((fetch_started_at, PeerMessage::Token { token: b_token, expires_at: b.session.expires_at() })),
        "B shares its new token, stamped with its fetch's start (before the sign-out)"
    );
    a.advance_to(b.now);
    let ignored = a.traces.iter().filter(|k| **k == TraceKind::StaleBroadcastIgnored).count();
    a.session.handle_peer_message(a.now, &b_broadcast);
    a.drain();
    assert_eq!(a.session.state(), AuthState::Unauthenticated, "a pre-sign-out token was adopted");
    assert_eq!((a.session.generation(), a.session.token()), (0, None));
    assert_eq!(a.traces.iter().filter(|k| **k == TraceKind::StaleBroadcastIgnored).count(), ignored + 1);
    b.session.handle_peer_message(b.now, &signed_out);
    b.drain();
    assert_eq!(b.session.state(), AuthState::Unauthenticated);

    // Signing in again (a later epoch) is picked up by the other tab.
    a.session.handle_token_request(a.now, 2, authlane::core::TokenNeed::Current);
    a.drain();
    fetch_under_lock(&mut a);
    b.session.handle_peer_message(b.now, a.broadcasts.last().unwrap());
    b.drain();
    assert_eq!(b.session.state(), AuthState::Authenticated);
    // And the old sign-out, delivered late again, changes nothing.
    b.session.handle_peer_message(b.now, &signed_out);
    b.drain();
    assert_eq!(b.session.state(), AuthState::Authenticated);
}

/// A cross-tab session with a forced fetch out adopts a peer's token living `lifetime_s`, then
/// the fetch's result, living `result_lifetime_s`, lands: returns (the peer's token, the result).
fn result_after_a_peers_token(lifetime_s: u64, result_lifetime_s: u64) -> (Harness, String, String) {
    let mut h = Harness::started(Tabs::cross_tab_config());
    fetch_under_lock(&mut h);
    h.session.handle_token_request(h.now, 1, authlane::core::TokenNeed::Forced);
    h.drain();
    grant_and_fetch(&mut h);
    h.advance(500);
    let peers = mint(h.now, lifetime_s, 900);
    let offer =
        PeerMessage::Token { token: peers.clone(), expires_at: Some(h.now + lifetime_s * 1000) }.encode_at(h.now);
    h.session.handle_peer_message(h.now, &offer);
    h.drain();
    assert_eq!(h.session.token(), Some(peers.as_str()), "the peer's token was adopted mid-fetch");
    assert!(h.session.is_fetching());
    h.advance(500);
    let result = mint(h.now, result_lifetime_s, 901);
    h.answer(authlane::core::FetchOutcome::Token(result.clone()));
    (h, peers, result)
}

fn dropped_results(h: &Harness) -> usize {
    h.traces.iter().filter(|k| **k == TraceKind::StaleResultDropped).count()
}

#[test]
fn a_result_landing_after_a_peers_longer_lived_token_is_dropped() {
    // The commit guard: a peer committed a 600 s token while our fetch was out; our 60 s result,
    // landing after it, must not replace it (nor be shared).
    let (h, peers, _) = result_after_a_peers_token(600, 60);
    assert_eq!(h.session.token(), Some(peers.as_str()), "the shorter-lived result replaced the peer's token");
    assert_eq!(h.session.generation(), 2, "startup, the peer's token, nothing after");
    assert_eq!(dropped_results(&h), 1);
    let shared = PeerMessage::decode(h.broadcasts.last().unwrap()).unwrap();
    assert_eq!(shared, PeerMessage::Holding, "the dropped result was not shared");
    assert!(!h.session.is_fetching());
}

#[test]
fn a_result_outliving_a_peers_token_adopted_mid_fetch_is_kept() {
    // The other side of the commit guard: ours lives longer than what the peer committed, so it wins.
    let (h, _, ours) = result_after_a_peers_token(60, 600);
    assert_eq!(h.session.token(), Some(ours.as_str()), "the longer-lived result was dropped");
    assert_eq!(h.session.generation(), 3, "startup, the peer's token, ours");
    assert_eq!(dropped_results(&h), 0);
    let shared = PeerMessage::decode(h.broadcasts.last().unwrap()).unwrap();
    assert!(matches!(shared, PeerMessage::Token { token, .. } if token == ours), "the kept result was shared");
}

#[test]
fn a_sign_out_older_than_a_tabs_sign_in_leaves_it_signed_in() {
    // A sign-out reaches a tab late (it happened before this tab's fetch started): only what
    // predates it goes, so neither the fetch under way nor the token it brings is signed out.
    let mut h = Harness::started(Tabs::cross_tab_config());
    grant_and_fetch(&mut h);
    let fetch_started_at = h.fetches[0].2;
    h.session.handle_peer_message(h.now, &PeerMessage::SignedOut.encode_at(common::T0 - 1_000));
    h.drain();
    assert!(h.session.is_fetching(), "the fetch started after the sign-out was abandoned");
    assert_eq!(h.session.state(), AuthState::Loading);
    h.answer_fresh(60);
    assert_eq!(h.session.state(), AuthState::Authenticated);
    // A later sign-out, still older than the token's fetch, arrives while the token is held.
    h.session.handle_peer_message(h.now, &PeerMessage::SignedOut.encode_at(fetch_started_at - 10));
    h.drain();
    assert_eq!(h.session.state(), AuthState::Authenticated, "a token minted after the sign-out was dropped");
    assert!(!h.traces.contains(&TraceKind::PeerSignedOut));
    // One from after the fetch started does sign it out.
    h.session.handle_peer_message(h.now, &PeerMessage::SignedOut.encode_at(fetch_started_at + 1));
    h.drain();
    assert_eq!(h.session.state(), AuthState::Unauthenticated);
    assert_eq!(h.states, vec![AuthState::Authenticated, AuthState::Unauthenticated]);
}

#[test]
fn a_rejected_token_gives_way_to_a_peers_newer_one_even_if_it_expires_sooner() {
    // The server rejected our 600 s token: a peer's token minted since is better whatever its
    // expiry, and it answers the forced refresh without a fetch.
    let mut h = Harness::started(Tabs::cross_tab_config());
    grant_and_fetch(&mut h);
    h.answer(authlane::core::FetchOutcome::Token(mint(h.now, 600, 1)));
    h.advance(5_000);
    let rejected = h.session.generation();
    h.session.handle_server_verdict(h.now, rejected, Verdict::Rejected);
    h.drain();
    assert!(h.session.is_fetching(), "the rejection started a forced refresh");
    let fetches = h.fetch_count();
    let newer = mint(h.now, 60, 2);
    let offer = PeerMessage::Token { token: newer.clone(), expires_at: Some(h.now + 60_000) }.encode_at(h.now);
    h.session.handle_peer_message(h.now, &offer);
    h.drain();
    assert_eq!(h.session.token(), Some(newer.as_str()), "the peer's newer token was refused");
    assert_eq!(h.session.generation(), rejected + 1);
    assert_eq!(h.fetch_count(), fetches, "no fetch: the peer's token was enough");
    assert!(!h.session.is_fetching());
}

#[test]
fn a_peers_token_expiring_with_ours_is_not_adopted() {
    // Only a token that outlives the current one replaces it: an equal one would only churn the
    // generation (and re-authenticate every connection).
    let mut h = Harness::started(Tabs::cross_tab_config());
    fetch_under_lock(&mut h);
    let (generation, expires_at) = (h.session.generation(), h.session.expires_at());
    h.advance(1_000);
    let same_expiry = mint(h.now, 59, 2);
    let offer = PeerMessage::Token { token: same_expiry, expires_at }.encode_at(h.now);
    h.session.handle_peer_message(h.now, &offer);
    h.drain();
    assert_eq!(h.session.generation(), generation);
    assert_eq!(h.traces.last(), Some(&TraceKind::StaleBroadcastIgnored));
    let later = PeerMessage::Token { token: mint(h.now, 60, 3), expires_at: expires_at.map(|at| at + 1) }.encode_at(h.now);
    h.session.handle_peer_message(h.now, &later);
    h.drain();
    assert_eq!(h.session.generation(), generation + 1, "a token living 1 ms longer is adopted");
}
