//! Rust face of the peer channel (`channel.js`): BroadcastChannel, or `storage` events, and the
//! recorded sign-out time and the remembered backoff and clock skew that tabs opened later read at startup.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/web/channel.js")]
extern "C" {
    pub type PeerChannel;

    #[wasm_bindgen(constructor)]
    pub fn new(name: &str, on_message: &js_sys::Function) -> PeerChannel;
    #[wasm_bindgen(method)]
    pub fn post(this: &PeerChannel, text: &str);
    #[wasm_bindgen(method)]
    pub fn close(this: &PeerChannel);
    #[wasm_bindgen(method, js_name = recordSignOut)]
    pub fn record_sign_out(this: &PeerChannel, at: f64);
    #[wasm_bindgen(method, js_name = lastSignOut)]
    pub fn last_sign_out(this: &PeerChannel) -> f64;
    #[wasm_bindgen(method)]
    pub fn remember(this: &PeerChannel, slot: &str, text: Option<&str>);
    #[wasm_bindgen(method)]
    pub fn recall(this: &PeerChannel, slot: &str) -> JsValue;
}
