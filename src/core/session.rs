//! The session: one state machine for the whole token lifecycle.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use super::backoff::Backoff;
use super::errors::{AuthError, ErrorCode};
use super::gate::{Gate, OpDecision, OpId};
use super::state::{AuthState, FetchReason, Trace, TraceKind};
use super::timers::{Timer, TimerTable};
use super::token::{self, Claims};
use super::Millis;

mod cross_tab;

/// Identifies one call of the app's `fetchAccessToken`; results for any other id are dropped.
pub type FetchId = u64;
/// Numbers the tokens a session adopts, starting at 1; a byte-identical re-fetch keeps its number.
pub type Generation = u64;
/// A caller-chosen id for one token request, echoed in [`Output::ResolveToken`].
pub type WaiterId = u32;
/// Identifies one request for the cross-tab refresh lock; grants for any other id are given back.
pub type LockId = u64;

/// Scheduling never lands a refresh sooner than this after receipt (unless the token itself
/// lives less than twice as long), so a short-lived token cannot cause a refresh storm.
pub const MIN_REFRESH_DELAY_MS: u64 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Refresh this long before the token's estimated expiry (convex-js's default is 10 s).
    pub refresh_leeway_ms: u64,
    /// Hold operations until the server accepts the first token.
    pub expect_auth: bool,
    /// When auth settles as signed out, reject held operations instead of running them unauthenticated.
    pub reject_held_when_signed_out: bool,
    /// A callback that has not settled after this long counts as failed.
    pub fetch_timeout_ms: u64,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// Failed startup attempts before `Loading` settles as `Unauthenticated` (retries continue).
    pub startup_attempts: u32,
    /// Seeds the backoff jitter.
    pub seed: u64,
    /// Coordinate with the app's other tabs: refresh under a shared lock, share tokens, sign out everywhere.
    pub cross_tab: bool,
    /// Cross-tab: waiting longer than this for the lock steals it; holding it longer releases it.
    pub lock_timeout_ms: u64,
    /// Cross-tab: after taking the lock, how long peers get to answer a request for their token.
    pub peer_grace_ms: u64,
    /// Emit [`Output::Persist`] so the driver can keep the token in storage.
    pub persist: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            refresh_leeway_ms: 10_000,
            expect_auth: false,
            reject_held_when_signed_out: false,
            fetch_timeout_ms: 30_000,
            backoff_initial_ms: 1_000,
            backoff_max_ms: 30_000,
            startup_attempts: 3,
            seed: 0x5eed,
            cross_tab: false,
            lock_timeout_ms: 10_000,
            peer_grace_ms: 50,
            persist: false,
        }
    }
}

/// What the app's callback produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    Token(String),
    /// `null` or `undefined`: the user is signed out.
    SignedOut,
    /// The callback threw, rejected, or returned something that is not a string.
    Failed(AuthError),
}

/// What a token request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenNeed {
    /// Any usable token (cached if fresh).
    Current,
    /// A token newer than the given generation; fetches with `forceRefreshToken: true` unless
    /// a newer one is already held. While `Unauthenticated` it answers at once (`None` or the
    /// settled error) and never fetches: only `Current`/`Forced` requests reopen a settled session.
    NewerThan(Generation),
    /// A fetch with `forceRefreshToken: true`, whatever is held.
    Forced,
}

/// The server's verdict on a token it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Rejected,
}

