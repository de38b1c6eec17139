//! `explain`: each reason a Convex-style provider refuses a token, in the order a server checks
//! them, the warnings that do not refuse, and a property run proving it never panics and that
//! `matched` always names the first provider without a mismatch.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use authlane::core::explain::{explain, Mismatch, ProviderKind, ProviderSpec, Warning};
use authlane::core::TokenError;
use common::rng::Rng;
use common::{b64, T0};

const NOW_S: u64 = T0 / 1000;

/// What Convex verifies OIDC ID tokens with.
fn algorithms() -> Vec<String> {
    ["RS256", "EdDSA"].map(String::from).to_vec()
}

fn oidc(domain: &str, application_id: &str) -> ProviderSpec {
    ProviderSpec {
        kind: ProviderKind::Oidc,
        issuer: domain.into(),
        application_id: Some(application_id.into()),
        algorithm: None,
    }
}

fn custom(issuer: &str, algorithm: &str, application_id: Option<&str>) -> ProviderSpec {
    ProviderSpec {
        kind: ProviderKind::CustomJwt,
        issuer: issuer.into(),
        application_id: application_id.map(String::from),
        algorithm: Some(algorithm.into()),
    }
}

fn token(header: &str, claims: &str) -> String {
    format!("{}.{}.c2ln", b64(header.as_bytes()), b64(claims.as_bytes()))
}

const HEADER: &str = r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#;

