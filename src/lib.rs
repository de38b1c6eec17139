//! authlane: the client token lifecycle for realtime websocket clients.
//!
//! `core` is sans-IO and builds everywhere (`cargo test` runs it natively); `web`, the browser
//! driver, and the `#[wasm_bindgen]` surface below exist only on wasm32. The surface is thin:
//! argument conversion and one call into the driver per method.
//!
//! The wasm build links std (serde-wasm-bindgen and gloo-timers need it) but keeps its own
//! allocator (src/web/allocator.rs) in place of std's dlmalloc. The core is written against
//! `core`/`alloc` only.

extern crate alloc;

pub mod core;
#[cfg(target_arch = "wasm32")]
pub mod web;

/// The allocator std would bring is ~8 KB of dlmalloc; the session's allocations are few and small.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: crate::web::allocator::SizeClassAllocator = crate::web::allocator::SizeClassAllocator::new();

#[cfg(target_arch = "wasm32")]
mod surface {
    use alloc::rc::Rc;
    use alloc::string::String;

    use js_sys::{Function, Object};
    use wasm_bindgen::prelude::*;

    use crate::core::protocol::Input;
    use crate::core::{self, Config, OpDecision, TokenNeed, Verdict};
    use crate::web::json::to_js;
    use crate::web::bounded::{bounded_string, Bounded, MAX_TOKEN_CHARS};
    use crate::web::{clock, driver::Driver};

    /// One auth session; the TypeScript `createAuth` owns it.
    #[wasm_bindgen]
    pub struct WasmSession {
        driver: Rc<Driver>,
    }

    #[wasm_bindgen]
    impl WasmSession {
        /// `on_output(output)` receives every output, one object of the `Output` union in
        /// `pkg/src/protocol.ts` (built by `Driver::emit`, src/web/driver.rs).
        #[wasm_bindgen(constructor)]
        pub fn new(
            fetch_access_token: Function,
            on_output: Function,
            refresh_leeway_ms: f64,
            expect_auth: bool,
            reject_held_when_signed_out: bool,
            fetch_timeout_ms: f64,
            cross_tab: bool,
            name: String,
            lock_timeout_ms: f64,
            storage: JsValue,
            early_lock: JsValue,
        ) -> WasmSession {
            // Resolved and range-checked by pkg/src/options.ts (the defaults are the core's: tests/protocol_types.rs).
            let config = Config {
                refresh_leeway_ms: refresh_leeway_ms as u64,
                expect_auth,
                reject_held_when_signed_out,
                fetch_timeout_ms: fetch_timeout_ms as u64,
                lock_timeout_ms: lock_timeout_ms as u64,
                seed: clock::random_seed(),
                ..Config::default()
            };
            WasmSession { driver: Driver::new(config, fetch_access_token, on_output, &name, cross_tab, &storage, &early_lock) }
        }

        /// `initial_token`: the token the page was rendered with (`initialToken`), or `undefined`.
        /// One too long to be a token is offered as empty, so it is ignored with a trace.
        pub fn start(&self, initial_token: JsValue) {
            let initial_token = match bounded_string(&initial_token, MAX_TOKEN_CHARS) {
                Bounded::Text(token) => Some(token),
                Bounded::TooLong => Some(String::new()),
                Bounded::NotText => None,
            };
            self.driver.start(initial_token);
        }

        /// A peer's message heard before the session existed (the head start's), in order, before `start`.
        #[wasm_bindgen(js_name = peerMessage)]
        pub fn peer_message(&self, text: JsValue) {
            self.driver.peer_message(&text);
        }

        pub fn generation(&self) -> f64 {
            self.driver.session().generation() as f64
        }

        /// The current token's registered claims (`TokenClaims`), or `null`.
        pub fn claims(&self) -> JsValue {
            self.driver.session().claims().map_or(JsValue::NULL, to_js)
        }

        /// The current token, or `null` (pkg decodes namespaced claims from it, e.g. Hasura's, and
        /// diagnostics explain a refused one).
        /// Made a JavaScript string in place: an owned `String` would be copied and boxed
        /// (`into_boxed_str`) on its way out (-89 B gzip).
        #[wasm_bindgen(unchecked_return_type = "string | undefined")]
        pub fn token(&self) -> JsValue {
            self.driver.session().token().map_or(JsValue::UNDEFINED, JsValue::from_str)
        }

        /// `need`: 0 = current, 1 = newer than `held`, 2 = forced (`TokenNeed` in `pkg/src/protocol.ts`).
        #[wasm_bindgen(js_name = requestToken)]
        pub fn request_token(&self, waiter: u32, need: u8, held: f64) {
            let need = match need {
                0 => TokenNeed::Current,
                1 => TokenNeed::NewerThan(held as u64),
                _ => TokenNeed::Forced,
            };
            self.driver.with_session(|session, now| session.handle_token_request(now, waiter, need));
        }

        /// One of the session's small inputs (`Input`, src/core/protocol.rs): `value` and `flag`
        /// as the input takes them. Answers `submitOperation`'s and `cancelOperation`'s booleans; false
        /// for the others and for an unknown code.
        pub fn input(&self, kind: u8, value: f64, flag: bool) -> bool {
            let Some(kind) = Input::from_code(kind) else { return false };
            if kind == Input::BackdateFetch {
                // It produces no outputs: nothing to perform. Not a time (NaN, negative): a start
                // the core cannot place, so it refuses the backdate.
                let began_at = if value.is_finite() && value >= 0.0 { value as u64 } else { u64::MAX };
                return self.driver.backdate_fetch(began_at);
            }
            self.driver.with_session(|session, now| match kind {
                Input::ServerVerdict => {
                    let verdict = if flag { Verdict::Accepted } else { Verdict::Rejected };
                    session.handle_server_verdict(now, value as u64, verdict);
                    false
                }
                Input::AttachClient => {
                    session.attach_client();
                    false
                }
                Input::DetachClient => {
                    session.detach_client(now);
                    false
                }
                Input::SubmitOperation => session.submit_operation(value as u32) == OpDecision::Run,
                Input::CancelOperation => session.cancel_operation(value as u32),
                Input::SignOut => {
                    session.sign_out(now);
                    false
                }
                Input::BackdateFetch => false,
            })
        }

        pub fn dispose(&self) {
            self.driver.shut_down();
        }
    }

    /// Decodes a JWT's header and registered claims without verifying it. Throws
    /// `{ code: "malformed_token", message }` for anything that is not a JWT.
    #[wasm_bindgen(js_name = decodeToken)]
    pub fn decode_token(token: &str) -> Result<JsValue, JsValue> {
        match core::token::decode_with(&crate::web::json::BrowserJson, token) {
            Ok(decoded) => {
                let out: Object = to_js(&decoded.claims).unchecked_into();
                set(&out, "alg", decoded.header.alg.map(JsValue::from));
                set(&out, "kid", decoded.header.kid.map(JsValue::from));
                set(&out, "typ", decoded.header.typ.map(JsValue::from));
                Ok(out.into())
            }
            Err(error) => {
                let out = Object::new();
                set(&out, "code", Some("malformed_token".into()));
                set(&out, "message", Some(error.describe().into()));
                Err(out.into())
            }
        }
    }

    fn set(target: &Object, key: &str, value: Option<JsValue>) {
        crate::web::json::set_member(target, key, &value.unwrap_or(JsValue::NULL));
    }
}
