//! Cross-tab coordination for [`Session`]: the refresh lock, token sharing, sign-out everywhere.
//!
//! Every fetch runs under the app's lock. While a tab waits for it, it has already asked its
//! peers for their token; a fresh one from a peer makes the fetch unnecessary and the lock request
//! is abandoned. With the lock, the tab gives peers a short grace to answer (their broadcast and
//! the lock grant can arrive in either order) unless the grant was uncontended, then fetches,
//! broadcasts what it got, and releases.
//! Waiting too long steals the lock (a frozen holder); holding it too long releases it, and a late
//! result is then only kept if no longer-lived token was committed meanwhile (the commit guard).

use alloc::string::String;

use super::adopt::Origin;
use super::attempt::{FetchPhase, InFlight};
use super::trust::{plausible_time, Doubt, Identity};
use super::{LockId, Output, Session, TokenNeed, TokenVerdict};
use crate::core::peer_message::PeerMessage;
use crate::core::state::{Trace, TraceKind};
use crate::core::timers::Timer;
use crate::core::token;
use crate::core::Millis;

/// How a lock grant came about, as far as the driver can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockGrant {
    /// The lock was free, with nobody queued for it, when this tab asked (Web Locks `ifAvailable`),
    /// and no other tab of the app was there to answer a request for its token.
    Uncontended,
    /// Handed over by a holder, taken by a steal, or granted by a lock that cannot tell (the
    /// localStorage lease).
    MaybeContended,
}

impl Session {
    /// Cross-tab: the lock requested as `lock` is now held, granted as `grant` says. A grant nobody
    /// waits for is given back.
    pub fn handle_lock_acquired(&mut self, now: Millis, lock: LockId, grant: LockGrant) {
        let waiting = self.in_flight.as_ref().is_some_and(|f| f.lock == Some(lock) && f.phase == FetchPhase::AwaitingLock);
        if self.is_disposed() || !waiting {
            self.outputs.push_back(Output::ReleaseLock { lock });
            return;
        }
        self.timers.stop(Timer::LockWait);
        self.trace(Trace::event(TraceKind::LockAcquired));
        let skip_grace = self.config.peer_grace_ms == 0 || self.is_fresh_uncontended(now, grant);
        if self.is_satisfied_by_peer(now) {
            return self.finish_without_fetch();
        }
        // Tell the tabs queued behind: their patience runs from this hand-over.
        self.outputs.push_back(Output::Broadcast(PeerMessage::Holding.write(self.json, 0)));
        if let Some(in_flight) = self.in_flight.as_mut() {
            in_flight.lock_acquired_at = now;
        }
        if skip_grace {
            self.begin_fetch(now);
        } else {
            if let Some(in_flight) = self.in_flight.as_mut() {
                in_flight.phase = FetchPhase::PeerGrace;
            }
            self.timers.set(Timer::PeerGrace, now.saturating_add(self.config.peer_grace_ms));
        }
    }

    /// Cross-tab: the lock granted as `lock` was taken by a tab that waited too long for it (this
    /// tab was frozen or slow). Before fetching, the attempt queues again; once fetching, it goes on
    /// without the lock and its result is commit-guarded.
    pub fn handle_lock_lost(&mut self, now: Millis, lock: LockId) {
        let Some(mut in_flight) = self.in_flight.filter(|f| f.lock == Some(lock)) else { return };
        self.trace(Trace::event(TraceKind::LockLost));
        match in_flight.phase {
            FetchPhase::Fetching(_) => {
                self.timers.stop(Timer::LockHold);
                if let Some(current) = self.in_flight.as_mut() {
                    current.lock = None;
                }
            }
            FetchPhase::AwaitingLock | FetchPhase::PeerGrace => {
                self.timers.stop(Timer::PeerGrace);
                self.request_lock(now, &mut in_flight);
                self.in_flight = Some(in_flight);
            }
        }
    }

    /// Cross-tab: the request for the lock `lock` failed for good (Web Locks refused it: an opaque
    /// origin such as a sandboxed iframe, a `SecurityError`). The attempt waiting for it fetches
    /// without the lock rather than wait forever; the next attempt asks again.
    pub fn handle_lock_unavailable(&mut self, now: Millis, lock: LockId) {
        let waiting = self.in_flight.is_some_and(|f| f.lock == Some(lock) && f.phase == FetchPhase::AwaitingLock);
        if self.is_disposed() || !waiting {
            return;
        }
        self.work_alone(now);
    }

