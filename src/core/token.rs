//! JWT decoding without verification, and redaction for logs.
//!
//! The client never verifies signatures (it has no keys and needs none): it only
//! reads the claims that drive scheduling (`exp`, `iat`) and the ones the app and
//! diagnostics show (`iss`, `sub`, `aud`, `kid`…).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::errors::{Segment, TokenError};
use super::json_text::JsonText;
use super::wire_value::{ObjectError, WireValue};

/// Longer inputs are refused before any decoding work.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// NumericDates after 9999-12-31 are treated as malformed: they overflow millisecond arithmetic
/// in JavaScript and no issuer means them.
pub const MAX_NUMERIC_DATE: u64 = 253_402_300_799;

/// JWT segments are unpadded base64url (RFC 7515 §2); trailing `=` is tolerated all the same.
const SEGMENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub alg: Option<String>,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

/// Serialized as it reaches JavaScript (`TokenClaims` in pkg/src/auth.ts): absent claims `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// Seconds since the Unix epoch (a fractional NumericDate is floored).
    #[cfg_attr(target_arch = "wasm32", serde(serialize_with = "crate::core::wire_value::optional_number"))]
    pub exp: Option<u64>,
    #[cfg_attr(target_arch = "wasm32", serde(serialize_with = "crate::core::wire_value::optional_number"))]
    pub iat: Option<u64>,
    #[cfg_attr(target_arch = "wasm32", serde(serialize_with = "crate::core::wire_value::optional_number"))]
    pub nbf: Option<u64>,
    pub iss: Option<String>,
    pub sub: Option<String>,
    /// `aud` normalised to a list (a single string becomes one item).
    pub aud: Vec<String>,
}

