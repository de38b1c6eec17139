//! The messages tabs of one app exchange, and their versioned JSON wire format.
//!
//! Everything received is validated: a message that does not parse, has another version, or
//! carries an implausible field is refused with a [`PeerMessageError`] and never trusted.
//!
//! Messages carry a time `at` on the machine clock the tabs share: for a token, when the fetch that
//! produced it started; for a sign-out, when it happened. A token from before a sign-out a tab has
//! seen cannot sign that tab back in, and a sign-out does not undo a sign-in that came after it.
//! For a failure, when the fetch failed; for a clock reading, when it was taken.

use alloc::string::String;

use serde::{Deserialize, Serialize};

use super::errors::ErrorCode;
use super::json_text::JsonText;
use super::token::MAX_TOKEN_LEN;
use super::wire_value::WireValue;
use super::Millis;

/// Bumped on any incompatible change; other versions are ignored, so mixed deployments
/// (an old tab next to a new one) degrade to independent tabs rather than misread each other.
pub const WIRE_VERSION: u64 = 1;

/// The longest message (or stored record) read, in bytes: a token as long as JavaScript hands the
/// core one (16 KiB of ASCII, the driver's `MAX_TOKEN_CHARS`) in a small envelope — the driver's
/// `MAX_RECORD_CHARS`. Anything longer is refused before any parsing, so a flooding tab costs each
/// listener at most one bounded, linear parse per message.
pub const MAX_MESSAGE_LEN: usize = 16 * 1024 + 256;

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
    /// A tab's fetch failed: the app backs off as one, retrying at `retry_at` (machine clock), its
    /// `failures`-th consecutive failure, with the error a failure of one's own would have given.
    Failed { retry_at: Millis, failures: u32, code: ErrorCode },
    /// A forced fetch showed the issuer's clock at `issuer_at` when the machine's read `at`: the
    /// skew every tab of the machine shares.
    Clock { issuer_at: Millis },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerMessageError {
    NotJson,
    WrongVersion,
    UnknownKind,
    BadField,
}

/// A message as it is sent: `{"v":1,"at":…,"kind":…,"token":…,"expiresAt":…}`.
#[derive(Serialize)]
pub struct Outgoing<'a> {
    #[cfg_attr(target_arch = "wasm32", serde(serialize_with = "crate::core::wire_value::number"))]
    pub v: u64,
    #[serde(skip_serializing_if = "is_zero")]
    #[cfg_attr(target_arch = "wasm32", serde(serialize_with = "crate::core::wire_value::number"))]
    pub at: Millis,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
    #[serde(rename = "expiresAt", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", serde(serialize_with = "crate::core::wire_value::optional_number"))]
    pub expires_at: Option<Millis>,
    #[serde(rename = "retryAt", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", serde(serialize_with = "crate::core::wire_value::optional_number"))]
    pub retry_at: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", serde(serialize_with = "crate::core::wire_value::optional_number"))]
    pub failures: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(rename = "issuerAt", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", serde(serialize_with = "crate::core::wire_value::optional_number"))]
    pub issuer_at: Option<Millis>,
}

/// A message as it is received: every member read as whatever type it has, checked in [`PeerMessage::read`].
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Incoming {
    pub v: WireValue,
    pub at: WireValue,
    pub kind: WireValue,
    pub token: WireValue,
    #[serde(rename = "expiresAt")]
    pub expires_at: WireValue,
    #[serde(rename = "retryAt")]
    pub retry_at: WireValue,
    pub failures: WireValue,
    pub code: WireValue,
    #[serde(rename = "issuerAt")]
    pub issuer_at: WireValue,
}

fn is_zero(at: &Millis) -> bool {
    *at == 0
}

