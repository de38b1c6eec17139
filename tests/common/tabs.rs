//! N tabs of one app on one virtual clock: a lock manager with Web Locks' semantics (FIFO, steal,
//! released when a tab closes, grants marked uncontended as `ifAvailable` finds them; see
//! `lock_manager`), a broadcast bus, and an issuer that rotates refresh tokens and
//! revokes the family when one is reused — the provider SDK's refresh token lives in shared storage,
//! read when a fetch starts and replaced when it succeeds.
//!
//! Property tests also use its event log (`Tabs::events`), single steps of `settle`
//! (`Tabs::step_once`), late tabs (`Tabs::add_tab`, `Tabs::start`) and the issuer's sign-out and
//! sign-in (refresh-token families).

use std::collections::{BTreeMap, VecDeque};

use authlane::core::{AuthError, AuthState, Config, ErrorCode, FetchId, FetchOutcome, LockGrant, LockId, Millis, Output, Session};

use super::lock_manager::LockManager;
use super::{mint, T0};

pub struct Issuer {
    pub lifetime_s: u64,
    pub latency_ms: u64,
    /// Successful token responses.
    pub tokens_issued: usize,
    pub reuse_detections: usize,
    /// Reuses inside `reuse_window_ms` of the first use, which the issuer tolerates (convex-auth: 10 s).
    pub tolerated_reuses: usize,
    pub reuse_window_ms: u64,
    pub revoked: bool,
    /// False after [`Issuer::sign_out`]: the provider SDK's storage holds no refresh token, so a
    /// fetch answers `null` (signed out) until [`Issuer::sign_in`].
    pub signed_in: bool,
    /// Refresh-token families: a sign-in starts a new one; tokens of family `f` are numbered from `f << 32`.
    pub family: u64,
    /// The refresh token in the provider SDK's shared storage: read when a request is sent,
    /// replaced when a successful response is processed.
    stored_refresh_token: u64,
    /// Each spent refresh token and when it was first used.
    spent: BTreeMap<u64, Millis>,
    /// The provider is unreachable: every request fails (nothing is spent or stored).
    pub down: bool,
    /// Requests answered with a failure while `down`.
    pub failed_calls: usize,
    /// How far the issuer's clock runs behind the tabs' (a device clock set ahead): its `iat`s.
    pub clock_behind_ms: u64,
}

impl Issuer {
    pub fn new(lifetime_s: u64, latency_ms: u64) -> Self {
        Issuer {
            lifetime_s,
            latency_ms,
            tokens_issued: 0,
            reuse_detections: 0,
            tolerated_reuses: 0,
            reuse_window_ms: 0,
            revoked: false,
            signed_in: true,
            family: 0,
            stored_refresh_token: 1,
            spent: BTreeMap::new(),
            down: false,
            failed_calls: 0,
            clock_behind_ms: 0,
        }
    }

    /// The refresh token a request sent now would carry.
    pub fn stored_refresh_token(&self) -> u64 {
        self.stored_refresh_token
    }

    pub fn family_of(refresh_token: u64) -> u64 {
        refresh_token >> 32
    }

    /// The user signed out: the provider SDK drops its refresh token (responses still in flight
    /// for the old family are no longer stored).
    pub fn sign_out(&mut self) {
        self.signed_in = false;
    }

    /// The user signed in again: a new refresh-token family, not revoked.
    pub fn sign_in(&mut self) {
        self.signed_in = true;
        self.revoked = false;
        self.family += 1;
        self.stored_refresh_token = (self.family << 32) + 1;
    }

    /// Whether a processed response carrying `refresh_token` replaces the stored one.
    fn stores(&self, refresh_token: u64) -> bool {
        self.signed_in && Self::family_of(refresh_token) == self.family
    }

    /// The server side of a refresh request, processed as it arrives.
    fn redeem(&mut self, refresh_token: u64, now: Millis) -> FetchOutcome {
        if self.down {
            self.failed_calls += 1;
            return FetchOutcome::Failed(AuthError::new(ErrorCode::FetchFailed, "issuer down"));
        }
        if !self.signed_in {
            return FetchOutcome::SignedOut;
        }
        if self.revoked {
            return FetchOutcome::Failed(AuthError::new(ErrorCode::FetchFailed, "session revoked"));
        }
        if let Some(&first_use) = self.spent.get(&refresh_token) {
            if self.reuse_window_ms == 0 || now.saturating_sub(first_use) > self.reuse_window_ms {
                // Reuse: the whole family is revoked (what OIDC servers with rotation do).
                self.reuse_detections += 1;
                self.revoked = true;
                return FetchOutcome::Failed(AuthError::new(ErrorCode::FetchFailed, "refresh token reused"));
            }
            self.tolerated_reuses += 1;
        } else {
            self.spent.insert(refresh_token, now);
        }
        self.tokens_issued += 1;
        FetchOutcome::Token(mint(now.saturating_sub(self.clock_behind_ms), self.lifetime_s, self.tokens_issued as u32))
    }
}

