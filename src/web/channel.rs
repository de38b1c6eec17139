//! Rust face of the peer channel (`channel.js`): BroadcastChannel, or `storage` events.

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
}
