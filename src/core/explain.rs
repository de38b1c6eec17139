//! Why a server would refuse a token: its decoded claims held against a Convex-style providers
//! config (`auth.config`), provider by provider, with the first reason each one does not match.
//!
//! Only what the token itself says is checked: no signature, no JWKS, no network. The checks
//! follow the order a Convex-style verifier applies them (issuer, audience, algorithm, key id,
//! expiry, subject), so "the first reason" is the one the server would report.

use alloc::string::String;
use alloc::vec::Vec;

use super::errors::TokenError;
use super::text::{sentence, Part::{Int, Quoted, Text}};
use super::token::{decode, DecodedToken};
use super::Millis;

/// WorkOS issues AuthKit access tokens under this origin, not under the AuthKit domain.
const WORKOS_API: &str = "https://api.workos.com";
const AUTHKIT_HOST: &[u8] = b".authkit.app";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// `{ domain, applicationID }`: `iss` is `domain` (a trailing slash aside), `aud` holds `applicationID`.
    Oidc,
    /// `{ type: "customJwt", issuer, jwks, algorithm, applicationID? }`: `iss` is exactly `issuer`.
    CustomJwt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSpec {
    pub kind: ProviderKind,
    /// OIDC `domain` or customJwt `issuer`.
    pub issuer: String,
    /// Required for OIDC; optional for customJwt (then `aud` is not checked).
    pub application_id: Option<String>,
    /// customJwt `algorithm`: the header's `alg` must equal it.
    pub algorithm: Option<String>,
}

/// The first reason a provider refuses a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    IssuerMissing,
    IssuerMismatch,
    /// The issuer differs only by a trailing slash (customJwt issuers must match exactly).
    IssuerTrailingSlash,
    /// `iss` is WorkOS's API origin but the provider names another domain (the AuthKit one).
    IssuerWorkos,
    AudienceMissing,
    /// `aud` (a string or an array) does not hold the `applicationID`.
    AudienceMismatch,
    /// OIDC: `aud` holds the `applicationID` and other audiences, which OIDC ID-token verification
    /// refuses as untrusted (an access token's audience list, e.g. Auth0's, instead of an ID token).
    AudienceArray,
    AlgorithmUnsupported,
    AlgorithmMismatch,
    /// customJwt: the header names no `kid` (OIDC entries fall back to a JWKS's only key).
    KidMissing,
    ExpMissing,
    Expired,
    NotYetValid,
    SubMissing,
}

impl Mismatch {
    /// How far down the server's checks the token got: the provider with the highest rank is the
    /// one the token was meant for. Near misses on the issuer outrank plain mismatches.
    pub fn rank(self) -> u8 {
        match self {
            Mismatch::IssuerMissing | Mismatch::IssuerMismatch => 0,
            Mismatch::IssuerTrailingSlash | Mismatch::IssuerWorkos => 1,
            Mismatch::AudienceMissing | Mismatch::AudienceMismatch | Mismatch::AudienceArray => 2,
            Mismatch::AlgorithmUnsupported | Mismatch::AlgorithmMismatch => 3,
            Mismatch::KidMissing => 4,
            Mismatch::ExpMissing | Mismatch::Expired | Mismatch::NotYetValid => 5,
            Mismatch::SubMissing => 6,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Mismatch::IssuerMissing => "issuer_missing",
            Mismatch::IssuerMismatch => "issuer_mismatch",
            Mismatch::IssuerTrailingSlash => "issuer_trailing_slash",
            Mismatch::IssuerWorkos => "issuer_workos_authkit_domain",
            Mismatch::AudienceMissing => "audience_missing",
            Mismatch::AudienceMismatch => "audience_mismatch",
            Mismatch::AudienceArray => "audience_array",
            Mismatch::AlgorithmUnsupported => "algorithm_unsupported",
            Mismatch::AlgorithmMismatch => "algorithm_mismatch",
            Mismatch::KidMissing => "kid_missing",
            Mismatch::ExpMissing => "exp_missing",
            Mismatch::Expired => "expired",
            Mismatch::NotYetValid => "not_yet_valid",
            Mismatch::SubMissing => "sub_missing",
        }
    }
}

/// Things a verifier accepts that are still worth knowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// No `iat`: clients estimate the lifetime from `exp` on their own clock instead.
    IatMissing,
    /// `iat` is ahead of this device's clock: one of the two clocks is off.
    IssuedInFuture,
    /// An OIDC `domain` matched `iss` only once a trailing slash was ignored.
    IssuerTrailingSlash,
    /// OIDC: no `kid`; the server uses the JWKS's only key, so the token fails while two are
    /// published (during a key rotation).
    KidMissing,
    NoProviders,
}