impl PeerMessage {
    /// Encodes without a time (`at` 0: older than any sign-out), with serde_json.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn encode(&self) -> String {
        self.encode_at(0)
    }

    /// [`Self::write`] with serde_json (native builds).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn encode_at(&self, at: Millis) -> String {
        self.write(&super::json_text::SerdeJson, at)
    }

    /// [`Self::read`] with serde_json (native builds).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn decode(text: &str) -> Result<PeerMessage, PeerMessageError> {
        Self::read(&super::json_text::SerdeJson, text).map(|(_, message)| message)
    }

    /// [`Self::read`] with serde_json (native builds).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn decode_with_time(text: &str) -> Result<(Millis, PeerMessage), PeerMessageError> {
        Self::read(&super::json_text::SerdeJson, text)
    }

    /// The message's text, stamped with the time `at`.
    pub fn write(&self, json: &dyn JsonText, at: Millis) -> String {
        let mut outgoing = Outgoing {
            v: WIRE_VERSION,
            at,
            kind: "",
            token: None,
            expires_at: None,
            retry_at: None,
            failures: None,
            code: None,
            issuer_at: None,
        };
        outgoing.kind = match self {
            PeerMessage::Token { token, expires_at } => {
                (outgoing.token, outgoing.expires_at) = (Some(token.as_str()), *expires_at);
                "token"
            }
            PeerMessage::Request => "request",
            PeerMessage::Holding => "holding",
            PeerMessage::SignedOut => "signed_out",
            PeerMessage::Failed { retry_at, failures, code } => {
                (outgoing.retry_at, outgoing.failures, outgoing.code) = (Some(*retry_at), Some(u64::from(*failures)), Some(code.as_str()));
                "failed"
            }
            PeerMessage::Clock { issuer_at } => {
                outgoing.issuer_at = Some(*issuer_at);
                "clock"
            }
        };
        json.write_peer_message(&outgoing)
    }

    /// Decodes a message (its JSON read by `json`) and its time `at` (0 when absent).
    pub fn read(json: &dyn JsonText, text: &str) -> Result<(Millis, PeerMessage), PeerMessageError> {
        if text.len() > MAX_MESSAGE_LEN {
            return Err(PeerMessageError::BadField);
        }
        let incoming = json.read_peer_message(text).map_err(|_| PeerMessageError::NotJson)?;
        if incoming.v != WireValue::Unsigned(WIRE_VERSION) {
            return Err(PeerMessageError::WrongVersion);
        }
        let at = match incoming.at {
            WireValue::Absent => 0,
            WireValue::Unsigned(at) => at,
            _ => return Err(PeerMessageError::BadField),
        };
        let message = match incoming.kind.as_str() {
            Some("token") => {
                let WireValue::String(token) = incoming.token else {
                    return Err(PeerMessageError::BadField);
                };
                let expires_at = match incoming.expires_at {
                    WireValue::Absent => None,
                    WireValue::Unsigned(at) => Some(at),
                    _ => return Err(PeerMessageError::BadField),
                };
                if token.is_empty() || token.len() > MAX_TOKEN_LEN {
                    return Err(PeerMessageError::BadField);
                }
                PeerMessage::Token { token, expires_at }
            }
            Some("request") => PeerMessage::Request,
            Some("holding") => PeerMessage::Holding,
            Some("signed_out") => PeerMessage::SignedOut,
            Some("failed") => {
                let (WireValue::Unsigned(retry_at), WireValue::Unsigned(failures)) = (incoming.retry_at, incoming.failures) else {
                    return Err(PeerMessageError::BadField);
                };
                let code = incoming.code.as_str().and_then(failure_code).ok_or(PeerMessageError::BadField)?;
                PeerMessage::Failed { retry_at, failures: failures.min(u32::MAX as u64) as u32, code }
            }
            Some("clock") => {
                let WireValue::Unsigned(issuer_at) = incoming.issuer_at else {
                    return Err(PeerMessageError::BadField);
                };
                PeerMessage::Clock { issuer_at }
            }
            _ => return Err(PeerMessageError::UnknownKind),
        };
        Ok((at, message))
    }
}

/// The codes a failed fetch can end with: a peer's failure stands for one of this tab's.
fn failure_code(name: &str) -> Option<ErrorCode> {
    [ErrorCode::FetchFailed, ErrorCode::FetchTimeout, ErrorCode::MalformedToken, ErrorCode::InvalidCallbackResult, ErrorCode::TokenExpired]
        .into_iter()
        .find(|code| code.as_str() == name)
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
            PeerMessage::Failed { retry_at: 1_795_392_004_000, failures: 3, code: ErrorCode::FetchTimeout },
            PeerMessage::Clock { issuer_at: 1_795_388_400_000 },
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
    fn a_message_of_the_longest_length_is_read_and_one_byte_more_is_refused() {
        let padded = |len: usize| {
            let head = r#"{"v":1,"kind":"request","pad":""#;
            format!("{head}{}\"}}", "x".repeat(len - head.len() - 2))
        };
        assert_eq!(padded(MAX_MESSAGE_LEN).len(), MAX_MESSAGE_LEN);
        assert_eq!(PeerMessage::decode(&padded(MAX_MESSAGE_LEN)), Ok(PeerMessage::Request));
        assert_eq!(PeerMessage::decode(&padded(MAX_MESSAGE_LEN + 1)), Err(PeerMessageError::BadField));
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
            ("{\"v\":1,\"kind\":\"failed\",\"retryAt\":5,\"failures\":1}", PeerMessageError::BadField),
            ("{\"v\":1,\"kind\":\"failed\",\"retryAt\":5,\"failures\":1,\"code\":\"disposed\"}", PeerMessageError::BadField),
            ("{\"v\":1,\"kind\":\"failed\",\"retryAt\":-5,\"failures\":1,\"code\":\"fetch_failed\"}", PeerMessageError::BadField),
            ("{\"v\":1,\"kind\":\"clock\",\"issuerAt\":\"soon\"}", PeerMessageError::BadField),
        ];
        for (text, error) in cases {
            assert_eq!(PeerMessage::decode(text), Err(error), "{text}");
        }
    }
}
