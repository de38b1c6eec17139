//! authlane: the client token lifecycle for realtime websocket clients.
//!
//! `core` is sans-IO and builds everywhere; `web` (the browser driver) and the
//! `#[wasm_bindgen]` surface exist only on wasm32.

pub mod core;
