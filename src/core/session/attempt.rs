//! Fetch attempts: starting one (single flight; cross-tab, behind the lock), calling the app's
//! callback, taking its result, the failure path with its backoff, and giving the lock back.

use super::{FetchId, FetchOutcome, Generation, LockId, Output, Session, TokenVerdict};
use crate::core::errors::AuthError;
use crate::core::state::{AuthState, FetchReason, Trace, TraceKind};
use crate::core::timers::Timer;
use crate::core::token;
use crate::core::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FetchPhase {
    /// Cross-tab: waiting for the refresh lock (a peer's token may still make the fetch unnecessary).
    AwaitingLock,
    /// Cross-tab: holding the lock, giving peers a moment to answer before fetching.
    PeerGrace,
    /// The app's callback is running.
    Fetching(FetchId),
}

#[derive(Debug, Clone, Copy)]
pub(super) struct InFlight {
    pub(super) phase: FetchPhase,
    pub(super) force: bool,
    pub(super) reason: FetchReason,
    /// The cross-tab lock this attempt holds or waits for.
    pub(super) lock: Option<LockId>,
    /// The generation current when the need arose: a newer one satisfies it.
    pub(super) started_generation: Generation,
    /// When the callback was called: a forced token was minted no earlier.
    pub(super) fetch_started_at: Millis,
    /// When the lock was granted (to notice a grace period overslept by a frozen tab).
    pub(super) lock_acquired_at: Millis,
    /// When the lock was last requested (to notice an uncontended grant delivered too late to trust).
    pub(super) lock_requested_at: Millis,
    /// Waiting for the lock, how many times this attempt asked to steal it (see `on_lock_wait_timeout`).
    pub(super) steals: u8,
}

impl Session {
    /// Input: the app's callback settled for `fetch`. Results for any other id (an attempt
    /// abandoned by a sign-out, a timeout or `dispose`) are dropped.
    pub fn handle_fetch_result(&mut self, now: Millis, fetch: FetchId, outcome: FetchOutcome) {
        if let Some((_, lock)) = self.orphan.filter(|(orphan, _)| *orphan == fetch) {
            // The abandoned request is answered: its refresh token is settled, the lock can go.
            self.orphan = None;
            self.outputs.push_back(Output::ReleaseLock { lock });
            self.trace(Trace::event(TraceKind::StaleResultDropped));
            return;
        }
        let Some(in_flight) = self.in_flight.filter(|f| f.phase == FetchPhase::Fetching(fetch) && !self.is_disposed()) else {
            self.trace(Trace::event(TraceKind::StaleResultDropped));
            return;
        };
        self.in_flight = None;
        self.timers.stop(Timer::FetchTimeout);
        self.timers.stop(Timer::LockHold);
        self.handle_fetch_outcome(now, in_flight, outcome);
        // Released after the outcome is shared, so peers waiting for the lock hear of the token first
        // (unless a fetch goes on under it: a cached token too old to send, see `adopt`).
        let kept = self.in_flight.is_some_and(|next| next.lock == in_flight.lock);
        if let Some(lock) = in_flight.lock.filter(|_| !kept) {
            self.outputs.push_back(Output::ReleaseLock { lock });
        }
    }

    /// Input: the driver answered the `FetchToken` it is performing with a call of the app's
    /// callback made ahead of the session, at `began_at` (while the WebAssembly module loaded,
    /// under the refresh lock the session was then handed). The fetch counts from then, so a
    /// sign-out after `began_at` drops its token as it drops any older fetch's. Refused — the driver
    /// calls the callback anew, once the early call has settled — unless the attempt in flight is
    /// an unforced fetch still out, no sign-out this tab knows of came after `began_at`, and
    /// `began_at` is not later than the fetch itself.
    pub fn backdate_fetch(&mut self, began_at: Millis) -> bool {
        let (signed_out_at, disposed) = (self.signed_out_at, self.is_disposed());
        let Some(in_flight) = self.in_flight.as_mut().filter(|f| !f.force && !disposed) else { return false };
        let fetching = matches!(in_flight.phase, FetchPhase::Fetching(_));
        if !fetching || began_at <= signed_out_at || began_at > in_flight.fetch_started_at {
            return false;
        }
        in_flight.fetch_started_at = began_at;
        true
    }

    pub(super) fn handle_fetch_outcome(&mut self, now: Millis, in_flight: InFlight, outcome: FetchOutcome) {
        match outcome {
            FetchOutcome::SignedOut => {
                self.trace(Trace::event(TraceKind::FetchSignedOut));
                self.failures = 0;
                self.stop_timers();
                self.forget_stored_token();
                self.settle_unauthenticated(None);
            }
            FetchOutcome::Failed(error) => self.on_fetch_failure(now, in_flight.force, error),
            FetchOutcome::Token(raw) => match token::decode_with(self.json, &raw) {
                Ok(decoded) => self.adopt(now, raw, decoded.claims, in_flight),
                Err(error) => self.on_fetch_failure(now, in_flight.force, error.into()),
            },
        }
    }

