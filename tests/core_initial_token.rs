//! `initialToken`: the token a server rendered into the page, offered before `start` on a virtual
//! clock. A plausible one makes startup free; anything else is ignored with a trace and the
//! session starts as it would without it.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use authlane::core::{AuthState, Config, TokenNeed, TraceKind, Verdict};
use common::tabs::{Issuer, Tabs};
use common::{jwt_from_claims, mint, Harness, T0};

/// A session offered `token` as its initial token, then started.
fn started_with(config: Config, token: &str) -> Harness {
    let mut h = Harness::new(config);
    h.session.offer_initial_token(h.now, token);
    h.session.start(h.now);
    h.drain();
    h
}

fn ignored(h: &Harness) -> usize {
    h.traces.iter().filter(|kind| **kind == TraceKind::InitialTokenIgnored).count()
}

#[test]
fn a_fresh_initial_token_makes_startup_free_and_is_refreshed_on_schedule() {
    // Rendered 5 s ago from a 60 s token: 55 s left, so the refresh is due 45 s from now.
    let token = mint(T0 - 5_000, 60, 1);
    let mut h = started_with(Config::default(), &token);
    println!("startup token calls with an initial token: {}", h.fetch_count());
    assert_eq!(h.fetch_count(), 0, "startup called fetchAccessToken beside the initial token");
    assert_eq!(h.states, vec![AuthState::Authenticated]);
    assert_eq!(ignored(&h), 0);
    assert_eq!(h.session.expires_at(), Some(T0 + 55_000));
    h.session.handle_token_request(h.now, 1, TokenNeed::Current);
    h.drain();
    assert_eq!(h.resolved, vec![(1, Ok(Some((1, token))))], "the first request is answered with it at once");
    h.advance(44_999);
    assert_eq!(h.fetch_count(), 0);
    h.advance(1);
    assert_eq!(h.fetches, vec![(1, true, T0 + 45_000)], "one forced refresh, leeway before its expiry");
    h.answer_fresh(60);
    assert_eq!(h.states, vec![AuthState::Authenticated], "no flash through the refresh");
}

#[test]
fn with_a_wrapped_client_the_initial_token_waits_for_the_server_like_a_fetched_one() {
    let mut h = Harness::new(Config { expect_auth: true, ..Config::default() });
    h.session.attach_client();
    h.session.offer_initial_token(h.now, &mint(T0, 60, 1));
    h.session.start(h.now);
    h.drain();
    assert_eq!(h.fetch_count(), 0);
    assert_eq!(h.state(), AuthState::Loading, "authenticated only once the server accepts it");
    h.session.handle_server_verdict(h.now, 1, Verdict::Accepted);
    h.drain();
    assert_eq!(h.states, vec![AuthState::Authenticated]);
    assert_eq!(h.fetch_count(), 0);
}

#[test]
fn an_implausible_initial_token_is_ignored_with_a_trace_and_startup_fetches_as_usual() {
    let cases = [
        ("not a JWT", "not-a-jwt".to_string()),
        ("empty (too long to be a token, as the driver offers it)", String::new()),
        ("expired", mint(T0 - 120_000, 60, 1)),
        ("5 s left, under the 10 s leeway", mint(T0 - 55_000, 60, 1)),
        ("no exp", jwt_from_claims(r#"{"iss":"https://issuer.test","sub":"user_1","iat":1795391990}"#)),
    ];
    for (label, token) in cases {
        let mut h = started_with(Config::default(), &token);
        assert_eq!(ignored(&h), 1, "{label}: not traced as ignored");
        assert_eq!(h.session.generation(), 0, "{label}: adopted");
        assert_eq!(h.fetches, vec![(1, false, T0)], "{label}: startup did not fetch as without it");
        assert_eq!(h.session.ignored_peer_messages(), 0, "{label}: counted as a peer's garbage");
        h.answer_fresh(60);
        assert_eq!(h.states, vec![AuthState::Authenticated], "{label}");
    }
}

#[test]
fn an_initial_token_minted_before_a_recorded_sign_out_is_ignored_and_one_minted_after_is_taken() {
    // Signed out in another tab 30 s ago; a page rendered from a cookie that outlived the sign-out
    // must not sign the user back in, but a token issued since (a new sign-in) may.
    let signed_out_at = T0 - 30_000;
    for (label, iat, taken) in [("before", T0 - 40_000, false), ("after", T0 - 20_000, true)] {
        let mut h = Harness::new(Config { cross_tab: true, ..Config::default() });
        h.session.recall_sign_out(signed_out_at);
        h.session.offer_initial_token(h.now, &mint(iat, 120, 1));
        h.session.start(h.now);
        h.drain();
        assert_eq!(h.session.generation() == 1, taken, "minted {label} the sign-out");
        assert_eq!(ignored(&h), usize::from(!taken), "minted {label} the sign-out");
    }
    // Without `iat` the minting time is unknown: it counts as older than any sign-out.
    let no_iat = jwt_from_claims(&format!(r#"{{"sub":"user_1","exp":{}}}"#, (T0 + 60_000) / 1000));
    let mut h = Harness::new(Config { cross_tab: true, ..Config::default() });
    h.session.recall_sign_out(signed_out_at);
    h.session.offer_initial_token(h.now, &no_iat);
    h.session.start(h.now);
    h.drain();
    assert_eq!(h.session.generation(), 0, "a token without iat signed the user back in");
}

#[test]
fn an_initial_token_offered_after_start_changes_nothing() {
    let mut h = Harness::started(Config::default());
    h.session.offer_initial_token(h.now, &mint(T0, 60, 1));
    h.drain();
    assert_eq!(h.session.generation(), 0);
    assert_eq!(h.fetch_count(), 1, "the startup fetch stands");
}

#[test]
fn eight_tabs_rendered_with_the_same_cookie_start_with_no_token_call_and_refresh_once() {
    // Every tab of the app was server-rendered with the user's cookie: none calls the provider at
    // startup, and the refresh is one call for all of them, as one tab's schedule.
    let mut tabs = Tabs::new(8, Tabs::cross_tab_config(), Issuer::new(20, 100));
    let rendered = mint(T0 - 2_000, 20, 0);
    for index in 0..8 {
        tabs.call(index, "initial token", |session, now| session.offer_initial_token(now, &rendered));
    }
    tabs.start_all();
    let at_startup = tabs.total_fetch_calls();
    tabs.request_tokens(1);
    for tab in &tabs.tabs {
        assert_eq!(tab.states, vec![AuthState::Authenticated]);
        assert_eq!(tab.tokens_used.last().map(|(_, token)| token.as_str()), Some(rendered.as_str()));
    }
    // 18 s left, refreshed 10 s before expiry: due at +8 s; one round trip later all tabs hold it.
    tabs.run_for(9_000);
    println!("8 tabs with an initial token: {at_startup} token calls at startup, {} after the first refresh", tabs.total_fetch_calls());
    assert_eq!(at_startup, 0);
    assert_eq!(tabs.total_fetch_calls(), 1, "the first refresh is one call for all tabs");
    assert_eq!(tabs.issuer.reuse_detections, 0);
    tabs.request_tokens(2);
    for tab in &tabs.tabs {
        assert_ne!(tab.tokens_used.last().map(|(_, token)| token.as_str()), Some(rendered.as_str()), "a tab kept the old token");
        assert_eq!(tab.states, vec![AuthState::Authenticated], "no flash");
    }
}
