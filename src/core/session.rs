//! The session: one state machine for the whole token lifecycle. This file holds its types, its
//! public contract (getters, inputs, mutators, outputs) and the settling of states; the work is
//! split by concern, as quinn-proto splits its connection:
//! - [`schedule`]: the refresh arithmetic, pure functions of their inputs;
//! - `attempt`: fetch attempts (single flight, the callback, failures and backoff, the lock kept);
//! - `adopt`: judging and installing a token a fetch returned;
//! - `waiters`: which answer each token request gets;
//! - `cross_tab`: the refresh lock, token sharing and sign-out across tabs;
//! - `initial`: the token the page was rendered with.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use super::backoff::Backoff;
use super::errors::{AuthError, ErrorCode};
use super::gate::{Gate, OpDecision, OpId};
use super::json_text::JsonText;
use super::state::{AuthState, FetchReason, Trace, TraceKind};
use super::timers::{Timer, TimerTable};
use super::token::{self, Claims};
use super::Millis;

mod adopt;
mod attempt;
mod config;
mod cross_tab;
mod initial;
pub mod schedule;
mod shared_backoff;
mod shared_clock;
mod sign_out;
mod trust;
mod waiters;

use attempt::InFlight;
use shared_backoff::AppBackoff;
pub use config::Config;
pub use cross_tab::LockGrant;
pub use schedule::MIN_REFRESH_DELAY_MS;
use waiters::Waiter;

/// Identifies one call of the app's `fetchAccessToken`; results for any other id are dropped.
pub type FetchId = u64;
/// Numbers the tokens a session adopts, starting at 1; a byte-identical re-fetch keeps its number.
pub type Generation = u64;
/// A caller-chosen id for one token request, echoed in [`Output::ResolveToken`].
pub type WaiterId = u32;
/// Identifies one request for the cross-tab refresh lock; grants for any other id are given back.
pub type LockId = u64;

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
    /// `handle_lock_acquired(lock, grant)`, a grant taken away with `handle_lock_lost(lock)`, and a
    /// request that failed with `handle_lock_unavailable(lock)`. A steal asked again for a `lock`
    /// whose steal is still queued takes the takeover lock too, from the thief holding it (frozen).
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
    /// Command (cross-tab): keep this encoded peer message in the app's `slot` (replacing what it
    /// held; `None` empties it) where tabs opened later read it, and feed what the slots hold to
    /// `handle_peer_message` before `start`: the app's backoff and the clock skew it learnt.
    Remember { slot: Slot, record: Option<String> },
}

/// What a tab keeps for the app's tabs opened later ([`Output::Remember`]), one record each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The last failed fetch and the app's next retry time.
    Backoff,
    /// The machine clock's skew from the issuer's.
    Clock,
}

impl Slot {
    pub const ALL: [Slot; 2] = [Slot::Backoff, Slot::Clock];

    pub fn as_str(self) -> &'static str {
        match self {
            Slot::Backoff => "backoff",
            Slot::Clock => "clock",
        }
    }
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

/// Where a session is in its life: inputs before `start` only prepare it, and after `dispose`
/// nothing is done any more (requests fail with `disposed`, late results are dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    Created,
    Running,
    Disposed,
}

/// The client-side token lifecycle of one app, as a deterministic state machine.
///
/// # Contract
/// - **Getters**: [`state`](Self::state), [`error`](Self::error), [`claims`](Self::claims),
///   [`generation`](Self::generation), [`expires_at`](Self::expires_at),
///   [`refresh_at`](Self::refresh_at), [`is_holding_operations`](Self::is_holding_operations).
/// - **Inputs** (`handle_*`, each taking `now`): [`handle_fetch_result`](Self::handle_fetch_result),
///   [`handle_token_request`](Self::handle_token_request), [`handle_server_verdict`](Self::handle_server_verdict),
///   [`handle_timeout`](Self::handle_timeout), [`handle_wake`](Self::handle_wake), and from a driver
///   that starts the first fetch before the session exists, [`backdate_fetch`](Self::backdate_fetch).
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
    /// The digest of the last token installed, kept after it is dropped: a fetch that hands it
    /// back again (a callback answering from its cache) says nothing about the issuer's clock.
    last_installed: u64,
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
    /// Client clock minus issuer clock, learnt from a freshly forced token's `iat` (or from a peer).
    skew_ms: Option<i64>,
    /// Cross-tab: the app's last failed fetch and next retry, until a newer token answers it.
    app_backoff: Option<AppBackoff>,
    /// Clients reporting server verdicts (wrapped clients, graphql-ws sockets).
    clients: u32,
    gate: Gate,
    timers: TimerTable,
    outputs: VecDeque<Output>,
    lifecycle: Lifecycle,
    next_lock: LockId,
    /// The last token the server rejected: a peer offering it again is ignored.
    last_rejected: Option<String>,
    ignored_peer_messages: u64,
    /// The latest sign-out seen in this app's tabs (see `peer_message`).
    signed_out_at: Millis,
    /// A sign-out time read from storage, not judged yet (see `trust`).
    recalled_sign_out: Millis,
    /// A fetch abandoned while its request was out, and the lock it keeps until it lands.
    orphan: Option<(FetchId, LockId)>,
    /// The issuer and audience of this session's tokens (its own fetches', or else the first it
    /// adopted): a peer's token must have them (see `trust`).
    identity: Option<trust::Identity>,
    /// Reads tokens' and peers' JSON, writes peer messages.
    json: &'static dyn JsonText,
}