    /// Cross-tab: the driver gave back every lock this tab held or asked for (`pagehide`: the page
    /// is closing, or entering the back/forward cache, where a held lock would stall every other
    /// tab). A fetch under way goes on unlocked, commit-guarded, as after a steal; an attempt that
    /// held or awaited the lock asks for it again when the page wakes ([`Self::handle_wake`]), or
    /// after a lock timeout if it never slept.
    pub fn handle_locks_released(&mut self, now: Millis) {
        if self.is_disposed() {
            return;
        }
        self.orphan = None;
        self.timers.stop(Timer::LockHold);
        let Some(mut in_flight) = self.in_flight.filter(|f| f.lock.is_some()) else { return };
        in_flight.lock = None;
        if in_flight.phase != FetchPhase::AwaitingLock {
            self.trace(Trace::event(TraceKind::LockLost));
        }
        if !matches!(in_flight.phase, FetchPhase::Fetching(_)) {
            self.timers.stop(Timer::PeerGrace);
            in_flight.phase = FetchPhase::AwaitingLock;
            self.timers.set(Timer::LockWait, now.saturating_add(self.config.lock_timeout_ms));
        }
        self.in_flight = Some(in_flight);
    }

    /// After a wake: an attempt whose lock was given back while the page was hidden asks again now.
    pub(super) fn hurry_lock_given_back(&mut self, now: Millis) {
        if self.in_flight.is_some_and(|f| f.phase == FetchPhase::AwaitingLock && f.lock.is_none()) {
            self.timers.set(Timer::LockWait, now);
        }
    }

    /// Gives up on the lock for the attempt waiting for it, and fetches.
    fn work_alone(&mut self, now: Millis) {
        self.timers.stop(Timer::LockWait);
        self.trace(Trace::event(TraceKind::LockUnavailable));
        if let Some(in_flight) = self.in_flight.as_mut() {
            in_flight.lock = None;
        }
        self.begin_fetch(now);
    }

    /// Cross-tab: a message from another tab of this app, as received (or a persisted record
    /// restored from storage). Anything that does not validate is counted and ignored.
    pub fn handle_peer_message(&mut self, now: Millis, text: &str) {
        if self.is_disposed() {
            return;
        }
        self.take_recalled_sign_out(now);
        let (at, message) = match PeerMessage::read(self.json, text) {
            Ok((at, message)) => (plausible_time(now, at, self.signed_out_at), message),
            Err(_) => return self.ignore_peer_message(),
        };
        if message == PeerMessage::Holding {
            self.note_lock_activity(now);
        }
        match message {
            PeerMessage::Token { token, expires_at } => self.adopt_from_peer(now, token, expires_at, at),
            PeerMessage::Request | PeerMessage::Holding => {
                if self.usable_generation(now).is_some() {
                    self.share_current();
                }
            }
            PeerMessage::SignedOut => {
                if at <= self.signed_out_at {
                    return; // Old news: this sign-out, or a later one, was already applied.
                }
                self.signed_out_at = at;
                // Only what predates the sign-out goes: a sign-in in this tab since then stays.
                let token_predates = self.current.as_ref().is_some_and(|t| t.minted_at <= at);
                let fetch_predates = self.in_flight.is_some_and(|f| f.fetch_started_at <= at);
                let nothing_newer = self.current.is_none() && self.in_flight.is_none();
                if token_predates || fetch_predates || nothing_newer {
                    self.trace(Trace::event(TraceKind::PeerSignedOut));
                    self.sign_out_here(now);
                }
            }
            PeerMessage::Failed { retry_at, failures, code } => self.adopt_peer_failure(now, at, retry_at, failures, code),
            PeerMessage::Clock { issuer_at } => self.adopt_peer_clock(now, at, issuer_at),
        }
    }