/// Claims valid at `NOW_S` for `iss`/`aud`, with `extra` JSON members appended.
fn claims(iss: &str, aud: &str) -> String {
    format!(r#"{{"iss":"{iss}","aud":{aud},"sub":"user_1","iat":{},"exp":{}}}"#, NOW_S - 10, NOW_S + 50)
}

fn first_reason(token: &str, provider: ProviderSpec) -> Option<Mismatch> {
    let explanation = explain(token, &[provider], &algorithms(), T0);
    explanation.providers[0].mismatch
}

#[test]
fn a_matching_token_names_its_provider_and_says_the_signature_is_unchecked() {
    let providers = [oidc("https://other.example", "convex"), oidc("https://idp.example", "convex")];
    let explanation = explain(&token(HEADER, &claims("https://idp.example", r#""convex""#)), &providers, &algorithms(), T0);
    assert_eq!(explanation.matched, Some(1));
    assert_eq!(explanation.providers[0].mismatch, Some(Mismatch::IssuerMismatch));
    assert_eq!(explanation.providers[1].mismatch, None);
    assert!(explanation.summary.contains("provider 1 (oidc https://idp.example) matches"), "{}", explanation.summary);
    assert!(explanation.summary.contains("signature"), "{}", explanation.summary);
    assert_eq!(explanation.timing.expires_in, Some(50));
    assert_eq!(explanation.timing.issued_ago, Some(10));
    assert_eq!(explanation.timing.lifetime, Some(60));
    assert!(explanation.warnings.is_empty(), "{:?}", explanation.warnings);
}

#[test]
fn issuer_reasons_distinguish_missing_different_trailing_slash_and_workos() {
    let valid = |iss: &str| token(HEADER, &claims(iss, r#""convex""#));
    assert_eq!(
        first_reason(&token(HEADER, r#"{"aud":"convex","sub":"u","exp":9999999999}"#), oidc("https://a", "convex")),
        Some(Mismatch::IssuerMissing)
    );
    assert_eq!(first_reason(&valid("https://b"), oidc("https://a", "convex")), Some(Mismatch::IssuerMismatch));
    // Auth0's iss ends with '/': an OIDC domain without it still matches, with a warning.
    let explanation = explain(&valid("https://tenant.auth0.com/"), &[oidc("https://tenant.auth0.com", "convex")], &algorithms(), T0);
    assert_eq!(explanation.matched, Some(0));
    assert_eq!(explanation.warnings[0].0, Warning::IssuerTrailingSlash);
    // customJwt issuers are exact.
    assert_eq!(
        first_reason(&valid("https://api.workos.com/"), custom("https://api.workos.com", "RS256", None)),
        Some(Mismatch::IssuerTrailingSlash)
    );
    // WorkOS: tokens come from api.workos.com while the config names the AuthKit domain.
    let workos = valid("https://api.workos.com/user_management/client_01ABC");
    let explanation = explain(&workos, &[oidc("https://quiet-sky-12.authkit.app", "client_01ABC")], &algorithms(), T0);
    assert_eq!(explanation.providers[0].mismatch, Some(Mismatch::IssuerWorkos));
    assert!(explanation.providers[0].detail.contains("customJwt"), "{}", explanation.providers[0].detail);
    // …but a near miss on the WorkOS host itself is an ordinary mismatch.
    assert_eq!(first_reason(&valid("https://api.workos.community"), oidc("https://x.authkit.app", "c")), Some(Mismatch::IssuerMismatch));
}

#[test]
fn audience_reasons_distinguish_missing_other_and_extra_audiences() {
    let with_aud = |aud: &str| token(HEADER, &claims("https://idp", aud));
    assert_eq!(
        first_reason(&token(HEADER, r#"{"iss":"https://idp","sub":"u","exp":9999999999}"#), oidc("https://idp", "convex")),
        Some(Mismatch::AudienceMissing)
    );
    assert_eq!(first_reason(&with_aud("[]"), oidc("https://idp", "convex")), Some(Mismatch::AudienceMissing));
    assert_eq!(first_reason(&with_aud(r#""api""#), oidc("https://idp", "convex")), Some(Mismatch::AudienceMismatch));
    assert_eq!(
        first_reason(&with_aud(r#"["https://api.example","https://idp/userinfo"]"#), oidc("https://idp", "convex")),
        Some(Mismatch::AudienceMismatch)
    );
    // An access token's audience list holding the applicationID: OIDC refuses the extra audience…
    let explanation = explain(&with_aud(r#"["convex","https://idp/userinfo"]"#), &[oidc("https://idp", "convex")], &algorithms(), T0);
    assert_eq!(explanation.providers[0].mismatch, Some(Mismatch::AudienceArray));
    assert!(explanation.providers[0].detail.contains("1 other audience"), "{}", explanation.providers[0].detail);
    // …a one-item array is fine, and customJwt only needs the applicationID among them.
    assert_eq!(first_reason(&with_aud(r#"["convex"]"#), oidc("https://idp", "convex")), None);
    assert_eq!(first_reason(&with_aud(r#"["app","x"]"#), custom("https://idp", "RS256", Some("app"))), None);
    // customJwt without applicationID does not look at aud at all.
    assert_eq!(first_reason(&with_aud(r#""anything""#), custom("https://idp", "RS256", None)), None);
    assert_eq!(first_reason(&with_aud(r#""anything""#), custom("https://idp", "RS256", Some("app"))), Some(Mismatch::AudienceMismatch));
}

#[test]
fn algorithm_and_kid_reasons() {
    let body = claims("https://idp", r#""convex""#);
    let provider = || oidc("https://idp", "convex");
    assert_eq!(first_reason(&token(r#"{"alg":"HS256","kid":"k"}"#, &body), provider()), Some(Mismatch::AlgorithmUnsupported));
    assert_eq!(first_reason(&token(r#"{"alg":"ES256","kid":"k"}"#, &body), provider()), Some(Mismatch::AlgorithmUnsupported));
    assert_eq!(first_reason(&token(r#"{"alg":"none","kid":"k"}"#, &body), provider()), Some(Mismatch::AlgorithmUnsupported));
    assert_eq!(first_reason(&token(r#"{"kid":"k"}"#, &body), provider()), Some(Mismatch::AlgorithmUnsupported));
    assert_eq!(
        first_reason(&token(r#"{"alg":"ES256","kid":"k"}"#, &body), custom("https://idp", "RS256", None)),
        Some(Mismatch::AlgorithmMismatch)
    );
    // customJwt names its algorithm; the OIDC list does not apply to it.
    assert_eq!(first_reason(&token(r#"{"alg":"ES256","kid":"k"}"#, &body), custom("https://idp", "ES256", None)), None);
    // customJwt needs a kid; OIDC falls back to the JWKS's only key, with a warning.
    let custom_jwt = || custom("https://idp", "RS256", None);
    assert_eq!(first_reason(&token(r#"{"alg":"RS256"}"#, &body), custom_jwt()), Some(Mismatch::KidMissing));
    assert_eq!(first_reason(&token(r#"{"alg":"RS256","kid":""}"#, &body), custom_jwt()), Some(Mismatch::KidMissing));
    let no_kid = explain(&token(r#"{"alg":"RS256"}"#, &body), &[provider()], &algorithms(), T0);
    assert_eq!(no_kid.matched, Some(0));
    assert_eq!(no_kid.warnings[0].0, Warning::KidMissing);
    // The supported list is the caller's.
    let es256 = token(r#"{"alg":"ES256","kid":"k"}"#, &body);
    assert_eq!(explain(&es256, &[provider()], &["ES256".to_string()], T0).matched, Some(0));
}

#[test]
fn time_reasons_report_how_far_off_and_the_skew() {
    let provider = || oidc("https://idp", "convex");
    let at = |iat: u64, exp: u64, extra: &str| {
        token(HEADER, &format!(r#"{{"iss":"https://idp","aud":"convex","sub":"u","iat":{iat},"exp":{exp}{extra}}}"#))
    };
    assert_eq!(
        first_reason(&token(HEADER, r#"{"iss":"https://idp","aud":"convex","sub":"u"}"#), provider()),
        Some(Mismatch::ExpMissing)
    );
    let expired = explain(&at(NOW_S - 100, NOW_S - 40, ""), &[provider()], &algorithms(), T0);
    assert_eq!(expired.providers[0].mismatch, Some(Mismatch::Expired));
    assert!(expired.providers[0].detail.contains("expired 40 s ago"), "{}", expired.providers[0].detail);
    assert_eq!(expired.timing.expires_in, Some(-40));
    // exp == now is expired, as the server sees it.
    assert_eq!(first_reason(&at(NOW_S - 60, NOW_S, ""), provider()), Some(Mismatch::Expired));
    // A device clock 300 s behind the issuer: iat is in the future; the warning and the detail say so.
    let ahead = explain(&at(NOW_S + 300, NOW_S + 360, &format!(r#","nbf":{}"#, NOW_S + 300)), &[provider()], &algorithms(), T0);
    assert_eq!(ahead.providers[0].mismatch, Some(Mismatch::NotYetValid));
    assert!(ahead.providers[0].detail.contains("300 s"), "{}", ahead.providers[0].detail);
    assert_eq!(ahead.warnings[0].0, Warning::IssuedInFuture);
    // No iat is accepted by servers; it is a warning.
    let no_iat = explain(
        &token(HEADER, &format!(r#"{{"iss":"https://idp","aud":"convex","sub":"u","exp":{}}}"#, NOW_S + 5)),
        &[provider()],
        &algorithms(),
        T0,
    );
    assert_eq!(no_iat.matched, Some(0));
    assert_eq!(no_iat.warnings[0].0, Warning::IatMissing);
}

#[test]
fn closest_is_the_provider_the_token_got_furthest_with() {
    let text = token(HEADER, &claims("https://jwt.example", r#""other""#));
    let providers = [
        oidc("https://idp", "convex"),
        oidc("https://jwt.example", "convex"),
        custom("https://jwt.example/", "RS256", None),
    ];
    let explanation = explain(&text, &providers, &algorithms(), T0);
    assert_eq!(explanation.matched, None);
    // [1] got past the issuer (audience_mismatch); [2] is a near miss on it; [0] is a plain miss.
    assert_eq!(explanation.closest, Some(1));
    let near_miss = explain(&text, &[providers[0].clone(), providers[2].clone()], &algorithms(), T0);
    assert_eq!(near_miss.closest, Some(1));
    assert_eq!(near_miss.providers[1].mismatch, Some(Mismatch::IssuerTrailingSlash));
    let matched = explain(&token(HEADER, &claims("https://idp", r#""convex""#)), &providers, &algorithms(), T0);
    assert_eq!((matched.matched, matched.closest), (Some(0), Some(0)));
}

#[test]
fn sub_is_checked_last() {
    let no_sub = token(HEADER, &format!(r#"{{"iss":"https://idp","aud":"convex","iat":{},"exp":{}}}"#, NOW_S, NOW_S + 60));
    assert_eq!(first_reason(&no_sub, oidc("https://idp", "convex")), Some(Mismatch::SubMissing));
}

#[test]
fn malformed_tokens_consult_no_provider_and_say_why() {
    let explanation = explain("not-a-jwt", &[oidc("https://idp", "convex")], &algorithms(), T0);
    assert_eq!(explanation.decoded, Err(TokenError::SegmentCount));
    assert!(explanation.providers.is_empty());
    assert_eq!(explanation.matched, None);
    assert!(explanation.summary.starts_with("not a JWT"), "{}", explanation.summary);
}

#[test]
fn a_summary_lists_every_provider_reason_without_the_token() {
    let secret_signature = "c2VjcmV0LXNpZ25hdHVyZQ";
    let text = format!("{}.{}.{secret_signature}", b64(HEADER.as_bytes()), b64(claims("https://b", r#""convex""#).as_bytes()));
    let explanation = explain(&text, &[oidc("https://a", "convex"), custom("https://b", "ES256", None)], &algorithms(), T0);
    assert_eq!(explanation.matched, None);
    assert!(explanation.summary.contains("[0] oidc https://a → issuer_mismatch"), "{}", explanation.summary);
    assert!(explanation.summary.contains("[1] customJwt https://b → algorithm_mismatch"), "{}", explanation.summary);
    let everything = format!("{explanation:?}").replace(&text, "");
    assert!(!everything.contains(secret_signature) && !explanation.summary.contains(&text[..20]));
}

// ---- property: never panics; `matched` is the first provider without a mismatch ----

fn random_string(rng: &mut Rng, pool: &[&str]) -> String {
    let mut out = String::from(pool[rng.index(pool.len())]);
    if rng.below(4) == 0 {
        out.push('/');
    }
    out
}

fn random_token(rng: &mut Rng) -> String {
    const ISSUERS: &[&str] = &["https://idp", "https://api.workos.com", "https://api.workos.com/user_management/c", "", "é"];
    const AUDS: &[&str] = &[r#""convex""#, r#"["convex","x"]"#, "[]", r#""x""#, "7", "null", r#"["a","b"]"#];
    const ALGS: &[&str] = &["RS256", "ES256", "none", "", "EdDSA"];
    if rng.below(10) == 0 {
        let bytes: Vec<u8> = (0..rng.below(40)).map(|_| rng.below(128) as u8).collect();
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let mut header = String::from("{");
    if rng.below(8) != 0 {
        header.push_str(&format!(r#""alg":"{}","#, ALGS[rng.index(ALGS.len())]));
    }
    if rng.below(8) != 0 {
        header.push_str(r#""kid":"k","#);
    }
    header.push_str(r#""typ":"JWT"}"#);
    let mut members = Vec::new();
    if rng.below(8) != 0 {
        members.push(format!(r#""iss":"{}""#, random_string(rng, ISSUERS)));
    }
    if rng.below(8) != 0 {
        members.push(format!(r#""aud":{}"#, AUDS[rng.index(AUDS.len())]));
    }
    for claim in ["iat", "exp", "nbf"] {
        if rng.below(4) != 0 {
            let value = match rng.below(6) {
                0 => u64::MAX.to_string(),
                1 => "-5".into(),
                2 => "0".into(),
                _ => (NOW_S + rng.below(1000) - 500).to_string(),
            };
            members.push(format!(r#""{claim}":{value}"#));
        }
    }
    if rng.below(8) != 0 {
        members.push(r#""sub":"u""#.into());
    }
    token(&header, &format!("{{{}}}", members.join(",")))
}

#[test]
fn explain_never_panics_and_matched_is_the_first_clean_provider() {
    const DOMAINS: &[&str] = &["https://idp", "https://api.workos.com", "https://x.authkit.app", "", "https://other"];
    for seed in 0..3000u64 {
        let mut rng = Rng::new(seed);
        let token = random_token(&mut rng);
        let providers: Vec<ProviderSpec> = (0..rng.below(4))
            .map(|_| {
                let issuer = random_string(&mut rng, DOMAINS);
                if rng.below(2) == 0 {
                    oidc(&issuer, if rng.below(3) == 0 { "x" } else { "convex" })
                } else {
                    let application_id = match rng.below(3) {
                        0 => None,
                        1 => Some("convex"),
                        _ => Some("x"),
                    };
                    custom(&issuer, ["RS256", "ES256", "EdDSA"][rng.index(3)], application_id)
                }
            })
            .collect();
        let now = T0 + rng.below(2_000_000) - 1_000_000;
        let explanation = explain(&token, &providers, &algorithms(), now);
        match &explanation.decoded {
            Err(_) => assert!(explanation.providers.is_empty() && explanation.matched.is_none(), "seed {seed}"),
            Ok(_) => {
                assert_eq!(explanation.providers.len(), providers.len(), "seed {seed}");
                let first_clean = explanation.providers.iter().position(|verdict| verdict.mismatch.is_none());
                assert_eq!(explanation.matched, first_clean, "seed {seed}");
                assert_eq!(explanation.closest.is_some(), !providers.is_empty(), "seed {seed}");
            }
        }
        assert!(!explanation.summary.is_empty(), "seed {seed}");
        if let Some(index) = explanation.matched {
            // A match means every claim the server needs is there and the token is live.
            let decoded = explanation.decoded.as_ref().unwrap();
            assert!(decoded.claims.sub.is_some() && decoded.header.alg.is_some(), "seed {seed}");
            assert!(decoded.claims.exp.is_some_and(|exp| exp > now / 1000), "seed {seed}");
            let provider = &providers[index];
            match provider.kind {
                ProviderKind::Oidc => assert!(algorithms().iter().any(|alg| decoded.header.alg.as_deref() == Some(alg)), "seed {seed}"),
                ProviderKind::CustomJwt => {
                    assert!(decoded.header.kid.is_some(), "seed {seed}");
                    assert_eq!(decoded.header.alg, provider.algorithm, "seed {seed}");
                }
            }
        }
    }
}
