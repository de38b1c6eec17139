//! A virtual-clock harness around one `Session` and a fake token issuer; `tabs` runs several.
#![allow(dead_code)]

pub mod lock_manager;
pub mod rng;
pub mod tabs;

use authlane::core::{
    AuthError, AuthState, Config, FetchId, FetchOutcome, Generation, LockId, Millis, OpId, Output, Session, Slot,
    TokenNeed, TraceKind, WaiterId,
};

/// 2026-11-23T00:00:00Z, in ms.
pub const T0: Millis = 1_795_392_000_000;

pub fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut acc = 0u32;
        for (i, &byte) in chunk.iter().enumerate() {
            acc |= (byte as u32) << (16 - 8 * i);
        }
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((acc >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

pub fn jwt_from_claims(claims: &str) -> String {
    let header = b64(br#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#);
    format!("{header}.{}.c2lnbmF0dXJl", b64(claims.as_bytes()))
}

/// A token issued at `iat_ms` (issuer clock) living `lifetime_s` seconds; `serial` keeps tokens distinct.
pub fn mint(iat_ms: Millis, lifetime_s: u64, serial: u32) -> String {
    let iat = iat_ms / 1000;
    jwt_from_claims(&format!(
        r#"{{"iss":"https://issuer.test","sub":"user_1","aud":"convex","iat":{iat},"exp":{},"jti":"{serial}"}}"#,
        iat + lifetime_s
    ))
}

#[derive(Debug)]
pub struct Harness {
    pub session: Session,
    pub now: Millis,
    /// Every fetch command, in order: (id, forceRefreshToken, time).
    pub fetches: Vec<(FetchId, bool, Millis)>,
    pub resolved: Vec<(WaiterId, Result<Option<(Generation, String)>, AuthError>)>,
    pub states: Vec<AuthState>,
    pub released: Vec<OpId>,
    pub rejected: Vec<(OpId, AuthError)>,
    pub token_changes: Vec<Generation>,
    pub traces: Vec<TraceKind>,
    pub trace_tails: Vec<String>,
    /// Fetch commands not yet answered.
    pub open_fetches: Vec<FetchId>,
    /// Cross-tab and storage commands, in order (a single-session harness only records them).
    pub lock_requests: Vec<(LockId, bool)>,
    pub lock_releases: Vec<LockId>,
    pub broadcasts: Vec<String>,
    pub persisted: Vec<Option<String>>,
    pub recorded_sign_outs: Vec<Millis>,
    /// Records kept for tabs opened later (`Output::Remember`), in order.
    pub remembered: Vec<(Slot, Option<String>)>,
}

impl Harness {
    pub fn new(config: Config) -> Self {
        Harness {
            session: Session::new(config),
            now: T0,
            fetches: Vec::new(),
            resolved: Vec::new(),
            states: Vec::new(),
            released: Vec::new(),
            rejected: Vec::new(),
            token_changes: Vec::new(),
            traces: Vec::new(),
            trace_tails: Vec::new(),
            open_fetches: Vec::new(),
            lock_requests: Vec::new(),
            lock_releases: Vec::new(),
            broadcasts: Vec::new(),
            persisted: Vec::new(),
            recorded_sign_outs: Vec::new(),
            remembered: Vec::new(),
        }
    }

    pub fn started(config: Config) -> Self {
        let mut harness = Harness::new(config);
        harness.session.start(harness.now);
        harness.drain();
        harness
    }

    pub fn drain(&mut self) {
        while let Some(output) = self.session.poll() {
            match output {
                Output::FetchToken { fetch, force_refresh } => {
                    self.fetches.push((fetch, force_refresh, self.now));
                    self.open_fetches.push(fetch);
                }
                Output::ResolveToken { waiter, result } => self.resolved.push((waiter, result)),
                Output::ReleaseOperations(ops) => self.released.extend(ops),
                Output::RejectOperations(ops, error) => self.rejected.extend(ops.into_iter().map(|op| (op, error))),
                Output::TokenChanged { generation } => self.token_changes.push(generation),
                Output::StateChanged { state, .. } => self.states.push(state),
                Output::Trace(trace) => {
                    self.traces.push(trace.kind);
                    self.trace_tails.extend(trace.token_tail);
                }
                Output::AcquireLock { lock, steal } => self.lock_requests.push((lock, steal)),
                Output::ReleaseLock { lock } => self.lock_releases.push(lock),
                Output::Broadcast(message) => self.broadcasts.push(message),
                Output::Persist(record) => self.persisted.push(record),
                Output::RecordSignOut(at) => self.recorded_sign_outs.push(at),
                Output::Remember { slot, record } => self.remembered.push((slot, record)),
            }
        }
    }

    /// Jumps the clock to `target`, firing each timer at its own deadline on the way.
    pub fn advance_to(&mut self, target: Millis) {
        let mut steps = 0;
        while let Some(deadline) = self.session.poll_timeout() {
            if deadline > target {
                break;
            }
            steps += 1;
            assert!(steps < 10_000, "livelock: timers keep firing before {target}");
            self.now = self.now.max(deadline);
            self.session.handle_timeout(self.now);
            self.drain();
        }
        self.now = target;
    }

    pub fn advance(&mut self, ms: u64) {
        self.advance_to(self.now + ms);
    }

    /// Answers the oldest open fetch.
    pub fn answer(&mut self, outcome: FetchOutcome) {
        assert!(!self.open_fetches.is_empty(), "no fetch to answer");
        let fetch = self.open_fetches.remove(0);
        self.session.handle_fetch_result(self.now, fetch, outcome);
        self.drain();
    }

    /// Answers the oldest open fetch with a fresh token minted now on the issuer's clock.
    pub fn answer_fresh(&mut self, lifetime_s: u64) -> String {
        let token = mint(self.now, lifetime_s, self.fetches.len() as u32);
        self.answer(FetchOutcome::Token(token.clone()));
        token
    }

    /// Asks for a forced token (waiter 1) and answers it `delay_ms` later with a token minted as
    /// the request arrived, living `lifetime_s` (a slow network, or a tab frozen mid-fetch).
    /// Returns when it was asked for, and the token.
    pub fn answer_forced_late(&mut self, delay_ms: u64, lifetime_s: u64, serial: u32) -> (Millis, String) {
        self.session.handle_token_request(self.now, 1, TokenNeed::Forced);
        self.drain();
        let asked_at = self.now;
        self.advance(delay_ms);
        let token = mint(asked_at, lifetime_s, serial);
        self.answer(FetchOutcome::Token(token.clone()));
        (asked_at, token)
    }

    pub fn fetch_count(&self) -> usize {
        self.fetches.len()
    }

    pub fn state(&self) -> AuthState {
        self.session.state()
    }
}
