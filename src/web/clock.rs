//! The wall clock the session runs on.

use crate::core::Millis;

/// `Date.now()`, clamped to the session's unsigned milliseconds.
pub fn now() -> Millis {
    let ms = js_sys::Date::now();
    if ms.is_finite() && ms > 0.0 {
        ms as Millis
    } else {
        0
    }
}

/// A jitter seed from `Math.random()`, so tabs that fail together do not retry together.
pub fn random_seed() -> u64 {
    (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64
}