    /// Whether a grant proves that no peer's token can be on its way to us, so the grace can go.
    ///
    /// The grace is for two races. Peers answer the request for their token we sent before asking
    /// for the lock, and the grant can come first. And a holder stores its rotated refresh token,
    /// broadcasts its access token, then releases: the lock manager's hand-over to the next tab can
    /// overtake the broadcast (and the storage write). An uncontended grant rules out both: no
    /// other tab was there to answer, and there was no hand-over — the lock was free with nobody
    /// queued when we asked, so every earlier holder had released (and so stored and broadcast)
    /// before our request. Tabs that queue after us wait for us. What is left, a broadcast still
    /// in flight after a whole lock round trip, costs at worst one redundant fetch, which reads the
    /// refresh token stored before that release (provided the store's write has reached this tab
    /// by then: a cross-process localStorage write slower than a lock round trip is not covered).
    ///
    /// Trusted only within a lock timeout of our request: a thief steals after waiting that long
    /// from a request made after ours, so a grant delivered later (this tab was frozen with it
    /// queued) may already be stolen, with the news behind it; the grace gives that news time.
    fn is_fresh_uncontended(&self, now: Millis, grant: LockGrant) -> bool {
        grant == LockGrant::Uncontended
            && self.in_flight.is_some_and(|f| now.saturating_sub(f.lock_requested_at) < self.config.lock_timeout_ms)
    }

    pub(super) fn request_lock(&mut self, now: Millis, in_flight: &mut InFlight) {
        let lock = self.next_lock;
        self.next_lock += 1;
        in_flight.lock = Some(lock);
        in_flight.lock_requested_at = now;
        in_flight.phase = FetchPhase::AwaitingLock;
        in_flight.steals = 0;
        self.timers.set(Timer::LockWait, now.saturating_add(self.config.lock_timeout_ms));
        // Ask first: a peer's fresh token may arrive before the lock does.
        self.outputs.push_back(Output::Broadcast(PeerMessage::Request.write(self.json, 0)));
        self.outputs.push_back(Output::AcquireLock { lock, steal: false });
    }

    pub(super) fn on_lock_wait_timeout(&mut self, now: Millis) {
        let Some(mut in_flight) = self.in_flight.filter(|f| f.phase == FetchPhase::AwaitingLock) else { return };
        match in_flight.lock {
            // Given back while the page was hidden, and no wake since: ask again.
            None => {
                self.request_lock(now, &mut in_flight);
                self.in_flight = Some(in_flight);
            }
            Some(lock) if in_flight.steals < 2 => {
                // The holder is gone or frozen: take the lock from it rather than wait without end.
                // Asked a second time, the driver also takes the takeover lock from the thief that
                // stealers queue behind: one that never lets go (frozen) must not hang them all.
                self.trace(Trace::event(TraceKind::LockStolen));
                in_flight.steals += 1;
                self.in_flight = Some(in_flight);
                self.timers.set(Timer::LockWait, now.saturating_add(self.steal_patience()));
                self.outputs.push_back(Output::AcquireLock { lock, steal: true });
            }
            Some(lock) => {
                // Not even a forced steal was granted: a lock manager that dropped the request.
                // Fetching unlocked beats waiting forever.
                self.outputs.push_back(Output::ReleaseLock { lock });
                self.work_alone(now);
            }
        }
    }

    /// How long a stealer waits for its steal: stealers queue behind the thief holding the takeover
    /// lock, which gives it back within its peer grace and a lock hold, and no later.
    fn steal_patience(&self) -> u64 {
        self.config.lock_timeout_ms.saturating_add(self.config.peer_grace_ms).saturating_add(1)
    }

    pub(super) fn on_peer_grace_over(&mut self, now: Millis) {
        let Some(mut in_flight) = self.in_flight.filter(|f| f.phase == FetchPhase::PeerGrace) else { return };
        if now.saturating_sub(in_flight.lock_acquired_at) >= self.config.lock_timeout_ms {
            // This tab slept through its grace (frozen): its lock may have been stolen meanwhile
            // and the news not delivered yet (a waiter that asked at the grant steals a lock
            // timeout later, in that very millisecond too). Queue again rather than fetch beside the thief.
            if let Some(lock) = in_flight.lock.take() {
                self.outputs.push_back(Output::ReleaseLock { lock });
            }
            self.request_lock(now, &mut in_flight);
            self.in_flight = Some(in_flight);
            return;
        }
        self.begin_fetch(now);
    }

    pub(super) fn on_lock_hold_timeout(&mut self) {
        if let Some((_, lock)) = self.orphan.take() {
            self.trace(Trace::event(TraceKind::LockReleasedOnTimeout));
            self.outputs.push_back(Output::ReleaseLock { lock });
        }
        let Some(in_flight) = self.in_flight.as_mut() else { return };
        // Only a fetch that is running gives its lock up; a newer attempt's lock is not this timer's.
        if let FetchPhase::Fetching(_) = in_flight.phase {
            if let Some(lock) = in_flight.lock.take() {
                self.trace(Trace::event(TraceKind::LockReleasedOnTimeout));
                self.outputs.push_back(Output::ReleaseLock { lock });
            }
        }
    }

