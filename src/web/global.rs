//! The global object (`window` in a page, `self` in a worker), read once as `globalThis`: every
//! engine that runs WebAssembly has it. `js_sys::global()` probes four names for older engines,
//! four imports and their glue (~0.2 KB gzip) for a case that cannot load this module anyway.

use js_sys::Object;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_name = globalThis)]
    static GLOBAL_THIS: Object;
}

pub fn global() -> Object {
    GLOBAL_THIS.with(Object::clone)
}
