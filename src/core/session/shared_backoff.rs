//! One backoff per app. The lock makes a refresh happen once across the app's tabs; this makes a
//! failed refresh, and its retry schedule, happen once too. The tab whose fetch failed broadcasts
//! the failure with the app's next retry time (and the number of failures in a row, so whichever
//! tab fails next takes the schedule's next step) and keeps it for tabs opened later
//! ([`Slot::Backoff`]). Every other tab takes that failure as its own: an attempt queued behind the
//! failing holder is given up, and no tab starts a fetch before the retry time. At the retry time
//! the tabs queue for the lock again; the first in line fetches and the others wait for its result.

use super::attempt::FetchPhase;
use super::{Output, Session, Slot};
use crate::core::errors::{AuthError, ErrorCode};
use crate::core::peer_message::PeerMessage;
use crate::core::state::{FetchReason, Trace, TraceKind};
use crate::core::timers::Timer;
use crate::core::Millis;

/// The app's last failed fetch, until a token fetched since answers it.
#[derive(Debug, Clone, Copy)]
pub(super) struct AppBackoff {
    /// When the fetch failed: a token whose fetch started later ends the backoff.
    failed_at: Millis,
    /// No tab of the app starts a fetch before this (but for a token the server rejected).
    retry_at: Millis,
    error: AuthError,
}

impl Session {
    /// This tab's fetch failed and it retries at `retry_at`: that is now the app's retry.
    pub(super) fn share_failure(&mut self, now: Millis, retry_at: Millis, error: AuthError) {
        if !self.config.cross_tab {
            return;
        }
        self.app_backoff = Some(AppBackoff { failed_at: now, retry_at, error });
        let failed = PeerMessage::Failed { retry_at, failures: self.backoff.attempts(), code: error.code };
        let record = failed.write(self.json, now);
        self.outputs.push_back(Output::Broadcast(record.clone()));
        self.outputs.push_back(Output::Remember { slot: Slot::Backoff, record: Some(record) });
    }

    /// A peer's failed fetch (or the app's stored one, at startup), at `failed_at`.
    pub(super) fn adopt_peer_failure(&mut self, now: Millis, failed_at: Millis, retry_at: Millis, failures: u32, code: ErrorCode) {
        // Times from a peer are plausible or clamped: a failure is in the past, and no peer holds
        // the app back longer than the backoff's longest step.
        let failed_at = failed_at.min(now);
        let retry_at = retry_at.min(now.saturating_add(self.config.backoff_max_ms));
        let answered = self.current.as_ref().is_some_and(|token| token.minted_at > failed_at);
        let superseded = self.app_backoff.is_some_and(|known| known.failed_at > failed_at);
        if retry_at <= now || answered || superseded || failed_at <= self.signed_out_at {
            return;
        }
        // The same failure as this tab's own last one keeps its error (so the state does not change).
        let error = match self.last_failure {
            Some(own) if own.code == code => own,
            _ => AuthError::new(code, "fetchAccessToken failed in another tab of this app"),
        };
        self.app_backoff = Some(AppBackoff { failed_at, retry_at, error });
        self.backoff.catch_up(failures);
        self.trace(Trace { millis: Some(retry_at - now), ..Trace::event(TraceKind::PeerFetchFailed) });
        match self.in_flight {
            // This tab's own request is out: its result decides.
            Some(in_flight) if matches!(in_flight.phase, FetchPhase::Fetching(_)) => {}
            // Queued behind the holder that failed: that fetch was this attempt's too.
            Some(in_flight) => {
                self.timers.stop(Timer::LockWait);
                self.timers.stop(Timer::PeerGrace);
                self.abandon_in_flight(now);
                self.note_failure(now, in_flight.force, error, retry_at);
            }
            None => {
                if self.timers.get(Timer::Retry).is_some() {
                    self.timers.set(Timer::Retry, retry_at);
                }
            }
        }
    }

    /// Whether a fetch for `reason` must wait for the app's retry (and until when). A token the
    /// server rejected is replaced at once, as it is in a tab alone.
    pub(super) fn app_retry_pending(&self, now: Millis, reason: FetchReason) -> Option<Millis> {
        if !self.config.cross_tab || reason == FetchReason::Rejected {
            return None;
        }
        self.app_backoff.map(|backoff| backoff.retry_at).filter(|&at| at > now)
    }

    /// A fetch wanted while the app backs off: the app's failure stands for it, as if it had been
    /// made and had failed (waiters and state as after a failure), and it is retried with the app.
    pub(super) fn defer_to_app_retry(&mut self, now: Millis, force: bool, retry_at: Millis) {
        let Some(backoff) = self.app_backoff else { return };
        let force = force || (self.retry_forced && self.timers.get(Timer::Retry).is_some());
        self.timers.stop(Timer::Refresh);
        self.note_failure(now, force, backoff.error, retry_at);
    }

    /// A token whose fetch started at `minted_at` was installed: if that was after the app's last
    /// failure, the app's backoff is over. The tab that fetched it empties the stored record.
    pub(super) fn end_app_backoff(&mut self, minted_at: Millis, fetched_here: bool) {
        if self.app_backoff.is_some_and(|backoff| minted_at > backoff.failed_at) {
            self.app_backoff = None;
            if fetched_here {
                self.outputs.push_back(Output::Remember { slot: Slot::Backoff, record: None });
            }
        }
    }

    /// The page woke (visible, online, restored): like a lone tab, the app retries now, not at
    /// its scheduled time; the lock still makes it one fetch.
    pub(super) fn wake_from_app_backoff(&mut self) {
        if self.timers.get(Timer::Retry).is_some() {
            self.app_backoff = None;
        }
    }
}
