//! N tabs of one app on one virtual clock: a lock manager with Web Locks' semantics (FIFO, steal,
//! released when a tab closes), a broadcast bus, and an issuer that rotates refresh tokens and
//! revokes the family when one is reused — the provider SDK's refresh token lives in shared storage,
//! read when a fetch starts and replaced when it succeeds.

use std::collections::{BTreeMap, VecDeque};

use authlane::core::{AuthError, AuthState, Config, ErrorCode, FetchId, FetchOutcome, LockId, Millis, Output, Session};

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
    /// The refresh token in the provider SDK's shared storage: read when a request is sent,
    /// replaced when a successful response is processed.
    stored_refresh_token: u64,
    /// Each spent refresh token and when it was first used.
    spent: BTreeMap<u64, Millis>,
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
            stored_refresh_token: 1,
            spent: BTreeMap::new(),
        }
    }

    /// The server side of a refresh request, processed as it arrives.
    fn redeem(&mut self, refresh_token: u64, now: Millis) -> FetchOutcome {
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
        FetchOutcome::Token(mint(now, self.lifetime_s, self.tokens_issued as u32))
    }
}

pub struct Tab {
    pub session: Session,
    pub open: bool,
    /// A frozen tab (Chrome's Memory Saver, a debugger) runs nothing: no timers, messages or grants.
    pub frozen: bool,
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

/// Web Locks as the driver uses them: one exclusive lock, FIFO; stealers queue on a second
/// "takeover" lock and, holding it, steal the main one (its holder is told it lost the grant).
#[derive(Default)]
struct LockManager {
    holder: Option<(usize, LockId)>,
    queue: VecDeque<(usize, LockId)>,
    takeover_holder: Option<(usize, LockId)>,
    takeover_queue: VecDeque<(usize, LockId)>,
    grants: VecDeque<(usize, LockId)>,
    losses: VecDeque<(usize, LockId)>,
}

impl LockManager {
    fn request(&mut self, tab: usize, lock: LockId, steal: bool) {
        self.queue.retain(|&entry| entry != (tab, lock));
        if steal {
            if self.takeover_holder.is_none() {
                self.take_over(tab, lock);
            } else {
                self.takeover_queue.push_back((tab, lock));
            }
        } else if self.holder.is_none() {
            self.holder = Some((tab, lock));
            self.grants.push_back((tab, lock));
        } else {
            self.queue.push_back((tab, lock));
        }
    }

    fn take_over(&mut self, tab: usize, lock: LockId) {
        self.takeover_holder = Some((tab, lock));
        if let Some(previous) = self.holder.replace((tab, lock)) {
            self.losses.push_back(previous);
        }
        self.grants.push_back((tab, lock));
    }

    fn release(&mut self, tab: usize, lock: LockId) {
        self.queue.retain(|&entry| entry != (tab, lock));
        self.takeover_queue.retain(|&entry| entry != (tab, lock));
        if self.takeover_holder == Some((tab, lock)) {
            self.takeover_holder = None;
        }
        if self.holder == Some((tab, lock)) {
            self.holder = None;
            if let Some(next) = self.queue.pop_front() {
                self.holder = Some(next);
                self.grants.push_back(next);
            }
        }
        if self.takeover_holder.is_none() {
            if let Some((next_tab, next_lock)) = self.takeover_queue.pop_front() {
                self.take_over(next_tab, next_lock);
            }
        }
    }

    fn forget_tab(&mut self, tab: usize) {
        self.queue.retain(|&(t, _)| t != tab);
        self.takeover_queue.retain(|&(t, _)| t != tab);
        for held in [self.holder, self.takeover_holder].into_iter().flatten() {
            if held.0 == tab {
                self.release(held.0, held.1);
            }
        }
    }
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
}

impl Tabs {
    pub fn new(count: usize, config: Config, issuer: Issuer) -> Self {
        let tabs = (0..count)
            .map(|index| Tab {
                session: Session::new(Config { seed: config.seed + index as u64, ..config.clone() }),
                open: true,
                frozen: false,
                fetch_calls: 0,
                states: Vec::new(),
                tokens_used: Vec::new(),
                traces: Vec::new(),
            })
            .collect();
        Tabs {
            now: T0,
            tabs,
            issuer,
            bus: VecDeque::new(),
            parked: vec![VecDeque::new(); count],
            locks: LockManager::default(),
            fetches: Vec::new(),
        }
    }

    pub fn cross_tab_config() -> Config {
        Config { cross_tab: true, ..Config::default() }
    }