/// What the harness did, in order, when [`Tabs::events`] is `Some`: every input it delivered to
/// a session (or that a test made through [`Tabs::call`]), every output drained, and the lock
/// manager's and issuer's side of things. Property tests replay it against a model.
#[derive(Debug, Clone)]
pub enum Event {
    Input { tab: usize, at: Millis, input: Input },
    Output { tab: usize, at: Millis, output: Output },
    /// A fetch command reached the issuer, carrying `refresh_token`. `holder` and `robbed` are the
    /// lock manager's holder and its not-yet-delivered losses at that moment.
    Request {
        tab: usize,
        fetch: FetchId,
        at: Millis,
        refresh_token: u64,
        outcome: FetchOutcome,
        holder: Option<(usize, LockId)>,
        robbed: Vec<(usize, LockId)>,
    },
    /// The provider SDK processed the response to a request (and stored its refresh token if it succeeded).
    Response { tab: usize, fetch: FetchId, at: Millis },
    /// The lock manager gave the lock to a stealer, taking it from `tab`.
    Stolen { tab: usize, lock: LockId, at: Millis },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    PeerMessage(String),
    LockAcquired(LockId, LockGrant),
    LockLost(LockId),
    FetchResult(FetchId, FetchOutcome),
    Timeout,
    Wake,
    /// The driver gave back every lock of the tab (`pagehide`, see [`Tabs::hide`]).
    LocksReleased,
    /// A call the test made through [`Tabs::call`].
    Direct(String),
}

/// One unit of [`Tabs::settle`]'s work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    Message,
    Loss,
    Grant,
    FetchResult,
}

pub struct Tab {
    pub session: Session,
    pub open: bool,
    /// A frozen tab (Chrome's Memory Saver, a debugger) runs nothing: no timers, messages or grants.
    pub frozen: bool,
    /// Loaded: from the first time the harness drains it, other tabs' presence checks count it.
    pub present: bool,
    pub fetch_calls: usize,
    pub states: Vec<AuthState>,
    /// Tokens this tab would send to its server, with the time: checked against their expiry.
    pub tokens_used: Vec<(Millis, String)>,
    /// The timeline, for diagnosing a failing scenario.
    pub traces: Vec<(Millis, authlane::core::TraceKind)>,
}

struct PendingFetch {
    tab: usize,
    fetch: FetchId,
    /// When the response reaches the tab.
    due: Millis,
    /// The refresh token the request carried and the server's answer to it.
    refresh_token: u64,
    outcome: FetchOutcome,
}

pub struct Tabs {
    pub now: Millis,
    pub tabs: Vec<Tab>,
    pub issuer: Issuer,
    /// Messages on the channel: (sender, text). Delivered to every other open, unfrozen tab.
    bus: VecDeque<(usize, String)>,
    /// Messages a frozen tab will see when it thaws.
    parked: Vec<VecDeque<String>>,
    locks: LockManager,
    fetches: Vec<PendingFetch>,
    config: Config,
    /// When `Some`, everything the harness does is recorded here (see [`Event`]).
    pub events: Option<Vec<Event>>,
    /// The sign-out time the tabs record for tabs opened later (`Output::RecordSignOut`: shared
    /// storage in a browser). A starting tab recalls it.
    pub recorded_sign_out: Millis,
    /// What the tabs keep for tabs opened later (`Output::Remember`: shared storage in a browser),
    /// by slot. A starting tab reads each before it starts.
    pub remembered: BTreeMap<&'static str, String>,
}

impl Tabs {
    pub fn new(count: usize, config: Config, issuer: Issuer) -> Self {
        let tabs = (0..count).map(|index| Self::new_tab(&config, index)).collect();
        Tabs {
            now: T0,
            tabs,
            issuer,
            bus: VecDeque::new(),
            parked: vec![VecDeque::new(); count],
            locks: LockManager::default(),
            fetches: Vec::new(),
            config,
            events: None,
            recorded_sign_out: 0,
            remembered: BTreeMap::new(),
        }
    }