impl Session {
    /// A session reading and writing JSON with serde_json (native builds).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(config: Config) -> Self {
        Self::with_json(config, &super::json_text::SerdeJson)
    }

    /// A session whose JSON texts go through `json` (the browser driver passes the browser's).
    pub fn with_json(config: Config, json: &'static dyn JsonText) -> Self {
        Session {
            json,
            backoff: Backoff::new(config.backoff_initial_ms, config.backoff_max_ms, config.seed),
            gate: Gate::new(config.expect_auth),
            config,
            state: AuthState::Loading,
            error: None,
            current: None,
            last_installed: 0,
            generation: 0,
            next_fetch: 1,
            in_flight: None,
            waiters: Vec::new(),
            failures: 0,
            last_failure: None,
            retry_forced: false,
            rejections: 0,
            skew_ms: None,
            app_backoff: None,
            clients: 0,
            timers: TimerTable::default(),
            outputs: VecDeque::new(),
            lifecycle: Lifecycle::Created,
            next_lock: 1,
            last_rejected: None,
            ignored_peer_messages: 0,
            signed_out_at: 0,
            recalled_sign_out: 0,
            orphan: None,
            identity: None,
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
        if self.lifecycle != Lifecycle::Created {
            return;
        }
        self.lifecycle = Lifecycle::Running;
        self.take_recalled_sign_out(now);
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
            self.trace(Trace::operations_held(1));
        }
        decision
    }

    /// Drops a held operation so it is never released. True if it was held.
    pub fn cancel_operation(&mut self, op: OpId) -> bool {
        self.gate.cancel(op)
    }

    /// Ends the session: pending requests and held operations fail with `disposed`, late results are ignored.
    pub fn dispose(&mut self) {
        if self.is_disposed() {
            return;
        }
        self.lifecycle = Lifecycle::Disposed;
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



    /// Asks for a token on behalf of `waiter`; the answer comes as [`Output::ResolveToken`],
    /// at once when a usable token is held.
    pub fn handle_token_request(&mut self, now: Millis, waiter: WaiterId, need: TokenNeed) {
        if self.is_disposed() {
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
        if self.is_disposed() {
            return;
        }
        let Some(current) = self.current.as_mut().filter(|t| t.generation == generation) else {
            self.trace(Trace::event(TraceKind::StaleVerdictIgnored));
            return;
        };
        let tail = token::redact(&current.raw);
        match verdict {
            Verdict::Accepted => {
                let first = current.verdict != TokenVerdict::Accepted;
                current.verdict = TokenVerdict::Accepted;
                self.rejections = 0;
                if first {
                    self.trace(Trace::server_accepted(tail));
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
                self.trace(Trace::server_rejected(tail));
                if self.rejections >= 2 {
                    self.stop_timers();
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
        // No disposed check: dispose stops every timer.
        while let Some(timer) = self.timers.take_due(now) {
            match timer {
                Timer::FetchTimeout => {
                    if let Some(in_flight) = self.in_flight {
                        self.abandon_in_flight(now);
                        let error = AuthError::new(ErrorCode::FetchTimeout, "fetchAccessToken did not settle in time");
                        self.on_fetch_failure(now, in_flight.force, error);
                    }
                }
                Timer::LockWait => self.on_lock_wait_timeout(now),
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
        self.wake_from_app_backoff();
        if self.timers.get(Timer::Retry).is_some() {
            self.timers.set(Timer::Retry, now);
        }
        self.hurry_lock_given_back(now);
        self.handle_timeout(now);
    }

    // ---- internals ----










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
            self.trace(Trace::operations_rejected(held.len()));
            self.outputs.push_back(Output::RejectOperations(held, error));
        }
    }

    fn open_gate_releasing(&mut self) {
        let held = self.gate.open();
        if !held.is_empty() {
            self.trace(Trace::operations_released(held.len()));
            self.outputs.push_back(Output::ReleaseOperations(held));
        }
    }




    /// Stops every timer but the hold timer of a lock kept for an abandoned fetch: that lock must
    /// still be given back if the fetch never lands.
    pub(super) fn stop_timers(&mut self) {
        let hold = self.timers.get(Timer::LockHold).filter(|_| self.orphan.is_some());
        self.timers.stop_all();
        if let Some(at) = hold {
            self.timers.set(Timer::LockHold, at);
        }
    }

    fn set_state(&mut self, state: AuthState, error: Option<AuthError>) {
        if self.state != state || self.error != error {
            self.state = state;
            self.error = error;
            self.outputs.push_back(Output::StateChanged { state, error });
        }
    }

    fn is_disposed(&self) -> bool {
        self.lifecycle == Lifecycle::Disposed
    }

    fn trace(&mut self, trace: Trace) {
        self.outputs.push_back(Output::Trace(trace));
    }
}
