//! Settling a value that may or may not be a promise, with one-shot Rust callbacks.

use alloc::rc::Rc;
use core::cell::Cell;

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// A promise, bound untyped: only `then` is needed.
    type AnyPromise;
    /// `Promise.resolve(value)`: adopts thenables and wraps plain values alike.
    #[wasm_bindgen(js_namespace = Promise, js_name = resolve)]
    fn promise_resolve(value: &JsValue) -> AnyPromise;
    #[wasm_bindgen(method)]
    fn then(this: &AnyPromise, on_fulfilled: &JsValue, on_rejected: &JsValue) -> AnyPromise;
}

/// Calls `on_settled(Ok(value))` or `on_settled(Err(reason))` exactly once, in a later microtask,
/// whether `value` is a plain value or a promise. The callbacks free themselves (`--weak-refs`
/// collects the branch that never runs).
pub fn when_settled(value: &JsValue, on_settled: impl FnOnce(Result<JsValue, JsValue>) + 'static) {
    let settle = Rc::new(Cell::new(Some(on_settled)));
    let settle_rejected = settle.clone();
    let on_fulfilled: JsValue = Closure::once_into_js(move |value: JsValue| {
        if let Some(settle) = settle.take() {
            settle(Ok(value));
        }
    });
    let on_rejected: JsValue = Closure::once_into_js(move |reason: JsValue| {
        if let Some(settle) = settle_rejected.take() {
            settle(Err(reason));
        }
    });
    promise_resolve(value).then(&on_fulfilled, &on_rejected);
}
