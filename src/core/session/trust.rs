//! What a tab believes of what it did not see happen: a token, or a time, that comes from another
//! tab, from storage, or from anywhere else but this tab's own fetch. Every such source goes
//! through [`Session::judge_offer`] and [`plausible_time`]; the README's "What a tab believes"
//! states the same rules.
//!
//! 1. A time (when a peer's fetch started, when a sign-out happened) is no later than now, or
//!    than one ms past the latest sign-out this tab has seen if that is later: tabs read one
//!    machine clock, and a tab orders a fetch strictly after a sign-out of the same millisecond.
//!    Anything later is a lie or a bug, and believed it would outlast every later sign-out (or
//!    block every later sign-in) for good; cut, a token never outlasts a sign-out made in a
//!    later millisecond than it arrived.
//! 2. A token without `exp` is never taken (nor shared or persisted: `share_current`): nothing
//!    would ever refresh it.
//! 3. A token lives no longer than it says itself: its offered expiry is cut to its lifetime
//!    (`exp - iat`) counted from the offered fetch time (as this tab counts its own forced
//!    fetches: right whatever the clock's skew; a second's slack, never more than the lifetime),
//!    and to its `exp` on this tab's clock once this tab knows the skew. Without a fetch time or
//!    an `iat`, `exp` on the clock (skew corrected when known) is all there is. A tab that has not learnt the skew cannot tell an
//!    expired token from a fresh one on a skewed machine, so a lie about the fetch time buys at
//!    most one lifetime, and the refresh that goes with it.
//! 4. A token of another issuer or audience than the session's, or of another subject than the
//!    one it holds, is refused: it belongs to another backend or another user.

use super::{schedule, Output, Session};
use crate::core::token::Claims;
use crate::core::Millis;

/// How far a sender's estimate of a token's expiry may run past the token's lifetime counted
/// from the sender's fetch: a provider's cached token aged on the clock from an `iat` taken
/// during the request.
const ESTIMATE_SLACK_MS: Millis = 1_000;

/// `exp` is in whole seconds and issuers floor it: a token is valid until up to a second after it.
const EXP_ROUNDING_MS: u64 = 999;

/// A time from another tab or from storage, as believed by a tab whose latest sign-out seen is
/// `latest_sign_out` (rule 1).
pub fn plausible_time(now: Millis, at: Millis, latest_sign_out: Millis) -> Millis {
    at.min(now.max(latest_sign_out.saturating_add(1)))
}

/// FNV-1a's starting value.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over `bytes` and then 0xff, a byte no UTF-8 string holds, continuing from `hash`: parts
/// hashed one after the other stay apart.
fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0100_0000_01b3;
    for &byte in bytes {
        hash = (hash ^ byte as u64).wrapping_mul(PRIME);
    }
    (hash ^ 0xff).wrapping_mul(PRIME)
}

/// A token's digest, to recognise it again without keeping it (compared, never shown).
pub(super) fn token_digest(raw: &str) -> u64 {
    fnv(FNV_OFFSET, raw.as_bytes())
}

/// Which backend a token is for: a digest of its issuer and audience (compared, never shown).
/// A session takes it from its tokens (see the `identity` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Identity(u64);

impl Identity {
    pub(super) fn of(claims: &Claims) -> Self {
        // The issuer, a marker, then each audience: distinct issuers and audience lists give
        // distinct input.
        let mut hash = FNV_OFFSET;
        if let Some(iss) = &claims.iss {
            hash = fnv(hash, iss.as_bytes());
        }
        hash = fnv(hash, &[0xfe]);
        for aud in &claims.aud {
            hash = fnv(hash, aud.as_bytes());
        }
        Identity(hash)
    }
}

/// Why an offered token is not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Doubt {
    /// No `exp`: it would never be refreshed.
    NoExpiry,
    /// Another issuer or audience than this session's: another backend's token.
    ForeignBackend,
    /// Another subject than the token held: another user's.
    OtherSubject,
    /// Nothing left of it.
    Expired,
}

impl Session {
    /// Judges a token offered by a peer or storage: the ms of validity this tab believes it has
    /// left, or why it is refused. `offered_expires_at` is the sender's estimate, `minted_at` the
    /// time its fetch started (already cut by [`plausible_time`]), 0 when not given.
    pub(super) fn judge_offer(
        &self,
        now: Millis,
        claims: &Claims,
        offered_expires_at: Option<Millis>,
        minted_at: Millis,
    ) -> Result<u64, Doubt> {
        if claims.exp.is_none() {
            return Err(Doubt::NoExpiry);
        }
        let held = self.current.as_ref().map(|t| &t.claims);
        let identity = self.identity.or_else(|| held.map(Identity::of));
        if identity.is_some_and(|ours| ours != Identity::of(claims)) {
            return Err(Doubt::ForeignBackend);
        }
        if held.is_some_and(|ours| ours.sub != claims.sub) {
            return Err(Doubt::OtherSubject);
        }
        // What the token itself allows. On this tab's clock (skew corrected when known), with a
        // second for exp's rounding: a token that looks issued in the future counts as just issued.
        let by_clock = self.remaining_ms(now.saturating_sub(EXP_ROUNDING_MS), claims, None).unwrap_or(0);
        let own = if claims.lifetime_seconds().is_some() && minted_at > 0 {
            // Counted from the sender's fetch, as this tab counts its own forced fetches (right
            // whatever the clock's skew). Once this tab knows the skew, the clock bounds it too.
            let since_fetch = schedule::remaining_ms(now.saturating_sub(ESTIMATE_SLACK_MS), claims, Some(minted_at.min(now)), None);
            let from_fetch = since_fetch.unwrap_or(0);
            if self.skew_ms.is_some() { from_fetch.min(by_clock) } else { from_fetch }
        } else {
            by_clock
        };
        let offered = match offered_expires_at {
            Some(at) => at.saturating_sub(now),
            None => self.remaining_ms(now, claims, None).unwrap_or(0),
        };
        let left = offered.min(own);
        if left == 0 {
            return Err(Doubt::Expired);
        }
        Ok(left)
    }

    /// Takes in the sign-out time recalled from storage (`recall_sign_out`, which does not know
    /// the time), as rule 1 says, at the first input that does. One that was later than now is
    /// written back as believed, so the record heals for the tabs opened after this one.
    pub(super) fn take_recalled_sign_out(&mut self, now: Millis) {
        let recalled = core::mem::take(&mut self.recalled_sign_out);
        let believed = recalled.min(now);
        self.signed_out_at = self.signed_out_at.max(believed);
        if believed < recalled && self.config.cross_tab {
            self.outputs.push_back(Output::RecordSignOut(believed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;

    #[test]
    fn a_thousand_backends_have_a_thousand_identities() {
        // Issuers and audience lists that differ in one character, or only in where one part
        // ends and the next begins: every one another backend.
        let mut identities: Vec<u64> = Vec::new();
        for n in 0..250 {
            let variants = [
                (format!("https://issuer{n}.test"), alloc::vec![String::from("convex")]),
                (String::from("https://issuer.test"), alloc::vec![format!("convex{n}")]),
                (String::from("https://issuer.test"), alloc::vec![format!("a{n}"), String::from("b")]),
                (String::from("https://issuer.test"), alloc::vec![String::from("a"), format!("{n}b")]),
            ];
            for (iss, aud) in variants {
                identities.push(Identity::of(&Claims { iss: Some(iss), aud, ..Claims::default() }).0);
            }
        }
        let count = identities.len();
        identities.sort_unstable();
        identities.dedup();
        assert_eq!(identities.len(), count, "two backends share an identity");
    }
}
