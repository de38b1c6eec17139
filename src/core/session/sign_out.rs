//! Signing out: this tab's own (announced to the app's tabs and recorded for tabs opened later),
//! a peer's, and the sign-out recorded before this tab opened.

use super::{Output, Session};
use crate::core::Millis;

impl Session {
    /// Signs out: drops the token and any fetch in flight (its result will be ignored) and settles
    /// as `Unauthenticated` without an error.
    pub fn sign_out(&mut self, now: Millis) {
        if self.is_disposed() {
            return;
        }
        // From now on, tokens fetched before this moment can no longer sign any tab back in.
        self.take_recalled_sign_out(now);
        self.signed_out_at = now.max(self.signed_out_at.saturating_add(1));
        if self.config.cross_tab {
            let message = crate::core::peer_message::PeerMessage::SignedOut.write(self.json, self.signed_out_at);
            self.outputs.push_back(Output::Broadcast(message));
            self.outputs.push_back(Output::RecordSignOut(self.signed_out_at));
        }
        self.sign_out_here(now);
    }

    /// Cross-tab: the latest sign-out of the app's tabs, recorded before this tab opened
    /// ([`Output::RecordSignOut`]). Tokens fetched before it, which a peer may still offer (a tab
    /// thawing with an old backlog), never sign this tab in. It changes nothing else: a sign-in
    /// since then (this tab's startup fetch, or a newer peer token) stands. Storage can hold
    /// anything: the time is believed no later than now, judged at the next input.
    pub fn recall_sign_out(&mut self, at: Millis) {
        self.recalled_sign_out = self.recalled_sign_out.max(at);
    }

    /// Signs out this tab only (a peer announced the sign-out).
    pub(super) fn sign_out_here(&mut self, now: Millis) {
        self.stop_timers();
        self.abandon_in_flight(now);
        self.failures = 0;
        self.app_backoff = None;
        self.forget_stored_token();
        self.settle_unauthenticated(None);
    }

    /// Removes the persisted record: the provider said the user is signed out (or the server
    /// refused the token for good), so a reload must not restore it.
    pub(super) fn forget_stored_token(&mut self) {
        if self.config.persist {
            self.outputs.push_back(Output::Persist(None));
        }
    }
}
