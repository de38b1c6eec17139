//! Rust face of the refresh lock (`locks.js`): Web Locks, or a localStorage lease.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/web/locks.js")]
extern "C" {
    pub type RefreshLock;

    #[wasm_bindgen(constructor)]
    pub fn new(name: &str, on_granted: &js_sys::Function, on_lost: &js_sys::Function, early: &JsValue) -> RefreshLock;
    #[wasm_bindgen(method)]
    pub fn acquire(this: &RefreshLock, id: f64, steal: bool);
    #[wasm_bindgen(method)]
    pub fn release(this: &RefreshLock, id: f64);
    #[wasm_bindgen(method, js_name = releaseAll)]
    pub fn release_all(this: &RefreshLock);
    #[wasm_bindgen(method, js_name = isPageHidden)]
    pub fn is_page_hidden(this: &RefreshLock) -> bool;
}
