//! One re-armable timer for the session's next deadline, on gloo-timers' `Timeout` (a
//! `setTimeout` that owns its callback and clears itself on drop).

use gloo_timers::callback::Timeout;

use crate::core::timers::timer_delay_ms;
use crate::core::Millis;

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