/// Everything the session asks the driver to do or tell, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Command: call `fetchAccessToken({ forceRefreshToken })` and report with `handle_fetch_result(fetch, …)`.
    FetchToken { fetch: FetchId, force_refresh: bool },
    /// Command: answer a token request.
    ResolveToken { waiter: WaiterId, result: Result<Option<(Generation, String)>, AuthError> },
    /// Command: run these held operations now, in this order.
    ReleaseOperations(Vec<OpId>),
    /// Command: fail these held operations with this error.
    RejectOperations(Vec<OpId>, AuthError),
    /// Event: a new token replaced the current one; clients holding an older one should get it.
    TokenChanged { generation: Generation },
    /// Event: the public state changed (never repeated for the same state and error).
    StateChanged { state: AuthState, error: Option<AuthError> },
    /// Event: one line of the timeline, for verbose logs and the demo.
    Trace(Trace),
    /// Command (cross-tab): request the refresh lock as `lock`. With `steal`, take it from a holder
    /// that has kept it too long — but only one stealer at a time (drivers queue stealers on a
    /// second lock), so two impatient tabs never fetch at once. Report the grant with
    /// `handle_lock_acquired(lock)`, and a grant taken away with `handle_lock_lost(lock)`.
    AcquireLock { lock: LockId, steal: bool },
    /// Command (cross-tab): release the lock, or abandon the request if it was not granted yet.
    ReleaseLock { lock: LockId },
    /// Command (cross-tab): send this encoded [`PeerMessage`](super::peer_message::PeerMessage) to the app's other tabs.
    Broadcast(String),
    /// Command (with `Config::persist`): store this encoded token record, or remove it (`None`).
    /// Feed a stored record back at startup through `handle_peer_message`.
    Persist(Option<String>),
    /// Command (cross-tab): keep this sign-out time where tabs opened later can read it (a
    /// broadcast reaches only the tabs open now), and hand it to them with `recall_sign_out`.
    RecordSignOut(Millis),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenVerdict {
    Pending,
    Accepted,
    Rejected,
}

#[derive(Debug, Clone)]
struct CurrentToken {
    raw: String,
    generation: Generation,
    claims: Claims,
    /// `None` for tokens without `exp`: they are never refreshed proactively.
    expires_at: Option<Millis>,
    refresh_at: Option<Millis>,
    verdict: TokenVerdict,
    /// When the fetch that produced it started (a peer's token: when the peer's fetch started).
    minted_at: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FetchPhase {
    /// Cross-tab: waiting for the refresh lock (a peer's token may still make the fetch unnecessary).
    AwaitingLock,
    /// Cross-tab: holding the lock, giving peers a moment to answer before fetching.
    PeerGrace,
    /// The app's callback is running.
    Fetching(FetchId),
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    phase: FetchPhase,
    force: bool,
    reason: FetchReason,
    /// The cross-tab lock this attempt holds or waits for.
    lock: Option<LockId>,
    /// The generation current when the need arose: a newer one satisfies it.
    started_generation: Generation,
    /// When the callback was called: a forced token was minted no earlier.
    fetch_started_at: Millis,
    /// When the lock was granted (to notice a grace period overslept by a frozen tab).
    lock_acquired_at: Millis,
}

#[derive(Debug, Clone, Copy)]
struct Waiter {
    id: WaiterId,
    need: TokenNeed,
    /// When it asked: a forced request is answered only by a token whose fetch started since.
    asked_at: Millis,
    /// Failed fetches it has waited through; the second one answers it with the error.
    failures_seen: u32,
}

/// Failed fetches a `Forced` or `NewerThan` waiter waits through (the attempt it joined, then the
/// retry after the backoff's first step) before it is answered with the error.
const WAITER_FAILURES: u32 = 2;

/// The client-side token lifecycle of one app, as a deterministic state machine.
///
/// # Contract
/// - **Getters**: [`state`](Self::state), [`error`](Self::error), [`claims`](Self::claims),
///   [`generation`](Self::generation), [`expires_at`](Self::expires_at),
///   [`refresh_at`](Self::refresh_at), [`is_holding_operations`](Self::is_holding_operations).
/// - **Inputs** (`handle_*`, each taking `now`): [`handle_fetch_result`](Self::handle_fetch_result),
///   [`handle_token_request`](Self::handle_token_request), [`handle_server_verdict`](Self::handle_server_verdict),
///   [`handle_timeout`](Self::handle_timeout), [`handle_wake`](Self::handle_wake).
/// - **Mutators**: [`start`](Self::start), [`attach_client`](Self::attach_client), [`detach_client`](Self::detach_client),
///   [`submit_operation`](Self::submit_operation), [`cancel_operation`](Self::cancel_operation),
///   [`sign_out`](Self::sign_out), [`dispose`](Self::dispose).
/// - **Outputs**: [`poll`](Self::poll) drains [`Output`]s in order; [`poll_timeout`](Self::poll_timeout)
///   is the one deadline at which to call `handle_timeout`.
///
/// After any input or mutator, the driver drains `poll()` until `None`, performs the commands,
/// then re-arms its single timer from `poll_timeout()`. Early or repeated `handle_timeout`
/// calls are harmless no-ops.
#[derive(Debug, Clone)]
pub struct Session {
    config: Config,
    state: AuthState,
    error: Option<AuthError>,
    current: Option<CurrentToken>,
    generation: Generation,
    next_fetch: FetchId,
    in_flight: Option<InFlight>,
    waiters: Vec<Waiter>,
    backoff: Backoff,
    /// Failed fetches since the last success.
    failures: u32,
    last_failure: Option<AuthError>,
    /// Whether the pending retry should be a forced fetch.
    retry_forced: bool,
    /// Rejections since the last acceptance; the second one settles as unauthenticated.
    rejections: u32,
    /// Client clock minus issuer clock, learnt from a freshly forced token's `iat`.
    skew_ms: Option<i64>,
    /// Clients reporting server verdicts (wrapped clients, graphql-ws sockets).
    clients: u32,
    gate: Gate,
    timers: TimerTable,
    outputs: VecDeque<Output>,
    started: bool,
    disposed: bool,
    next_lock: LockId,
    /// The last token the server rejected: a peer offering it again is ignored.
    last_rejected: Option<String>,
    ignored_peer_messages: u64,
    /// The latest sign-out seen in this app's tabs (see `peer_message`).
    signed_out_at: Millis,
    /// A fetch abandoned while its request was out, and the lock it keeps until it lands.
    orphan: Option<(FetchId, LockId)>,
}

impl Session {
    pub fn new(config: Config) -> Self {
        Session {
            backoff: Backoff::new(config.backoff_initial_ms, config.backoff_max_ms, config.seed),
            gate: Gate::new(config.expect_auth),
            config,
            state: AuthState::Loading,
            error: None,
            current: None,
            generation: 0,
            next_fetch: 1,
            in_flight: None,
            waiters: Vec::new(),
            failures: 0,
            last_failure: None,
            retry_forced: false,
            rejections: 0,
            skew_ms: None,
            clients: 0,
            timers: TimerTable::default(),
            outputs: VecDeque::new(),
            started: false,
            disposed: false,
            next_lock: 1,
            last_rejected: None,
            ignored_peer_messages: 0,
            signed_out_at: 0,
            orphan: None,
        }
    }

