//! A token the page was rendered with (`initialToken`: the server read the user's cookie): taken
//! before the session starts, judged as a peer's token is, so a page whose server already knew the
//! user starts authenticated without calling `fetchAccessToken`.

use super::{schedule, Lifecycle, Session};
use crate::core::state::Trace;
use crate::core::token;
use crate::core::Millis;

impl Session {
    /// Offers the token the page was rendered with; only before [`start`](Self::start), and after
    /// [`recall_sign_out`](Self::recall_sign_out). It goes through the peer adoption path (the same
    /// checks as a peer's or a stored token), and is ignored — traced as `initial_token_ignored`,
    /// the start then fetches as usual — when it is not a JWT, has no `exp`, has less than the
    /// refresh leeway left (sending it would cost a refresh at once anyway), predates a sign-out
    /// of the app's tabs, or loses to a token already restored.
    pub fn offer_initial_token(&mut self, now: Millis, raw: &str) {
        if self.lifecycle != Lifecycle::Created {
            return;
        }
        // The recalled sign-out first: a rendered token minted before it must not sign the user back in.
        self.take_recalled_sign_out(now);
        let generation = self.generation();
        if let Ok(decoded) = token::decode_with(self.json, raw) {
            let claims = &decoded.claims;
            let remaining = self.remaining_ms(now, claims, None);
            let leeway = self.config.refresh_leeway_ms;
            if remaining.is_some_and(|left| !schedule::is_stale(left, claims, leeway)) {
                // Minted at `iat` (never later than now); without one, when is unknown, so it
                // counts as older than any sign-out.
                let minted_at = claims.iat.map_or(0, |iat| iat.saturating_mul(1000).min(now));
                self.adopt_from_peer(now, raw.into(), None, minted_at);
            }
        }
        if self.generation() == generation {
            self.trace(Trace::initial_token_ignored(token::redact(raw)));
        }
    }
}
