//! Calling the app's `fetchAccessToken({ forceRefreshToken })` and classifying what it gives back.

use js_sys::{Function, Object};
use wasm_bindgen::prelude::*;

use super::bounded::{bounded_string, Bounded, MAX_TOKEN_CHARS};
use super::promise::when_settled;
use crate::core::{AuthError, ErrorCode, FetchOutcome};

/// Calls the callback; `on_settled` runs exactly once, now (a synchronous throw) or when the
/// returned value or promise settles. A callback that never settles is the session's fetch
/// timeout to handle.
pub fn call_fetch_access_token(callback: &Function, force_refresh: bool, on_settled: impl FnOnce(FetchOutcome) + 'static) {
    let args = Object::new();
    // Setting a property on a fresh plain object cannot fail.
    super::json::set_member(&args, "forceRefreshToken", &JsValue::from_bool(force_refresh));
    match callback.call1(&JsValue::NULL, &args) {
        Ok(returned) => when_settled(&returned, move |result| on_settled(result.map_or_else(|_| failed(), classify))),
        Err(_) => on_settled(failed()),
    }
}

fn failed() -> FetchOutcome {
    FetchOutcome::Failed(AuthError::new(ErrorCode::FetchFailed, "fetchAccessToken threw or rejected"))
}

/// `string` → a token to decode; `null`/`undefined` → signed out; anything else → a typed failure.
/// A string too long to be a token is malformed without being copied into wasm memory.
fn classify(value: JsValue) -> FetchOutcome {
    match bounded_string(&value, MAX_TOKEN_CHARS) {
        Bounded::Text(token) => return FetchOutcome::Token(token),
        Bounded::TooLong => {
            return FetchOutcome::Failed(AuthError::new(ErrorCode::MalformedToken, "token is longer than 16 KiB"))
        }
        Bounded::NotText => {}
    }
    if value.is_null() || value.is_undefined() {
        FetchOutcome::SignedOut
    } else {
        FetchOutcome::Failed(AuthError::new(
            ErrorCode::InvalidCallbackResult,
            "fetchAccessToken returned something other than a string, null or undefined",
        ))
    }
}