    /// Tells peers (and storage) about the current token — unless it has no `exp`: nothing would
    /// ever refresh it in the tabs that took it (see `trust`).
    pub(super) fn share_current(&mut self) {
        let Some(current) = self.current.as_ref().filter(|t| t.expires_at.is_some()) else { return };
        if !self.config.cross_tab && !self.config.persist {
            return;
        }
        let record = PeerMessage::Token { token: current.raw.clone(), expires_at: current.expires_at }.write(self.json, current.minted_at);
        if self.config.persist {
            self.outputs.push_back(Output::Persist(Some(record.clone())));
        }
        if self.config.cross_tab {
            self.outputs.push_back(Output::Broadcast(record));
        }
    }

    /// The lock changed hands, or its holder shared its result: whoever holds it now is alive, so
    /// a waiting tab's patience starts again (a queue of slow holders is not a frozen one).
    fn note_lock_activity(&mut self, now: Millis) {
        let Some(in_flight) = self.in_flight.filter(|f| f.phase == FetchPhase::AwaitingLock && f.lock.is_some()) else {
            return;
        };
        let patience = if in_flight.steals > 0 { self.steal_patience() } else { self.config.lock_timeout_ms };
        self.timers.set(Timer::LockWait, now.saturating_add(patience));
    }

    fn ignore_peer_message(&mut self) {
        self.ignored_peer_messages += 1;
        self.trace(Trace::event(TraceKind::PeerMessageIgnored));
    }

    /// A token from a peer (or storage): adopted when it is valid, not the one our server rejected,
    /// and outlives the current one.
    pub(super) fn adopt_from_peer(&mut self, now: Millis, raw: String, expires_at: Option<Millis>, minted_at: Millis) {
        let Ok(decoded) = token::decode_with(self.json, &raw) else {
            return self.ignore_peer_message();
        };
        self.note_lock_activity(now);
        let tail = token::redact(&raw);
        if self.signed_out_at > 0 && minted_at <= self.signed_out_at {
            // Fetched before a sign-out this tab has seen: it must not sign anyone back in.
            return self.trace(Trace::stale_broadcast_ignored(tail));
        }
        if self.last_rejected.as_deref() == Some(raw.as_str()) {
            return self.trace(Trace::stale_broadcast_ignored(tail));
        }
        if self.current.as_ref().is_some_and(|t| t.raw == raw) {
            return;
        }
        let left = match self.judge_offer(now, &decoded.claims, expires_at, minted_at) {
            Ok(left) => left,
            Err(Doubt::Expired) => return self.trace(Trace::stale_broadcast_ignored(tail)),
            // Implausible: counted with the malformed.
            Err(Doubt::NoExpiry | Doubt::ForeignBackend | Doubt::OtherSubject) => return self.ignore_peer_message(),
        };
        let remaining = Some(left);
        let outlives_current = match self.current.as_ref() {
            None => true,
            Some(current) if current.verdict == TokenVerdict::Rejected => true,
            Some(current) => current.expires_at.is_some_and(|at| now.saturating_add(left) > at),
        };
        if !outlives_current {
            return self.trace(Trace::stale_broadcast_ignored(tail));
        }
        self.trace(Trace::peer_token_adopted(tail, remaining));
        // A session that has not fetched yet takes its identity from the first token it adopts.
        self.identity.get_or_insert_with(|| Identity::of(&decoded.claims));
        self.install(now, raw, decoded.claims, remaining, Origin::Peer { minted_at });
        if self.is_satisfied_by_peer(now) {
            self.finish_without_fetch();
        }
    }

    /// Whether the attempt in flight (before its fetch started) is answered by a newer, usable token
    /// (a forced request still waiting was not: the token predates it).
    fn is_satisfied_by_peer(&self, now: Millis) -> bool {
        let Some(in_flight) = self.in_flight else { return false };
        !matches!(in_flight.phase, FetchPhase::Fetching(_))
            && self.generation() > in_flight.started_generation
            && self.usable_generation(now).is_some()
            && !self.waiters.iter().any(|w| w.need == TokenNeed::Forced)
    }

    fn finish_without_fetch(&mut self) {
        self.timers.stop(Timer::LockWait);
        self.timers.stop(Timer::PeerGrace);
        self.trace(Trace::event(TraceKind::FetchSkipped));
        self.abandon_in_flight(0);
    }
}
