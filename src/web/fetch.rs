//! Calling the app's `fetchAccessToken({ forceRefreshToken })` and classifying what it gives back.

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// A promise, bound untyped: only `then` is needed, with self-freeing one-shot callbacks.
    type AnyPromise;
    /// `Promise.resolve(value)`: adopts thenables and wraps plain values alike.
    #[wasm_bindgen(js_namespace = Promise, js_name = resolve)]
    fn promise_resolve(value: &JsValue) -> AnyPromise;
    #[wasm_bindgen(method)]
    fn then(this: &AnyPromise, on_fulfilled: &JsValue, on_rejected: &JsValue) -> AnyPromise;
}

use crate::core::{AuthError, ErrorCode, FetchOutcome};

/// Calls the callback; `on_settled` runs exactly once, now (a synchronous throw) or when the
/// returned value or promise settles. A callback that never settles is the session's fetch
/// timeout to handle.
pub fn call_fetch_access_token(callback: &Function, force_refresh: bool, on_settled: impl FnOnce(FetchOutcome) + 'static) {
    let args = Object::new();
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(&args, &JsValue::from_str("forceRefreshToken"), &JsValue::from_bool(force_refresh));
    let returned = match callback.call1(&JsValue::NULL, &args) {
        Ok(value) => value,
        Err(_) => return on_settled(failed()),
    };
    // One settle closure shared by both branches: whichever runs first takes it.
    let settle = alloc::rc::Rc::new(core::cell::Cell::new(Some(on_settled)));
    let settle_ok = settle.clone();
    let on_value: JsValue = Closure::once_into_js(move |value: JsValue| {
        if let Some(settle) = settle_ok.take() {
            settle(classify(value));
        }
    });
    let on_error: JsValue = Closure::once_into_js(move |_error: JsValue| {
        if let Some(settle) = settle.take() {
            settle(failed());
        }
    });
    promise_resolve(&returned).then(&on_value, &on_error);
}

fn failed() -> FetchOutcome {
    FetchOutcome::Failed(AuthError::new(ErrorCode::FetchFailed, "fetchAccessToken threw or rejected"))
}

/// `string` → a token to decode; `null`/`undefined` → signed out; anything else → a typed failure.
fn classify(value: JsValue) -> FetchOutcome {
    if let Some(token) = value.as_string() {
        FetchOutcome::Token(token)
    } else if value.is_null() || value.is_undefined() {
        FetchOutcome::SignedOut
    } else {
        FetchOutcome::Failed(AuthError::new(
            ErrorCode::InvalidCallbackResult,
            "fetchAccessToken returned something other than a string, null or undefined",
        ))
    }
}
