//! Token requests waiting for an answer, and which token (or error) answers each.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Generation, Output, Session, TokenNeed, WaiterId};
use crate::core::errors::AuthError;
use crate::core::state::FetchReason;
use crate::core::Millis;

#[derive(Debug, Clone, Copy)]
pub(super) struct Waiter {
    pub(super) id: WaiterId,
    pub(super) need: TokenNeed,
    /// When it asked: a forced request is answered only by a token whose fetch started since.
    pub(super) asked_at: Millis,
    /// Failed fetches it has waited through; the second one answers it with the error.
    pub(super) failures_seen: u32,
}

/// Failed fetches a `Forced` or `NewerThan` waiter waits through (the attempt it joined, then the
/// retry after the backoff's first step) before it is answered with the error.
const WAITER_FAILURES: u32 = 2;

impl Session {
    /// Whether a forced request waits for a fetch that started at `started_at` (it asked before).
    pub(super) fn awaits_fetch_started_at(&self, started_at: Millis) -> bool {
        self.waiters.iter().any(|w| w.need == TokenNeed::Forced && w.asked_at <= started_at)
    }

    /// Answers the waiters the token just installed satisfies; `fetched_since`: when the fetch
    /// that produced it started.
    pub(super) fn resolve_waiters_after_fetch(&mut self, now: Millis, forced: bool, fetched_since: Millis) {
        let Some((generation, raw)) = self.current.as_ref().map(|t| (t.generation, t.raw.clone())) else {
            return;
        };
        let mut still_waiting = Vec::new();
        for waiter in core::mem::take(&mut self.waiters) {
            let waits = match waiter.need {
                TokenNeed::Current => false,
                // Only an unforced fetch can be improved on; a forced one that returned the same token is final.
                TokenNeed::NewerThan(held) => held >= generation && !forced,
                // A forced waiter wants a forced fetch that started after it asked (ours or a peer's).
                TokenNeed::Forced => !(forced && fetched_since >= waiter.asked_at),
            };
            if waits {
                still_waiting.push(waiter);
            } else {
                let result = Ok(Some((generation, raw.clone())));
                self.outputs.push_back(Output::ResolveToken { waiter: waiter.id, result });
            }
        }
        if !still_waiting.is_empty() {
            self.waiters = still_waiting;
            self.start_fetch(now, true, FetchReason::Requested);
        }
    }

    /// Answers with `error` the `Forced`/`NewerThan` waiters that have now seen [`WAITER_FAILURES`] failures.
    pub(super) fn fail_waiters_past_retry(&mut self, error: AuthError) {
        let mut still_waiting = Vec::new();
        for mut waiter in core::mem::take(&mut self.waiters) {
            if waiter.need != TokenNeed::Current {
                waiter.failures_seen += 1;
                if waiter.failures_seen >= WAITER_FAILURES {
                    self.outputs.push_back(Output::ResolveToken { waiter: waiter.id, result: Err(error) });
                    continue;
                }
            }
            still_waiting.push(waiter);
        }
        self.waiters = still_waiting;
    }

    pub(super) fn resolve_current_waiters(&mut self) {
        let Some((generation, raw)) = self.current.as_ref().map(|t| (t.generation, t.raw.clone())) else {
            return;
        };
        let (current, others): (Vec<Waiter>, Vec<Waiter>) =
            core::mem::take(&mut self.waiters).into_iter().partition(|w| w.need == TokenNeed::Current);
        self.waiters = others;
        for waiter in current {
            let result = Ok(Some((generation, raw.clone())));
            self.outputs.push_back(Output::ResolveToken { waiter: waiter.id, result });
        }
    }

    pub(super) fn resolve_all_waiters(&mut self, result: Result<Option<(Generation, String)>, AuthError>) {
        for waiter in core::mem::take(&mut self.waiters) {
            self.outputs.push_back(Output::ResolveToken { waiter: waiter.id, result: result.clone() });
        }
    }
}
