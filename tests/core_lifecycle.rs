//! The token lifecycle on a virtual clock: startup, single flight, proactive refresh, failures.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use authlane::core::{timers::timer_delay_ms, AuthError, AuthState, Config, ErrorCode, FetchOutcome, TokenNeed, TraceKind};
use common::{jwt_from_claims, mint, Harness, T0};

fn config() -> Config {
    Config::default()
}

#[test]
fn startup_with_a_fresh_token_costs_one_unforced_fetch() {
    let mut h = Harness::started(config());
    assert_eq!(h.fetches.len(), 1);
    assert!(!h.fetches[0].1, "the first fetch may use the provider's cache");
    assert_eq!(h.state(), AuthState::Loading);
    h.answer_fresh(60);
    assert_eq!(h.states, vec![AuthState::Authenticated]);
    h.advance(45_000);
    assert_eq!(h.fetch_count(), 1, "nothing else until the proactive refresh");
}

#[test]
fn a_stale_cached_token_costs_exactly_one_forced_fetch() {
    let mut h = Harness::started(config());
    // Issued 55 s ago with a 60 s lifetime: 5 s left, under the 10 s leeway.
    h.answer(FetchOutcome::Token(mint(T0 - 55_000, 60, 1)));
    assert_eq!(h.fetch_count(), 2);
    assert!(h.fetches[1].1, "the follow-up is forced");
    assert_eq!(h.state(), AuthState::Loading, "the stale token is not adopted");
    h.answer(FetchOutcome::Token(mint(T0 - 55_000, 60, 1)));
    // The provider insisted on the same stale token even when forced: adopt it, no loop.
    assert_eq!(h.fetch_count(), 2);
    assert_eq!(h.state(), AuthState::Authenticated);
}

#[test]
fn a_cached_token_with_time_left_is_scheduled_from_its_age() {
    let mut h = Harness::started(config());
    h.answer(FetchOutcome::Token(mint(T0 - 30_000, 60, 1)));
    assert_eq!(h.fetch_count(), 1);
    assert_eq!(h.session.refresh_at(), Some(T0 + 20_000));
}

#[test]
fn short_lived_tokens_are_not_judged_stale_against_a_longer_leeway() {
    let mut h = Harness::started(config());
    h.answer(FetchOutcome::Token(mint(T0, 8, 1)));
    assert_eq!(h.fetch_count(), 1);
    // Lifetime 8 s < leeway 10 s: refresh at half-life.
    assert_eq!(h.session.refresh_at(), Some(T0 + 4_000));
    // A lifetime of exactly the leeway is no different.
    let mut h = Harness::started(config());
    h.answer(FetchOutcome::Token(mint(T0, 10, 1)));
    assert_eq!(h.session.refresh_at(), Some(T0 + 5_000));
}

#[test]
fn concurrent_requests_share_one_fetch() {
    let mut h = Harness::started(config());
    for waiter in 1..=3 {
        h.session.handle_token_request(h.now, waiter, TokenNeed::Current);
        h.drain();
    }
    assert_eq!(h.fetch_count(), 1);
    let token = h.answer_fresh(60);
    let answered: Vec<_> = h.resolved.iter().map(|(w, r)| (*w, r.clone())).collect();
    assert_eq!(answered, (1..=3).map(|w| (w, Ok(Some((1, token.clone()))))).collect::<Vec<_>>());
    // A later request is served from the cache.
    h.session.handle_token_request(h.now, 4, TokenNeed::Current);
    h.drain();
    assert_eq!(h.fetch_count(), 1);
    assert_eq!(h.resolved.last().unwrap().0, 4);
}

#[test]
fn forced_requests_while_an_unforced_fetch_runs_get_their_own_forced_fetch() {
    let mut h = Harness::started(config());
    h.session.handle_token_request(h.now, 7, TokenNeed::Forced);
    h.drain();
    assert_eq!(h.fetch_count(), 1, "joins the fetch under way");
    h.answer_fresh(60);
    assert!(h.resolved.is_empty(), "an unforced result does not satisfy a forced request");
    assert_eq!(h.fetch_count(), 2);
    assert!(h.fetches[1].1);
    let token = h.answer_fresh(60);
    assert_eq!(h.resolved, vec![(7, Ok(Some((2, token))))]);
}

