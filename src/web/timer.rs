//! One re-armable timer for the session's next deadline.

use alloc::boxed::Box;
use js_sys::Function;
use wasm_bindgen::prelude::*;

use crate::core::timers::timer_delay_ms;
use crate::core::Millis;

#[wasm_bindgen]
extern "C" {
    // Bound as globals (not `window.setTimeout`) so the driver also runs in workers.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, delay_ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// A pending `setTimeout` that owns its callback and clears itself on drop.
struct Timeout {
    id: JsValue,
    _callback: Closure<dyn FnMut()>,
}

impl Timeout {
    fn new(delay_ms: u32, on_fire: impl FnOnce() + 'static) -> Self {
        let mut on_fire = Some(on_fire);
        let callback = Closure::wrap(Box::new(move || {
            if let Some(on_fire) = on_fire.take() {
                on_fire();
            }
        }) as Box<dyn FnMut()>);
        let id = set_timeout(callback.as_ref().unchecked_ref(), delay_ms);
        Timeout { id, _callback: callback }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        // Clearing a timeout that already fired is a harmless no-op.
        clear_timeout(&self.id);
    }
}

/// Holds at most one pending timeout; replacing or dropping it cancels the old one.
#[derive(Default)]
pub struct DeadlineTimer {
    armed: Option<(Millis, Timeout)>,
}

impl DeadlineTimer {
    /// Arms for `deadline` (or disarms for `None`) unless already armed for exactly that deadline.
    /// Delays beyond `setTimeout`'s range are clamped; the early fire is a no-op for the session
    /// and this is called again with the same deadline, arming for the remainder.
    pub fn arm(&mut self, now: Millis, deadline: Option<Millis>, on_fire: impl FnOnce() + 'static) {
        if self.armed.as_ref().map(|(at, _)| *at) == deadline {
            return;
        }
        self.armed = deadline.map(|at| (at, Timeout::new(timer_delay_ms(now, at), on_fire)));
    }

    /// Forgets the fired timeout so the next `arm` re-arms even for the same deadline. Dropping it
    /// from inside its own callback is safe: wasm-bindgen defers freeing a closure until its
    /// running invocation returns.
    pub fn fired(&mut self) {
        self.armed = None;
    }

    pub fn cancel(&mut self) {
        self.armed = None;
    }
}