    fn new_tab(config: &Config, index: usize) -> Tab {
        Tab {
            session: Session::new(Config { seed: config.seed + index as u64, ..config.clone() }),
            open: true,
            frozen: false,
            present: false,
            fetch_calls: 0,
            states: Vec::new(),
            tokens_used: Vec::new(),
            traces: Vec::new(),
        }
    }

    /// Opens one more tab (not started: call [`Tabs::start`]) and returns its index.
    pub fn add_tab(&mut self) -> usize {
        let index = self.tabs.len();
        self.tabs.push(Self::new_tab(&self.config, index));
        self.parked.push(VecDeque::new());
        index
    }

    /// Starts one tab now (a page loaded later than the others), recalling the recorded sign-out
    /// as a driver does, and settles.
    pub fn start(&mut self, index: usize) {
        let recorded = self.recorded_sign_out;
        let remembered: Vec<String> = self.remembered.values().cloned().collect();
        self.call(index, "start", |session, now| {
            session.recall_sign_out(recorded);
            for record in &remembered {
                session.handle_peer_message(now, record);
            }
            session.start(now)
        });
        self.settle();
    }

    /// Makes a direct call on a tab's session (recorded as [`Input::Direct`]) and drains it, without settling.
    pub fn call(&mut self, index: usize, label: &str, f: impl FnOnce(&mut Session, Millis)) {
        self.record(|now| Event::Input { tab: index, at: now, input: Input::Direct(label.to_string()) });
        f(&mut self.tabs[index].session, self.now);
        self.drain(index);
    }

    fn record(&mut self, event: impl FnOnce(Millis) -> Event) {
        let now = self.now;
        if let Some(events) = self.events.as_mut() {
            events.push(event(now));
        }
    }

    fn input(&mut self, tab: usize, input: Input) {
        self.record(|at| Event::Input { tab, at, input });
    }

    fn record_steals(&mut self) {
        for (tab, lock) in std::mem::take(&mut self.locks.stolen) {
            self.record(|at| Event::Stolen { tab, lock, at });
        }
    }

    pub fn cross_tab_config() -> Config {
        Config { cross_tab: true, ..Config::default() }
    }

    /// Starts every tab at the current time.
    pub fn start_all(&mut self) {
        for index in 0..self.tabs.len() {
            self.tabs[index].session.recall_sign_out(self.recorded_sign_out);
            for record in self.remembered.values() {
                self.tabs[index].session.handle_peer_message(self.now, record);
            }
            self.tabs[index].session.start(self.now);
            self.drain(index);
        }
        self.settle();
    }

    pub fn drain(&mut self, index: usize) {
        self.tabs[index].present = true;
        while let Some(output) = self.tabs[index].session.poll() {
            if self.events.is_some() {
                let output = output.clone();
                self.record(|at| Event::Output { tab: index, at, output });
            }
            match output {
                Output::FetchToken { fetch, .. } => {
                    self.tabs[index].fetch_calls += 1;
                    let refresh_token = self.issuer.stored_refresh_token;
                    let outcome = self.issuer.redeem(refresh_token, self.now);
                    let due = self.now + self.issuer.latency_ms;
                    if self.events.is_some() {
                        let (holder, robbed) = (self.locks.holder, self.locks.losses.iter().copied().collect());
                        let outcome = outcome.clone();
                        self.record(|at| Event::Request { tab: index, fetch, at, refresh_token, outcome, holder, robbed });
                    }
                    self.fetches.push(PendingFetch { tab: index, fetch, due, refresh_token, outcome });
                }
                Output::AcquireLock { lock, steal } => {
                    let alone = !(0..self.tabs.len()).any(|i| i != index && self.tabs[i].open && self.tabs[i].present);
                    self.locks.request(index, lock, steal, alone);
                    self.record_steals();
                }
                Output::ReleaseLock { lock } => {
                    self.locks.release(index, lock);
                    self.record_steals();
                }
                Output::Broadcast(text) => self.bus.push_back((index, text)),
                Output::RecordSignOut(at) => self.recorded_sign_out = self.recorded_sign_out.max(at),
                Output::Remember { slot, record: Some(record) } => {
                    self.remembered.insert(slot.as_str(), record);
                }
                Output::Remember { slot, record: None } => {
                    self.remembered.remove(slot.as_str());
                }
                Output::StateChanged { state, .. } => self.tabs[index].states.push(state),
                Output::ResolveToken { result: Ok(Some((_, token))), .. } => self.tabs[index].tokens_used.push((self.now, token)),
                Output::Trace(trace) => self.tabs[index].traces.push((self.now - T0, trace.kind)),
                _ => {}
            }
        }
    }

    fn runnable(&self, index: usize) -> bool {
        self.tabs[index].open && !self.tabs[index].frozen
    }

