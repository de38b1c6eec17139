//! Taking a token: judging one our fetch returned (stale, expired in transit, beaten by a peer's),
//! then installing it — generation, refresh and expiry timers, waiters answered.

use alloc::string::String;

use super::attempt::InFlight;
use super::trust::{token_digest, Identity};
use super::{schedule, CurrentToken, Output, Session, TokenVerdict};
use crate::core::errors::{AuthError, ErrorCode};
use crate::core::peer_message::PeerMessage;
use crate::core::state::{AuthState, FetchReason, Trace, TraceKind};
use crate::core::timers::Timer;
use crate::core::token::{self, Claims};
use crate::core::Millis;

/// Where a token being installed comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// A fetch of ours, started at `started_at`; `forced`: with `forceRefreshToken: true`.
    Fetch { forced: bool, started_at: Millis },
    /// A peer's token (or a stored record), from a fetch that started at `minted_at`: as good as
    /// a forced fetch of ours.
    Peer { minted_at: Millis },
}

impl Origin {
    fn forced(self) -> bool {
        match self {
            Origin::Fetch { forced, .. } => forced,
            Origin::Peer { .. } => true,
        }
    }

    /// When the fetch that produced the token started.
    fn minted_at(self) -> Millis {
        match self {
            Origin::Fetch { started_at, .. } => started_at,
            Origin::Peer { minted_at } => minted_at,
        }
    }
}

impl Session {
    /// Estimated ms of validity left of a token with these claims (see [`schedule::remaining_ms`]).
    pub(super) fn remaining_ms(&self, now: Millis, claims: &Claims, minted_since: Option<Millis>) -> Option<u64> {
        schedule::remaining_ms(now, claims, minted_since, self.skew_ms)
    }

    /// Takes the token a fetch of ours returned.
    pub(super) fn adopt(&mut self, now: Millis, raw: String, claims: Claims, in_flight: InFlight) {
        let forced = in_flight.force;
        let previous = self.current.as_ref();
        let same_as_current = previous.is_some_and(|t| t.raw == raw);
        if same_as_current && previous.is_some_and(|t| t.verdict == TokenVerdict::Rejected) {
            self.stop_timers();
            let error = AuthError::new(
                ErrorCode::TokenRejected,
                "the forced refresh returned the token the server had just rejected",
            );
            self.current = None;
            self.forget_stored_token();
            self.settle_unauthenticated(Some(error));
            return;
        }
        // A forced token was minted after we asked, unless the callback answered from its cache
        // with a token this tab already had: then neither its age nor the clock can be read from it.
        let minted_after_asking = forced && token_digest(&raw) != self.last_installed;
        if minted_after_asking {
            if let Some(iat) = claims.iat {
                // Its iat tells how far our clock is off.
                self.learn_skew(in_flight.fetch_started_at, iat.saturating_mul(1000));
            }
        }
        let minted_since = minted_after_asking.then_some(in_flight.fetch_started_at);
        let remaining = self.remaining_ms(now, &claims, minted_since);
        let leeway = self.config.refresh_leeway_ms;
        if !forced && !same_as_current && remaining.is_some_and(|left| schedule::is_stale(left, &claims, leeway)) {
            // A cached token near its end: one forced fetch instead of sending it — under the lock
            // this fetch held, so that the tabs queued behind get the forced token rather than each
            // fetching a cached one that looks as old (a clock an hour ahead makes every one look so).
            return match in_flight.lock {
                Some(_) => self.refetch_under_lock(now, in_flight),
                None => self.start_fetch(now, true, FetchReason::Stale),
            };
        }
        if remaining == Some(0) {
            // Its whole lifetime went by while the request was out (a frozen tab, a stalled network),
            // or the callback handed back an expired token it had cached. (An unforced fetch's new
            // token with nothing left was stale, and fetched again forced, above.) Installed, it
            // would be refreshed at once, and again: a failure backs off instead.
            let error = AuthError::new(ErrorCode::TokenExpired, "the token had expired by the time it arrived");
            return self.on_fetch_failure(now, forced, error);
        }
        if self.generation() > in_flight.started_generation && !same_as_current {
            // Commit guard: a peer's token arrived while we fetched; ours only wins if it lives longer
            // — or if a forced request waits for this very fetch (the peer's token predates it).
            let ours = remaining.map(|left| now.saturating_add(left));
            if let (Some(theirs), Some(ours)) = (self.expires_at(), ours) {
                if theirs >= ours && !(forced && self.awaits_fetch_started_at(in_flight.fetch_started_at)) {
                    self.trace(Trace::event(TraceKind::StaleResultDropped));
                    return;
                }
            }
        }
        self.identity = Some(Identity::of(&claims));
        self.install(now, raw, claims, remaining, Origin::Fetch { forced, started_at: in_flight.fetch_started_at });
        if !same_as_current {
            self.share_current();
        }
    }