#[test]
fn results_after_sign_out_or_timeout_are_dropped() {
    let mut h = Harness::started(config());
    let startup = h.fetches[0].0;
    h.session.sign_out(h.now);
    h.drain();
    h.session.handle_fetch_result(h.now, startup, FetchOutcome::Token(mint(h.now, 60, 1)));
    h.drain();
    assert_eq!(h.state(), AuthState::Unauthenticated);
    assert_eq!(h.session.generation(), 0);
    assert!(h.traces.contains(&TraceKind::StaleResultDropped));

    // A fetch that outlives the timeout is abandoned; its late result must not win over the retry's.
    let mut h = Harness::started(config());
    let slow = h.fetches[0].0;
    h.advance(30_000);
    assert!(h.traces.contains(&TraceKind::FetchFailed));
    h.advance(2_000);
    assert_eq!(h.fetch_count(), 2, "retried after backoff");
    h.session.handle_fetch_result(h.now, slow, FetchOutcome::Token(mint(h.now, 60, 99)));
    h.drain();
    assert_eq!(h.session.generation(), 0, "the abandoned fetch's result is ignored");
    h.open_fetches.retain(|&id| id != slow);
    h.answer_fresh(60);
    assert_eq!(h.session.generation(), 1);
}

#[test]
fn proactive_refresh_fires_leeway_before_expiry_forced_and_without_state_changes() {
    let mut h = Harness::started(config());
    h.answer_fresh(60);
    h.advance(49_999);
    assert_eq!(h.fetch_count(), 1);
    h.advance(1);
    assert_eq!(h.fetch_count(), 2);
    assert_eq!(h.fetches[1], (h.fetches[1].0, true, T0 + 50_000));
    h.answer_fresh(60);
    assert_eq!(h.session.generation(), 2);
    assert_eq!(h.token_changes, vec![1, 2]);
    assert_eq!(h.states, vec![AuthState::Authenticated], "no loading flash, no repeats");
    // Ten more lifetimes: one fetch each.
    for _ in 0..10 {
        h.advance(50_000);
        h.answer_fresh(60);
    }
    assert_eq!(h.fetch_count(), 12);
    assert_eq!(h.states, vec![AuthState::Authenticated]);
}

#[test]
fn refresh_timing_is_immune_to_a_client_clock_off_by_an_hour() {
    for skew_ms in [-3_600_000i64, 3_600_000] {
        let mut h = Harness::started(config());
        let issuer_now = (h.now as i64 - skew_ms) as u64;
        // First (unforced) token from a clock an hour away.
        h.answer(FetchOutcome::Token(mint(issuer_now, 60, 1)));
        if skew_ms > 0 {
            // A clock an hour ahead makes the token look expired: one forced fetch settles it.
            assert_eq!(h.fetch_count(), 2, "skew {skew_ms}");
            h.answer(FetchOutcome::Token(mint(issuer_now, 60, 2)));
        }
        let start = h.now;
        assert_eq!(h.session.refresh_at(), Some(start + 50_000), "skew {skew_ms}");
        for cycle in 0..5u32 {
            let fetches = h.fetch_count();
            h.advance(50_000);
            assert_eq!(h.fetch_count(), fetches + 1, "skew {skew_ms}, cycle {cycle}");
            let issuer_now = (h.now as i64 - skew_ms) as u64;
            h.answer(FetchOutcome::Token(mint(issuer_now, 60, 10 + cycle)));
            assert_eq!(h.session.refresh_at(), Some(h.now + 50_000));
        }
    }
}