    /// Delivers messages, grants and due fetch results at the current time until nothing moves.
    pub fn settle(&mut self) {
        for _ in 0..100_000 {
            if self.step_once(None).is_none() {
                return;
            }
        }
        panic!("livelock at {}", self.now);
    }

    /// The kinds of work [`Tabs::settle`] would do now.
    pub fn pending_work(&self) -> Vec<Work> {
        let mut work = Vec::new();
        if !self.bus.is_empty() {
            work.push(Work::Message);
        }
        if self.locks.losses.iter().any(|&(tab, _)| self.runnable(tab)) {
            work.push(Work::Loss);
        }
        if self.locks.grants.iter().any(|&(tab, ..)| self.runnable(tab)) {
            work.push(Work::Grant);
        }
        if self.fetches.iter().any(|f| f.due <= self.now && self.runnable(f.tab)) {
            work.push(Work::FetchResult);
        }
        work
    }

    /// Does one unit of work: of the kind asked for if there is such work, else the first in
    /// [`Tabs::settle`]'s order (messages, losses, grants, fetch results). Returns what it did.
    pub fn step_once(&mut self, prefer: Option<Work>) -> Option<Work> {
        let pending = self.pending_work();
        let work = match prefer {
            Some(kind) if pending.contains(&kind) => kind,
            _ => *pending.first()?,
        };
        match work {
            Work::Message => {
                let (sender, text) = self.bus.pop_front().unwrap_or_default();
                for index in 0..self.tabs.len() {
                    if index == sender || !self.tabs[index].open {
                        continue;
                    }
                    if self.tabs[index].frozen {
                        self.parked[index].push_back(text.clone());
                    } else {
                        self.input(index, Input::PeerMessage(text.clone()));
                        self.tabs[index].session.handle_peer_message(self.now, &text);
                        self.drain(index);
                    }
                }
            }
            Work::Loss => {
                let position = self.locks.losses.iter().position(|&(tab, _)| self.runnable(tab)).unwrap_or_default();
                let (tab, lock) = self.locks.losses.remove(position).unwrap_or_default();
                self.input(tab, Input::LockLost(lock));
                self.tabs[tab].session.handle_lock_lost(self.now, lock);
                self.drain(tab);
            }
            Work::Grant => {
                let position = self.locks.grants.iter().position(|&(tab, ..)| self.runnable(tab)).unwrap_or_default();
                let (tab, lock, grant) = self.locks.grants.remove(position).expect("a grant");
                self.input(tab, Input::LockAcquired(lock, grant));
                self.tabs[tab].session.handle_lock_acquired(self.now, lock, grant);
                self.drain(tab);
            }
            Work::FetchResult => {
                let position =
                    self.fetches.iter().position(|f| f.due <= self.now && self.runnable(f.tab)).unwrap_or_default();
                let fetch = self.fetches.remove(position);
                if matches!(fetch.outcome, FetchOutcome::Token(_)) && self.issuer.stores(fetch.refresh_token) {
                    self.issuer.stored_refresh_token = self.issuer.stored_refresh_token.max(fetch.refresh_token + 1);
                }
                self.record(|at| Event::Response { tab: fetch.tab, fetch: fetch.fetch, at });
                self.input(fetch.tab, Input::FetchResult(fetch.fetch, fetch.outcome.clone()));
                self.tabs[fetch.tab].session.handle_fetch_result(self.now, fetch.fetch, fetch.outcome);
                self.drain(fetch.tab);
            }
        }
        Some(work)
    }

    /// When the next timer or fetch response of a runnable tab is due.
    pub fn next_due(&self) -> Option<Millis> {
        let next_timer = (0..self.tabs.len())
            .filter(|&index| self.runnable(index))
            .filter_map(|index| self.tabs[index].session.poll_timeout())
            .min();
        let next_fetch = self.fetches.iter().filter(|f| self.runnable(f.tab)).map(|f| f.due).min();
        [next_timer, next_fetch].into_iter().flatten().min()
    }

    /// Moves the clock to `at` (never back) and runs every runnable tab's due timers, without settling.
    pub fn fire_timers_at(&mut self, at: Millis) {
        self.now = self.now.max(at);
        for index in 0..self.tabs.len() {
            if self.runnable(index) {
                self.input(index, Input::Timeout);
                self.tabs[index].session.handle_timeout(self.now);
                self.drain(index);
            }
        }
    }

    /// True when the bus is empty and nothing is due for a runnable tab.
    pub fn is_quiet(&self) -> bool {
        self.pending_work().is_empty()
    }