impl Warning {
    pub fn code(self) -> &'static str {
        match self {
            Warning::IatMissing => "iat_missing",
            Warning::IssuedInFuture => "issued_in_future",
            Warning::IssuerTrailingSlash => "issuer_trailing_slash",
            Warning::KidMissing => "kid_missing",
            Warning::NoProviders => "no_providers",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderVerdict {
    /// `None`: this provider would accept the token (signature aside).
    pub mismatch: Option<Mismatch>,
    /// A token-free sentence; claim values (`iss`, `aud`, `alg`, times) may appear, never the token.
    pub detail: String,
}

/// Times relative to the `now` given, in whole seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    pub now_seconds: u64,
    /// Negative once expired.
    pub expires_in: Option<i64>,
    /// Negative when `iat` is in the future.
    pub issued_ago: Option<i64>,
    /// `exp - iat`, the issuer's intended lifetime.
    pub lifetime: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// `Err` when the string is not a decodable JWT: then no provider was consulted.
    pub decoded: Result<DecodedToken, TokenError>,
    /// One per provider, in config order.
    pub providers: Vec<ProviderVerdict>,
    /// The first provider with no mismatch.
    pub matched: Option<usize>,
    /// The matched provider, else the one the token got furthest with (the first on a tie): its
    /// reason is the answer to "why was my token refused".
    pub closest: Option<usize>,
    pub warnings: Vec<(Warning, String)>,
    pub timing: Timing,
    /// One line for logs and UIs.
    pub summary: String,
}

/// Holds `token` against `providers` at `now`. `algorithms` lists the `alg` values the server
/// supports for OIDC entries (customJwt entries name theirs). Never panics, whatever the input.
pub fn explain(token: &str, providers: &[ProviderSpec], algorithms: &[String], now: Millis) -> Explanation {
    let now_seconds = now / 1000;
    let decoded = match decode(token) {
        Ok(decoded) => decoded,
        Err(error) => {
            return Explanation {
                decoded: Err(error),
                providers: Vec::new(),
                matched: None,
                closest: None,
                warnings: Vec::new(),
                timing: Timing { now_seconds, ..Timing::default() },
                summary: sentence(&[Text("not a JWT: "), Text(error.describe())]),
            }
        }
    };
    let claims = &decoded.claims;
    let timing = Timing {
        now_seconds,
        expires_in: claims.exp.map(|exp| seconds_between(now_seconds, exp)),
        issued_ago: claims.iat.map(|iat| seconds_between(iat, now_seconds)),
        lifetime: claims.lifetime_seconds(),
    };

    let mut warnings = Vec::new();
    match timing.issued_ago {
        None => warnings.push((
            Warning::IatMissing,
            String::from("no iat: the lifetime is estimated from exp on this device's clock"),
        )),
        Some(ago) if ago < 0 => warnings.push((
            Warning::IssuedInFuture,
            sentence(&[Text("iat is "), Int(-ago), Text(" s ahead of this device's clock: the device or the issuer has the wrong time")]),
        )),
        Some(_) => {}
    }
    if providers.is_empty() {
        warnings.push((Warning::NoProviders, String::from("no providers were given")));
    }

    let mut verdicts = Vec::with_capacity(providers.len());
    for provider in providers {
        let (mismatch, detail) = match check(&decoded, provider, algorithms, &timing, &mut warnings) {
            Ok(()) => (None, String::from("matches (the signature is not checked here)")),
            Err((mismatch, detail)) => (Some(mismatch), detail),
        };
        verdicts.push(ProviderVerdict { mismatch, detail });
    }
    let matched = verdicts.iter().position(|verdict| verdict.mismatch.is_none());
    let closest = matched.or_else(|| furthest(&verdicts));
    let summary = summarize(providers, &verdicts, matched);
    Explanation { decoded: Ok(decoded), providers: verdicts, matched, closest, warnings, timing, summary }
}

type Refusal = (Mismatch, String);

fn check(
    decoded: &DecodedToken,
    provider: &ProviderSpec,
    algorithms: &[String],
    timing: &Timing,
    warnings: &mut Vec<(Warning, String)>,
) -> Result<(), Refusal> {
    check_issuer(decoded.claims.iss.as_deref(), provider, warnings)?;
    check_audience(&decoded.claims.aud, provider)?;
    check_algorithm(decoded.header.alg.as_deref(), provider, algorithms)?;
    if decoded.header.kid.as_deref().is_none_or(str::is_empty) {
        if provider.kind == ProviderKind::CustomJwt {
            return Err((
                Mismatch::KidMissing,
                String::from("the header has no kid, which customJwt providers require to pick a key from the JWKS"),
            ));
        }
        push_once(
            warnings,
            Warning::KidMissing,
            String::from("no kid: the server can only use the JWKS's single key, so the token fails while two are published (key rotation)"),
        );
    }
    check_times(decoded, timing)?;
    if decoded.claims.sub.as_deref().is_none_or(str::is_empty) {
        return Err((Mismatch::SubMissing, String::from("no sub claim: the server has no user to identify")));
    }
    Ok(())
}

fn check_issuer(iss: Option<&str>, provider: &ProviderSpec, warnings: &mut Vec<(Warning, String)>) -> Result<(), Refusal> {
    let Some(iss) = iss else {
        return Err((Mismatch::IssuerMissing, String::from("the token has no iss claim")));
    };
    let wanted = provider.issuer.as_str();
    if iss == wanted {
        return Ok(());
    }
    if without_trailing_slashes(iss) == without_trailing_slashes(wanted) {
        if provider.kind == ProviderKind::Oidc {
            push_once(
                warnings,
                Warning::IssuerTrailingSlash,
                sentence(&[Text("iss "), Quoted(iss), Text(" and domain "), Quoted(wanted), Text(" differ by a trailing slash (ignored for OIDC domains)")]),
            );
            return Ok(());
        }
        return Err((
            Mismatch::IssuerTrailingSlash,
            sentence(&[Text("iss "), Quoted(iss), Text(" and issuer "), Quoted(wanted), Text(" differ only by a trailing slash; customJwt issuers must match exactly")]),
        ));
    }
    // The AuthKit domain is configured as an OIDC domain (or is an *.authkit.app issuer).
    let names_authkit = provider.kind == ProviderKind::Oidc || wanted.as_bytes().windows(AUTHKIT_HOST.len()).any(|window| window == AUTHKIT_HOST);
    if is_workos_api(iss) && !is_workos_api(wanted) && names_authkit {
        return Err((
            Mismatch::IssuerWorkos,
            sentence(&[
                Text("iss "),
                Quoted(iss),
                Text(" is WorkOS's API, not the configured "),
                Quoted(wanted),
                Text(" (the AuthKit domain): WorkOS access tokens need a customJwt provider with issuer "),
                Quoted(iss),
                Text(" and WorkOS's JWKS"),
            ]),
        ));
    }
    Err((Mismatch::IssuerMismatch, sentence(&[Text("iss "), Quoted(iss), Text(" is not "), Quoted(wanted)])))
}

fn is_workos_api(url: &str) -> bool {
    // Byte-wise: `str` pattern matching would bring its panic-formatting paths into the wasm.
    let url = url.as_bytes();
    url.starts_with(WORKOS_API.as_bytes()) && url.get(WORKOS_API.len()).is_none_or(|&next| next == b'/')
}

fn check_audience(aud: &[String], provider: &ProviderSpec) -> Result<(), Refusal> {
    let Some(wanted) = provider.application_id.as_deref() else {
        return Ok(());
    };
    if aud.is_empty() {
        return Err((Mismatch::AudienceMissing, sentence(&[Text("no aud claim; applicationID is "), Quoted(wanted)])));
    }
    if aud.iter().any(|item| item == wanted) {
        if provider.kind == ProviderKind::Oidc && aud.iter().any(|item| item != wanted) {
            return Err((
                Mismatch::AudienceArray,
                sentence(&[
                    Text("aud holds applicationID "),
                    Quoted(wanted),
                    Text(" and "),
                    Int(count(aud) - 1),
                    Text(" other audience(s), which OIDC verification refuses: send the ID token, not an access token"),
                ]),
            ));
        }
        return Ok(());
    }
    if aud.len() > 1 {
        return Err((
            Mismatch::AudienceMismatch,
            sentence(&[Text("aud is an array of "), Int(count(aud)), Text(" audiences and none is applicationID "), Quoted(wanted)]),
        ));
    }
    Err((Mismatch::AudienceMismatch, sentence(&[Text("aud "), Quoted(aud.first().map_or("", String::as_str)), Text(" is not applicationID "), Quoted(wanted)])))
}

fn check_algorithm(alg: Option<&str>, provider: &ProviderSpec, algorithms: &[String]) -> Result<(), Refusal> {
    let Some(alg) = alg else {
        return Err((Mismatch::AlgorithmUnsupported, String::from("the header has no alg")));
    };
    // customJwt: exactly the configured algorithm. OIDC: any the server supports.
    if provider.kind == ProviderKind::CustomJwt {
        let wanted = provider.algorithm.as_deref().unwrap_or("");
        if alg != wanted {
            return Err((Mismatch::AlgorithmMismatch, sentence(&[Text("alg "), Quoted(alg), Text(" but the provider's algorithm is "), Quoted(wanted)])));
        }
    } else if !algorithms.iter().any(|supported| supported == alg) {
        return Err((Mismatch::AlgorithmUnsupported, {
            let mut detail = sentence(&[Text("alg "), Quoted(alg), Text(" is not one of")]);
            for supported in algorithms {
                detail.push(' ');
                detail.push_str(supported);
            }
            detail
        }));
    }
    Ok(())
}

fn check_times(decoded: &DecodedToken, timing: &Timing) -> Result<(), Refusal> {
    let Some(expires_in) = timing.expires_in else {
        return Err((Mismatch::ExpMissing, String::from("no exp claim")));
    };
    let skew_note = match timing.issued_ago {
        Some(ago) if ago < 0 => sentence(&[Text(" (iat is "), Int(-ago), Text(" s in this device's future: check the clocks)")]),
        _ => String::new(),
    };
    if expires_in <= 0 {
        let lifetime = match timing.lifetime {
            Some(life) => sentence(&[Text(", "), Int(seconds(life)), Text(" s after iat")]),
            None => String::new(),
        };
        return Err((
            Mismatch::Expired,
            sentence(&[Text("expired "), Int(-expires_in), Text(" s ago by this device's clock"), Text(&lifetime), Text(&skew_note)]),
        ));
    }
    if let Some(nbf) = decoded.claims.nbf {
        if nbf > timing.now_seconds {
            return Err((
                Mismatch::NotYetValid,
                sentence(&[Text("not valid for another "), Int(seconds(nbf - timing.now_seconds)), Text(" s (nbf)"), Text(&skew_note)]),
            ));
        }
    }
    Ok(())
}

fn furthest(verdicts: &[ProviderVerdict]) -> Option<usize> {
    let mut best: Option<(usize, u8)> = None;
    for (index, verdict) in verdicts.iter().enumerate() {
        let rank = verdict.mismatch.map_or(u8::MAX, Mismatch::rank);
        if best.is_none_or(|(_, top)| rank > top) {
            best = Some((index, rank));
        }
    }
    best.map(|(index, _)| index)
}

fn summarize(providers: &[ProviderSpec], verdicts: &[ProviderVerdict], matched: Option<usize>) -> String {
    if let Some(index) = matched {
        let provider = providers.get(index).map(describe).unwrap_or_default();
        return sentence(&[
            Text("provider "),
            Int(count_of(index)),
            Text(" ("),
            Text(&provider),
            Text(") matches; the server still checks the signature against its JWKS"),
        ]);
    }
    if providers.is_empty() {
        return String::from("no providers to match against");
    }
    let mut out = String::from("no provider matches:");
    for (index, (provider, verdict)) in providers.iter().zip(verdicts).enumerate() {
        let code = verdict.mismatch.map_or("", Mismatch::code);
        out.push_str(&sentence(&[
            Text(" ["),
            Int(count_of(index)),
            Text("] "),
            Text(&describe(provider)),
            Text(" → "),
            Text(code),
            Text(": "),
            Text(&verdict.detail),
            Text(";"),
        ]));
    }
    out.pop();
    out
}

fn describe(provider: &ProviderSpec) -> String {
    let kind = match provider.kind {
        ProviderKind::Oidc => "oidc ",
        ProviderKind::CustomJwt => "customJwt ",
    };
    sentence(&[Text(kind), Text(&provider.issuer)])
}

fn without_trailing_slashes(text: &str) -> &[u8] {
    let bytes = text.as_bytes();
    let mut end = bytes.len();
    while end > 0 && bytes.get(end - 1) == Some(&b'/') {
        end -= 1;
    }
    bytes.get(..end).unwrap_or(bytes)
}

fn count(items: &[String]) -> i64 {
    count_of(items.len())
}

fn count_of(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn seconds(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn push_once(warnings: &mut Vec<(Warning, String)>, warning: Warning, detail: String) {
    if !warnings.iter().any(|(seen, _)| *seen == warning) {
        warnings.push((warning, detail));
    }
}

/// `to - from` in seconds, saturating (NumericDates are bounded, so this never wraps in practice).
fn seconds_between(from: u64, to: u64) -> i64 {
    if to >= from {
        i64::try_from(to - from).unwrap_or(i64::MAX)
    } else {
        i64::try_from(from - to).map_or(i64::MIN, |gap| -gap)
    }
}

