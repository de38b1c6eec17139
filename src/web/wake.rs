//! Page wake-ups: a tab that was hidden, offline or frozen in the back/forward cache may have
//! slept past its timers (browsers throttle or suspend them), so it re-checks on return.

use alloc::vec::Vec;
use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use web_sys::EventTarget;

/// Listens for `visibilitychange` (on `document`), `online` and `pageshow` (on the global) to
/// wake, and `pagehide` to let go of cross-tab locks; removes its listeners on drop. Works where
/// some of these targets are absent (workers).
pub struct WakeListeners {
    on_wake: Closure<dyn FnMut()>,
    on_hide: Closure<dyn FnMut()>,
    registered: Vec<(EventTarget, &'static str, bool)>,
}

impl WakeListeners {
    pub fn new(on_wake: impl FnMut() + 'static, on_hide: impl FnMut() + 'static) -> Self {
        let on_wake = Closure::<dyn FnMut()>::new(on_wake);
        let on_hide = Closure::<dyn FnMut()>::new(on_hide);
        let global = super::global::global();
        let document = Reflect::get(&global, &JsValue::from_str("document")).ok();
        let mut registered = Vec::new();
        let targets = [
            (document, "visibilitychange", false),
            (Some(global.clone().into()), "online", false),
            (Some(global.clone().into()), "pageshow", false),
            (Some(global.into()), "pagehide", true),
        ];
        for (target, event, hide) in targets {
            let Some(target) = target.filter(|t| t.is_object()) else { continue };
            let target: EventTarget = target.unchecked_into();
            let callback = if hide { &on_hide } else { &on_wake };
            if target.add_event_listener_with_callback(event, callback.as_ref().unchecked_ref()).is_ok() {
                registered.push((target, event, hide));
            }
        }
        WakeListeners { on_wake, on_hide, registered }
    }
}

impl Drop for WakeListeners {
    fn drop(&mut self) {
        for (target, event, hide) in &self.registered {
            let callback = if *hide { &self.on_hide } else { &self.on_wake };
            let _ = target.remove_event_listener_with_callback(event, callback.as_ref().unchecked_ref());
        }
    }
}