#[test]
fn tokens_without_exp_are_never_refreshed_and_without_iat_use_exp() {
    let mut h = Harness::started(config());
    h.answer(FetchOutcome::Token(jwt_from_claims(r#"{"sub":"u"}"#)));
    assert_eq!(h.state(), AuthState::Authenticated);
    assert_eq!(h.session.poll_timeout(), None);
    h.advance(365 * 24 * 3_600_000);
    assert_eq!(h.fetch_count(), 1);

    let mut h = Harness::started(config());
    let exp = (h.now + 120_000) / 1000;
    h.answer(FetchOutcome::Token(jwt_from_claims(&format!(r#"{{"sub":"u","exp":{exp}}}"#))));
    assert_eq!(h.session.refresh_at(), Some(exp * 1000 - 10_000));
}

#[test]
fn delays_beyond_the_set_timeout_limit_are_clamped_and_rearmed() {
    let mut h = Harness::started(config());
    let forty_days = 40 * 24 * 3_600;
    h.answer_fresh(forty_days);
    let deadline = h.session.poll_timeout().unwrap();
    let delay = timer_delay_ms(h.now, deadline);
    assert_eq!(delay, 2_147_483_647);
    // The driver's timer fires early at the clamp: a no-op; re-armed for the remainder.
    h.now += delay as u64;
    h.session.handle_timeout(h.now);
    h.drain();
    assert_eq!(h.fetch_count(), 1);
    assert_eq!(h.session.poll_timeout(), Some(deadline));
    assert!(timer_delay_ms(h.now, deadline) < 2_147_483_647);
    h.advance_to(deadline);
    assert_eq!(h.fetch_count(), 2);
}

#[test]
fn a_tab_that_slept_past_its_deadline_refreshes_on_wake() {
    let mut h = Harness::started(config());
    h.answer_fresh(60);
    // The timer never fired while the tab slept for ten minutes.
    h.now += 600_000;
    assert_eq!(h.fetch_count(), 1);
    h.session.handle_wake(h.now);
    h.drain();
    assert_eq!(h.fetch_count(), 2);
    assert!(h.fetches[1].1);
    assert_eq!(h.state(), AuthState::Authenticated, "no flash while the refresh runs");
    // A request in the meantime waits for the fresh token instead of getting the expired one.
    h.session.handle_token_request(h.now, 1, TokenNeed::Current);
    h.drain();
    assert!(h.resolved.is_empty());
    let token = h.answer_fresh(60);
    assert_eq!(h.resolved, vec![(1, Ok(Some((2, token))))]);
}

#[test]
fn failures_while_the_token_is_valid_retry_with_backoff_and_keep_the_user_signed_in() {
    let mut h = Harness::started(config());
    h.answer_fresh(60);
    h.advance(50_000);
    let failed = AuthError::new(ErrorCode::FetchFailed, "boom");
    h.answer(FetchOutcome::Failed(failed));
    assert_eq!(h.state(), AuthState::Authenticated);
    let retry_at = h.session.poll_timeout().unwrap();
    assert!((h.now + 500..=h.now + 1_000).contains(&retry_at), "first retry within [0.5 s, 1 s]");
    h.advance_to(retry_at);
    assert_eq!(h.fetch_count(), 3);
    assert!(h.fetches[2].1, "a retried refresh stays forced");
    h.answer(FetchOutcome::Token("not a jwt".into()));
    assert_eq!(h.state(), AuthState::Authenticated, "garbage is a failure, not a sign-out");
    let second_retry = h.session.poll_timeout().unwrap() - h.now;
    assert!((1_000..=2_000).contains(&second_retry), "second retry within [1 s, 2 s]: {second_retry}");
    h.advance(second_retry);
    h.answer_fresh(60);
    assert_eq!(h.states, vec![AuthState::Authenticated]);
    assert_eq!(h.session.generation(), 2);
}

#[test]
fn failures_past_expiry_settle_unauthenticated_with_the_error_and_recover_later() {
    let mut h = Harness::started(config());
    h.answer_fresh(60);
    h.advance(50_000);
    let failed = AuthError::new(ErrorCode::FetchFailed, "issuer down");
    while h.now < T0 + 60_000 {
        h.answer(FetchOutcome::Failed(failed));
        let next = h.session.poll_timeout().unwrap();
        h.advance_to(next);
    }
    assert_eq!(h.state(), AuthState::Unauthenticated);
    assert_eq!(h.session.error(), Some(failed));
    assert_eq!(h.states, vec![AuthState::Authenticated, AuthState::Unauthenticated]);
    // Retries go on; when the issuer is back the session recovers.
    while h.open_fetches.is_empty() {
        let next = h.session.poll_timeout().expect("retries continue");
        h.advance_to(next);
    }
    h.answer_fresh(60);
    assert_eq!(h.state(), AuthState::Authenticated);
    assert_eq!(h.session.error(), None);
}

#[test]
fn startup_failures_stay_loading_for_the_first_attempts_then_settle_with_the_error() {
    let mut h = Harness::started(config());
    let failed = AuthError::new(ErrorCode::InvalidCallbackResult, "returned a number");
    for attempt in 1..=3 {
        h.answer(FetchOutcome::Failed(failed));
        if attempt < 3 {
            assert_eq!(h.state(), AuthState::Loading, "attempt {attempt}");
            let next = h.session.poll_timeout().unwrap();
            h.advance_to(next);
            assert!(!h.fetches.last().unwrap().1, "startup retries stay unforced");
        }
    }
    assert_eq!(h.state(), AuthState::Unauthenticated);
    assert_eq!(h.session.error(), Some(failed));
}

#[test]
fn null_means_signed_out_and_stops_fetching() {
    let mut h = Harness::started(config());
    h.session.handle_token_request(h.now, 1, TokenNeed::Current);
    h.drain();
    h.answer(FetchOutcome::SignedOut);
    assert_eq!(h.states, vec![AuthState::Unauthenticated]);
    assert_eq!(h.session.error(), None);
    assert_eq!(h.resolved, vec![(1, Ok(None))]);
    assert_eq!(h.session.poll_timeout(), None);
    h.advance(3_600_000);
    assert_eq!(h.fetch_count(), 1);
    // Asking again (the user signed in since) fetches unforced and authenticates.
    h.session.handle_token_request(h.now, 2, TokenNeed::Current);
    h.drain();
    assert_eq!(h.fetches.last().unwrap().1, false);
    h.answer_fresh(60);
    assert_eq!(h.state(), AuthState::Authenticated);
}

#[test]
fn an_identical_token_on_refresh_continues_the_schedule_from_its_exp() {
    let mut h = Harness::started(config());
    let token = h.answer_fresh(60);
    h.advance(50_000);
    // The provider's cache hands back the very same token: 10 s left by its exp.
    h.answer(FetchOutcome::Token(token.clone()));
    assert_eq!(h.session.generation(), 1);
    assert!(h.traces.contains(&TraceKind::SameTokenReturned));
    let next = h.session.refresh_at().expect("still scheduled");
    assert!(next > h.now && next <= h.now + 5_000, "retries soon, not never: {}", next - h.now);
    h.advance_to(next);
    assert_eq!(h.fetch_count(), 3);
    h.answer_fresh(60);
    assert_eq!(h.session.generation(), 2);
    assert_eq!(h.states, vec![AuthState::Authenticated]);
}

#[test]
fn traces_never_carry_a_whole_token() {
    let mut h = Harness::started(config());
    let token = h.answer_fresh(60);
    assert!(!h.trace_tails.is_empty());
    for tail in &h.trace_tails {
        assert!(tail.chars().count() <= 7, "{tail}");
        assert!(token.ends_with(tail.trim_start_matches('…')));
    }
    let debug = format!("{:?}", h.traces);
    assert!(!debug.contains(&token));
}

#[test]
fn backoff_jitter_keeps_spreading_retries_at_the_cap() {
    // Retries from many clients spread out: at the 30 s cap each delay is drawn anew from
    // [15 s, 30 s], so a long outage never settles into one fixed delay (a random source that
    // collapses to a constant state would).
    for seed in [1, 7, 0x5eed, u64::MAX / 3] {
        let mut backoff = authlane::core::backoff::Backoff::new(1_000, 30_000, seed);
        let delays: Vec<u64> = (0..60).map(|_| backoff.next_delay_ms()).collect();
        let at_cap = &delays[10..];
        assert!(at_cap.iter().all(|d| (15_000..=30_000).contains(d)), "seed {seed}: {at_cap:?}");
        let distinct: std::collections::BTreeSet<u64> = at_cap.iter().copied().collect();
        assert!(distinct.len() >= 40, "seed {seed}: only {} distinct delays in 50 at the cap", distinct.len());
    }
}

#[test]
fn a_retry_still_out_when_the_token_expires_keeps_the_user_signed_in() {
    // Unauthenticated means the token expired *and* the retries failed: a retry that has not
    // answered yet is no failure, and its token arriving after the expiry signs nobody out.
    let mut h = Harness::started(config());
    h.answer_fresh(60);
    h.advance(50_000);
    h.answer(FetchOutcome::Failed(AuthError::new(ErrorCode::FetchFailed, "issuer down")));
    let retry_at = h.session.poll_timeout().unwrap();
    h.advance_to(retry_at);
    assert_eq!(h.open_fetches.len(), 1, "the retry is out");
    h.advance_to(T0 + 61_000);
    assert_eq!(h.state(), AuthState::Authenticated, "signed out while a retry was still out");
    h.answer_fresh(60);
    assert_eq!(h.states, vec![AuthState::Authenticated]);
}

#[test]
fn a_reload_with_a_stored_token_and_a_wrapped_client_costs_no_fetch() {
    // With a client attached, a restored token waits (loading) for the server's acceptance; the
    // start must not fetch beside it.
    let mut h = Harness::new(Config { persist: true, ..config() });
    h.session.attach_client();
    let stored = authlane::core::PeerMessage::Token { token: mint(T0 - 5_000, 60, 1), expires_at: Some(T0 + 55_000) };
    h.session.handle_peer_message(h.now, &stored.encode_at(T0 - 5_000));
    h.session.start(h.now);
    h.drain();
    assert_eq!(h.fetch_count(), 0, "a reload with a stored token fetched");
    assert!(h.session.token().is_some());
}

#[test]
fn a_token_just_past_the_leeway_refreshes_no_sooner_than_a_second_after_receipt() {
    // 10.5 s left with a 10 s leeway: refreshing at "expiry minus leeway" would be 0.5 s from now;
    // refreshes are never closer than 1 s apart.
    let mut h = Harness::started(config());
    h.advance(500);
    h.answer(FetchOutcome::Token(mint(T0 - 49_000, 60, 1)));
    assert_eq!(h.session.expires_at(), Some(h.now + 10_500));
    assert_eq!(h.session.refresh_at(), Some(h.now + 1_000));
    assert_eq!(h.fetch_count(), 1, "not stale: no forced fetch at once");
}

#[test]
fn a_failed_refresh_answers_who_can_use_the_current_token_and_keeps_who_needs_a_newer_one() {
    let mut h = Harness::started(config());
    let first = h.answer_fresh(60);
    h.advance(50_000);
    assert_eq!(h.open_fetches.len(), 1, "the proactive refresh is out");
    h.session.handle_token_request(h.now, 1, TokenNeed::Current);
    h.session.handle_token_request(h.now, 2, TokenNeed::Forced);
    h.drain();
    let answered_before = h.resolved.len();
    h.answer(FetchOutcome::Failed(AuthError::new(ErrorCode::FetchFailed, "boom")));
    let answered: Vec<_> = h.resolved[answered_before..].to_vec();
    let waiter_1 = h.resolved.iter().find(|(w, _)| *w == 1).cloned();
    assert_eq!(waiter_1, Some((1, Ok(Some((1, first))))), "the still-valid token answers a current need");
    assert!(answered.iter().all(|(w, _)| *w != 2), "a forced need was answered with the old token: {answered:?}");
    let retry_at = h.session.poll_timeout().unwrap();
    h.advance_to(retry_at);
    let second = h.answer_fresh(60);
    assert_eq!(h.resolved.last(), Some(&(2, Ok(Some((2, second))))));
}

#[test]
fn a_forced_token_that_expired_on_the_way_is_a_failure() {
    // A forced token's lifetime counts from the request: one living 2 s that takes 3 s to arrive
    // is dead on arrival, so it is retried rather than installed.
    let mut h = Harness::started(config());
    h.answer_fresh(60);
    h.answer_forced_late(3_000, 2, 2);
    assert_eq!(h.session.generation(), 1, "a dead-on-arrival token was installed");
    assert!(h.traces.contains(&TraceKind::RetryScheduled));
}

#[test]
fn a_waiter_for_a_newer_token_is_answered_by_the_startup_fetch() {
    // It holds no token (generation 0): the first token is newer than that, no second fetch.
    let mut h = Harness::started(config());
    h.session.handle_token_request(h.now, 1, TokenNeed::NewerThan(0));
    h.drain();
    let token = h.answer_fresh(60);
    assert_eq!(h.resolved, vec![(1, Ok(Some((1, token))))]);
    assert_eq!(h.fetch_count(), 1);
}

/// A callback that ignores `forceRefreshToken` and hands back the token it cached, at every call,
/// until that token has long expired: each call answered at once, for `until` ms of the clock.
/// Returns the times of the calls. (Bounded: a loop that would never end fails the test.)
fn answer_with_the_cached_token(h: &mut Harness, token: &str, until: u64) -> Vec<u64> {
    let mut calls = Vec::new();
    while h.now < until {
        h.advance(1);
        while !h.open_fetches.is_empty() {
            calls.push(h.now);
            assert!(calls.len() < 200, "a refresh storm: {} calls by {} ms", calls.len(), h.now - T0);
            h.answer(FetchOutcome::Token(token.to_owned()));
        }
    }
    calls
}

#[test]
fn a_callback_that_hands_back_its_cached_token_costs_a_call_a_second_at_most_then_backs_off() {
    // A 60 s token, refreshed 10 s before its exp, answered with itself every time: the refreshes
    // go on (the cache may roll over any moment) but never closer than a second apart, and once
    // the token has expired, handing it back is a failure: signed out with `token_expired`, and
    // retried on the backoff. (It once cost a call every millisecond from expiry on.)
    let mut h = Harness::started(config());
    let token = mint(T0, 60, 1);
    h.answer(FetchOutcome::Token(token.clone()));
    let calls = answer_with_the_cached_token(&mut h, &token, T0 + 60_000);
    assert_eq!(calls.first(), Some(&(T0 + 50_000)), "the first refresh, leeway before exp");
    for pair in calls.windows(2) {
        assert!(pair[1] - pair[0] >= 1_000, "two calls {} ms apart: {calls:?}", pair[1] - pair[0]);
    }
    assert_eq!(h.states, vec![AuthState::Authenticated]);

    let after_expiry = answer_with_the_cached_token(&mut h, &token, T0 + 120_000);
    assert_eq!(h.state(), AuthState::Unauthenticated);
    assert_eq!(h.session.error().map(|e| e.code), Some(ErrorCode::TokenExpired));
    assert!(after_expiry.len() <= 8, "{} calls in the minute after expiry: {after_expiry:?}", after_expiry.len());
    let gaps: Vec<u64> = after_expiry.windows(2).map(|pair| pair[1] - pair[0]).collect();
    assert!(gaps.windows(2).all(|pair| pair[1] >= pair[0] / 2), "the gaps grow (with jitter): {gaps:?}");
}

#[test]
fn a_request_for_a_newer_token_takes_the_same_one_from_a_forced_fetch_as_final() {
    // The client holds generation 1 and asks for a newer token; the forced fetch hands back the
    // same token. That answer is final: asking again would get it again.
    let mut h = Harness::started(config());
    let token = h.answer_fresh(60);
    h.session.handle_token_request(h.now, 1, TokenNeed::NewerThan(1));
    h.drain();
    assert_eq!(h.fetches.last().map(|&(_, forced, _)| forced), Some(true));
    h.answer(FetchOutcome::Token(token.clone()));
    assert_eq!(h.resolved.last(), Some(&(1, Ok(Some((1, token))))));
    assert_eq!(h.fetch_count(), 2, "the same token was fetched for again");
}
