//! Page wake-ups: a tab that was hidden, offline or frozen in the back/forward cache may have
//! slept past its timers (browsers throttle or suspend them), so it re-checks on return.

use alloc::vec::Vec;
use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use web_sys::EventTarget;

/// Listens for `visibilitychange` (on `document`), `online` and `pageshow` (on the global);
/// removes its listeners on drop. Works where some of these targets are absent (workers).
pub struct WakeListeners {
    callback: Closure<dyn FnMut()>,
    registered: Vec<(EventTarget, &'static str)>,
}

impl WakeListeners {
    pub fn new(on_wake: impl FnMut() + 'static) -> Self {
        let callback = Closure::<dyn FnMut()>::new(on_wake);
        let global = js_sys::global();
        let document = Reflect::get(&global, &JsValue::from_str("document")).ok();
        let mut registered = Vec::new();
        let targets = [
            (document, "visibilitychange"),
            (Some(global.clone().into()), "online"),
            (Some(global.into()), "pageshow"),
        ];
        for (target, event) in targets {
            let Some(target) = target.filter(|t| t.is_object()) else { continue };
            let target: EventTarget = target.unchecked_into();
            if target.add_event_listener_with_callback(event, callback.as_ref().unchecked_ref()).is_ok() {
                registered.push((target, event));
            }
        }
        WakeListeners { callback, registered }
    }
}

impl Drop for WakeListeners {
    fn drop(&mut self) {
        for (target, event) in &self.registered {
            let _ = target.remove_event_listener_with_callback(event, self.callback.as_ref().unchecked_ref());
        }
    }
}