impl Claims {
    /// The issuer-intended lifetime in seconds (`exp - iat`), when both are present and ordered.
    pub fn lifetime_seconds(&self) -> Option<u64> {
        match (self.exp, self.iat) {
            (Some(exp), Some(iat)) if exp > iat => Some(exp - iat),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodedToken {
    pub header: Header,
    pub claims: Claims,
}

/// A JWT segment's members as they travel. One struct reads both the header (`alg`, `kid`,
/// `typ`) and the claims (the rest): one copy of the parser's code in the wasm instead of two
/// (0.6 KB less gzip). Unknown members, and each segment's members the other one has, go unused.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireSegment {
    pub alg: WireValue,
    pub kid: WireValue,
    pub typ: WireValue,
    pub exp: WireValue,
    pub iat: WireValue,
    pub nbf: WireValue,
    pub iss: WireValue,
    pub sub: WireValue,
    pub aud: WireValue,
}

/// [`decode_with`] serde_json (native builds: tests, the fuzzer, examples).
#[cfg(not(target_arch = "wasm32"))]
pub fn decode(token: &str) -> Result<DecodedToken, TokenError> {
    decode_with(&super::json_text::SerdeJson, token)
}

/// Decodes a compact JWS (`header.claims.signature`), its segments' JSON read by `json`. Never
/// panics, whatever the input.
pub fn decode_with(json: &dyn JsonText, token: &str) -> Result<DecodedToken, TokenError> {
    if token.is_empty() {
        return Err(TokenError::Empty);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    // Found byte by byte: `str::split`'s pattern searcher costs 0.7 KB of wasm for one ASCII byte.
    let mut dots = token.bytes().enumerate().filter(|&(_, byte)| byte == b'.').map(|(at, _)| at);
    let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(TokenError::SegmentCount);
    };
    // Both bounds sit on ASCII dots, so `get` always succeeds; it just keeps slicing panics out.
    let (header, claims) = (token.get(..first).unwrap_or_default(), token.get(first + 1..second).unwrap_or_default());
    let header = segment(json, header, Segment::Header)?;
    let claims = segment(json, claims, Segment::Claims)?;
    // Header parameters of another type are left unset rather than rejected: nothing here depends on them.
    let text = |value: WireValue| match value {
        WireValue::String(text) => Some(text),
        _ => None,
    };
    Ok(DecodedToken {
        header: Header { alg: text(header.alg), kid: text(header.kid), typ: text(header.typ) },
        claims: Claims {
            exp: numeric_date(claims.exp, "exp")?,
            iat: numeric_date(claims.iat, "iat")?,
            nbf: numeric_date(claims.nbf, "nbf")?,
            iss: string_claim(claims.iss, "iss")?,
            sub: string_claim(claims.sub, "sub")?,
            aud: match claims.aud {
                WireValue::Absent => Vec::new(),
                WireValue::String(one) => vec![one],
                WireValue::StringArray(many) => many,
                _ => return Err(TokenError::Claim("aud")),
            },
        },
    })
}

fn segment(json: &dyn JsonText, text: &str, which: Segment) -> Result<WireSegment, TokenError> {
    // `decode_slice` into a buffer of the estimated size, not `decode`: the same decoder without
    // `decode`'s `unreachable!` (its message and location stay out of the module).
    let mut bytes = vec![0; base64::decoded_len_estimate(text.len())];
    let written = SEGMENT.decode_slice(text, &mut bytes).map_err(|_| TokenError::Base64(which))?;
    bytes.truncate(written);
    let text = core::str::from_utf8(&bytes).map_err(|_| TokenError::Json(which, ObjectError::Syntax))?;
    json.read_segment(text).map_err(|error| TokenError::Json(which, error))
}

/// RFC 7519 §2: a NumericDate is a JSON number of seconds and "can represent non-integer values";
/// fractions are floored (the schedule works in whole seconds of `exp`/`iat`).
fn numeric_date(value: WireValue, claim: &'static str) -> Result<Option<u64>, TokenError> {
    // Exclusive bound: every float below it floors to at most MAX_NUMERIC_DATE.
    const BEYOND: f64 = (MAX_NUMERIC_DATE + 1) as f64;
    match value {
        WireValue::Absent => Ok(None),
        WireValue::Unsigned(seconds) if seconds <= MAX_NUMERIC_DATE => Ok(Some(seconds)),
        // `as` truncates toward zero, which is the floor for non-negative values.
        WireValue::Float(seconds) if (0.0..BEYOND).contains(&seconds) => Ok(Some(seconds as u64)),
        _ => Err(TokenError::Claim(claim)),
    }
}

fn string_claim(value: WireValue, claim: &'static str) -> Result<Option<String>, TokenError> {
    match value {
        WireValue::Absent => Ok(None),
        WireValue::String(text) => Ok(Some(text)),
        _ => Err(TokenError::Claim(claim)),
    }
}

/// The last six characters of a token, prefixed with an ellipsis: all a log line may show.
pub fn redact(token: &str) -> String {
    // The sixth char from the end starts the tail; `get` keeps the char-boundary panic path out of the wasm.
    let start = token.char_indices().rev().nth(5).map_or(0, |(at, _)| at);
    let mut out = String::from("…");
    out.push_str(token.get(start..).unwrap_or(token));
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::wire_value::ObjectError;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// Base64url-encodes without padding (test helper; production code only decodes).
    pub fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn jwt_with(header: &str, claims: &str) -> String {
        format!("{}.{}.c2ln", b64(header.as_bytes()), b64(claims.as_bytes()))
    }

    pub fn jwt(claims: &str) -> String {
        jwt_with(r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#, claims)
    }

    #[test]
    fn decodes_header_and_registered_claims() {
        let token = jwt(r#"{"iss":"https://idp","sub":"user_1","aud":["convex","x"],"iat":100,"exp":160,"nbf":99}"#);
        let decoded = decode(&token).unwrap();
        assert_eq!(decoded.header.alg.as_deref(), Some("RS256"));
        assert_eq!(decoded.header.kid.as_deref(), Some("k1"));
        assert_eq!(decoded.header.typ.as_deref(), Some("JWT"));
        assert_eq!(decoded.claims.iss.as_deref(), Some("https://idp"));
        assert_eq!(decoded.claims.sub.as_deref(), Some("user_1"));
        assert_eq!(decoded.claims.aud, vec!["convex".to_string(), "x".to_string()]);
        assert_eq!((decoded.claims.iat, decoded.claims.exp, decoded.claims.nbf), (Some(100), Some(160), Some(99)));
        assert_eq!(decoded.claims.lifetime_seconds(), Some(60));
    }

    #[test]
    fn single_string_audience_becomes_a_list() {
        let decoded = decode(&jwt(r#"{"aud":"convex"}"#)).unwrap();
        assert_eq!(decoded.claims.aud, vec!["convex".to_string()]);
        assert_eq!(decoded.claims.lifetime_seconds(), None);
    }

    #[test]
    fn a_token_of_the_longest_length_is_read_and_a_lifetime_needs_exp_after_iat() {
        // A JWT whose signature segment pads it to exactly the longest token read; a byte more is too long.
        let short = jwt(r#"{"iat":100,"exp":100}"#);
        let longest = format!("{short}{}", "A".repeat(MAX_TOKEN_LEN - short.len()));
        assert_eq!(longest.len(), MAX_TOKEN_LEN);
        let decoded = decode(&longest).unwrap();
        assert_eq!(decode(&format!("{longest}A")).err(), Some(TokenError::TooLong));
        // exp no later than iat: no lifetime to count from.
        assert_eq!(decoded.claims.lifetime_seconds(), None);
    }

    #[test]
    fn malformed_inputs_give_typed_errors() {
        let huge = "a".repeat(1 << 20);
        let cases: Vec<(String, TokenError)> = vec![
            (String::new(), TokenError::Empty),
            (huge, TokenError::TooLong),
            ("a.b".into(), TokenError::SegmentCount),
            ("..".into(), TokenError::Json(Segment::Header, ObjectError::Syntax)),
            ("a.b.c.d".into(), TokenError::SegmentCount),
            ("!!.e30.x".into(), TokenError::Base64(Segment::Header)),
            (jwt_with("[1]", "{}"), TokenError::Json(Segment::Header, ObjectError::NotAnObject)),
            (jwt("42"), TokenError::Json(Segment::Claims, ObjectError::NotAnObject)),
            (jwt(r#"{"exp":"1700000000"}"#), TokenError::Claim("exp")),
            (jwt(r#"{"exp":-1}"#), TokenError::Claim("exp")),
            (jwt(r#"{"exp":1e400}"#), TokenError::Json(Segment::Claims, ObjectError::Syntax)),
            (jwt(r#"{"exp":-0.5}"#), TokenError::Claim("exp")),
            (jwt(r#"{"exp":253402300800.0}"#), TokenError::Claim("exp")),
            (jwt(r#"{"exp":null}"#), TokenError::Claim("exp")),
            (jwt(r#"{"exp":1,"exp":2}"#), TokenError::Json(Segment::Claims, ObjectError::Syntax)),
            (jwt(r#"{"exp":18446744073709551616}"#), TokenError::Claim("exp")),
            (jwt(r#"{"exp":253402300800}"#), TokenError::Claim("exp")),
            (jwt(r#"{"iat":true}"#), TokenError::Claim("iat")),
            (jwt(r#"{"aud":[1]}"#), TokenError::Claim("aud")),
            (jwt(r#"{"sub":7}"#), TokenError::Claim("sub")),
        ];
        for (input, expected) in cases {
            let shown: String = input.chars().take(40).collect();
            assert_eq!(decode(&input), Err(expected), "{shown}");
        }
    }

    /// RFC 7519 §2 allows non-integer NumericDates (`Date.now() / 1000` issuers emit them).
    #[test]
    fn fractional_and_exponent_numeric_dates_are_floored_to_seconds() {
        let token = jwt(r#"{"iat":1700000000.5,"exp":1.7000000605e9,"nbf":17e8}"#);
        let claims = decode(&token).map(|decoded| decoded.claims);
        assert_eq!(claims.as_ref().map(|c| (c.iat, c.exp, c.nbf)), Ok((Some(1_700_000_000), Some(1_700_000_060), Some(1_700_000_000))));
        assert_eq!(claims.map(|c| c.lifetime_seconds()), Ok(Some(60)));
        let edge = decode(&jwt(r#"{"exp":253402300799.75,"iat":0.999}"#)).map(|d| (d.claims.exp, d.claims.iat));
        assert_eq!(edge, Ok((Some(MAX_NUMERIC_DATE), Some(0))));
    }

    #[test]
    fn redaction_keeps_only_the_last_six_characters() {
        assert_eq!(redact("header.claims.signatureXYZ123"), "…XYZ123");
        assert_eq!(redact("abc"), "…abc");
        assert_eq!(redact("ééééééé"), "…éééééé");
    }
}