    /// Starts every tab at the current time.
    pub fn start_all(&mut self) {
        for index in 0..self.tabs.len() {
            self.tabs[index].session.start(self.now);
            self.drain(index);
        }
        self.settle();
    }

    pub fn drain(&mut self, index: usize) {
        while let Some(output) = self.tabs[index].session.poll() {
            match output {
                Output::FetchToken { fetch, .. } => {
                    self.tabs[index].fetch_calls += 1;
                    let refresh_token = self.issuer.stored_refresh_token;
                    let outcome = self.issuer.redeem(refresh_token, self.now);
                    let due = self.now + self.issuer.latency_ms;
                    self.fetches.push(PendingFetch { tab: index, fetch, due, refresh_token, outcome });
                }
                Output::AcquireLock { lock, steal } => self.locks.request(index, lock, steal),
                Output::ReleaseLock { lock } => self.locks.release(index, lock),
                Output::Broadcast(text) => self.bus.push_back((index, text)),
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
            if let Some((sender, text)) = self.bus.pop_front() {
                for index in 0..self.tabs.len() {
                    if index == sender || !self.tabs[index].open {
                        continue;
                    }
                    if self.tabs[index].frozen {
                        self.parked[index].push_back(text.clone());
                    } else {
                        self.tabs[index].session.handle_peer_message(self.now, &text);
                        self.drain(index);
                    }
                }
                continue;
            }
            if let Some(position) = self.locks.losses.iter().position(|&(tab, _)| self.runnable(tab)) {
                let (tab, lock) = self.locks.losses.remove(position).unwrap_or_default();
                self.tabs[tab].session.handle_lock_lost(self.now, lock);
                self.drain(tab);
                continue;
            }
            if let Some(position) = self.locks.grants.iter().position(|&(tab, _)| self.runnable(tab)) {
                let (tab, lock) = self.locks.grants.remove(position).unwrap_or_default();
                self.tabs[tab].session.handle_lock_acquired(self.now, lock);
                self.drain(tab);
                continue;
            }
            let due = self.fetches.iter().position(|f| f.due <= self.now && self.runnable(f.tab));
            if let Some(position) = due {
                let fetch = self.fetches.remove(position);
                if matches!(fetch.outcome, FetchOutcome::Token(_)) {
                    self.issuer.stored_refresh_token = self.issuer.stored_refresh_token.max(fetch.refresh_token + 1);
                }
                self.tabs[fetch.tab].session.handle_fetch_result(self.now, fetch.fetch, fetch.outcome);
                self.drain(fetch.tab);
                continue;
            }
            return;
        }
        panic!("livelock at {}", self.now);
    }

    /// Runs the clock to `target`, stopping at every timer and fetch completion on the way.
    pub fn run_until(&mut self, target: Millis) {
        for _ in 0..1_000_000 {
            self.settle();
            let next_timer = (0..self.tabs.len())
                .filter(|&index| self.runnable(index))
                .filter_map(|index| self.tabs[index].session.poll_timeout().map(|at| (at, index)))
                .min();
            let next_fetch = self.fetches.iter().filter(|f| self.runnable(f.tab)).map(|f| f.due).min();
            let next = [next_timer.map(|(at, _)| at), next_fetch].into_iter().flatten().min();
            match next {
                Some(at) if at <= target => {
                    self.now = self.now.max(at);
                    for index in 0..self.tabs.len() {
                        if self.runnable(index) {
                            self.tabs[index].session.handle_timeout(self.now);
                            self.drain(index);
                        }
                    }
                }
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
        self.tabs[index].open = false;
        self.locks.forget_tab(index);
        self.fetches.retain(|f| f.tab != index);
        self.settle();
    }

    pub fn freeze(&mut self, index: usize) {
        self.tabs[index].frozen = true;
    }

    pub fn thaw(&mut self, index: usize) {
        self.tabs[index].frozen = false;
        let parked: Vec<String> = self.parked[index].drain(..).collect();
        for text in parked {
            self.tabs[index].session.handle_peer_message(self.now, &text);
            self.drain(index);
        }
        self.tabs[index].session.handle_wake(self.now);
        self.drain(index);
        self.settle();
    }

    pub fn lock_holder(&self) -> Option<(usize, LockId)> {
        self.locks.holder
    }

    pub fn total_fetch_calls(&self) -> usize {
        self.tabs.iter().map(|tab| tab.fetch_calls).sum()
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
        self.bus.push_back((from, text.to_string()));
        self.settle();
    }
}