    /// Fetches again, forced, with the lock the attempt that just returned still holds (peers
    /// queued for it are told, so their patience starts again).
    fn refetch_under_lock(&mut self, now: Millis, attempt: InFlight) {
        self.in_flight = Some(InFlight { force: true, reason: FetchReason::Stale, ..attempt });
        self.outputs.push_back(Output::Broadcast(PeerMessage::Holding.write(self.json, 0)));
        self.begin_fetch(now);
    }

    /// Makes `raw` the current token (or re-schedules it, when it is the current one), arms the
    /// refresh and expiry timers, and answers waiters.
    pub(super) fn install(&mut self, now: Millis, raw: String, claims: Claims, remaining: Option<u64>, origin: Origin) {
        let same_as_current = self.current.as_ref().is_some_and(|t| t.raw == raw);
        self.last_installed = token_digest(&raw);
        self.failures = 0;
        self.last_failure = None;
        self.timers.stop(Timer::Retry);
        self.end_app_backoff(origin.minted_at(), matches!(origin, Origin::Fetch { .. }));

        let mut refresh_at = remaining.map(|left| now.saturating_add(schedule::refresh_delay(left, self.config.refresh_leeway_ms)));
        if same_as_current {
            // The callback handed back the token this tab holds (it ignores `forceRefreshToken`, or
            // its cache has not rolled over yet): asked again sooner, it would answer the same. Once
            // the token has expired, that answer is a failure, and failures back off.
            refresh_at = refresh_at.map(|at| at.max(now.saturating_add(schedule::MIN_REFRESH_DELAY_MS)));
        }
        self.backoff.reset();
        let expires_at = remaining.map(|left| now.saturating_add(left));

        let tail = token::redact(&raw);
        if same_as_current {
            self.trace(Trace::same_token_returned(tail));
            if let Some(current) = self.current.as_mut() {
                current.refresh_at = refresh_at;
                current.expires_at = expires_at;
            }
        } else {
            self.generation += 1;
            self.current = Some(CurrentToken {
                raw,
                generation: self.generation,
                claims,
                expires_at,
                refresh_at,
                verdict: TokenVerdict::Pending,
                minted_at: origin.minted_at(),
            });
            self.trace(Trace::token_adopted(tail, remaining));
            self.outputs.push_back(Output::TokenChanged { generation: self.generation });
        }
        match refresh_at {
            Some(at) => {
                self.timers.set(Timer::Refresh, at);
                self.trace(Trace::refresh_scheduled(at.saturating_sub(now)));
            }
            None => self.timers.stop(Timer::Refresh),
        }
        match expires_at {
            Some(at) => self.timers.set(Timer::Expiry, at),
            None => self.timers.stop(Timer::Expiry),
        }

        if self.clients == 0 {
            self.set_state(AuthState::Authenticated, None);
        }
        self.resolve_waiters_after_fetch(now, origin.forced(), origin.minted_at());
    }
}
