//! JWT decoding without verification, and redaction for logs.
//!
//! The client never verifies signatures (it has no keys and needs none): it only
//! reads the claims that drive scheduling (`exp`, `iat`) and the ones the app and
//! diagnostics show (`iss`, `sub`, `aud`, `kid`…).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::base64url;
use super::errors::{Segment, TokenError};
use super::json::{self, JsonNumber, JsonValue};

/// Longer inputs are refused before any decoding work.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// NumericDates after 9999-12-31 are treated as malformed: they overflow millisecond arithmetic
/// in JavaScript and no issuer means them.
pub const MAX_NUMERIC_DATE: u64 = 253_402_300_799;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub alg: Option<String>,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// Seconds since the Unix epoch.
    pub exp: Option<u64>,
    pub iat: Option<u64>,
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

/// Decodes a compact JWS (`header.claims.signature`). Never panics, whatever the input.
pub fn decode(token: &str) -> Result<DecodedToken, TokenError> {
    if token.is_empty() {
        return Err(TokenError::Empty);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::SegmentCount);
    };
    let header_members = members(header, Segment::Header)?;
    let claim_members = members(claims, Segment::Claims)?;

    let mut decoded = DecodedToken::default();
    for (name, value) in header_members {
        let slot = match name.as_str() {
            "alg" => &mut decoded.header.alg,
            "kid" => &mut decoded.header.kid,
            "typ" => &mut decoded.header.typ,
            _ => continue,
        };
        // Header parameters of another type are left unset rather than rejected: nothing here depends on them.
        if let JsonValue::String(text) = value {
            *slot = Some(text);
        }
    }
    let claims = &mut decoded.claims;
    for (name, value) in claim_members {
        match name.as_str() {
            "exp" => claims.exp = Some(numeric_date(value, "exp")?),
            "iat" => claims.iat = Some(numeric_date(value, "iat")?),
            "nbf" => claims.nbf = Some(numeric_date(value, "nbf")?),
            "iss" => claims.iss = Some(string_claim(value, "iss")?),
            "sub" => claims.sub = Some(string_claim(value, "sub")?),
            "aud" => {
                claims.aud = match value {
                    JsonValue::String(one) => vec![one],
                    JsonValue::StringArray(many) => many,
                    _ => return Err(TokenError::Claim("aud")),
                }
            }
            _ => {}
        }
    }
    Ok(decoded)
}

fn members(segment: &str, which: Segment) -> Result<Vec<(String, JsonValue)>, TokenError> {
    let bytes = base64url::decode(segment.as_bytes()).map_err(|_| TokenError::Base64(which))?;
    json::parse_object(&bytes).map_err(|error| TokenError::Json(which, error))
}

fn numeric_date(value: JsonValue, claim: &'static str) -> Result<u64, TokenError> {
    match value {
        JsonValue::Number(JsonNumber::Unsigned(seconds)) if seconds <= MAX_NUMERIC_DATE => Ok(seconds),
        _ => Err(TokenError::Claim(claim)),
    }
}

fn string_claim(value: JsonValue, claim: &'static str) -> Result<String, TokenError> {
    match value {
        JsonValue::String(text) => Ok(text),
        _ => Err(TokenError::Claim(claim)),
    }
}

/// The last six characters of a token, prefixed with an ellipsis: all a log line may show.
pub fn redact(token: &str) -> String {
    // Built from chars rather than a byte slice: no char-boundary panic path in the wasm.
    let mut tail: Vec<char> = token.chars().rev().take(6).collect();
    tail.reverse();
    let mut out = String::from("…");
    out.extend(tail);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::json::JsonError;

    /// Base64url-encodes without padding (test helper; production code only decodes).
    pub fn b64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let mut acc = 0u32;
            for (i, &byte) in chunk.iter().enumerate() {
                acc |= (byte as u32) << (16 - 8 * i);
            }
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((acc >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
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
    fn malformed_inputs_give_typed_errors() {
        let huge = "a".repeat(1 << 20);
        let cases: Vec<(String, TokenError)> = vec![
            (String::new(), TokenError::Empty),
            (huge, TokenError::TooLong),
            ("a.b".into(), TokenError::SegmentCount),
            ("..".into(), TokenError::Json(Segment::Header, JsonError::Syntax)),
            ("a.b.c.d".into(), TokenError::SegmentCount),
            ("!!.e30.x".into(), TokenError::Base64(Segment::Header)),
            (jwt_with("[1]", "{}"), TokenError::Json(Segment::Header, JsonError::NotAnObject)),
            (jwt("42"), TokenError::Json(Segment::Claims, JsonError::NotAnObject)),
            (jwt(r#"{"exp":"1700000000"}"#), TokenError::Claim("exp")),
            (jwt(r#"{"exp":1700000000.5}"#), TokenError::Claim("exp")),
            (jwt(r#"{"exp":-1}"#), TokenError::Claim("exp")),
            (jwt(r#"{"exp":1e400}"#), TokenError::Claim("exp")),
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

    #[test]
    fn redaction_keeps_only_the_last_six_characters() {
        assert_eq!(redact("header.claims.signatureXYZ123"), "…XYZ123");
        assert_eq!(redact("abc"), "…abc");
        assert_eq!(redact("ééééééé"), "…éééééé");
    }
}
