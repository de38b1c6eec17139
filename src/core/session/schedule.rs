//! The refresh arithmetic, as pure functions of their inputs: how long a token has left, whether a
//! cached one is too far gone to send, and when to refresh it. No session state, no clock.

use crate::core::token::Claims;
use crate::core::Millis;

/// Scheduling never lands a refresh sooner than this after receipt (unless the token itself
/// lives less than twice as long), so a short-lived token cannot cause a refresh storm.
pub const MIN_REFRESH_DELAY_MS: u64 = 1_000;

/// Estimated ms of validity left. A token fetched with `forceRefreshToken: true` was minted after
/// `minted_since` (when we called the callback), so its whole lifetime `exp - iat` counts from
/// then, whatever our clock says about `iat`. Others (a provider's cache) are aged on the client
/// clock, corrected by `skew_ms` (client minus issuer clock, learnt from forced tokens); a token
/// that looks issued in the future counts as just issued, so a clock running behind never delays
/// a refresh past the issuer's intent. `None` for a token without `exp`. (Decoded NumericDates
/// fit millisecond arithmetic; the multiplications saturate anyway, for any input.)
pub fn remaining_ms(now: Millis, claims: &Claims, minted_since: Option<Millis>, skew_ms: Option<i64>) -> Option<u64> {
    let exp_ms = claims.exp?.saturating_mul(1000);
    let issuer_now = (now as i64).saturating_sub(skew_ms.unwrap_or(0));
    Some(match (claims.lifetime_seconds(), claims.iat, minted_since) {
        (Some(lifetime), _, Some(since)) => lifetime.saturating_mul(1000).saturating_sub(now.saturating_sub(since)),
        (Some(lifetime), Some(iat), None) => {
            let age = issuer_now.saturating_sub(iat.saturating_mul(1000) as i64).max(0) as u64;
            lifetime.saturating_mul(1000).saturating_sub(age)
        }
        _ => (exp_ms as i64).saturating_sub(issuer_now).max(0) as u64,
    })
}

/// Whether a token straight from the provider's cache is too far gone to send: little of the
/// leeway left, or (for tokens living less than two leeways) over half its life used.
pub fn is_stale(remaining: u64, claims: &Claims, leeway_ms: u64) -> bool {
    let threshold = claims.lifetime_seconds().map_or(leeway_ms, |lifetime| leeway_ms.min(lifetime.saturating_mul(500)));
    remaining <= threshold
}

/// How long after receipt to refresh a token with `remaining` ms left: `leeway_ms` before its
/// expiry, at half-life when it lives less than that, and never sooner than
/// [`MIN_REFRESH_DELAY_MS`] unless it lives less than twice as long.
pub fn refresh_delay(remaining: u64, leeway_ms: u64) -> u64 {
    let delay = if remaining > leeway_ms { remaining - leeway_ms } else { remaining / 2 };
    delay.max(MIN_REFRESH_DELAY_MS.min(remaining / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few hundred thousand cases from a seeded xorshift: same cases every run.
    fn cases(mut seed: u64, count: usize) -> impl Iterator<Item = [u64; 4]> {
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        (0..count).map(move |_| {
            // Mix small numbers (the edges) with large ones (overflow).
            let mut pick = |scale: u64| match next() % 4 {
                0 => next() % 10,
                1 => next() % scale,
                2 => next() % (scale * 1000),
                _ => next() >> (next() % 64),
            };
            [pick(10_000), pick(100_000), pick(3_600), pick(1_000)]
        })
    }

    fn claims(iat: Option<u64>, exp: Option<u64>) -> Claims {
        Claims { iat, exp, ..Claims::default() }
    }

    #[test]
    fn a_refresh_is_never_scheduled_after_expiry_nor_sooner_than_the_minimum_allows() {
        for [remaining, leeway, ..] in cases(1, 300_000) {
            let delay = refresh_delay(remaining, leeway);
            assert!(delay <= remaining, "refresh after expiry: {delay} > {remaining} (leeway {leeway})");
            assert!(delay >= MIN_REFRESH_DELAY_MS.min(remaining / 2), "too soon: {delay} for {remaining}");
            if remaining > leeway.saturating_add(MIN_REFRESH_DELAY_MS) {
                assert_eq!(delay, remaining - leeway, "leeway before expiry");
            }
        }
    }

    #[test]
    fn staleness_is_monotone_in_what_is_left() {
        for [remaining, leeway, lifetime, less] in cases(3, 300_000) {
            let claims = claims(Some(1_000), Some(1_000 + lifetime));
            if is_stale(remaining, &claims, leeway) {
                assert!(is_stale(remaining.saturating_sub(less), &claims, leeway), "stale at {remaining}, fresh with less");
            }
            assert!(is_stale(0, &claims, leeway), "nothing left is always stale");
        }
    }

    #[test]
    fn a_forced_token_counts_its_whole_lifetime_from_the_request_whatever_the_clocks_say() {
        for [since, transit, lifetime, skew] in cases(4, 300_000) {
            let (since, lifetime) = (since % (1 << 40), lifetime % (1 << 30) + 1);
            let now = since.saturating_add(transit % (1 << 40));
            // iat is wherever the issuer's clock says: it must not matter.
            let claims = claims(Some(skew % (1 << 33)), Some(skew % (1 << 33) + lifetime));
            let left = remaining_ms(now, &claims, Some(since), Some(skew as i64)).unwrap();
            assert_eq!(left, (lifetime * 1000).saturating_sub(now - since));
            // And it only ever shrinks as time goes on.
            let later = remaining_ms(now + 1_000, &claims, Some(since), Some(skew as i64)).unwrap();
            assert!(later <= left);
        }
    }

    #[test]
    fn a_cached_token_ages_on_the_corrected_clock_and_never_gains_time() {
        for [now, age, lifetime, skew] in cases(5, 300_000) {
            let now = now % (1 << 42);
            let iat = now / 1000;
            let claims = claims(Some(iat), Some(iat + lifetime % (1 << 30) + 1));
            let skew = (skew % 100_000) as i64 - 50_000;
            let left = remaining_ms(now + age % (1 << 40), &claims, None, Some(skew)).unwrap();
            let lifetime_ms = claims.lifetime_seconds().unwrap() * 1000;
            assert!(left <= lifetime_ms, "{left} left of a {lifetime_ms} lifetime");
        }
        // Without exp there is nothing to count; without iat, exp is used against the clock.
        assert_eq!(remaining_ms(5_000, &claims(Some(1), None), None, None), None);
        assert_eq!(remaining_ms(5_000, &claims(None, Some(65)), None, None), Some(60_000));
        assert_eq!(remaining_ms(70_000, &claims(None, Some(65)), None, None), Some(0));
    }
}
