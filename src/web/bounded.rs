//! Strings from JavaScript (the callback's token, a peer's message, a stored record) are measured
//! before they are copied into wasm memory: `as_string()` would first grow the module's memory to
//! hold whatever arrived (3× its length while encoding), and wasm memory never shrinks.

use alloc::string::String;

use js_sys::JsString;
use wasm_bindgen::prelude::*;

/// The longest token accepted from JavaScript, in UTF-16 code units. JWTs are ASCII; the largest
/// provider tokens (group-laden ID tokens) stay well under this.
pub const MAX_TOKEN_CHARS: u32 = 16 * 1024;
/// A peer message or stored record: a token and a small JSON envelope around it.
pub const MAX_RECORD_CHARS: u32 = MAX_TOKEN_CHARS + 256;

/// What a JavaScript value is, once measured.
pub enum Bounded {
    Text(String),
    TooLong,
    NotText,
}

/// Copies `value` into wasm only when it is a string of at most `max_chars` code units
/// (`JsString::length` asks JavaScript; nothing is copied to find out).
pub fn bounded_string(value: &JsValue, max_chars: u32) -> Bounded {
    match value.dyn_ref::<JsString>() {
        Some(text) if text.length() > max_chars => Bounded::TooLong,
        Some(_) => value.as_string().map_or(Bounded::NotText, Bounded::Text),
        None => Bounded::NotText,
    }
}

/// A peer message or stored record: `None` for anything that is not a string or is too long
/// (the core counts an empty peer message as garbage).
pub fn bounded_record(value: &JsValue) -> Option<String> {
    match bounded_string(value, MAX_RECORD_CHARS) {
        Bounded::Text(text) => Some(text),
        Bounded::TooLong | Bounded::NotText => None,
    }
}
