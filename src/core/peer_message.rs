//! The messages tabs of one app exchange, and their versioned JSON wire format.
//!
//! Everything received is validated: a message that does not parse, has another version, or
//! carries an implausible field is refused with a [`PeerMessageError`] and never trusted.
//!
//! Messages carry a time `at` on the machine clock the tabs share: for a token, when the fetch that
//! produced it started; for a sign-out, when it happened. A token from before a sign-out a tab has
//! seen cannot sign that tab back in, and a sign-out does not undo a sign-in that came after it.

use alloc::string::String;

use super::json::{self, JsonNumber, JsonValue};
use super::token::MAX_TOKEN_LEN;
use super::Millis;

/// Bumped on any incompatible change; other versions are ignored, so mixed deployments
/// (an old tab next to a new one) degrade to independent tabs rather than misread each other.
pub const WIRE_VERSION: u64 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerMessage {
    /// A tab committed a token it fetched (or adopted); `expires_at` is on the shared machine clock.
    Token { token: String, expires_at: Option<Millis> },
    /// Asks tabs holding a fresh token to send it.
    Request,
    /// The sender took the refresh lock (and, like `Request`, asks for a fresh token): tabs
    /// waiting for the lock measure their patience from here, not from their own request.
    Holding,
    /// The user signed out in some tab.
    SignedOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerMessageError {
    NotJson,
    WrongVersion,
    UnknownKind,
    BadField,
}

impl PeerMessage {
    /// Encodes without a time (`at` 0: older than any sign-out).
    pub fn encode(&self) -> String {
        self.encode_at(0)
    }

    pub fn encode_at(&self, at: Millis) -> String {
        let mut out = String::from("{\"v\":1,");
        if at > 0 {
            out.push_str("\"at\":");
            push_decimal(&mut out, at);
            out.push(',');
        }
        out.push_str("\"kind\":\"");
        match self {
            PeerMessage::Token { token, expires_at } => {
                out.push_str("token\",\"token\":");
                push_json_string(&mut out, token);
                if let Some(at) = expires_at {
                    out.push_str(",\"expiresAt\":");
                    push_decimal(&mut out, *at);
                }
            }
            PeerMessage::Request => out.push_str("request\""),
            PeerMessage::Holding => out.push_str("holding\""),
            PeerMessage::SignedOut => out.push_str("signed_out\""),
        }
        out.push('}');
        out
    }

    pub fn decode(text: &str) -> Result<PeerMessage, PeerMessageError> {
        Self::decode_with_time(text).map(|(_, message)| message)
    }

    /// Decodes a message and its time `at` (0 when absent).
    pub fn decode_with_time(text: &str) -> Result<(Millis, PeerMessage), PeerMessageError> {
        if text.len() > MAX_TOKEN_LEN + 256 {
            return Err(PeerMessageError::BadField);
        }
        let members = json::parse_object(text.as_bytes()).map_err(|_| PeerMessageError::NotJson)?;
        let field = |name: &str| members.iter().find(|(key, _)| key == name).map(|(_, value)| value);
        if field("v") != Some(&JsonValue::Number(JsonNumber::Unsigned(WIRE_VERSION))) {
            return Err(PeerMessageError::WrongVersion);
        }
        let at = match field("at") {
            None => 0,
            Some(JsonValue::Number(JsonNumber::Unsigned(at))) => *at,
            Some(_) => return Err(PeerMessageError::BadField),
        };
        let Some(JsonValue::String(kind)) = field("kind") else {
            return Err(PeerMessageError::UnknownKind);
        };
        let message = match kind.as_str() {
            "token" => {
                let Some(JsonValue::String(token)) = field("token") else {
                    return Err(PeerMessageError::BadField);
                };
                let expires_at = match field("expiresAt") {
                    None => None,
                    Some(JsonValue::Number(JsonNumber::Unsigned(at))) => Some(*at),
                    Some(_) => return Err(PeerMessageError::BadField),
                };
                if token.is_empty() || token.len() > MAX_TOKEN_LEN {
                    return Err(PeerMessageError::BadField);
                }
                PeerMessage::Token { token: token.clone(), expires_at }
            }
            "request" => PeerMessage::Request,
            "holding" => PeerMessage::Holding,
            "signed_out" => PeerMessage::SignedOut,
            _ => return Err(PeerMessageError::UnknownKind),
        };
        Ok((at, message))
    }
}

fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                let code = c as u32;
                out.push(hex_digit(code >> 4));
                out.push(hex_digit(code & 0xf));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn hex_digit(nibble: u32) -> char {
    char::from_digit(nibble, 16).unwrap_or('0')
}

fn push_decimal(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    loop {
        digits[len % 20] = b'0' + (value % 10) as u8;
        len += 1;
        value /= 10;
        if value == 0 || len == 20 {
            break;
        }
    }
    for &digit in digits.iter().take(len).rev() {
        out.push(digit as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        let messages = [
            PeerMessage::Token { token: "a.b.c".into(), expires_at: Some(1_795_392_060_000) },
            PeerMessage::Token { token: "we\"ird\\\u{1}".into(), expires_at: None },
            PeerMessage::Request,
            PeerMessage::Holding,
            PeerMessage::SignedOut,
        ];
        for message in messages {
            assert_eq!(PeerMessage::decode(&message.encode()), Ok(message.clone()), "{}", message.encode());
        }
        assert_eq!(PeerMessage::Request.encode(), r#"{"v":1,"kind":"request"}"#);
        let signed_out = PeerMessage::SignedOut.encode_at(1_795_392_000_123);
        assert_eq!(signed_out, r#"{"v":1,"at":1795392000123,"kind":"signed_out"}"#);
        assert_eq!(PeerMessage::decode_with_time(&signed_out), Ok((1_795_392_000_123, PeerMessage::SignedOut)));
        assert_eq!(PeerMessage::decode_with_time(r#"{"v":1,"at":-1,"kind":"request"}"#), Err(PeerMessageError::BadField));
    }

    #[test]
    fn garbage_and_other_versions_are_refused() {
        let cases = [
            ("", PeerMessageError::NotJson),
            ("null", PeerMessageError::NotJson),
            ("{\"kind\":\"request\"}", PeerMessageError::WrongVersion),
            ("{\"v\":2,\"kind\":\"request\"}", PeerMessageError::WrongVersion),
            ("{\"v\":1}", PeerMessageError::UnknownKind),
            ("{\"v\":1,\"kind\":\"launch\"}", PeerMessageError::UnknownKind),
            ("{\"v\":1,\"kind\":\"token\"}", PeerMessageError::BadField),
            ("{\"v\":1,\"kind\":\"token\",\"token\":\"\"}", PeerMessageError::BadField),
            ("{\"v\":1,\"kind\":\"token\",\"token\":\"x\",\"expiresAt\":-1}", PeerMessageError::BadField),
            ("{\"v\":1,\"kind\":\"token\",\"token\":7}", PeerMessageError::BadField),
        ];
        for (text, error) in cases {
            assert_eq!(PeerMessage::decode(text), Err(error), "{text}");
        }
    }
}
