//! Typed errors with stable codes that JavaScript can branch on.

use super::wire_value::ObjectError;

/// The stable error codes surfaced to applications as `AuthlaneError.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The callback returned a string that is not a decodable JWT.
    MalformedToken,
    /// The callback threw or its promise rejected.
    FetchFailed,
    /// The callback did not settle within the fetch timeout.
    FetchTimeout,
    /// The callback returned something other than a string, `null` or `undefined`.
    InvalidCallbackResult,
    /// The server rejected the token, and the forced refresh that followed too.
    TokenRejected,
    /// The token expired and no replacement could be fetched.
    TokenExpired,
    /// A held operation was rejected because auth settled as signed out.
    SignedOut,
    /// The session was disposed.
    Disposed,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedToken => "malformed_token",
            ErrorCode::FetchFailed => "fetch_failed",
            ErrorCode::FetchTimeout => "fetch_timeout",
            ErrorCode::InvalidCallbackResult => "invalid_callback_result",
            ErrorCode::TokenRejected => "token_rejected",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::SignedOut => "signed_out",
            ErrorCode::Disposed => "disposed",
        }
    }
}

/// Which part of a JWT a decode error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Header,
    Claims,
}

/// Why a string is not a usable JWT. Every input maps to one of these; decoding never panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Empty,
    TooLong,
    /// Not three dot-separated segments.
    SegmentCount,
    Base64(Segment),
    Json(Segment, ObjectError),
    /// A registered claim with the wrong type or range (`exp` as a string, negative, past 9999…).
    Claim(&'static str),
}

impl TokenError {
    /// A short, token-free description for logs and error messages.
    pub fn describe(self) -> &'static str {
        match self {
            TokenError::Empty => "token is empty",
            TokenError::TooLong => "token is longer than 64 KiB",
            TokenError::SegmentCount => "token does not have three dot-separated segments",
            TokenError::Base64(Segment::Header) => "header is not base64url",
            TokenError::Base64(Segment::Claims) => "claims are not base64url",
            TokenError::Json(Segment::Header, _) => "header is not a JSON object",
            TokenError::Json(Segment::Claims, _) => "claims are not a JSON object",
            TokenError::Claim("exp") => "exp is not a non-negative NumericDate",
            TokenError::Claim("iat") => "iat is not a non-negative NumericDate",
            TokenError::Claim("nbf") => "nbf is not a non-negative NumericDate",
            TokenError::Claim("aud") => "aud is not a string or an array of strings",
            TokenError::Claim(_) => "a registered claim has the wrong type",
        }
    }
}

/// The error attached to an `Unauthenticated` state or a rejected operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthError {
    pub code: ErrorCode,
    /// Token-free detail for humans.
    pub detail: &'static str,
}

impl AuthError {
    pub fn new(code: ErrorCode, detail: &'static str) -> Self {
        AuthError { code, detail }
    }
}

impl From<TokenError> for AuthError {
    fn from(error: TokenError) -> Self {
        AuthError::new(ErrorCode::MalformedToken, error.describe())
    }
}