    pub fn is_runnable(&self, index: usize) -> bool {
        self.runnable(index)
    }

    /// Fetch requests whose responses the provider has not processed yet: (tab, fetch, due).
    pub fn pending_fetches(&self) -> Vec<(usize, FetchId, Millis)> {
        self.fetches.iter().map(|f| (f.tab, f.fetch, f.due)).collect()
    }

    /// Runs the clock to `target`, stopping at every timer and fetch completion on the way.
    pub fn run_until(&mut self, target: Millis) {
        for _ in 0..1_000_000 {
            self.settle();
            match self.next_due() {
                Some(at) if at <= target => self.fire_timers_at(at),
                _ => {
                    self.now = target;
                    self.settle();
                    return;
                }
            }
        }
        panic!("livelock before {target}");
    }

    pub fn run_for(&mut self, ms: u64) {
        self.run_until(self.now + ms);
    }

    /// Closes a tab: the browser releases its locks and it never answers again.
    pub fn close(&mut self, index: usize) {
        self.close_without_settling(index);
        self.settle();
    }

    /// Closes a tab but leaves what that sets off (a grant to the next tab) undelivered.
    pub fn close_without_settling(&mut self, index: usize) {
        self.tabs[index].open = false;
        self.locks.forget_tab(index);
        self.record_steals();
        self.fetches.retain(|f| f.tab != index);
    }

    pub fn freeze(&mut self, index: usize) {
        self.tabs[index].frozen = true;
    }

    pub fn thaw(&mut self, index: usize) {
        self.thaw_without_settling(index);
        self.settle();
    }

    /// Thaws a tab: it reads the messages it missed and wakes, but nothing else is delivered yet.
    pub fn thaw_without_settling(&mut self, index: usize) {
        self.tabs[index].frozen = false;
        let parked: Vec<String> = self.parked[index].drain(..).collect();
        for text in parked {
            self.input(index, Input::PeerMessage(text.clone()));
            self.tabs[index].session.handle_peer_message(self.now, &text);
            self.drain(index);
        }
        self.input(index, Input::Wake);
        self.tabs[index].session.handle_wake(self.now);
        self.drain(index);
    }

    /// The page is hidden (`pagehide`: closing, or entering the back/forward cache): the driver
    /// gives back every lock the tab holds or asked for, and the page runs nothing until
    /// [`Tabs::show`] restores it.
    pub fn hide(&mut self, index: usize) {
        self.locks.let_go(index);
        self.record_steals();
        self.input(index, Input::LocksReleased);
        self.tabs[index].session.handle_locks_released(self.now);
        self.drain(index);
        self.tabs[index].frozen = true;
    }

    /// The page is restored from the back/forward cache (`pageshow` with `persisted`): as a thaw.
    pub fn show(&mut self, index: usize) {
        self.thaw(index);
    }

    /// Grants as before, none reported uncontended: the driver's localStorage lease (no Web
    /// Locks) cannot tell, so every grant waits the peer grace.
    pub fn use_lease(&mut self) {
        self.locks.lease = true;
    }

    pub fn lock_holder(&self) -> Option<(usize, LockId)> {
        self.locks.holder
    }

    /// Grants taken away by a stealer that the robbed tab has not been told about yet.
    pub fn pending_losses(&self) -> Vec<(usize, LockId)> {
        self.locks.losses.iter().copied().collect()
    }

    pub fn total_fetch_calls(&self) -> usize {
        self.tabs.iter().map(|tab| tab.fetch_calls).sum()
    }

    /// Asks tab `index` for a token (as the app would), then settles.
    pub fn ask(&mut self, index: usize, waiter: u32, need: authlane::core::TokenNeed) {
        let now = self.now;
        self.tabs[index].session.handle_token_request(now, waiter, need);
        self.drain(index);
        self.settle();
    }

    /// Asks every open tab for its token now (as a client about to send one would).
    pub fn request_tokens(&mut self, waiter: u32) {
        for index in 0..self.tabs.len() {
            if self.runnable(index) {
                self.tabs[index].session.handle_token_request(self.now, waiter, authlane::core::TokenNeed::Current);
                self.drain(index);
            }
        }
        self.settle();
    }

    /// Sends a raw message on the channel as if from tab `from`.
    pub fn inject(&mut self, from: usize, text: &str) {
        self.post(from, text);
        self.settle();
    }

    /// Queues a raw message on the channel as if from tab `from` (`usize::MAX`: from outside every tab), undelivered.
    pub fn post(&mut self, from: usize, text: &str) {
        self.bus.push_back((from, text.to_string()));
    }
}
