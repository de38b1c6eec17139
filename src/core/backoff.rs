//! Exponential backoff with "equal jitter" for failed token fetches.
//!
//! The random source is a seeded xorshift so tests are deterministic; the
//! driver seeds it from the platform's randomness.

#[derive(Debug, Clone)]
pub struct Backoff {
    initial_ms: u64,
    max_ms: u64,
    attempt: u32,
    rng_state: u64,
}

impl Backoff {
    pub fn new(initial_ms: u64, max_ms: u64, seed: u64) -> Self {
        Backoff {
            initial_ms: initial_ms.max(1),
            max_ms: max_ms.max(initial_ms.max(1)),
            attempt: 0,
            // xorshift must not start at zero.
            rng_state: seed | 1,
        }
    }

    /// The delay before the next attempt: half of the capped exponential step plus a random
    /// share of the other half, so retries from many clients spread out but never come early.
    pub fn next_delay_ms(&mut self) -> u64 {
        let step = self
            .initial_ms
            .checked_shl(self.attempt.min(32))
            .unwrap_or(u64::MAX)
            .min(self.max_ms);
        self.attempt = self.attempt.saturating_add(1);
        let half = step / 2;
        half + self.next_random() % (step - half + 1)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Continues a schedule shared with others that have made `attempts` attempts on it (the app's
    /// other tabs): the next delay is that schedule's next step, never an earlier one.
    pub fn catch_up(&mut self, attempts: u32) {
        self.attempt = self.attempt.max(attempts);
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.rng_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng_state = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_jitter_bounds_and_cap() {
        let mut backoff = Backoff::new(1_000, 30_000, 42);
        let expected_steps = [1_000u64, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000];
        for step in expected_steps {
            let delay = backoff.next_delay_ms();
            assert!(delay >= step / 2 && delay <= step, "delay {delay} outside [{}, {step}]", step / 2);
        }
        backoff.reset();
        assert!(backoff.next_delay_ms() <= 1_000);
    }

    #[test]
    fn same_seed_same_delays_and_different_seeds_differ() {
        let run = |seed| {
            let mut backoff = Backoff::new(1_000, 30_000, seed);
            (0..6).map(|_| backoff.next_delay_ms()).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn catching_up_continues_the_shared_schedule_and_never_goes_back() {
        let mut backoff = Backoff::new(1_000, 30_000, 3);
        backoff.catch_up(4);
        let delay = backoff.next_delay_ms();
        assert!((8_000..=16_000).contains(&delay), "the fifth step, not the first: {delay}");
        backoff.catch_up(2);
        assert_eq!(backoff.attempts(), 5);
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let mut backoff = Backoff::new(u64::MAX / 2, u64::MAX, 1);
        for _ in 0..200 {
            backoff.next_delay_ms();
        }
    }
}