    // ---- getters ----

    pub fn state(&self) -> AuthState {
        self.state
    }

    pub fn error(&self) -> Option<AuthError> {
        self.error
    }

    pub fn claims(&self) -> Option<&Claims> {
        self.current.as_ref().map(|token| &token.claims)
    }

    /// The current token itself, for claims the core does not decode (e.g. Hasura's namespace).
    pub fn token(&self) -> Option<&str> {
        self.current.as_ref().map(|token| token.raw.as_str())
    }

    /// The generation of the current token (0 when none is held).
    pub fn generation(&self) -> Generation {
        self.current.as_ref().map_or(0, |token| token.generation)
    }

    pub fn expires_at(&self) -> Option<Millis> {
        self.current.as_ref().and_then(|token| token.expires_at)
    }

    pub fn refresh_at(&self) -> Option<Millis> {
        self.current.as_ref().and_then(|token| token.refresh_at)
    }

    pub fn is_holding_operations(&self) -> bool {
        self.gate.is_holding()
    }

    /// True while a fetch is needed and not yet finished (including, cross-tab, waiting for the lock).
    pub fn is_fetching(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Cross-tab messages refused as malformed, of another version, or implausible.
    pub fn ignored_peer_messages(&self) -> u64 {
        self.ignored_peer_messages
    }

    // ---- outputs ----

    pub fn poll(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Millis> {
        self.timers.next_deadline()
    }

    // ---- mutators ----

    /// Starts the first fetch. Only the first call does anything.
    pub fn start(&mut self, now: Millis) {
        if self.started || self.disposed {
            return;
        }
        self.started = true;
        if self.current.is_none() && self.in_flight.is_none() && self.state == AuthState::Loading {
            self.start_fetch(now, false, FetchReason::Startup);
        }
    }

    /// Declares that a client reports server verdicts: `Authenticated` then waits for acceptance.
    pub fn attach_client(&mut self) {
        self.clients = self.clients.saturating_add(1);
    }

    /// A client attached earlier no longer reports verdicts. When it was the last one, a token
    /// still waiting for a verdict counts as the session's answer, as without a client.
    pub fn detach_client(&mut self, now: Millis) {
        self.clients = self.clients.saturating_sub(1);
        if self.clients == 0 && self.state == AuthState::Loading && self.usable_generation(now).is_some() {
            self.set_state(AuthState::Authenticated, None);
        }
    }

    /// Runs `op` now, or holds it. Held operations released but not yet performed (still in the
    /// output queue) keep their place: an operation submitted meanwhile — by a listener hearing
    /// the state change that comes with the release — joins the end of that release.
    pub fn submit_operation(&mut self, op: OpId) -> OpDecision {
        if let Some(Output::ReleaseOperations(ops)) =
            self.outputs.iter_mut().find(|output| matches!(output, Output::ReleaseOperations(_)))
        {
            ops.push(op);
            return OpDecision::Hold;
        }
        let decision = self.gate.submit(op);
        if decision == OpDecision::Hold {
            self.trace(TraceKind::OperationsHeld, None, Some(1), None);
        }
        decision
    }

    /// Drops a held operation so it is never released. True if it was held.
    pub fn cancel_operation(&mut self, op: OpId) -> bool {
        self.gate.cancel(op)
    }

    /// Signs out: drops the token and any fetch in flight (its result will be ignored) and settles
    /// as `Unauthenticated` without an error.
    pub fn sign_out(&mut self, now: Millis) {
        if self.disposed {
            return;
        }
        // From now on, tokens fetched before this moment can no longer sign any tab back in.
        self.signed_out_at = now.max(self.signed_out_at.saturating_add(1));
        if self.config.cross_tab {
            let message = super::peer_message::PeerMessage::SignedOut.encode_at(self.signed_out_at);
            self.outputs.push_back(Output::Broadcast(message));
            self.outputs.push_back(Output::RecordSignOut(self.signed_out_at));
        }
        self.sign_out_here(now);
    }

    /// Cross-tab: the latest sign-out of the app's tabs, recorded before this tab opened
    /// ([`Output::RecordSignOut`]). Tokens fetched before it, which a peer may still offer (a tab
    /// thawing with an old backlog), never sign this tab in. It changes nothing else: a sign-in
    /// since then (this tab's startup fetch, or a newer peer token) stands.
    pub fn recall_sign_out(&mut self, at: Millis) {
        self.signed_out_at = self.signed_out_at.max(at);
    }

    /// Signs out this tab only (a peer announced the sign-out).
    fn sign_out_here(&mut self, now: Millis) {
        self.timers.stop_all();
        self.abandon_in_flight(now);
        self.failures = 0;
        self.forget_stored_token();
        self.settle_unauthenticated(None);
    }

    /// Removes the persisted record: the provider said the user is signed out (or the server
    /// refused the token for good), so a reload must not restore it.
    fn forget_stored_token(&mut self) {
        if self.config.persist {
            self.outputs.push_back(Output::Persist(None));
        }
    }

    /// Forgets the attempt under way (its late result will be dropped) and gives back its lock —
    /// except while its request is out: then the lock is kept until the result lands or the hold
    /// timeout, so no other tab presents the refresh token that request is redeeming.
    fn abandon_in_flight(&mut self, now: Millis) {
        let Some(in_flight) = self.in_flight.take() else { return };
        let Some(lock) = in_flight.lock else { return };
        match in_flight.phase {
            FetchPhase::Fetching(fetch) if !self.disposed => {
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

    /// Ends the session: pending requests and held operations fail with `disposed`, late results are ignored.
    pub fn dispose(&mut self) {
        if self.disposed {
            return;
        }
        self.disposed = true;
        self.abandon_in_flight(0);
        if let Some((_, lock)) = self.orphan.take() {
            self.outputs.push_back(Output::ReleaseLock { lock });
        }
        self.timers.stop_all();
        let error = AuthError::new(ErrorCode::Disposed, "the session was disposed");
        self.resolve_all_waiters(Err(error));
        let held = self.gate.open();
        if !held.is_empty() {
            self.outputs.push_back(Output::RejectOperations(held, error));
        }
    }

    // ---- inputs ----

    pub fn handle_fetch_result(&mut self, now: Millis, fetch: FetchId, outcome: FetchOutcome) {
        if let Some((_, lock)) = self.orphan.filter(|(orphan, _)| *orphan == fetch) {
            // The abandoned request is answered: its refresh token is settled, the lock can go.
            self.orphan = None;
            self.outputs.push_back(Output::ReleaseLock { lock });
            self.trace(TraceKind::StaleResultDropped, None, None, None);
            return;
        }
        let Some(in_flight) = self.in_flight.filter(|f| f.phase == FetchPhase::Fetching(fetch) && !self.disposed) else {
            self.trace(TraceKind::StaleResultDropped, None, None, None);
            return;
        };
        self.in_flight = None;
        self.timers.stop(Timer::FetchTimeout);
        self.timers.stop(Timer::LockHold);
        self.handle_fetch_outcome(now, in_flight, outcome);
        // Released after the outcome is shared, so peers waiting for the lock hear of the token first.
        if let Some(lock) = in_flight.lock {
            self.outputs.push_back(Output::ReleaseLock { lock });
        }
    }

    fn handle_fetch_outcome(&mut self, now: Millis, in_flight: InFlight, outcome: FetchOutcome) {
        match outcome {
            FetchOutcome::SignedOut => {
                self.trace(TraceKind::FetchSignedOut, None, None, None);
                self.failures = 0;
                self.timers.stop_all();
                self.forget_stored_token();
                self.settle_unauthenticated(None);
            }
            FetchOutcome::Failed(error) => self.on_fetch_failure(now, in_flight.force, error),
            FetchOutcome::Token(raw) => match token::decode(&raw) {
                Ok(decoded) => self.adopt(now, raw, decoded.claims, in_flight),
                Err(error) => self.on_fetch_failure(now, in_flight.force, error.into()),
            },
        }
    }

    /// Asks for a token on behalf of `waiter`; the answer comes as [`Output::ResolveToken`],
    /// at once when a usable token is held.
    pub fn handle_token_request(&mut self, now: Millis, waiter: WaiterId, need: TokenNeed) {
        if self.disposed {
            let error = AuthError::new(ErrorCode::Disposed, "the session was disposed");
            self.outputs.push_back(Output::ResolveToken { waiter, result: Err(error) });
            return;
        }
        if matches!(need, TokenNeed::NewerThan(_)) && self.state == AuthState::Unauthenticated && self.current.is_none() {
            // A client asking to replace its token cannot reopen a settled session (that is how
            // rejection loops start); the app restarts it with a `Current` or `Forced` request.
            let result = self.error.map_or(Ok(None), Err);
            self.outputs.push_back(Output::ResolveToken { waiter, result });
            return;
        }
        let usable = self.usable_generation(now);
        let satisfied = match need {
            TokenNeed::Current => usable.is_some(),
            TokenNeed::NewerThan(held) => usable.is_some_and(|generation| generation > held),
            TokenNeed::Forced => false,
        };
        if satisfied {
            let result = self.current.as_ref().map(|t| (t.generation, t.raw.clone()));
            self.outputs.push_back(Output::ResolveToken { waiter, result: Ok(result) });
            return;
        }
        self.waiters.push(Waiter { id: waiter, need, asked_at: now, failures_seen: 0 });
        let force = need != TokenNeed::Current || self.current.is_some();
        self.start_fetch(now, force, FetchReason::Requested);
    }

    /// Reports the server's verdict on the token of `generation`. Verdicts on any other token are ignored.
    pub fn handle_server_verdict(&mut self, now: Millis, generation: Generation, verdict: Verdict) {
        if self.disposed {
            return;
        }
        let Some(current) = self.current.as_mut().filter(|t| t.generation == generation) else {
            self.trace(TraceKind::StaleVerdictIgnored, None, None, None);
            return;
        };
        let tail = Some(token::redact(&current.raw));
        match verdict {
            Verdict::Accepted => {
                let first = current.verdict != TokenVerdict::Accepted;
                current.verdict = TokenVerdict::Accepted;
                self.rejections = 0;
                if first {
                    self.trace(TraceKind::ServerAccepted, tail, None, None);
                }
                self.set_state(AuthState::Authenticated, None);
                self.open_gate_releasing();
            }
            Verdict::Rejected => {
                if current.verdict == TokenVerdict::Rejected {
                    return;
                }
                current.verdict = TokenVerdict::Rejected;
                self.last_rejected = Some(current.raw.clone());
                self.rejections += 1;
                self.trace(TraceKind::ServerRejected, tail, None, None);
                if self.rejections >= 2 {
                    self.timers.stop_all();
                    self.abandon_in_flight(now);
                    let error = AuthError::new(
                        ErrorCode::TokenRejected,
                        "the server rejected the token and its forced replacement; check the server's auth config",
                    );
                    self.forget_stored_token();
                    self.settle_unauthenticated(Some(error));
                } else {
                    self.start_fetch(now, true, FetchReason::Rejected);
                }
            }
        }
    }

    /// Runs whatever timers are due at `now`. Spurious calls do nothing.
    pub fn handle_timeout(&mut self, now: Millis) {
        while let Some(timer) = self.timers.take_due(now) {
            if self.disposed {
                return;
            }
            match timer {
                Timer::FetchTimeout => {
                    if let Some(in_flight) = self.in_flight {
                        self.abandon_in_flight(now);
                        let error = AuthError::new(ErrorCode::FetchTimeout, "fetchAccessToken did not settle in time");
                        self.on_fetch_failure(now, in_flight.force, error);
                    }
                }
                Timer::LockWait => self.on_lock_wait_timeout(),
                Timer::PeerGrace => self.on_peer_grace_over(now),
                Timer::LockHold => self.on_lock_hold_timeout(),
                Timer::Retry => self.start_fetch(now, self.retry_forced, FetchReason::Retry),
                Timer::Refresh => self.start_fetch(now, true, FetchReason::Proactive),
                Timer::Expiry => {
                    if self.failures > 0 && self.in_flight.is_none() {
                        let error = self.last_failure.unwrap_or(AuthError::new(
                            ErrorCode::TokenExpired,
                            "the token expired and could not be refreshed",
                        ));
                        self.current = None;
                        self.settle_unauthenticated(Some(error));
                    }
                }
            }
        }
    }

    /// The page became visible, came back online or was restored: timers may have slept past
    /// their deadlines, and a failing fetch deserves an immediate retry.
    pub fn handle_wake(&mut self, now: Millis) {
        if self.timers.get(Timer::Retry).is_some() {
            self.timers.set(Timer::Retry, now);
        }
        self.handle_timeout(now);
    }

    // ---- internals ----

    fn usable_generation(&self, now: Millis) -> Option<Generation> {
        let token = self.current.as_ref()?;
        let fresh = token.refresh_at.is_none_or(|at| now < at);
        (token.verdict != TokenVerdict::Rejected && fresh).then_some(token.generation)
    }

    fn start_fetch(&mut self, now: Millis, force: bool, reason: FetchReason) {
        if self.in_flight.is_some() {
            // Single flight: join the fetch under way. If it is unforced and returns a cached
            // token, waiters that need a newer one get their own forced fetch when it lands.
            return;
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
    fn begin_fetch(&mut self, now: Millis) {
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
        self.trace(TraceKind::FetchStarted(reason, force), None, None, None);
        self.outputs.push_back(Output::FetchToken { fetch: id, force_refresh: force });
    }

    /// Estimated ms of validity left. A token fetched with `forceRefreshToken: true` was minted
    /// after `minted_since` (when we called the callback), so its whole lifetime `exp - iat` counts
    /// from then, whatever our clock says about `iat`. Others (a provider's cache) are aged on the
    /// client clock, corrected by the skew learnt from forced tokens; a token that looks issued in
    /// the future counts as just issued, so a clock running behind never delays a refresh past the
    /// issuer's intent.
    fn remaining_ms(&self, now: Millis, claims: &Claims, minted_since: Option<Millis>) -> Option<u64> {
        let exp_ms = claims.exp? * 1000;
        let issuer_now = (now as i64).saturating_sub(self.skew_ms.unwrap_or(0));
        Some(match (claims.lifetime_seconds(), claims.iat) {
            (Some(lifetime), _) if minted_since.is_some() => {
                let in_transit = now.saturating_sub(minted_since.unwrap_or(now));
                (lifetime * 1000).saturating_sub(in_transit)
            }
            (Some(lifetime), Some(iat)) => {
                let age = issuer_now.saturating_sub((iat * 1000) as i64).max(0) as u64;
                (lifetime * 1000).saturating_sub(age)
            }
            _ => (exp_ms as i64).saturating_sub(issuer_now).max(0) as u64,
        })
    }

    /// Whether a token straight from the provider's cache is too far gone to send: little
    /// of the leeway left, or (for tokens living less than two leeways) over half its life used.
    fn is_stale(&self, remaining: u64, claims: &Claims) -> bool {
        let leeway = self.config.refresh_leeway_ms;
        let threshold = claims.lifetime_seconds().map_or(leeway, |lifetime| leeway.min(lifetime * 500));
        remaining <= threshold
    }

    /// Takes the token a fetch of ours returned.
    fn adopt(&mut self, now: Millis, raw: String, claims: Claims, in_flight: InFlight) {
        let forced = in_flight.force;
        let previous = self.current.as_ref();
        let same_as_current = previous.is_some_and(|t| t.raw == raw);
        if same_as_current && previous.is_some_and(|t| t.verdict == TokenVerdict::Rejected) {
            self.timers.stop_all();
            let error = AuthError::new(
                ErrorCode::TokenRejected,
                "the forced refresh returned the token the server had just rejected",
            );
            self.current = None;
            self.forget_stored_token();
            self.settle_unauthenticated(Some(error));
            return;
        }
        if forced && !same_as_current {
            if let Some(iat) = claims.iat {
                // A forced token was minted moments ago: its iat tells how far our clock is off.
                self.skew_ms = Some((now as i64).saturating_sub((iat * 1000) as i64));
            }
        }
        let minted_since = (forced && !same_as_current).then_some(in_flight.fetch_started_at);
        let remaining = self.remaining_ms(now, &claims, minted_since);
        if !forced && !same_as_current && remaining.is_some_and(|left| self.is_stale(left, &claims)) {
            // A cached token near its end: one forced fetch instead of sending it.
            self.start_fetch(now, true, FetchReason::Stale);
            return;
        }
        if forced && !same_as_current && remaining == Some(0) {
            // Its whole lifetime went by while the request was out (a frozen tab, a stalled network).
            let error = AuthError::new(ErrorCode::TokenExpired, "the token had expired by the time it arrived");
            return self.on_fetch_failure(now, forced, error);
        }
        if self.generation() > in_flight.started_generation && !same_as_current {
            // Commit guard: a peer's token arrived while we fetched; ours only wins if it lives longer.
            let ours = remaining.map(|left| now.saturating_add(left));
            if let (Some(theirs), Some(ours)) = (self.expires_at(), ours) {
                // Unless a forced request waits for this very fetch: the peer's token predates it.
                let awaited = forced && self.waiters.iter().any(|w| w.need == TokenNeed::Forced && w.asked_at <= in_flight.fetch_started_at);
                if theirs >= ours && !awaited {
                    self.trace(TraceKind::StaleResultDropped, None, None, None);
                    return;
                }
            }
        }
        self.install(now, raw, claims, remaining, forced, same_as_current, in_flight.fetch_started_at);
        if !same_as_current {
            self.share_current();
        }
    }

    /// Makes `raw` the current token (or re-schedules it, when it is the current one), arms the
    /// refresh and expiry timers, and answers waiters. `forced`: it is as good as a forced fetch.
    #[allow(clippy::too_many_arguments)]
    fn install(
        &mut self,
        now: Millis,
        raw: String,
        claims: Claims,
        remaining: Option<u64>,
        forced: bool,
        same_as_current: bool,
        minted_at: Millis,
    ) {
        let leeway = self.config.refresh_leeway_ms;
        self.failures = 0;
        self.last_failure = None;
        self.timers.stop(Timer::Retry);

        let tail = Some(token::redact(&raw));
        let mut refresh_at = remaining.map(|left| {
            let delay = if left > leeway { left - leeway } else { left / 2 };
            now.saturating_add(delay.max(MIN_REFRESH_DELAY_MS.min(left / 2)))
        });
        if let (Some(at), Some(left)) = (refresh_at, remaining) {
            if at < now.saturating_add(MIN_REFRESH_DELAY_MS) && (forced || same_as_current) {
                // Refreshing again at once would get the same answer: back off instead, but never
                // past half of what is left, so the token is replaced before it expires.
                let delay = self.backoff.next_delay_ms().min(left / 2).max(MIN_REFRESH_DELAY_MS.min(left / 2));
                refresh_at = Some(now.saturating_add(delay));
            } else {
                self.backoff.reset();
            }
        }
        let expires_at = remaining.map(|left| now.saturating_add(left));

        if same_as_current {
            self.trace(TraceKind::SameTokenReturned, tail.clone(), None, None);
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
                minted_at,
            });
            self.trace(TraceKind::TokenAdopted, tail, remaining, None);
            self.outputs.push_back(Output::TokenChanged { generation: self.generation });
        }
        match refresh_at {
            Some(at) => {
                self.timers.set(Timer::Refresh, at);
                self.trace(TraceKind::RefreshScheduled, None, Some(at.saturating_sub(now)), None);
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
        self.resolve_waiters_after_fetch(now, forced, minted_at);
    }

    /// Answers the waiters the token just installed satisfies; `fetched_since`: when the fetch
    /// that produced it started.
    fn resolve_waiters_after_fetch(&mut self, now: Millis, forced: bool, fetched_since: Millis) {
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

    fn on_fetch_failure(&mut self, now: Millis, forced: bool, error: AuthError) {
        self.failures += 1;
        self.last_failure = Some(error);
        self.retry_forced = forced;
        let token_valid = self.current.as_ref().is_some_and(|t| {
            t.verdict != TokenVerdict::Rejected && t.expires_at.is_none_or(|at| now < at)
        });
        let keep_loading = self.state == AuthState::Loading && self.failures < self.config.startup_attempts;
        let delay = self.backoff.next_delay_ms();
        self.trace(TraceKind::FetchFailed, None, None, Some(error));
        self.trace(TraceKind::RetryScheduled, None, Some(delay), None);
        self.timers.set(Timer::Retry, now.saturating_add(delay));
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

    /// Moves to `Unauthenticated`, answers every waiter and settles the gate.
    fn settle_unauthenticated(&mut self, error: Option<AuthError>) {
        self.current = None;
        self.rejections = 0;
        self.timers.stop(Timer::Refresh);
        self.timers.stop(Timer::Expiry);
        self.set_state(AuthState::Unauthenticated, error);
        self.resolve_all_waiters(error.map_or(Ok(None), Err));
        if !self.config.reject_held_when_signed_out {
            return self.open_gate_releasing();
        }
        let held = self.gate.open();
        if !held.is_empty() {
            let error = AuthError::new(ErrorCode::SignedOut, "auth settled as signed out while the operation was held");
            self.trace(TraceKind::OperationsRejected, None, Some(held.len() as u64), None);
            self.outputs.push_back(Output::RejectOperations(held, error));
        }
    }

    fn open_gate_releasing(&mut self) {
        let held = self.gate.open();
        if !held.is_empty() {
            self.trace(TraceKind::OperationsReleased, None, Some(held.len() as u64), None);
            self.outputs.push_back(Output::ReleaseOperations(held));
        }
    }

    /// Answers with `error` the `Forced`/`NewerThan` waiters that have now seen [`WAITER_FAILURES`] failures.
    fn fail_waiters_past_retry(&mut self, error: AuthError) {
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

    fn resolve_current_waiters(&mut self) {
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

    fn resolve_all_waiters(&mut self, result: Result<Option<(Generation, String)>, AuthError>) {
        for waiter in core::mem::take(&mut self.waiters) {
            self.outputs.push_back(Output::ResolveToken { waiter: waiter.id, result: result.clone() });
        }
    }

    fn set_state(&mut self, state: AuthState, error: Option<AuthError>) {
        if self.state != state || self.error != error {
            self.state = state;
            self.error = error;
            self.outputs.push_back(Output::StateChanged { state, error });
        }
    }

    fn trace(&mut self, kind: TraceKind, token_tail: Option<String>, millis: Option<u64>, error: Option<AuthError>) {
        self.outputs.push_back(Output::Trace(Trace { kind, token_tail, millis, error }));
    }
}
