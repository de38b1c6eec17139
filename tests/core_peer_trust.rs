//! What a tab believes of other tabs and of storage (issue 12, items 1, 2 and 7): times are cut
//! to now plus a slack, a token's expiry to what its own claims allow, tokens without `exp` or of
//! another backend or user are refused, and oversized messages are refused before parsing. Lying
//! peers, driven at random beside real tabs, never panic a session, poison a later tab or outlast
//! a sign-out.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use authlane::core::{decode, AuthState, Config, FetchOutcome, LockGrant, PeerMessage, TokenNeed};
use common::rng::Rng;
use common::tabs::{Event, Issuer, Tabs};
use common::{jwt_from_claims, mint, Harness, T0};

/// How far past a token's lifetime counted from now a tab may believe it (`trust::ESTIMATE_SLACK_MS`),
/// and so how far ahead of the clock any time the tabs send may be, at the very most.
const SLACK_MS: u64 = 1_000;

fn cross_tab() -> Config {
    Tabs::cross_tab_config()
}

/// A token of this test's app (issuer.test, audience convex, user_1) minted at `iat_ms`.
fn token_of(iat_ms: u64, lifetime_s: u64, serial: u32) -> String {
    mint(iat_ms, lifetime_s, serial)
}

/// A token with the given claims' issuer, audience and subject, otherwise like [`token_of`].
fn token_for(iss: &str, aud: &str, sub: &str, iat_ms: u64, lifetime_s: u64) -> String {
    let iat = iat_ms / 1000;
    jwt_from_claims(&format!(r#"{{"iss":"{iss}","sub":"{sub}","aud":"{aud}","iat":{iat},"exp":{}}}"#, iat + lifetime_s))
}

fn offer(token: &str, at: Option<u64>, expires_at: Option<u64>) -> String {
    let message = PeerMessage::Token { token: token.to_string(), expires_at };
    match at {
        Some(at) => message.encode_at(at),
        None => message.encode(),
    }
}

/// A session that fetched its own token (forced, so it knows the clock's skew), under the lock.
fn with_own_token(lifetime_s: u64) -> Harness {
    let mut h = Harness::started(cross_tab());
    let (lock, _) = h.lock_requests[0];
    h.session.handle_lock_acquired(h.now, lock, LockGrant::Uncontended);
    h.drain();
    h.answer_fresh(lifetime_s);
    h.session.handle_token_request(h.now, 1, TokenNeed::Forced);
    h.drain();
    let (lock, _) = *h.lock_requests.last().unwrap();
    h.session.handle_lock_acquired(h.now, lock, LockGrant::Uncontended);
    h.drain();
    h.advance(100);
    h.answer_fresh(lifetime_s);
    assert_eq!(h.fetch_count(), 2);
    h
}

// ---- item 1: expiry ----

#[test]
fn an_expired_token_offered_with_a_huge_expiry_and_no_fetch_time_is_refused() {
    let mut h = Harness::started(cross_tab());
    let expired = token_of(h.now - 120_000, 60, 1);
    h.session.handle_peer_message(h.now, &offer(&expired, None, Some(u64::MAX)));
    h.drain();
    assert_eq!(h.session.token(), None, "an expired token was adopted (expires_at {:?})", h.session.expires_at());
}

#[test]
fn a_peer_lying_about_a_fetch_time_gets_at_most_one_lifetime_and_a_refresh() {
    // Without the clock's skew a tab cannot tell an expired token from a fresh one on a skewed
    // machine, but a lie buys at most the token's lifetime counted from now: the refresh comes.
    let mut h = Harness::started(cross_tab());
    let expired = token_of(h.now - 120_000, 60, 1);
    h.session.handle_peer_message(h.now, &offer(&expired, Some(h.now), Some(u64::MAX)));
    h.drain();
    let expires_at = h.session.expires_at().expect("adopted: without the skew the lie cannot be told");
    assert!(expires_at <= h.now + 60_000 + SLACK_MS, "believed until {} ms from now", expires_at - h.now);
    let refresh_at = h.session.refresh_at().expect("no refresh scheduled");
    assert!(refresh_at <= h.now + 60_000, "refresh {} ms from now", refresh_at - h.now);
    // It happens: the lock is asked for (a fetch, or a fresher peer token) when it is due.
    let asked = h.lock_requests.len();
    h.advance_to(refresh_at);
    assert!(h.lock_requests.len() > asked, "the refresh did not start");
}

#[test]
fn a_tab_that_knows_the_skew_refuses_an_expired_token_whatever_its_fetch_time() {
    let mut h = with_own_token(60);
    let held = h.session.token().map(String::from);
    let expired = token_of(h.now - 700_000, 600, 9); // a 600 s token, 100 s past its exp
    h.session.handle_peer_message(h.now, &offer(&expired, Some(h.now), Some(u64::MAX)));
    h.drain();
    assert_eq!(h.session.token().map(String::from), held, "an expired token replaced the held one");
}

#[test]
fn a_token_without_exp_is_neither_adopted_nor_shared_nor_stored() {
    let no_exp = jwt_from_claims(r#"{"iss":"https://issuer.test","sub":"user_1","aud":"convex","iat":1795392000}"#);
    let mut h = Harness::started(Config { persist: true, ..cross_tab() });
    h.session.handle_peer_message(h.now, &offer(&no_exp, Some(h.now), Some(h.now + 60_000)));
    h.drain();
    assert_eq!(h.session.token(), None, "a token without exp was adopted from a peer");
    assert_eq!(h.session.ignored_peer_messages(), 1, "refused as implausible");
    // Our own fetch may return one (the callback's contract allows it): it is used, never passed on.
    let (lock, _) = h.lock_requests[0];
    h.session.handle_lock_acquired(h.now, lock, LockGrant::Uncontended);
    h.drain();
    h.answer(FetchOutcome::Token(no_exp.clone()));
    assert_eq!(h.session.token(), Some(no_exp.as_str()));
    let shared = h.broadcasts.iter().filter(|m| m.contains("\"kind\":\"token\"")).count();
    assert_eq!(shared, 0, "a token without exp was broadcast");
    assert!(h.persisted.iter().all(Option::is_none), "a token without exp was stored: {:?}", h.persisted);
}

// ---- item 1: times ----

#[test]
fn a_token_sent_with_a_time_far_ahead_does_not_outlast_a_later_sign_out() {
    let mut h = Harness::started(cross_tab());
    let token = token_of(h.now, 600, 1);
    h.session.handle_peer_message(h.now, &offer(&token, Some(u64::MAX), Some(h.now + 600_000)));
    h.drain();
    assert!(h.session.token().is_some());
    h.advance(5_000);
    h.session.handle_peer_message(h.now, &PeerMessage::SignedOut.encode_at(h.now));
    h.drain();
    assert_eq!(h.state(), AuthState::Unauthenticated, "the tab is immune to sign-outs");
    assert_eq!(h.session.token(), None);
}

#[test]
fn a_sign_out_sent_far_ahead_does_not_block_later_sign_ins() {
    let mut h = Harness::started(cross_tab());
    h.session.handle_peer_message(h.now, &PeerMessage::SignedOut.encode_at(u64::MAX));
    h.drain();
    assert_eq!(h.state(), AuthState::Unauthenticated);
    h.advance(5_000);
    // A sign-in in another tab since then reaches this one.
    let token = token_of(h.now, 600, 1);
    h.session.handle_peer_message(h.now, &offer(&token, Some(h.now), Some(h.now + 600_000)));
    h.drain();
    assert_eq!(h.session.token(), Some(token.as_str()), "a sign-out at u64::MAX blocked every later sign-in");
    // And this tab's own sign-out is recorded at a plausible time, not past the lie.
    h.session.sign_out(h.now);
    h.drain();
    assert!(h.recorded_sign_outs.iter().all(|&at| at <= h.now + SLACK_MS), "recorded {:?}", h.recorded_sign_outs);
}

#[test]
fn a_recorded_sign_out_far_ahead_is_believed_as_now_and_healed_for_later_tabs() {
    // localStorage holding "1e300" (the driver reads it as u64::MAX) for `authlane:signed-out:<name>`.
    let record = || offer(&token_of(T0 - 5_000, 600, 1), Some(T0 - 5_000), Some(T0 + 595_000));
    let mut first = Harness::new(Config { persist: true, ..cross_tab() });
    first.session.recall_sign_out(u64::MAX);
    first.session.handle_peer_message(first.now, &record());
    first.session.start(first.now);
    first.drain();
    // Believed as a sign-out just now: the older stored token goes, and the record is written back.
    assert_eq!(first.session.token(), None);
    assert_eq!(first.recorded_sign_outs, vec![first.now], "the record was not healed");
    let (lock, _) = first.lock_requests[0];
    first.session.handle_lock_acquired(first.now, lock, LockGrant::Uncontended);
    first.drain();
    first.now += 1;
    let fetched = first.answer_fresh(600);
    let shared = first.broadcasts.iter().filter_map(|m| PeerMessage::decode_with_time(m).ok()).find(|(_, m)| matches!(m, PeerMessage::Token { .. }));
    let (at, _) = shared.expect("the fetched token was not shared");
    assert!(at <= first.now + SLACK_MS + 1, "shared with a time {} ms past the clock: the poison spreads", at - first.now);
    // A tab opened later recalls the healed record: it takes the first tab's token, and can sign out.
    let mut later = Harness::new(cross_tab());
    later.now = first.now + 10_000;
    later.session.recall_sign_out(first.recorded_sign_outs[0]);
    later.session.start(later.now);
    later.drain();
    let message = first.broadcasts.iter().find(|m| m.contains("\"kind\":\"token\"")).unwrap().clone();
    later.session.handle_peer_message(later.now, &message);
    later.drain();
    assert_eq!(later.session.token(), Some(fetched.as_str()), "a tab opened after the poison could not take a peer's token");
    assert_eq!(later.fetch_count(), 0);
    later.session.sign_out(later.now);
    later.drain();
    assert_eq!(later.recorded_sign_outs, vec![later.now]);
}

// ---- item 2: identity ----

#[test]
fn a_token_of_another_backend_or_user_is_refused_once_the_session_holds_one() {
    let mut h = with_own_token(60);
    let held = h.session.token().map(String::from);
    let longer = |iss: &str, aud: &str, sub: &str, now| token_for(iss, aud, sub, now, 3_600);
    for (what, foreign) in [
        ("another audience", longer("https://issuer.test", "hasura", "user_1", h.now)),
        ("another issuer", longer("https://other.test", "convex", "user_1", h.now)),
        ("another user", longer("https://issuer.test", "convex", "user_2", h.now)),
    ] {
        h.session.handle_peer_message(h.now, &offer(&foreign, Some(h.now), Some(h.now + 3_600_000)));
        h.drain();
        assert_eq!(h.session.token().map(String::from), held, "a token of {what} was adopted");
    }
    assert_eq!(h.session.ignored_peer_messages(), 3);
    // The same backend and user, living longer: taken.
    let ours = longer("https://issuer.test", "convex", "user_1", h.now);
    h.session.handle_peer_message(h.now, &offer(&ours, Some(h.now), Some(h.now + 3_600_000)));
    h.drain();
    assert_eq!(h.session.token(), Some(ours.as_str()));
}

/// A tab that held this app's token and signed out a second ago.
fn signed_out_a_second_ago() -> Harness {
    let mut h = with_own_token(60);
    h.session.sign_out(h.now);
    h.drain();
    h.advance(1_000);
    h
}

/// A peer offers a token of `iss`, `aud` and `sub`, fetched now and living 10 minutes.
fn offer_fresh(h: &mut Harness, iss: &str, aud: &str, sub: &str) -> String {
    let token = token_for(iss, aud, sub, h.now, 600);
    h.session.handle_peer_message(h.now, &offer(&token, Some(h.now), Some(h.now + 600_000)));
    h.drain();
    token
}

#[test]
fn after_a_sign_out_the_backend_still_counts_but_another_user_may_sign_in() {
    let mut h = signed_out_a_second_ago();
    offer_fresh(&mut h, "https://issuer.test", "hasura", "user_1");
    assert_eq!(h.session.token(), None, "another backend's token signed the tab in");
    let other_user = offer_fresh(&mut h, "https://issuer.test", "convex", "user_2");
    assert_eq!(h.session.token(), Some(other_user.as_str()), "a sign-in as another user in another tab did not reach this one");
}

#[test]
fn backends_one_character_apart_are_told_apart() {
    // The identity is a digest of issuer and audience: each variant below, one character (or one
    // boundary) off the session's, is another backend, and none may sign in a signed-out tab.
    let mut h = signed_out_a_second_ago();
    let mut variants: Vec<(String, String)> = Vec::new();
    for c in 'a'..='z' {
        variants.push((format!("https://issuer.tes{c}"), "convex".into()));
        variants.push(("https://issuer.test".into(), format!("conve{c}")));
        variants.push((format!("https://{c}ssuer.test"), "convex".into()));
    }
    variants.retain(|(iss, aud)| (iss.as_str(), aud.as_str()) != ("https://issuer.test", "convex"));
    // The same characters, split differently between issuer and audience.
    variants.push(("https://issuer.testc".into(), "onvex".into()));
    variants.push(("https://issuer.tes".into(), "tconvex".into()));
    for (iss, aud) in &variants {
        offer_fresh(&mut h, iss, aud, "user_1");
        assert_eq!(h.session.token(), None, "a token of iss {iss} aud {aud} was taken for this backend's");
    }
}

// ---- item 7: size ----

/// `{"v":1,"kind":"request","k0":0,"k1":0,…}` of about `bytes` bytes: valid, and all keys.
fn key_heavy(bytes: usize) -> String {
    let mut text = String::from(r#"{"v":1,"kind":"request""#);
    let mut i = 0;
    while text.len() < bytes {
        text.push_str(&format!(r#","k{i}":0"#));
        i += 1;
    }
    text.push('}');
    text
}

#[test]
fn a_message_longer_than_any_real_one_is_refused_before_parsing() {
    let longest_real = offer(&"a".repeat(16 * 1024), Some(u64::MAX), Some(u64::MAX));
    assert!(PeerMessage::decode(&longest_real).is_ok(), "a 16 KiB token's message was refused");
    let oversized = key_heavy(20 * 1024);
    assert!(PeerMessage::decode(&oversized).is_err(), "a 20 KB message was parsed");
    // Printed, not asserted (the machine is shared): parse time per byte stays flat as messages grow.
    for bytes in [4 * 1024, 8 * 1024, 16 * 1024] {
        let text = key_heavy(bytes);
        let started = std::time::Instant::now();
        for _ in 0..20 {
            std::hint::black_box(PeerMessage::decode(std::hint::black_box(&text))).ok();
        }
        let per_message = started.elapsed() / 20;
        println!("key-heavy request of {} bytes: {:?} per parse ({:.1} ns/byte)", text.len(), per_message, per_message.as_nanos() as f64 / text.len() as f64);
    }
}

// ---- lying peers beside real tabs, at random ----

/// A message a lying or broken peer might send, built from `rng`.
fn lie(rng: &mut Rng, now: u64) -> String {
    let time = |rng: &mut Rng| match rng.below(6) {
        0 => 0,
        1 => u64::MAX,
        2 => now + rng.below(10_000_000_000),
        3 => now.saturating_sub(rng.below(10_000_000)),
        4 => 1 << 53,
        _ => now,
    };
    let iat = now.saturating_sub(rng.below(4_000_000));
    let token = match rng.below(6) {
        0 => token_of(iat, rng.range(1, 3_600), rng.below(1_000) as u32),
        1 => token_for("https://issuer.test", "hasura", "user_1", iat, 3_600),
        2 => token_for("https://issuer.test", "convex", "user_2", iat, 3_600),
        3 => jwt_from_claims(&format!(r#"{{"iss":"https://issuer.test","sub":"user_1","aud":"convex","iat":{}}}"#, iat / 1000)),
        4 => jwt_from_claims(&format!(r#"{{"iss":"https://issuer.test","sub":"user_1","aud":"convex","exp":{}}}"#, time(rng) / 1000 % 253_402_300_799)),
        _ => token_of(now.saturating_sub(rng.below(10_000_000)), 20, rng.below(1_000) as u32),
    };
    match rng.below(5) {
        0 => PeerMessage::SignedOut.encode_at(time(rng)),
        1 => format!(r#"{{"v":1,"at":1e300,"kind":"signed_out"}}"#),
        2 => format!(r#"{{"v":1,"at":{},"kind":"token","token":"{token}","expiresAt":1e300}}"#, time(rng)),
        _ => {
            let at = time(rng);
            let expires_at = rng.chance(80).then(|| time(rng));
            offer(&token, Some(at), expires_at)
        }
    }
}

#[test]
fn lying_peers_never_poison_real_tabs() {
    const LIFETIME_S: u64 = 20;
    let sequences = std::env::var("AUTHLANE_TRUST_SEQUENCES").ok().and_then(|v| v.parse().ok()).unwrap_or(200u64);
    let (mut lies, mut sign_outs, mut adopted_lies) = (0, 0, 0);
    for seed in 0..sequences {
        let mut rng = Rng::new(seed ^ 0x7125);
        let config = Config { persist: rng.chance(50), ..cross_tab() };
        let mut tabs = Tabs::new(rng.range(2, 5) as usize, config, Issuer::new(LIFETIME_S, rng.below(300)));
        tabs.events = Some(Vec::new());
        tabs.recorded_sign_out = if rng.chance(20) { u64::MAX } else { 0 };
        tabs.start_all();
        // Lies start once every tab holds the app's token: before that, telling another backend's
        // token from the app's is the cross-tab name's job (pkg/src/options.ts), not the core's.
        tabs.run_for(1_000);
        for _ in 0..40 {
            match rng.below(10) {
                0..=4 => {
                    let text = lie(&mut rng, tabs.now);
                    tabs.inject(usize::MAX, &text);
                    lies += 1;
                }
                5..=7 => tabs.run_for(rng.below(8_000)),
                8 => tabs.request_tokens(1),
                _ => {
                    // A real sign-out, then a real sign-in: both must reach every tab, whatever was said before.
                    let tab = rng.index(tabs.tabs.len());
                    tabs.issuer.sign_out();
                    tabs.call(tab, "sign_out", |session, now| session.sign_out(now));
                    tabs.settle();
                    sign_outs += 1;
                    for (index, t) in tabs.tabs.iter().enumerate() {
                        if t.session.token().is_some() && std::env::var("TRUST_DEBUG").is_ok() {
                            for event in tabs.events.as_ref().unwrap().iter().rev().take(60).rev() {
                                eprintln!("{event:?}");
                            }
                        }
                        assert_eq!(t.session.token(), None, "seed {seed}: tab {index} outlived a sign-out");
                    }
                    tabs.run_for(2_000);
                    tabs.issuer.sign_in();
                    let index = rng.index(tabs.tabs.len());
                    tabs.call(index, "sign_in", |session, now| session.handle_token_request(now, 99, TokenNeed::Current));
                    tabs.run_for(3_000);
                    tabs.request_tokens(2);
                    for (index, t) in tabs.tabs.iter().enumerate() {
                        assert!(t.session.token().is_some(), "seed {seed}: tab {index} missed the sign-in after a sign-out");
                    }
                }
            }
            let now = tabs.now;
            for (index, t) in tabs.tabs.iter().enumerate() {
                let Some(token) = t.session.token() else { continue };
                let claims = decode(token).unwrap().claims;
                // (Another user may sign in once a tab holds nothing: a sign-in elsewhere looks the same.)
                assert_eq!((claims.iss.as_deref(), claims.aud.as_slice()), (Some("https://issuer.test"), &["convex".to_string()][..]), "seed {seed}: tab {index} holds another backend's token");
                let exp = claims.exp.expect("a token without exp was adopted");
                let expires_at = t.session.expires_at().unwrap();
                // At most one lifetime from now; a token without iat is judged by its exp (the
                // harness's clocks agree, so the learnt skew is the issuer latency plus iat's truncation at most).
                let bound = match claims.lifetime_seconds() {
                    Some(lifetime) => now + lifetime * 1000 + SLACK_MS,
                    None => exp * 1000 + 999 + 300 + 999,
                };
                let refresh_at = t.session.refresh_at().unwrap();
                assert!(expires_at <= bound, "seed {seed}: tab {index} believes a token for {} ms more (exp {exp}, bound {bound}, now {now})", expires_at - now);
                assert!(refresh_at <= expires_at, "seed {seed}: tab {index} refreshes after expiry");
                // Possible only in a tab that has not learnt the clock's skew (see the README).
                adopted_lies += (exp * 1000 + 60_000 < now) as u64;
            }
        }
        // No tab passed a poisoned time on.
        for event in tabs.events.as_ref().unwrap() {
            if let Event::Output { at, output: authlane::core::Output::Broadcast(text), tab } = event {
                if let Ok((sent_at, _)) = PeerMessage::decode_with_time(text) {
                    // (+1: a fetch starts strictly after the latest sign-out seen.)
                    assert!(sent_at <= at + SLACK_MS + 1, "seed {seed}: tab {tab} sent a time {} ms ahead", sent_at - at);
                }
            }
        }
    }
    println!("{sequences} sequences: {lies} lies, {sign_outs} sign-outs, {adopted_lies} holdings of a token over a minute past exp");
    assert!(lies > sequences * 10 && sign_outs > sequences / 2, "the generator did not reach enough lies or sign-outs");
}
