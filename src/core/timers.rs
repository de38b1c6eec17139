//! The session's timer table: one optional deadline per purpose, polled as a single minimum.

use super::Millis;

/// The largest delay `setTimeout` honours (2^31 - 1 ms, ~24.8 days); longer ones fire at once.
pub const MAX_TIMER_DELAY_MS: u64 = 2_147_483_647;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Proactive refresh ahead of `exp`.
    Refresh,
    /// Next attempt after a failed fetch.
    Retry,
    /// Give up on a callback that has not settled.
    FetchTimeout,
    /// The current token's estimated expiry.
    Expiry,
    /// Cross-tab: waited too long for the refresh lock; steal it.
    LockWait,
    /// Cross-tab: peers had their chance to answer; fetch.
    PeerGrace,
    /// Cross-tab: held the lock too long; release it (the fetch goes on, commit-guarded).
    LockHold,
}

const ALL: [Timer; 7] = [
    Timer::FetchTimeout,
    Timer::LockHold,
    Timer::LockWait,
    Timer::PeerGrace,
    Timer::Refresh,
    Timer::Retry,
    Timer::Expiry,
];

#[derive(Debug, Clone, Default)]
pub struct TimerTable {
    deadlines: [Option<Millis>; 7],
}

impl TimerTable {
    pub fn set(&mut self, timer: Timer, deadline: Millis) {
        self.deadlines[timer as usize] = Some(deadline);
    }

    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub fn stop_all(&mut self) {
        self.deadlines = [None; 7];
    }

    pub fn get(&self, timer: Timer) -> Option<Millis> {
        self.deadlines[timer as usize]
    }

    /// The earliest deadline, if any timer is armed.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarms and returns the first timer due at `now`, in a fixed priority order.
    pub fn take_due(&mut self, now: Millis) -> Option<Timer> {
        let due = ALL.into_iter().find(|&timer| self.get(timer).is_some_and(|at| at <= now))?;
        self.stop(due);
        Some(due)
    }
}

/// How long a driver should arm its platform timer for: clamped to what `setTimeout` can
/// represent. A clamped timer fires early; the session treats that as a spurious wake-up
/// and the driver re-arms from `poll_timeout()`.
pub fn timer_delay_ms(now: Millis, deadline: Millis) -> u32 {
    deadline.saturating_sub(now).min(MAX_TIMER_DELAY_MS) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_deadline_is_the_minimum_and_take_due_disarms() {
        let mut timers = TimerTable::default();
        assert_eq!(timers.next_deadline(), None);
        timers.set(Timer::Expiry, 500);
        timers.set(Timer::Refresh, 300);
        assert_eq!(timers.next_deadline(), Some(300));
        assert_eq!(timers.take_due(299), None);
        assert_eq!(timers.take_due(300), Some(Timer::Refresh));
        assert_eq!(timers.take_due(300), None);
        assert_eq!(timers.next_deadline(), Some(500));
    }

    #[test]
    fn delays_beyond_set_timeout_range_are_clamped() {
        assert_eq!(timer_delay_ms(10, 5), 0);
        assert_eq!(timer_delay_ms(0, 1_000), 1_000);
        assert_eq!(timer_delay_ms(0, 40 * 24 * 3_600_000), 2_147_483_647);
        assert_eq!(timer_delay_ms(0, u64::MAX), 2_147_483_647);
    }
}