    pub(super) fn usable_generation(&self, now: Millis) -> Option<Generation> {
        let token = self.current.as_ref()?;
        let fresh = token.refresh_at.is_none_or(|at| now < at);
        (token.verdict != TokenVerdict::Rejected && fresh).then_some(token.generation)
    }

    pub(super) fn start_fetch(&mut self, now: Millis, force: bool, reason: FetchReason) {
        if self.in_flight.is_some() {
            // Single flight: join the fetch under way. If it is unforced and returns a cached
            // token, waiters that need a newer one get their own forced fetch when it lands.
            return;
        }
        if let Some(retry_at) = self.app_retry_pending(now, reason) {
            return self.defer_to_app_retry(now, force, retry_at);
        }
        self.timers.stop(Timer::Refresh);
        self.timers.stop(Timer::Retry);
        let mut in_flight =
            InFlight {
                phase: FetchPhase::AwaitingLock,
                force,
                reason,
                lock: None,
                started_generation: self.generation(),
                fetch_started_at: now,
                lock_acquired_at: now,
                lock_requested_at: now,
                steals: 0,
            };
        if self.config.cross_tab {
            self.request_lock(now, &mut in_flight);
            self.in_flight = Some(in_flight);
        } else {
            self.in_flight = Some(in_flight);
            self.begin_fetch(now);
        }
    }

    /// Calls the app's callback for the attempt in flight.
    pub(super) fn begin_fetch(&mut self, now: Millis) {
        let Some(in_flight) = self.in_flight.as_mut() else { return };
        let id = self.next_fetch;
        self.next_fetch += 1;
        in_flight.phase = FetchPhase::Fetching(id);
        // Strictly after any sign-out this tab has seen, even within the same millisecond.
        in_flight.fetch_started_at = now.max(self.signed_out_at.saturating_add(1));
        let (force, reason, holds_lock) = (in_flight.force, in_flight.reason, in_flight.lock.is_some());
        self.timers.set(Timer::FetchTimeout, now.saturating_add(self.config.fetch_timeout_ms));
        if holds_lock {
            self.timers.set(Timer::LockHold, now.saturating_add(self.config.lock_timeout_ms));
        }
        self.trace(Trace::fetch_started(reason, force));
        self.outputs.push_back(Output::FetchToken { fetch: id, force_refresh: force });
    }

    /// Forgets the attempt under way (its late result will be dropped) and gives back its lock —
    /// except while its request is out: then the lock is kept until the result lands or the hold
    /// timeout, so no other tab presents the refresh token that request is redeeming.
    pub(super) fn abandon_in_flight(&mut self, now: Millis) {
        let Some(in_flight) = self.in_flight.take() else { return };
        let Some(lock) = in_flight.lock else { return };
        match in_flight.phase {
            FetchPhase::Fetching(fetch) if !self.is_disposed() => {
                if let Some((_, previous)) = self.orphan.replace((fetch, lock)) {
                    self.outputs.push_back(Output::ReleaseLock { lock: previous });
                }
                if self.timers.get(Timer::LockHold).is_none() {
                    self.timers.set(Timer::LockHold, now.saturating_add(self.config.lock_timeout_ms));
                }
            }
            _ => self.outputs.push_back(Output::ReleaseLock { lock }),
        }
    }

    pub(super) fn on_fetch_failure(&mut self, now: Millis, forced: bool, error: AuthError) {
        let retry_at = now.saturating_add(self.backoff.next_delay_ms());
        self.trace(Trace::fetch_failed(error));
        self.share_failure(now, retry_at, error);
        self.note_failure(now, forced, error, retry_at);
    }

    /// An attempt failed (this tab's, or the app's in another tab): retry at `retry_at`, keep the
    /// token while it is valid, and settle as unauthenticated once nothing valid is left.
    pub(super) fn note_failure(&mut self, now: Millis, forced: bool, error: AuthError, retry_at: Millis) {
        self.failures += 1;
        self.last_failure = Some(error);
        self.retry_forced = forced;
        let token_valid = self.current.as_ref().is_some_and(|t| {
            t.verdict != TokenVerdict::Rejected && t.expires_at.is_none_or(|at| now < at)
        });
        let keep_loading = self.state == AuthState::Loading && self.failures < self.config.startup_attempts;
        self.trace(Trace::retry_scheduled(retry_at.saturating_sub(now)));
        self.timers.set(Timer::Retry, retry_at);
        if token_valid || keep_loading {
            // Callers content with the current token need not wait for the retry; those that need
            // a newer one get the retry after the backoff's first step, then the error.
            if token_valid {
                self.resolve_current_waiters();
            }
            self.fail_waiters_past_retry(error);
        } else {
            // Retries go on in the background so the session recovers when the issuer does.
            self.current = None;
            self.settle_unauthenticated(Some(error));
        }
    }
}
