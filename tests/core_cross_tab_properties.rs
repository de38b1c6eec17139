#![cfg(not(target_arch = "wasm32"))]
//! Cross-tab property tests: seeded random multi-tab sequences (2–8 tabs on one virtual clock,
//! one lock manager, one bus, one rotating issuer; see `common::tabs`) checked against the
//! invariants below after every step, plus deterministic tests for the edge cases the sequences
//! turned up, and ignored tests (`BUG: …`) that reproduce the bugs they found.
//!
//! A failure prints the seed, the sequence's parameters and its last steps; runs are
//! deterministic, so the seed reproduces it. Environment:
//! `AUTHLANE_FUZZ_SEQUENCES=20000 cargo test --release --test core_cross_tab_properties` for a
//! deeper run, `AUTHLANE_FUZZ_SEED=n` for sequence `n` alone, `AUTHLANE_FUZZ_KEEP_GOING=1` to tally
//! failures by kind instead of stopping at the first (try it on the ignored unsteered test),
//! `AUTHLANE_FUZZ_TIMES=1` for the slowest sequences.
//!
//! # The model
//!
//! Each sequence draws a config (cross-tab on; lock timeout 1–15 s; peer grace 0–200 ms; leeway
//! 0–30 s, sometimes just under the lifetime; token lifetime 5–120 s; issuer latency 0–3 s;
//! reuse window 0 or 10 s; Web Locks, or one time in four the lease, which reports no grant
//! uncontended) and runs 150 steps: the clock forward by 0–90 s (or, *racy*, to the
//! next timer with only part of what is then due delivered, in random order), token requests of
//! every `TokenNeed`, server verdicts on current and older generations, sign-out and sign-in,
//! freeze/thaw/close, late tabs, garbage and stale or replayed token messages, rarely a dispose.
//! *Sign-out*: the provider drops its refresh token (the issuer answers "signed out") and one tab
//! calls `sign_out`. *Sign-in*: the provider opens a new refresh-token family and the app asks one
//! tab for a `Current` token.
//!
//! # The invariants, precisely
//!
//! Checked on the harness's event log as it happens (every input, output, issuer request):
//! - **Fetch only under the lock.** A tab emits `FetchToken` only while it believes it holds a
//!   lock (it accepted a grant, traced `LockAcquired`, and has since neither released it, traced
//!   `LockLost`, nor released it on the hold timeout). When the request reaches the issuer, the
//!   lock manager's holder is that (tab, lock) — or the grant was stolen and the robbed tab has
//!   not been told yet (`handle_lock_lost` is still queued: a thawed tab can run its grace timer
//!   before it hears of the steal). The same holds of every belief at every step boundary, so at
//!   most one tab believes it holds the lock, apart from robbed tabs not yet told.
//! - **No refresh-token reuse.** The issuer never receives two requests carrying the same refresh
//!   token, unless one of them was *disturbed*: its tab was frozen, closed or disposed while the
//!   request was outstanding (sent, response not yet processed), its lock was stolen or released on
//!   the hold timeout while outstanding, the tab's fetch timeout gave up on it, or it was sent by a
//!   robbed tab not yet told. (Requests answered "signed out" or "revoked" spend nothing and are
//!   not counted.) Stronger, for *calm* sequences — no freeze, close or dispose so far, and
//!   `peer_grace + latency < lock_timeout` — the issuer detects no reuse at all. (`latency <
//!   lock_timeout` alone is not enough: the hold timer starts when the fetch does, so a holder may
//!   keep the lock for grace + lock timeout, while a waiter steals after a lock timeout counted
//!   from its own request.)
//! - **No expired token handed out.** Every token a tab hands out (`ResolveToken`) at time `t`
//!   has `t < exp + latency + 1 s`. The slack is by design: a token fetched with
//!   `forceRefreshToken` counts its whole lifetime from receipt (the client cannot trust its clock
//!   against `iat`), so its estimate runs late by the issuer latency plus `iat`'s truncation to
//!   whole seconds; every other estimate (cache age, peers' `expiresAt`) inherits at most that.
//! - **No refresh scheduled past the token's expiry** (from the `TokenAdopted` and
//!   `RefreshScheduled` traces of one input).
//! - **Never re-adopt a rejected token.** A tab never adopts from a peer the token its own
//!   server last rejected (the session's `last_rejected`).
//! - **Garbage is counted and changes nothing.** A message that does not decode (or whose token
//!   does not) produces exactly one `PeerMessageIgnored` trace and no other output in each live
//!   tab; `ignored_peer_messages()` equals the number of such deliveries; no getter changes.
//!   Messages that do decode are never counted.
//! - **Signed out stays signed out.** Between a sign-out and the next sign-in, every fetch that
//!   starts is one the app asked for (reason `Startup` or `Requested`, or the `Retry` of such an
//!   attempt that failed), never a proactive refresh, a rejection's or a stale token's.
//!
//! Checked at every quiet step boundary (nothing deliverable left):
//! - every open, unfrozen, live tab that is `Authenticated` holds a token, and that token is
//!   unexpired (same slack as above) or the tab is fetching its replacement (a refresh waiting for
//!   a frozen holder's lock may outlive the token; no one is handed it meanwhile, see above);
//! - right after a sign-out and one settle, every open, unfrozen, live tab is `Unauthenticated`,
//!   holds no token and is not fetching; and until a sign-in, none holds a token or is
//!   `Authenticated` (a tab started meanwhile is `Loading` until its fetch answers "signed out");
//! - after a sign-in that got a token, every open, unfrozen, live tab is `Authenticated` (unless
//!   the new family was revoked meanwhile, by a reuse the checks above have judged);
//! - in calm sequences, zero reuse detections.
//!
//! At the end of a sequence (every tab thawed, then up to ten minutes): every token request made
//! in a tab that is still open has been answered exactly once. No panic and no livelock anywhere
//! (the harness panics on a livelock).
//!
//! Fetch counts (N tabs cost what one tab costs, within +1) are checked by a separate
//! deterministic test over a few configurations and random request schedules.
//!
//! # Steering around known bugs
//!
//! The main test steers clear of the open bugs the sequences found (`Fuzz::steer`), each
//! reproduced by an ignored test at the end of this file. It avoids their triggers: sign-out and
//! sign-in from a tab behind in epochs, undecodable tokens once a sign-out happened, sign-outs and rejections while a request is out.
//! It exempts exactly their effects: a steal, without a peer grace, from a holder that took the
//! lock less than a lock timeout ago; a refresh scheduled past the expiry of a token with under a
//! second left; the waiters of a tab whose attempt lost its lock. The same generator unsteered
//! (`random_multi_tab_sequences_unsteered`, ignored) reaches all of them. Bugs since fixed keep a
//! plain regression test and no steering. (Calibrated against the working tree of `src/` at the
//! time of writing, which fixed three of the bugs found at d793916.)

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use authlane::core::{
    decode, AuthState, Config, FetchId, FetchOutcome, FetchReason, Generation, LockGrant, LockId, Millis, Output, PeerMessage,
    TokenNeed, TraceKind, Verdict, WaiterId,
};
use common::tabs::{Event, Input, Issuer, Tabs};
use common::rng::Rng;
use common::{mint, Harness, T0};


// ---- sequence parameters ----

#[derive(Debug, Clone)]
struct Params {
    tabs: usize,
    config: Config,
    lifetime_s: u64,
    latency_ms: u64,
    reuse_window_ms: u64,
    /// Interleave deliveries in random order and act while work is still pending.
    racy: bool,
    /// The driver's localStorage lease instead of Web Locks: no grant is reported uncontended, so
    /// every holder waits the peer grace.
    lease: bool,
    /// No freeze, close or dispose, and `peer_grace + latency < lock_timeout`: the sequence stays
    /// calm (see the module doc) unless a known bug's exemption applies (see `Fuzz::steer`).
    calm: bool,
}

impl Params {
    fn random(rng: &mut Rng) -> Self {
        let lifetime_s = rng.range(5, 121);
        let refresh_leeway_ms = match rng.below(100) {
            // Within a second of the lifetime: a forced token's refresh would land within a second
            // of receipt, so the session backs it off (never past half of what is left). Rare: a
            // refresh a second is slow to simulate.
            0..=1 => lifetime_s * 1000 - rng.range(1, 1000),
            // Just under the lifetime: a refresh every few seconds.
            2..=5 => (lifetime_s * 1000).saturating_sub(rng.range(3_000, 6_000)),
            6..=19 => rng.pick(&[0, 1_000, 10_000, 30_000]),
            _ => rng.below(30_001),
        };
        let config = Config {
            cross_tab: true,
            refresh_leeway_ms,
            lock_timeout_ms: rng.range(1_000, 15_001),
            peer_grace_ms: match rng.below(4) {
                0 => 0,
                _ => rng.below(201),
            },
            persist: rng.chance(30),
            seed: rng.next(),
            ..Config::default()
        };
        let mut latency_ms = match rng.below(4) {
            0 => 0,
            1 => rng.below(200),
            _ => rng.below(3_001),
        };
        let calm = rng.chance(35);
        if calm {
            latency_ms = latency_ms.min(config.lock_timeout_ms - config.peer_grace_ms - 1);
        }
        Params {
            calm,
            // 2–8, more often few: the cost of a step grows with the square of the tab count.
            tabs: if rng.chance(60) { rng.range(2, 5) } else { rng.range(5, 9) } as usize,
            config,
            lifetime_s,
            latency_ms,
            reuse_window_ms: if rng.chance(50) { 0 } else { 10_000 },
            racy: rng.chance(40),
            lease: rng.chance(25),
        }
    }

    fn issuer(&self) -> Issuer {
        let mut issuer = Issuer::new(self.lifetime_s, self.latency_ms);
        issuer.reuse_window_ms = self.reuse_window_ms;
        issuer
    }

    /// The by-design lateness of an expiry estimate (see the module doc).
    fn slack_ms(&self) -> u64 {
        self.latency_ms + 1_000
    }
}

// ---- the model the event log is replayed against ----

#[derive(Debug, Default, Clone)]
struct TabModel {
    /// The lock this tab believes it holds, and since when.
    lock: Option<LockId>,
    lock_since: Millis,
    /// The lock this tab has asked for and not yet been granted or given up.
    wanted: Option<LockId>,
    /// This tab's attempt lost track of its lock request (known bug, see `Fuzz::end_input`).
    hung: bool,
    /// The tab gave up on the lock (`LockUnavailable`) and its next fetch goes without it.
    alone: bool,
    /// Tokens whose refresh this tab scheduled past their expiry (steered only, see `RefreshScheduled`).
    refresh_past_expiry: BTreeSet<String>,
    disposed: bool,
    closed: bool,
    /// Raw token of each generation this tab adopted.
    tokens: BTreeMap<Generation, String>,
    last_rejected: Option<String>,
    /// Garbage messages delivered while live.
    garbage_seen: u64,
    /// Token requests made and not yet answered.
    waiting: BTreeSet<WaiterId>,
    /// The lifetime left (ms) of the token this tab adopted last, from its `TokenAdopted` trace.
    adopted_with: Option<(u64, String)>,
    /// The session's sign-out epoch, mirrored from the messages it handled (only used to steer
    /// the generator around a known bug, see `Fuzz::epoch_tabs`).
    epoch: u64,
}

#[derive(Debug, Clone)]
struct Request {
    tab: usize,
    fetch: FetchId,
    /// The lock the tab believed it held when it sent the request (none: it gave up on the lock).
    lock: Option<LockId>,
    refresh_token: u64,
    at: Millis,
    processed: bool,
    disturbed: Option<&'static str>,
}

/// What a direct call (through `Tabs::call`) was, matched in order with `Input::Direct` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direct {
    Start,
    Request(WaiterId),
    Verdict(Generation, Verdict),
    SignOut,
    Dispose,
    Wake,
}

#[derive(Debug, Default)]
struct Stats {
    sequences: u64,
    steps: u64,
    fetches: u64,
    tokens_issued: u64,
    steals: u64,
    hold_timeouts: u64,
    robbed_fetches: u64,
    duplicates_exempted: u64,
    reuse_detections: u64,
    peer_adoptions: u64,
    fetches_skipped: u64,
    stale_broadcasts: u64,
    rejections: u64,
    rejected_replays: u64,
    garbage: u64,
    sign_outs: u64,
    sign_ins: u64,
    late_tabs: u64,
    freezes: u64,
    closes: u64,
    disposes: u64,
    calm_sequences: u64,
    racy_sequences: u64,
    waiters_answered: u64,
    abandoned_fetches: u64,
    healthy_steals: u64,
    lost_lock_ids: u64,
    refreshes_past_expiry: u64,
}

struct Fuzz {
    rng: Rng,
    p: Params,
    tabs: Tabs,
    m: Vec<TabModel>,
    requests: Vec<Request>,
    /// Refresh token -> the first request that spent it.
    spent: BTreeMap<u64, usize>,
    directs: VecDeque<Direct>,
    /// The input whose outputs are being replayed, and those outputs so far.
    ctx: Option<(usize, Input)>,
    ctx_outputs: Vec<Output>,
    /// Direct call being replayed.
    ctx_direct: Option<Direct>,
    /// The lock the tab of the input being replayed was waiting for when the input began.
    ctx_wanted: Option<LockId>,
    /// A sign-out ran and no sign-in since.
    signed_out: bool,
    /// Calm so far: see the module doc.
    calm: bool,
    next_waiter: WaiterId,
    sign_outs_so_far: u64,
    /// Stay clear of the known bugs (each has its own ignored test below). Avoided: sign-outs and
    /// sign-ins from a tab behind in epochs (`Fuzz::epoch_tabs`), late tabs next to frozen ones
    /// after a sign-out (`Fuzz::step`), undecodable tokens once a sign-out happened
    /// (`Fuzz::garbage_text`), sign-outs and rejections while a request is out
    /// (`Fuzz::request_out`). Exempted: a steal from a holder that took the lock less than a lock
    /// timeout ago without a grace period (`Event::Stolen` in `Fuzz::event`), a refresh scheduled
    /// past the expiry of a token with under a second left (`Fuzz::slack_for`), waiters of a tab
    /// whose attempt lost its lock (`Fuzz::end_input`).
    steer: bool,
    /// Token messages tabs really sent, for replays.
    token_messages: Vec<String>,
    /// Raw tokens the issuer minted.
    minted: Vec<String>,
    stats: Stats,
    parsed: FastMap<String, Parsed>,
    /// The parsed form of the peer message being replayed.
    ctx_parsed: Option<Parsed>,
    exps: FastMap<String, Millis>,
    /// The sequence's parameters and its last steps, formatted only if it fails.
    params_line: String,
    history: VecDeque<Line>,
}

/// One line of a sequence's history, formatted lazily (formatting every output is slow).
enum Line {
    Text(String),
    Output(Millis, usize, Output),
    Issuer(usize, FetchId, u64, FetchOutcome),
}

impl Line {
    fn format(&self) -> String {
        compact(&match self {
            Line::Text(text) => text.clone(),
            Line::Output(at, tab, output) => format!("    +{} tab {tab}: {output:?}", at - T0),
            Line::Issuer(tab, fetch, refresh_token, outcome) => {
                format!("    issuer: tab {tab} fetch {fetch} with refresh token {refresh_token:#x} -> {outcome:?}")
            }
        })
    }
}

const HISTORY: usize = 400;

/// FNV-1a: the model hashes every message it sees, and SipHash showed up in profiles.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &byte in bytes {
            hash = (hash ^ byte as u64).wrapping_mul(0x100_0000_01b3);
        }
        self.0 = hash;
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// A peer message as the model reads it (parsed once per distinct text: parsing dominates the run time).
#[derive(Debug, Clone)]
struct Parsed {
    garbage: bool,
    epoch: u64,
    message: Option<PeerMessage>,
}

fn parse(text: &str) -> Parsed {
    match PeerMessage::decode_with_time(text) {
        Ok((epoch, message)) => Parsed { garbage: is_garbage(text), epoch, message: Some(message) },
        Err(_) => Parsed { garbage: true, epoch: 0, message: None },
    }
}

fn is_garbage(text: &str) -> bool {
    match PeerMessage::decode(text) {
        Err(_) => true,
        Ok(PeerMessage::Token { token, .. }) => decode(&token).is_err(),
        Ok(_) => false,
    }
}

/// Debug output with each minted token shown as `jwt#<serial>`.
fn compact(text: &str) -> String {
    let header = &mint(0, 1, 0)[..common::b64(br#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#).len() + 1];
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(header) {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = after.find(".c2lnbmF0dXJl").map_or(after.len(), |e| e + ".c2lnbmF0dXJl".len());
        let token = &after[..end];
        match decode(token) {
            Ok(_) => {
                let payload = token.split('.').nth(1).unwrap_or("");
                let serial = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .and_then(|json| {
                        json.split("\"jti\":\"").nth(1).map(|t| t.split('"').next().unwrap_or("").to_string())
                    })
                    .unwrap_or_default();
                out.push_str(&format!("jwt#{serial}"));
            }
            Err(_) => out.push_str(token),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Envelope-level garbage: wrong version, missing or unknown kind, fields of the wrong type.
fn rng_pick_envelope(rng: &mut Rng, token: &str) -> String {
    match rng.below(8) {
        0 => "{\"v\":2,\"kind\":\"signed_out\"}".into(),
        1 => "{\"kind\":\"request\"}".into(),
        2 => "{\"v\":1,\"kind\":\"explode\"}".into(),
        3 => "{\"v\":1,\"kind\":\"token\"}".into(),
        4 => format!("{{\"v\":1,\"kind\":\"token\",\"token\":\"{token}\",\"expiresAt\":\"soon\"}}"),
        5 => format!("{{\"v\":1,\"kind\":\"token\",\"token\":\"{token}\",\"expiresAt\":-5}}"),
        6 => "{\"v\":1,\"kind\":\"token\",\"token\":\"\"}".into(),
        _ => "[1,2,3]".into(),
    }
}

fn exp_ms(raw: &str) -> Millis {
    decode(raw).expect("tokens in play decode").claims.exp.expect("minted tokens have exp") * 1000
}

impl Fuzz {
    fn new(seed: u64, steer: bool) -> Self {
        let mut rng = Rng::new(seed);
        let p = Params::random(&mut rng);
        let mut tabs = Tabs::new(p.tabs, p.config.clone(), p.issuer());
        if p.lease {
            tabs.use_lease();
        }
        tabs.events = Some(Vec::new());
        let calm = p.config.peer_grace_ms + p.latency_ms < p.config.lock_timeout_ms;
        assert!(calm || !p.calm);
        let params_line = format!("{p:?}");
        Fuzz {
            rng,
            m: vec![TabModel::default(); p.tabs],
            p,
            tabs,
            requests: Vec::new(),
            spent: BTreeMap::new(),
            directs: VecDeque::new(),
            ctx: None,
            ctx_outputs: Vec::new(),
            ctx_direct: None,
            ctx_wanted: None,
            signed_out: false,
            calm,
            next_waiter: 0,
            sign_outs_so_far: 0,
            steer,
            token_messages: Vec::new(),
            minted: Vec::new(),
            stats: Stats::default(),
            params_line,
            parsed: FastMap::default(),
            ctx_parsed: None,
            exps: FastMap::default(),
            history: VecDeque::new(),
        }
    }

    fn now(&self) -> Millis {
        self.tabs.now
    }

    fn parsed(&mut self, text: &str) -> Parsed {
        if let Some(parsed) = self.parsed.get(text) {
            return parsed.clone();
        }
        let parsed = parse(text);
        self.parsed.insert(text.to_string(), parsed.clone());
        parsed
    }

    /// How late `raw`'s expiry estimate may run in `tab` (see `Params::slack_ms`); unchecked if its
    /// refresh was scheduled past its expiry (steered only).
    fn slack_for(&self, tab: usize, raw: &str) -> u64 {
        if self.m[tab].refresh_past_expiry.contains(raw) {
            return u64::MAX / 4;
        }
        self.p.slack_ms()
    }

    fn exp_of(&mut self, raw: &str) -> Millis {
        if let Some(&exp) = self.exps.get(raw) {
            return exp;
        }
        let exp = exp_ms(raw);
        self.exps.insert(raw.to_string(), exp);
        exp
    }

    fn log(&mut self, line: String) {
        let text = format!("@{} {line}", self.now() - T0);
        self.note(Line::Text(text));
    }

    fn note(&mut self, line: Line) {
        if self.history.len() >= HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(line);
    }

    fn live(&self, tab: usize) -> bool {
        self.tabs.is_runnable(tab) && !self.m[tab].disposed
    }

    fn live_tabs(&self) -> Vec<usize> {
        (0..self.tabs.tabs.len()).filter(|&i| self.live(i)).collect()
    }

    fn pick_live(&mut self) -> Option<usize> {
        let live = self.live_tabs();
        (!live.is_empty()).then(|| live[self.rng.index(live.len())])
    }

    /// The live tabs a sign-out or sign-in may start from. Steered: only those in the highest
    /// epoch of any open tab. A tab opened after a sign-out starts in epoch 0 and learns the
    /// current epoch only from a peer's token; one that fetched its own token instead stays
    /// behind, and then its sign-in never reaches the other tabs and its sign-out never reaches
    /// tabs that are signed in again (known bugs, see the `fresh_tab` tests below).
    fn epoch_tabs(&self) -> Vec<usize> {
        let live = self.live_tabs();
        if !self.steer {
            return live;
        }
        let open = (0..self.m.len()).filter(|&i| self.tabs.tabs[i].open && !self.m[i].disposed);
        let highest = open.map(|i| self.m[i].epoch).max().unwrap_or(0);
        live.into_iter().filter(|&i| self.m[i].epoch == highest).collect()
    }

    /// Whether a tab that is still open has a request at the issuer. Steered, no sign-out and no
    /// rejection happens then: a fetch abandoned mid-flight keeps its lock with the hold timer
    /// armed, and when that timer fires it takes the lock of whatever attempt the tab has started
    /// since, which then hangs or never releases its lock (known bug, see
    /// `a_stale_hold_timer_must_not_take_the_next_attempts_lock`).
    fn request_out(&self, tab: Option<usize>) -> bool {
        self.steer
            && self
                .requests
                .iter()
                .any(|r| !r.processed && self.tabs.tabs[r.tab].open && tab.is_none_or(|t| t == r.tab))
    }

    fn pick_epoch_tab(&mut self) -> Option<usize> {
        let tabs = self.epoch_tabs();
        (!tabs.is_empty()).then(|| tabs[self.rng.index(tabs.len())])
    }

    // ---- replaying the event log ----

    fn absorb(&mut self) {
        let events = std::mem::take(self.tabs.events.as_mut().expect("recording"));
        for event in events {
            self.event(event);
        }
        self.end_input();
    }

    fn end_input(&mut self) {
        let Some((tab, input)) = self.ctx.take() else { return };
        let outputs = std::mem::take(&mut self.ctx_outputs);
        let ignored = |o: &Output| matches!(o, Output::Trace(t) if t.kind == TraceKind::PeerMessageIgnored);
        if let Input::PeerMessage(text) = &input {
            if self.ctx_parsed.as_ref().is_some_and(|p| p.garbage) {
                if self.m[tab].disposed {
                    assert!(outputs.is_empty(), "tab {tab}: a disposed session reacted to garbage: {outputs:?}");
                } else {
                    assert!(
                        outputs.len() == 1 && ignored(&outputs[0]),
                        "tab {tab}: garbage {text:?} had effects beyond one PeerMessageIgnored: {outputs:?}"
                    );
                    self.m[tab].garbage_seen += 1;
                    self.stats.garbage += 1;
                }
            } else {
                assert!(!outputs.iter().any(ignored), "tab {tab}: a valid message {text:?} was counted as ignored");
            }
        } else {
            assert!(!outputs.iter().any(ignored), "tab {tab}: PeerMessageIgnored outside a peer message");
        }
        // A grant (or loss) of the very lock a tab is waiting for is always taken up: only a lock
        // the tab gave up may be refused. The session once lost track of it — a hold timer left
        // armed by an abandoned fetch took the lock of the attempt that followed, which then never
        // fetches nor answers its waiters (known bug, see
        // `a_stale_hold_timer_must_not_take_the_next_attempts_lock`).
        let trace = |kind: TraceKind| outputs.iter().any(|o| matches!(o, Output::Trace(t) if t.kind == kind));
        let dropped = match input {
            Input::LockAcquired(lock, _) => self.ctx_wanted == Some(lock) && !trace(TraceKind::LockAcquired),
            Input::LockLost(lock) => self.ctx_wanted == Some(lock) && !trace(TraceKind::LockLost),
            _ => false,
        };
        if dropped && !self.m[tab].disposed {
            self.stats.lost_lock_ids += 1;
            assert!(self.steer, "tab {tab} refused the lock it was waiting for: its attempt lost track of it");
            self.m[tab].hung = true;
        }
        self.ctx_direct = None;
    }

    fn mark_outstanding(&mut self, tab: usize, why: &'static str) {
        for request in self.requests.iter_mut().filter(|r| r.tab == tab && !r.processed) {
            request.disturbed.get_or_insert(why);
        }
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Input { tab, input, at } => {
                self.end_input();
                if !matches!(input, Input::Timeout | Input::Direct(_)) {
                    self.note(Line::Text(format!("  +{} tab {tab} <- {input:?}", at - T0)));
                }
                if let Input::Direct(label) = &input {
                    let direct = self.directs.pop_front().unwrap_or_else(|| panic!("unexpected direct call {label}"));
                    self.ctx_direct = Some(direct);
                    if direct == Direct::SignOut && !self.m[tab].disposed {
                        // The session's `signed_out_at`: the sign-out time, strictly increasing.
                        self.m[tab].epoch = at.max(self.m[tab].epoch + 1);
                    }
                }
                self.ctx_parsed = None;
                if let Input::PeerMessage(text) = &input {
                    let parsed = self.parsed(text);
                    self.ctx_parsed = Some(parsed.clone());
                    let model = &mut self.m[tab];
                    // Messages carry times now (`at`): only a newer sign-out moves a tab's `signed_out_at`.
                    if let Some(PeerMessage::SignedOut) = parsed.message {
                        if parsed.epoch > model.epoch && !model.disposed {
                            model.epoch = parsed.epoch;
                        }
                    }
                }
                self.ctx_wanted = self.m[tab].wanted;
                if let Input::LockLost(lock) = input {
                    // Told of the loss, the tab holds the lock no more, whatever it does with the news
                    // (a fetch it abandoned and keeps the lock for until it lands traces nothing).
                    if self.m[tab].lock == Some(lock) {
                        self.m[tab].lock = None;
                    }
                }
                self.ctx = Some((tab, input));
            }
            Event::Output { tab, output, at } => {
                let ctx_tab = self.ctx.as_ref().map(|(t, _)| *t);
                assert_eq!(ctx_tab, Some(tab), "output {output:?} of tab {tab} outside any input of it");
                self.output(tab, at, &output);
                self.ctx_outputs.push(output);
            }
            Event::Request { tab, fetch, at, refresh_token, outcome, holder, robbed } => {
                self.request(tab, fetch, at, refresh_token, outcome, holder, robbed)
            }
            Event::Response { fetch, tab, .. } => {
                if let Some(request) = self.requests.iter_mut().find(|r| r.tab == tab && r.fetch == fetch) {
                    request.processed = true;
                }
            }
            Event::Stolen { tab, lock, at } => {
                self.stats.steals += 1;
                let held_for = at - self.m[tab].lock_since;
                if self.m[tab].lock == Some(lock)
                    && held_for < self.p.config.lock_timeout_ms
                    && !self.tabs.tabs[tab].frozen
                {
                    // A robbed holder that took the lock less than a lock timeout ago. A waiter's
                    // patience restarts when a new holder announces itself (`Holding`, sent when its
                    // peer grace begins); without a grace period nothing is announced, so a tab queued
                    // behind two holders robs the second (known bug, see
                    // `a_tab_queued_behind_two_holders_must_not_rob_the_second`). Steered, such a
                    // sequence is no longer calm; the robbed tab's request is disturbed anyway.
                    self.stats.healthy_steals += 1;
                    if self.steer && self.p.config.peer_grace_ms == 0 {
                        self.calm = false;
                    }
                }
                self.note(Line::Text(format!("    lock {lock} stolen from tab {tab}")));
                self.mark_outstanding(tab, "its lock was stolen");
            }
        }
    }

    fn input(&self) -> Option<&Input> {
        self.ctx.as_ref().map(|(_, input)| input)
    }

    fn output(&mut self, tab: usize, now: Millis, output: &Output) {
        self.note(Line::Output(now, tab, output.clone()));
        match output {
            Output::Trace(trace) => match trace.kind {
                TraceKind::LockAcquired => {
                    let Some(&Input::LockAcquired(lock, _)) = self.input() else {
                        panic!("tab {tab}: LockAcquired outside a grant")
                    };
                    assert_eq!(
                        self.m[tab].lock, None,
                        "tab {tab} accepted lock {lock} while believing it held another"
                    );
                    self.m[tab].lock = Some(lock);
                    self.m[tab].wanted = None;
                    self.m[tab].lock_since = now;
                }
                TraceKind::LockLost => {
                    let Some(&Input::LockLost(lock)) = self.input() else {
                        panic!("tab {tab}: LockLost outside a loss")
                    };
                    if self.m[tab].lock == Some(lock) {
                        self.m[tab].lock = None;
                    }
                }
                TraceKind::LockUnavailable => self.m[tab].alone = true,
                TraceKind::LockReleasedOnTimeout => {
                    self.stats.hold_timeouts += 1;
                    self.mark_outstanding(tab, "its lock was released on the hold timeout");
                }
                TraceKind::FetchFailed if matches!(self.input(), Some(Input::Timeout | Input::Wake)) => {
                    self.mark_outstanding(tab, "its fetch timed out");
                }
                TraceKind::FetchStarted(reason, _) => {
                    if self.signed_out {
                        // `Retry`: an attempt the app started in this period failed (a fetch timeout
                        // in a thawed tab) and is retried; sign-out stops every earlier timer.
                        assert!(
                            matches!(reason, FetchReason::Startup | FetchReason::Requested | FetchReason::Retry),
                            "tab {tab} started a {reason:?} fetch while the user is signed out"
                        );
                    }
                }
                TraceKind::ServerRejected => {
                    self.stats.rejections += 1;
                    let Some(Direct::Verdict(generation, Verdict::Rejected)) = self.ctx_direct else {
                        panic!("tab {tab}: ServerRejected outside a rejection")
                    };
                    self.m[tab].last_rejected = Some(self.m[tab].tokens[&generation].clone());
                }
                TraceKind::PeerTokenAdopted => self.stats.peer_adoptions += 1,
                TraceKind::TokenAdopted => {
                    if let Some(left) = trace.millis {
                        self.m[tab].adopted_with = Some((left, String::new()));
                    }
                }
                TraceKind::RefreshScheduled => {
                    // A refresh is never scheduled after the token's estimated expiry (the backoff for a
                    // refresh due within a second once grew past it, see
                    // `a_forced_token_living_just_over_the_leeway_is_never_served_expired`).
                    // It still is for a token with less than a second left, which gets the minimum
                    // delay (known bug, see `a_token_with_under_a_second_left_is_refreshed_before_it_expires`);
                    // steered, that token goes unchecked in that tab.
                    if let (Some(delay), Some((left, raw))) = (trace.millis, self.m[tab].adopted_with.take()) {
                        if delay > left {
                            assert!(
                                self.steer && left < 1_000,
                                "tab {tab} scheduled the refresh {delay} ms out for a token with {left} ms left"
                            );
                            self.stats.refreshes_past_expiry += 1;
                            self.m[tab].refresh_past_expiry.insert(raw);
                        }
                    }
                }
                TraceKind::FetchSkipped => self.stats.fetches_skipped += 1,
                TraceKind::StaleBroadcastIgnored => {
                    self.stats.stale_broadcasts += 1;
                    if let Some(Parsed { message: Some(PeerMessage::Token { token, .. }), .. }) = &self.ctx_parsed {
                        if self.m[tab].last_rejected.as_ref() == Some(token) {
                            self.stats.rejected_replays += 1;
                        }
                    }
                }
                _ => {}
            },
            Output::AcquireLock { lock, .. } => self.m[tab].wanted = Some(*lock),
            Output::ReleaseLock { lock } => {
                if self.m[tab].wanted == Some(*lock) {
                    self.m[tab].wanted = None;
                }
                if self.m[tab].lock == Some(*lock) {
                    self.m[tab].lock = None;
                    // Released while the request made under it is still out (its result, which
                    // releases normally, is processed before it is delivered): the session gave up on
                    // the fetch and handed the lock over at once, so the next tab could present the
                    // refresh token that request is redeeming (it once did on a second rejection, see
                    // `a_second_rejection_mid_fetch_must_not_hand_the_lock_over`). Only dispose may
                    // (a disturbance like a closed tab); otherwise the duplicate check judges it.
                    let abandoned = self.requests.iter().any(|r| r.tab == tab && r.lock == Some(*lock) && !r.processed);
                    if abandoned && self.ctx_direct != Some(Direct::Dispose) {
                        self.stats.abandoned_fetches += 1;
                    }
                }
            }
            Output::FetchToken { .. } => {
                assert!(
                    self.m[tab].lock.is_some() || self.m[tab].alone,
                    "tab {tab} fetched without believing it held the lock"
                );
                self.stats.fetches += 1;
            }
            Output::ResolveToken { waiter, result } => {
                assert!(self.m[tab].waiting.remove(waiter), "tab {tab} answered waiter {waiter} twice or unasked");
                self.stats.waiters_answered += 1;
                if let Ok(Some((generation, raw))) = result {
                    let exp = self.exp_of(raw);
                    let slack = self.slack_for(tab, raw);
                    assert!(
                        now < exp + slack,
                        "tab {tab} handed out a token {} ms past its exp (slack {slack} ms)",
                        now - exp,
                    );
                    if let Some(known) = self.m[tab].tokens.get(generation) {
                        assert_eq!(known, raw, "tab {tab}: generation {generation} handed out with another token");
                    }
                }
            }
            Output::TokenChanged { generation } => {
                let raw = match self.input() {
                    Some(Input::PeerMessage(_)) => match self.ctx_parsed.as_ref().and_then(|p| p.message.as_ref()) {
                        Some(PeerMessage::Token { token, .. }) => token.clone(),
                        other => panic!("tab {tab}: a new token from peer message {other:?}"),
                    },
                    Some(Input::FetchResult(_, FetchOutcome::Token(raw))) => raw.clone(),
                    other => panic!("tab {tab}: a new token out of {other:?}"),
                };
                if matches!(self.input(), Some(Input::PeerMessage(_))) {
                    assert_ne!(
                        self.m[tab].last_rejected.as_ref(),
                        Some(&raw),
                        "tab {tab} adopted from a peer the token its own server rejected"
                    );
                }
                if let Some((_, adopted)) = self.m[tab].adopted_with.as_mut() {
                    adopted.clone_from(&raw);
                }
                self.m[tab].tokens.insert(*generation, raw);
            }
            Output::Broadcast(text) => {
                if self.token_messages.len() < 64
                    && matches!(self.parsed(text).message, Some(PeerMessage::Token { .. }))
                {
                    self.token_messages.push(text.clone());
                }
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn request(
        &mut self,
        tab: usize,
        fetch: FetchId,
        at: Millis,
        refresh_token: u64,
        outcome: FetchOutcome,
        holder: Option<(usize, LockId)>,
        robbed: Vec<(usize, LockId)>,
    ) {
        let lock = self.m[tab].lock;
        let alone = std::mem::take(&mut self.m[tab].alone);
        let robbed_now = lock.is_some_and(|lock| robbed.contains(&(tab, lock)));
        assert!(
            (alone && lock.is_none()) || holder == lock.map(|lock| (tab, lock)) || robbed_now,
            "tab {tab} fetched under lock {lock:?} but the lock manager's holder is {holder:?} (pending losses {robbed:?})"
        );
        let mut disturbed = None;
        if robbed_now {
            self.stats.robbed_fetches += 1;
            disturbed = Some("it was sent by a robbed tab not yet told");
        }
        if let FetchOutcome::Token(raw) = &outcome {
            self.minted.push(raw.clone());
        }
        self.note(Line::Issuer(tab, fetch, refresh_token, outcome.clone()));
        // Requests answered "signed out" or "revoked" spend nothing.
        let spends = match &outcome {
            FetchOutcome::Token(_) => true,
            FetchOutcome::Failed(error) => !error.detail.contains("revoked"),
            FetchOutcome::SignedOut => false,
        };
        let index = self.requests.len();
        self.requests.push(Request { tab, fetch, lock, refresh_token, at, processed: false, disturbed });
        if !spends {
            return;
        }
        match self.spent.get(&refresh_token) {
            None => {
                self.spent.insert(refresh_token, index);
            }
            Some(&first) => {
                let earlier = self.requests[first].clone();
                let reason = earlier.disturbed.or(disturbed);
                assert!(
                    reason.is_some(),
                    "refresh token {:#x} sent twice with neither request disturbed: tab {} fetch {} at +{} ms, \
                     then tab {tab} fetch {fetch} at +{} ms",
                    earlier.refresh_token,
                    earlier.tab,
                    earlier.fetch,
                    earlier.at - T0,
                    at - T0
                );
                self.stats.duplicates_exempted += 1;
            }
        }
    }

    // ---- actions ----

    fn call(&mut self, tab: usize, direct: Direct, f: impl FnOnce(&mut authlane::core::Session, Millis)) {
        self.log(format!("tab {tab}: {direct:?}"));
        self.directs.push_back(direct);
        self.tabs.call(tab, &format!("{direct:?}"), f);
        self.absorb();
    }

    /// Delivers everything deliverable now: in the harness's order, or (racy) in random order.
    fn settle(&mut self) {
        if self.p.racy {
            for _ in 0..100_000 {
                let pending = self.tabs.pending_work();
                if pending.is_empty() {
                    break;
                }
                let kind = pending[self.rng.index(pending.len())];
                self.tabs.step_once(Some(kind));
                self.absorb();
            }
        }
        self.tabs.settle();
        self.absorb();
    }

    /// After a call: settle, unless (racy) the next action should land while work is pending.
    fn maybe_settle(&mut self) {
        if !self.p.racy || self.rng.chance(60) {
            self.settle();
        }
    }

    fn run_for(&mut self, ms: u64) {
        self.log(format!("run {ms} ms"));
        let target = self.now() + ms;
        if !self.p.racy {
            self.tabs.run_until(target);
            self.absorb();
            return;
        }
        for _ in 0..1_000_000 {
            self.settle();
            match self.tabs.next_due() {
                Some(at) if at <= target => {
                    self.tabs.fire_timers_at(at);
                    self.absorb();
                }
                _ => {
                    self.tabs.now = target;
                    self.settle();
                    return;
                }
            }
        }
        panic!("livelock before {target}");
    }

    /// Racy: runs to the next due moment, fires its timers and does a few units of work, in random order.
    fn run_partly(&mut self) {
        self.settle();
        let Some(at) = self.tabs.next_due() else { return };
        if at > self.now() + 120_000 {
            return;
        }
        self.log(format!("run partly to +{}", at - T0));
        self.tabs.fire_timers_at(at);
        self.absorb();
        for _ in 0..self.rng.below(4) {
            let pending = self.tabs.pending_work();
            if pending.is_empty() {
                break;
            }
            let kind = pending[self.rng.index(pending.len())];
            self.tabs.step_once(Some(kind));
            self.absorb();
        }
    }

    fn token_request(&mut self, tab: usize, need: TokenNeed) {
        self.next_waiter += 1;
        let waiter = self.next_waiter;
        self.m[tab].waiting.insert(waiter);
        self.note(Line::Text(format!("  need {need:?}")));
        self.call(tab, Direct::Request(waiter), |s, now| s.handle_token_request(now, waiter, need));
    }

    fn random_need(&mut self, tab: usize) -> TokenNeed {
        let generation = self.tabs.tabs[tab].session.generation();
        match self.rng.below(20) {
            0..=7 => TokenNeed::Current,
            8..=11 => TokenNeed::Forced,
            12..=16 => TokenNeed::NewerThan(generation),
            17..=18 => TokenNeed::NewerThan(generation.saturating_sub(1)),
            _ => TokenNeed::NewerThan(self.rng.below(generation + 3)),
        }
    }

    fn snapshot(&self) -> Vec<String> {
        self.tabs
            .tabs
            .iter()
            .map(|t| {
                let s = &t.session;
                format!(
                    "{:?} {:?} {} {:?} {:?} {} {:?}",
                    s.state(),
                    s.error(),
                    s.generation(),
                    s.expires_at(),
                    s.refresh_at(),
                    s.is_fetching(),
                    s.poll_timeout()
                )
            })
            .collect()
    }

    fn garbage_text(&mut self) -> String {
        let token = self.minted.last().cloned().unwrap_or_else(|| mint(self.now(), 60, 1));
        // A well-formed envelope around a token that does not decode is sent only while every tab
        // is in epoch 0 (no sign-out yet): in a later epoch it hits a known bug, see
        // `garbage_with_a_higher_epoch_must_not_change_a_tabs_epoch` below.
        let kinds = if self.sign_outs_so_far == 0 || !self.steer { 14 } else { 6 };
        let mut text = match self.rng.below(kinds) {
            0 => String::new(),
            1 => "not json".into(),
            2 => rng_pick_envelope(&mut self.rng, &token),
            3 => "{\"v\":1,\"at\":\"x\",\"kind\":\"signed_out\"}".into(),
            4 => {
                // A real message, cut short.
                let real = self.token_messages.last().cloned().unwrap_or_else(|| PeerMessage::SignedOut.encode());
                let mut cut = self.rng.index(real.len());
                while !real.is_char_boundary(cut) {
                    cut -= 1;
                }
                real[..cut].to_string()
            }
            5 => (0..self.rng.below(40)).map(|_| (self.rng.range(0x20, 0x7f) as u8) as char).collect(),
            // From here on, a valid envelope whose token does not decode.
            6 | 7 => "{\"v\":1,\"kind\":\"token\",\"token\":\"a.b\"}".into(),
            8 | 9 => format!("{{\"v\":1,\"kind\":\"token\",\"token\":\"{}x.y\"}}", &token[..token.len() / 2]),
            10 | 11 => format!("{{\"v\":1,\"kind\":\"token\",\"token\":\"{}\"}}", token.replace(".c2lnbmF0dXJl", "")),
            _ => format!("{{\"v\":1,\"kind\":\"token\",\"token\":\"x{token}\",\"expiresAt\":{}}}", self.now() + 60_000),
        };
        if !is_garbage(&text) {
            // A mutation that happened to decode: make it garbage for sure.
            text.insert(0, '#');
        }
        assert!(is_garbage(&text));
        text
    }

    fn step(&mut self) {
        self.stats.steps += 1;
        let roll = self.rng.below(100);
        match roll {
            0..=13 => {
                let ms = self.rng.below(2_000);
                self.run_for(ms);
            }
            14..=22 => {
                let ms = self.rng.below(20_000);
                self.run_for(ms);
            }
            23..=25 => {
                let ms = self.rng.below(90_000);
                self.run_for(ms);
            }
            26..=30 => {
                if self.p.racy {
                    self.run_partly();
                } else {
                    let ms = self.rng.below(500);
                    self.run_for(ms);
                }
            }
            31..=44 => {
                let Some(tab) = self.pick_live() else { return };
                let need = self.random_need(tab);
                self.token_request(tab, need);
                self.maybe_settle();
            }
            45..=56 => {
                let Some(tab) = self.pick_live() else { return };
                let generation = self.tabs.tabs[tab].session.generation();
                let target = match self.rng.below(4) {
                    0..=2 => generation,
                    _ => self.rng.below(generation + 1),
                };
                let mut verdict = if self.rng.chance(65) { Verdict::Accepted } else { Verdict::Rejected };
                if self.request_out(Some(tab)) {
                    verdict = Verdict::Accepted;
                }
                self.call(tab, Direct::Verdict(target, verdict), |s, now| {
                    s.handle_server_verdict(now, target, verdict)
                });
                self.maybe_settle();
            }
            57..=58 => self.sign_out(),
            59..=62 => {
                if self.signed_out || self.tabs.issuer.revoked {
                    self.sign_in();
                } else {
                    self.request_everywhere();
                }
            }
            63..=65 | 71 | 90 if self.p.calm => self.request_everywhere(),
            63..=65 => {
                let Some(tab) = self.pick_live() else { return };
                self.log(format!("freeze tab {tab}"));
                self.stats.freezes += 1;
                self.calm = false;
                self.mark_outstanding(tab, "its tab was frozen");
                self.tabs.freeze(tab);
            }
            66..=70 => {
                let frozen: Vec<usize> =
                    (0..self.tabs.tabs.len()).filter(|&i| self.tabs.tabs[i].open && self.tabs.tabs[i].frozen).collect();
                if frozen.is_empty() {
                    return;
                }
                let tab = frozen[self.rng.index(frozen.len())];
                self.log(format!("thaw tab {tab}"));
                self.tabs.thaw_without_settling(tab);
                self.absorb();
                self.maybe_settle();
            }
            71 => {
                let open: Vec<usize> = (0..self.tabs.tabs.len()).filter(|&i| self.tabs.tabs[i].open).collect();
                if open.len() < 2 {
                    return;
                }
                let tab = open[self.rng.index(open.len())];
                self.log(format!("close tab {tab}"));
                self.stats.closes += 1;
                self.calm = false;
                self.mark_outstanding(tab, "its tab was closed");
                self.m[tab].closed = true;
                self.m[tab].lock = None;
                self.m[tab].wanted = None;
                self.m[tab].waiting.clear();
                self.tabs.close_without_settling(tab);
                self.absorb();
                self.maybe_settle();
            }
            72..=74 => {
                if self.tabs.tabs.len() >= 8 {
                    return self.request_everywhere();
                }
                // A late tab recalls the recorded sign-out as a driver does (`Output::RecordSignOut`),
                // so a thawing tab's pre-sign-out backlog cannot sign it in.
                let tab = self.tabs.add_tab();
                self.m.push(TabModel::default());
                self.stats.late_tabs += 1;
                let recorded = self.tabs.recorded_sign_out;
                self.call(tab, Direct::Start, |s, now| {
                    s.recall_sign_out(recorded);
                    s.start(now)
                });
                self.maybe_settle();
            }
            75..=79 => {
                // Garbage, into a quiet system so that nothing else can change meanwhile.
                self.settle();
                let text = self.garbage_text();
                self.log(format!("inject garbage {text:?}"));
                let before = self.snapshot();
                self.tabs.post(usize::MAX, &text);
                self.settle();
                assert_eq!(self.snapshot(), before, "garbage {text:?} changed a session");
            }
            80..=84 => {
                // A stale or replayed token message; none while signed out (kept as calibrated: with
                // replays then, the generator's stream reaches one robbed fetch in 500 sequences, in a
                // config with `peer_grace_ms` 0, which the JS API never sets: without a grace timer
                // whose lateness reveals a freeze, a tab thawing with a grant and its theft queued
                // fetches between the two. The fresh-tab case replays once hit is
                // `fresh_tab_refuses_a_token_fetched_before_the_sign_out`).
                let text = if !self.token_messages.is_empty() && !self.signed_out && self.rng.chance(50) {
                    let index = self.rng.index(self.token_messages.len());
                    self.token_messages[index].clone()
                } else if let Some(raw) =
                    (!self.minted.is_empty()).then(|| self.minted[self.rng.index(self.minted.len())].clone())
                {
                    if self.signed_out {
                        // An unexpired token arriving while the user is signed out is indistinguishable from a
                        // sign-in in another tab (epoch 0 is every fresh tab's); only send ones the tabs must drop.
                        let exp = exp_ms(&raw);
                        PeerMessage::Token { token: raw, expires_at: Some(exp.min(self.now())) }.encode()
                    } else {
                        // Peers' expiry estimates are trusted by design (tabs share the machine clock), so
                        // the stale messages are honest ones: the exact expiry, one as late as a real
                        // estimate can be (see `Params::slack_ms`), an expired one, or none (the
                        // receiver ages the token from its claims).
                        let expires_at = match self.rng.below(4) {
                            0 => Some(exp_ms(&raw)),
                            1 => Some(exp_ms(&raw) + self.rng.below(self.p.slack_ms())),
                            2 => Some(self.now().saturating_sub(self.rng.below(10_000))),
                            _ => None,
                        };
                        PeerMessage::Token { token: raw, expires_at }.encode()
                    }
                } else {
                    return;
                };
                self.log(format!("inject {text}"));
                self.tabs.post(usize::MAX, &text);
                self.maybe_settle();
            }
            85..=86 => {
                self.log("inject request".into());
                self.tabs.post(usize::MAX, &PeerMessage::Request.encode());
                self.maybe_settle();
            }
            87..=89 => {
                let Some(tab) = self.pick_live() else { return };
                self.call(tab, Direct::Wake, |s, now| s.handle_wake(now));
                self.maybe_settle();
            }
            90 => {
                if !self.rng.chance(40) {
                    return;
                }
                let Some(tab) = self.pick_live() else { return };
                self.stats.disposes += 1;
                self.calm = false;
                self.mark_outstanding(tab, "its session was disposed");
                self.call(tab, Direct::Dispose, |s, _| s.dispose());
                self.m[tab].disposed = true;
                self.maybe_settle();
            }
            _ => self.request_everywhere(),
        }
    }

    /// Every live tab asks for its current token, as clients about to send one do.
    fn request_everywhere(&mut self) {
        for tab in self.live_tabs() {
            self.token_request(tab, TokenNeed::Current);
        }
        self.settle();
    }

    fn sign_out(&mut self) {
        if self.request_out(None) {
            return self.request_everywhere();
        }
        let Some(tab) = self.pick_epoch_tab() else { return };
        self.stats.sign_outs += 1;
        self.sign_outs_so_far += 1;
        self.tabs.issuer.sign_out();
        self.call(tab, Direct::SignOut, |s, now| s.sign_out(now));
        self.settle();
        self.signed_out = true;
        for index in self.live_tabs() {
            let s = &self.tabs.tabs[index].session;
            assert!(
                s.state() == AuthState::Unauthenticated && s.generation() == 0 && !s.is_fetching(),
                "after tab {tab} signed out and one settle, tab {index} is {:?} with generation {} (fetching: {})",
                s.state(),
                s.generation(),
                s.is_fetching()
            );
        }
    }

    fn sign_in(&mut self) {
        let Some(tab) = self.pick_epoch_tab() else { return };
        let from_signed_out = self.signed_out;
        self.stats.sign_ins += 1;
        self.log(format!("sign in via tab {tab}"));
        self.tabs.issuer.sign_in();
        self.signed_out = false;
        self.token_request(tab, TokenNeed::Current);
        let c = &self.p.config;
        let ms = c.lock_timeout_ms + c.peer_grace_ms + self.p.latency_ms + 10;
        self.run_for(ms);
        // (Unless the new family was revoked meanwhile: a reuse, already judged by the other checks.)
        let signed_in = self.live(tab) && self.tabs.tabs[tab].session.state() == AuthState::Authenticated;
        if from_signed_out && signed_in && !self.tabs.issuer.revoked {
            for index in self.live_tabs() {
                let s = &self.tabs.tabs[index].session;
                assert!(
                    s.state() == AuthState::Authenticated && s.generation() > 0,
                    "tab {tab} signed in, yet tab {index} is {:?} with generation {}",
                    s.state(),
                    s.generation()
                );
            }
        }
    }

    // ---- step-boundary checks ----

    fn check(&mut self) {
        // Lock beliefs against the lock manager, quiet or not.
        let holder = self.tabs.lock_holder();
        let losses = self.tabs.pending_losses();
        let mut believers = Vec::new();
        for (tab, model) in self.m.iter().enumerate() {
            if model.closed {
                continue;
            }
            if let Some(lock) = model.lock {
                let robbed = losses.contains(&(tab, lock));
                assert!(
                    holder == Some((tab, lock)) || robbed,
                    "tab {tab} believes it holds lock {lock}; the holder is {holder:?}, pending losses {losses:?}"
                );
                if !robbed {
                    believers.push(tab);
                }
            }
        }
        assert!(believers.len() <= 1, "tabs {believers:?} all believe they hold the lock");
        if self.calm {
            assert_eq!(self.tabs.issuer.reuse_detections, 0, "a reuse detection in a calm sequence");
        }
        for (tab, model) in self.m.iter().enumerate() {
            let ignored = self.tabs.tabs[tab].session.ignored_peer_messages();
            assert_eq!(ignored, model.garbage_seen, "tab {tab}: ignored_peer_messages vs garbage delivered");
        }
        if !self.tabs.is_quiet() {
            return;
        }
        let now = self.now();
        for tab in self.live_tabs() {
            let s = &self.tabs.tabs[tab].session;
            if s.state() == AuthState::Authenticated {
                assert!(s.generation() > 0, "tab {tab} is Authenticated without a token");
                let exp = s.claims().and_then(|c| c.exp).expect("minted tokens have exp") * 1000;
                let slack =
                    self.m[tab].tokens.get(&s.generation()).map_or(self.p.slack_ms(), |raw| self.slack_for(tab, raw));
                assert!(
                    now < exp + slack || s.is_fetching(),
                    "tab {tab} is Authenticated with a token {} ms past its exp and no refresh under way",
                    now - exp
                );
            }
            if self.signed_out {
                // `Loading`: a tab started meanwhile, its startup fetch not yet answered "signed out".
                assert!(
                    s.state() != AuthState::Authenticated && s.generation() == 0,
                    "tab {tab} is {:?} with generation {} while the user is signed out",
                    s.state(),
                    s.generation()
                );
            }
        }
    }

    fn finish(&mut self) {
        // Every tab thawed: every request made in a tab still open is answered.
        for tab in 0..self.tabs.tabs.len() {
            if self.tabs.tabs[tab].open && self.tabs.tabs[tab].frozen {
                self.log(format!("thaw tab {tab}"));
                self.tabs.thaw_without_settling(tab);
                self.absorb();
            }
        }
        self.settle();
        self.check();
        // Long enough for a retry, a lock wait and a token's expiry (a `Forced` waiter whose
        // fetches fail waits for the token to expire and the session to settle).
        let waiting = |fuzz: &Fuzz| fuzz.m.iter().any(|m| !m.closed && !m.hung && !m.waiting.is_empty());
        for _ in 0..20 {
            self.run_for(30_000);
            self.check();
            if !waiting(self) {
                break;
            }
        }
        for (tab, model) in self.m.iter().enumerate() {
            if !model.closed && !model.hung {
                assert!(model.waiting.is_empty(), "tab {tab}: waiters {:?} never answered", model.waiting);
            }
        }
        self.stats.tokens_issued += self.tabs.issuer.tokens_issued as u64;
        self.stats.reuse_detections += self.tabs.issuer.reuse_detections as u64;
        self.stats.calm_sequences += self.calm as u64;
        self.stats.racy_sequences += self.p.racy as u64;
    }
}

const SEQUENCES: u64 = 500;
const STEPS: usize = 150;

fn run_sequence(seed: u64, steer: bool, steps: usize, history: &mut Vec<String>, totals: &mut Stats) {
    let mut fuzz = Fuzz::new(seed, steer);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        fuzz.log("start all".into());
        for tab in 0..fuzz.p.tabs {
            fuzz.call(tab, Direct::Start, |s, now| s.start(now));
        }
        fuzz.settle();
        fuzz.check();
        for _ in 0..steps {
            fuzz.step();
            fuzz.check();
        }
        fuzz.finish();
    }));
    if outcome.is_err() {
        history.push(fuzz.params_line.clone());
        history.extend(fuzz.history.iter().map(Line::format));
    }
    fuzz.stats.sequences = 1;
    add_stats(totals, &fuzz.stats);
    if let Err(panic) = outcome {
        resume_unwind(panic);
    }
}

fn add_stats(total: &mut Stats, s: &Stats) {
    let pairs: [(&mut u64, u64); 28] = [
        (&mut total.refreshes_past_expiry, s.refreshes_past_expiry),
        (&mut total.lost_lock_ids, s.lost_lock_ids),
        (&mut total.healthy_steals, s.healthy_steals),
        (&mut total.abandoned_fetches, s.abandoned_fetches),
        (&mut total.sequences, s.sequences),
        (&mut total.steps, s.steps),
        (&mut total.fetches, s.fetches),
        (&mut total.tokens_issued, s.tokens_issued),
        (&mut total.steals, s.steals),
        (&mut total.hold_timeouts, s.hold_timeouts),
        (&mut total.robbed_fetches, s.robbed_fetches),
        (&mut total.duplicates_exempted, s.duplicates_exempted),
        (&mut total.reuse_detections, s.reuse_detections),
        (&mut total.peer_adoptions, s.peer_adoptions),
        (&mut total.fetches_skipped, s.fetches_skipped),
        (&mut total.stale_broadcasts, s.stale_broadcasts),
        (&mut total.rejections, s.rejections),
        (&mut total.rejected_replays, s.rejected_replays),
        (&mut total.garbage, s.garbage),
        (&mut total.sign_outs, s.sign_outs),
        (&mut total.sign_ins, s.sign_ins),
        (&mut total.late_tabs, s.late_tabs),
        (&mut total.freezes, s.freezes),
        (&mut total.closes, s.closes),
        (&mut total.disposes, s.disposes),
        (&mut total.calm_sequences, s.calm_sequences),
        (&mut total.racy_sequences, s.racy_sequences),
        (&mut total.waiters_answered, s.waiters_answered),
    ];
    for (t, n) in pairs {
        *t += n;
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn run_sequences(steer: bool, default_sequences: u64) -> Stats {
    let seeds: Vec<u64> = match env_u64("AUTHLANE_FUZZ_SEED") {
        Some(seed) => vec![seed],
        None => (0..env_u64("AUTHLANE_FUZZ_SEQUENCES").unwrap_or(default_sequences)).collect(),
    };
    let mut totals = Stats::default();
    let mut times = Vec::new();
    // AUTHLANE_FUZZ_KEEP_GOING: tally the failures by message instead of stopping at the first.
    let keep_going = std::env::var("AUTHLANE_FUZZ_KEEP_GOING").is_ok();
    let mut failures: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    if keep_going {
        std::panic::set_hook(Box::new(|_| {}));
    }
    for seed in seeds {
        let started = std::time::Instant::now();
        let mut history = Vec::new();
        if let Err(panic) =
            catch_unwind(AssertUnwindSafe(|| run_sequence(seed, steer, STEPS, &mut history, &mut totals)))
        {
            if keep_going {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                // Group by the message without its numbers.
                let shape: String =
                    message.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).take(90).collect();
                failures.entry(shape).or_default().push(seed);
                continue;
            }
            eprintln!("{}\n...\n{}", history[0], history[1..].join("\n"));
            eprintln!("sequence seed {seed} (steer: {steer}) failed (AUTHLANE_FUZZ_SEED={seed} reruns it alone)");
            resume_unwind(panic);
        }
        times.push((started.elapsed(), seed));
    }
    if keep_going {
        let _ = std::panic::take_hook();
        for (shape, seeds) in &failures {
            eprintln!("{:5} x {shape}   (seeds {:?})", seeds.len(), &seeds[..seeds.len().min(8)]);
        }
        assert!(failures.is_empty(), "{} kinds of failure", failures.len());
    }
    if std::env::var("AUTHLANE_FUZZ_TIMES").is_ok() {
        times.sort();
        for (t, seed) in times.iter().rev().take(15) {
            let p = Params::random(&mut Rng::new(*seed));
            eprintln!(
                "{t:?} seed {seed}: tabs {} lifetime {} latency {} leeway {} racy {}",
                p.tabs, p.lifetime_s, p.latency_ms, p.config.refresh_leeway_ms, p.racy
            );
        }
    }
    eprintln!("{totals:#?}");
    totals
}

#[test]
fn random_multi_tab_sequences_keep_the_cross_tab_invariants() {
    let stats = run_sequences(true, SEQUENCES);
    if env_u64("AUTHLANE_FUZZ_SEED").is_some() || stats.sequences < SEQUENCES {
        return;
    }
    // The invariants are only as good as the situations reached: each must have come up.
    let Stats {
        steals,
        hold_timeouts,
        robbed_fetches,
        duplicates_exempted,
        peer_adoptions,
        fetches_skipped,
        stale_broadcasts,
        rejections,
        rejected_replays,
        garbage,
        sign_outs,
        sign_ins,
        late_tabs,
        freezes,
        closes,
        disposes,
        calm_sequences,
        racy_sequences,
        ..
    } = stats;
    for (name, n, least) in [
        ("steals", steals, 100),
        ("hold_timeouts", hold_timeouts, 100),
        // A robbed tab that overslept its grace now queues again instead of fetching: 0 is the goal.
        ("robbed_fetches (none expected)", 3 - robbed_fetches.min(3), 3),
        ("duplicates_exempted", duplicates_exempted, 50),
        ("peer_adoptions", peer_adoptions, 1_000),
        ("fetches_skipped", fetches_skipped, 1_000),
        ("stale_broadcasts", stale_broadcasts, 1_000),
        ("rejections", rejections, 200),
        ("rejected_replays", rejected_replays, 100),
        ("garbage", garbage, 1_000),
        ("sign_outs", sign_outs, 200),
        ("sign_ins", sign_ins, 200),
        ("late_tabs", late_tabs, 200),
        ("freezes", freezes, 200),
        ("closes", closes, 100),
        ("disposes", disposes, 50),
        ("calm_sequences", calm_sequences, 80),
        ("racy_sequences", racy_sequences, 100),
    ] {
        assert!(n >= least, "the generator reached {name} only {n} times (at least {least} expected)");
    }
}

#[test]
#[ignore = "BUG: unsteered, the sequences reach the open bugs the ignored tests below reproduce (AUTHLANE_FUZZ_KEEP_GOING=1 tallies them)"]
fn random_multi_tab_sequences_unsteered() {
    run_sequences(false, SEQUENCES);
}

// ---- fetch counts: N tabs cost what one tab costs ----

#[derive(Debug, Clone, Copy)]
enum Ask {
    Current,
    Forced,
    Newer,
    Accept,
}

/// A random schedule of app requests: (time offset, tab, what).
fn schedule(seed: u64, tabs: usize, minutes: u64) -> Vec<(u64, usize, Ask)> {
    let mut rng = Rng::new(seed);
    let mut at = 0;
    let mut out = Vec::new();
    while at < minutes * 60_000 {
        at += rng.below(4_000);
        let ask = match rng.below(20) {
            0..=11 => Ask::Current,
            12..=13 => Ask::Forced,
            14..=16 => Ask::Newer,
            _ => Ask::Accept,
        };
        out.push((at, rng.index(tabs), ask));
    }
    out
}

/// Runs the schedule on `count` tabs (all open, never frozen) and returns the issuer's token count.
fn tokens_for(count: usize, config: &Config, lifetime_s: u64, latency_ms: u64, plan: &[(u64, usize, Ask)]) -> usize {
    let mut tabs = Tabs::new(count, config.clone(), Issuer::new(lifetime_s, latency_ms));
    tabs.start_all();
    for (waiter, &(at, tab, ask)) in plan.iter().enumerate() {
        tabs.run_until(T0 + at);
        let tab = tab % count;
        let session = &mut tabs.tabs[tab].session;
        let generation = session.generation();
        match ask {
            Ask::Current => session.handle_token_request(tabs.now, waiter as u32, TokenNeed::Current),
            Ask::Forced => session.handle_token_request(tabs.now, waiter as u32, TokenNeed::Forced),
            Ask::Newer => session.handle_token_request(tabs.now, waiter as u32, TokenNeed::NewerThan(generation)),
            Ask::Accept => session.handle_server_verdict(tabs.now, generation, Verdict::Accepted),
        }
        tabs.drain(tab);
        tabs.settle();
    }
    tabs.run_for(60_000);
    assert_eq!(tabs.issuer.reuse_detections, 0);
    for tab in &tabs.tabs {
        assert_eq!(tab.session.state(), AuthState::Authenticated);
    }
    tabs.issuer.tokens_issued
}

#[test]
fn n_tabs_cost_the_issuer_what_one_tab_costs_within_one_token() {
    let base = Tabs::cross_tab_config();
    // (config, token lifetime s, issuer latency ms)
    let setups = [
        (base.clone(), 20, 100),
        (Config { refresh_leeway_ms: 10_000, peer_grace_ms: 0, ..base.clone() }, 60, 500),
        (Config { lock_timeout_ms: 5_000, peer_grace_ms: 200, ..base.clone() }, 30, 2_000),
        (Config { refresh_leeway_ms: 20_000, ..base.clone() }, 8, 0),
        (Config { refresh_leeway_ms: 3_000, lock_timeout_ms: 15_000, peer_grace_ms: 150, ..base }, 90, 3_000),
    ];
    // (All 45 runs below cost exactly what one tab costs; the bound is the brief's.)
    for (index, (config, lifetime_s, latency_ms)) in setups.iter().enumerate() {
        for count in [2, 5, 8] {
            for seed in 0..3 {
                let plan = schedule(seed * 31 + index as u64, count, 10);
                let one = tokens_for(1, config, *lifetime_s, *latency_ms, &plan);
                let many = tokens_for(count, config, *lifetime_s, *latency_ms, &plan);
                assert!(
                    many <= one + 1,
                    "setup {index}, {count} tabs, schedule {seed}: {many} tokens vs {one} for one tab"
                );
            }
        }
    }
}

// ---- edge cases the sequences turned up ----

fn config_with(lock_timeout_ms: u64, peer_grace_ms: u64) -> Config {
    Config { lock_timeout_ms, peer_grace_ms, ..Tabs::cross_tab_config() }
}

fn issuer_with(lifetime_s: u64, latency_ms: u64, reuse_window_ms: u64) -> Issuer {
    let mut issuer = Issuer::new(lifetime_s, latency_ms);
    issuer.reuse_window_ms = reuse_window_ms;
    issuer
}

fn ask(tabs: &mut Tabs, tab: usize, waiter: WaiterId, need: TokenNeed) {
    let now = tabs.now;
    tabs.tabs[tab].session.handle_token_request(now, waiter, need);
    tabs.drain(tab);
    tabs.settle();
}

fn judge(tabs: &mut Tabs, tab: usize, verdict: Verdict) {
    let (now, generation) = (tabs.now, tabs.tabs[tab].session.generation());
    tabs.tabs[tab].session.handle_server_verdict(now, generation, verdict);
    tabs.drain(tab);
    tabs.settle();
}

fn sign_out(tabs: &mut Tabs, tab: usize) {
    tabs.issuer.sign_out();
    let now = tabs.now;
    tabs.tabs[tab].session.sign_out(now);
    tabs.drain(tab);
    tabs.settle();
}

/// Runs the clock 1 ms at a time until `tab` has a request out at the issuer (at most `limit` ms;
/// none if it has one now: an uncontended grant fetches at once).
fn run_until_fetching(tabs: &mut Tabs, tab: usize, limit: u64) {
    for _ in 0..=limit {
        if tabs.pending_fetches().iter().any(|&(fetching, ..)| fetching == tab) {
            return;
        }
        tabs.run_for(1);
    }
    panic!("tab {tab} did not fetch within {limit} ms");
}

/// The token each tab hands out now.
fn current_tokens(tabs: &mut Tabs) -> Vec<String> {
    (0..tabs.tabs.len())
        .map(|tab| {
            ask(tabs, tab, 9_999, TokenNeed::Current);
            tabs.tabs[tab].tokens_used.last().expect("a token").1.clone()
        })
        .collect()
}

fn traced(tabs: &Tabs, tab: usize, kind: TraceKind) -> usize {
    tabs.tabs[tab].traces.iter().filter(|(_, k)| *k == kind).count()
}

/// Freezes tab 0 in its peer grace for a proactive refresh, with tab 1 queued for the lock (on
/// the lease, whose every grant waits the grace; with Web Locks tab 0's free lock would skip it).
fn freeze_tab0_in_its_grace(tabs: &mut Tabs) {
    tabs.use_lease();
    tabs.start_all();
    tabs.run_for(2_000);
    let refresh_at = tabs.tabs[0].session.refresh_at().expect("scheduled");
    tabs.run_until(refresh_at);
    assert_eq!(tabs.lock_holder().map(|(tab, _)| tab), Some(0), "tab 0 took the lock first");
    assert!(tabs.tabs[0].session.is_fetching() && tabs.issuer.tokens_issued == 1, "tab 0 is in its grace");
    tabs.freeze(0);
}

#[test]
fn a_thawed_tab_whose_lock_was_stolen_in_its_grace_takes_the_thiefs_token_if_it_landed() {
    let mut tabs = Tabs::new(2, config_with(5_000, 100), issuer_with(30, 1_000, 0));
    freeze_tab0_in_its_grace(&mut tabs);
    // Tab 1 waits out the lock timeout, steals, fetches and broadcasts; tab 0 sleeps through it.
    tabs.run_for(8_000);
    assert_eq!(tabs.lock_holder(), None);
    assert_eq!(tabs.issuer.tokens_issued, 2);
    tabs.thaw(0);
    tabs.run_for(1_000);
    // Its parked messages come first: the thief's token answers its need, so it never fetches.
    assert_eq!(tabs.tabs[0].fetch_calls, 1, "only the startup fetch");
    assert_eq!(traced(&tabs, 0, TraceKind::FetchSkipped), 1);
    let tokens = current_tokens(&mut tabs);
    assert_eq!(tokens[0], tokens[1]);
    assert_eq!(tabs.issuer.reuse_detections + tabs.issuer.tolerated_reuses, 0);
}

#[test]
fn a_thawed_tab_whose_lock_was_stolen_in_its_grace_queues_again_instead_of_fetching() {
    // Thawed before the thief's fetch lands, tab 0 runs its overdue grace timer before it is told
    // of the steal (timers and the loss notification are both queued in a frozen page; the
    // harness, like a browser may, runs the timer first). Its grace overslept the lock timeout, so
    // it does not trust its lock: it queues again rather than fetch beside the thief, and takes the
    // thief's token when it lands.
    let mut tabs = Tabs::new(2, config_with(5_000, 100), issuer_with(30, 1_000, 10_000));
    freeze_tab0_in_its_grace(&mut tabs);
    run_until_fetching(&mut tabs, 1, 6_000);
    tabs.thaw_without_settling(0);
    assert_eq!(tabs.tabs[0].fetch_calls, 1, "the overslept grace did not fetch");
    tabs.settle();
    tabs.run_for(2_000);
    assert_eq!((tabs.issuer.tolerated_reuses, tabs.issuer.reuse_detections), (0, 0));
    let tokens = current_tokens(&mut tabs);
    assert_eq!(tokens[0], tokens[1], "both tabs on one token");
    for tab in 0..2 {
        assert_eq!(tabs.tabs[tab].states, vec![AuthState::Authenticated], "tab {tab} never flashed");
    }
}

#[test]
fn a_late_tab_starting_while_another_is_mid_refresh_waits_for_its_token() {
    let mut tabs = Tabs::new(2, config_with(10_000, 50), issuer_with(30, 2_000, 0));
    tabs.start_all();
    tabs.run_for(3_000);
    let refresh_at = tabs.tabs[0].session.refresh_at().unwrap();
    tabs.run_until(refresh_at);
    run_until_fetching(&mut tabs, 0, 1_000);
    // (The issuer counts a token when it answers a request, so this one is counted already.)
    let issued = tabs.issuer.tokens_issued;
    // Nobody can answer its request (the peers' token is due for refresh): it queues for the lock.
    let late = tabs.add_tab();
    tabs.start(late);
    assert!(tabs.tabs[late].session.is_fetching());
    assert_eq!(tabs.tabs[late].session.state(), AuthState::Loading);
    tabs.run_for(2_500);
    assert_eq!(tabs.tabs[late].fetch_calls, 0, "the refresh under way answered it");
    assert_eq!(tabs.tabs[late].states, vec![AuthState::Authenticated]);
    assert_eq!(tabs.issuer.tokens_issued, issued);
    let tokens = current_tokens(&mut tabs);
    assert!(tokens.iter().all(|t| *t == tokens[0]));
}

#[test]
fn a_sign_out_racing_a_refresh_in_another_tab_signs_every_tab_out() {
    for result_first in [false, true] {
        let mut tabs = Tabs::new(3, config_with(10_000, 50), issuer_with(30, 1_000, 0));
        tabs.start_all();
        tabs.run_for(2_000);
        ask(&mut tabs, 1, 1, TokenNeed::Forced);
        run_until_fetching(&mut tabs, 1, 1_000);
        // Tab 0 signs out just as tab 1's fetch lands.
        tabs.run_for(999);
        tabs.issuer.sign_out();
        let now = tabs.now + 1;
        tabs.now = now;
        tabs.tabs[0].session.sign_out(now);
        tabs.drain(0);
        if result_first {
            // Tab 1 reads its result before the sign-out message: it broadcasts a pre-sign-out token.
            assert_eq!(tabs.step_once(Some(common::tabs::Work::FetchResult)), Some(common::tabs::Work::FetchResult));
            assert_eq!(tabs.tabs[1].session.state(), AuthState::Authenticated);
        }
        tabs.settle();
        for tab in 0..3 {
            let s = &tabs.tabs[tab].session;
            assert_eq!(
                (s.state(), s.generation(), s.is_fetching()),
                (AuthState::Unauthenticated, 0, false),
                "tab {tab}, result first: {result_first}"
            );
        }
        let calls = tabs.total_fetch_calls();
        tabs.run_for(120_000);
        assert_eq!(tabs.total_fetch_calls(), calls, "nobody fetches after signing out");
        assert_eq!(tabs.issuer.reuse_detections, 0);
    }
}

#[test]
fn a_steal_while_the_robbed_tabs_fetch_is_running_converges_on_the_longer_lived_token() {
    // A slow issuer (latency past the lock timeout): the waiter steals while the holder's fetch is
    // under way. Both fetch (the duplicate the lock invariant exempts: the holder was robbed), both
    // results are commit-guarded, and every tab ends on the longer-lived token without flashing.
    // In mint order the thief's later, longer-lived result must win over the robbed tab's token it
    // adopted meanwhile; with the robbed tab's result landing last (its request slower), that
    // shorter-lived result must be dropped rather than replace the thief's token.
    for robbed_result_last in [false, true] {
        let mut tabs = Tabs::new(3, config_with(2_000, 50), issuer_with(30, 3_000, 10_000));
        // On the lease the holder waits the grace, so the waiter, asking as the fetch starts, falls
        // due to steal with the fetch under way (a free Web Lock's holder fetches at once, and its
        // hold timer then ties with the steal and releases first).
        tabs.use_lease();
        tabs.start_all();
        tabs.run_for(10_000);
        let (issued, tolerated) = (tabs.issuer.tokens_issued, tabs.issuer.tolerated_reuses);
        let states_before: Vec<Vec<AuthState>> = tabs.tabs.iter().map(|t| t.states.clone()).collect();
        if robbed_result_last {
            tabs.issuer.latency_ms = 6_000;
        }
        ask(&mut tabs, 0, 1, TokenNeed::Forced);
        run_until_fetching(&mut tabs, 0, 100);
        if robbed_result_last {
            tabs.issuer.latency_ms = 100;
        }
        ask(&mut tabs, 1, 2, TokenNeed::Forced);
        tabs.run_for(2_000);
        assert_eq!(traced(&tabs, 0, TraceKind::LockLost), 1, "tab 1 stole the lock mid-fetch");
        assert_eq!(tabs.lock_holder().map(|(tab, _)| tab), Some(1));
        tabs.run_for(5_000);
        assert_eq!(tabs.issuer.tokens_issued, issued + 2);
        assert_eq!((tabs.issuer.tolerated_reuses - tolerated, tabs.issuer.reuse_detections), (1, 0));
        let (loser, expected_drops) = if robbed_result_last { (0, 1) } else { (1, 0) };
        assert_eq!(
            traced(&tabs, loser, TraceKind::StaleResultDropped),
            expected_drops,
            "robbed result last: {robbed_result_last}"
        );
        let tokens = current_tokens(&mut tabs);
        assert!(tokens.iter().all(|t| *t == tokens[0]), "{tokens:?}");
        let latest = tabs.tabs.iter().flat_map(|t| t.tokens_used.iter()).map(|(_, raw)| exp_ms(raw)).max().unwrap();
        assert_eq!(exp_ms(&tokens[0]), latest, "the longer-lived token won (robbed result last: {robbed_result_last})");
        for tab in 0..3 {
            assert_eq!(tabs.tabs[tab].states, states_before[tab], "tab {tab} never flashed");
            assert_eq!(tabs.tabs[tab].session.state(), AuthState::Authenticated);
        }
    }
}

// ---- bugs the sequences found: minimal sequences (ignored while the bug is open) ----

#[test]
fn garbage_with_a_higher_epoch_must_not_change_a_tabs_epoch() {
    let mut tabs = Tabs::new(2, Tabs::cross_tab_config(), Issuer::new(60, 100));
    tabs.start_all();
    tabs.run_for(1_000);
    // Only tab 1 receives it. `handle_peer_message` adopts the sender's epoch before it finds the
    // token undecodable.
    tabs.inject(0, r#"{"v":1,"at":99999999999999,"kind":"token","token":"a.b"}"#);
    assert_eq!(tabs.tabs[1].session.ignored_peer_messages(), 1);
    sign_out(&mut tabs, 0);
    assert_eq!(tabs.tabs[1].session.state(), AuthState::Unauthenticated, "tab 1 ignored the sign-out (epoch 1 < 5)");
}

#[test]
fn garbage_in_an_older_epoch_is_counted_as_ignored() {
    let mut tabs = Tabs::new(2, Tabs::cross_tab_config(), Issuer::new(60, 100));
    tabs.start_all();
    tabs.run_for(1_000);
    sign_out(&mut tabs, 0);
    // The epoch check (0 < 1) runs before the token is decoded: traced as a stale broadcast instead.
    tabs.inject(usize::MAX, r#"{"v":1,"kind":"token","token":"a.b"}"#);
    for tab in 0..2 {
        assert_eq!(tabs.tabs[tab].session.ignored_peer_messages(), 1, "tab {tab}");
    }
}

/// Two tabs signed out (epoch 1), then a tab opened afterwards, in epoch 0.
fn signed_out_with_a_fresh_tab() -> (Tabs, usize) {
    let mut tabs = Tabs::new(2, Tabs::cross_tab_config(), Issuer::new(60, 100));
    tabs.start_all();
    tabs.run_for(1_000);
    sign_out(&mut tabs, 0);
    let fresh = tabs.add_tab();
    tabs.start(fresh);
    tabs.run_for(1_000);
    assert_eq!(tabs.tabs[fresh].session.state(), AuthState::Unauthenticated);
    (tabs, fresh)
}

#[test]
fn fresh_tab_sign_in_reaches_the_tabs_that_saw_the_sign_out() {
    let (mut tabs, fresh) = signed_out_with_a_fresh_tab();
    tabs.issuer.sign_in();
    ask(&mut tabs, fresh, 1, TokenNeed::Current);
    tabs.run_for(1_000);
    assert_eq!(tabs.tabs[fresh].session.state(), AuthState::Authenticated);
    for tab in 0..2 {
        assert_eq!(tabs.tabs[tab].session.state(), AuthState::Authenticated, "tab {tab} dropped the epoch-0 token");
    }
}

#[test]
fn fresh_tab_sign_out_reaches_a_tab_signed_in_again() {
    let mut tabs = Tabs::new(2, Tabs::cross_tab_config(), Issuer::new(60, 100));
    tabs.start_all();
    tabs.run_for(1_000);
    sign_out(&mut tabs, 0);
    tabs.issuer.sign_in();
    ask(&mut tabs, 0, 1, TokenNeed::Current);
    tabs.run_for(1_000);
    assert_eq!(tabs.tabs[1].session.state(), AuthState::Authenticated, "signed in again, in epoch 1");
    // Both background tabs are frozen when a new tab opens: nobody answers it, it fetches its own
    // token and stays in epoch 0.
    tabs.freeze(0);
    tabs.freeze(1);
    let fresh = tabs.add_tab();
    tabs.start(fresh);
    tabs.run_for(1_000);
    assert_eq!(tabs.tabs[fresh].session.state(), AuthState::Authenticated);
    // The user signs out there: its sign-out carries epoch 1, which the old tabs already have.
    sign_out(&mut tabs, fresh);
    tabs.thaw(0);
    tabs.thaw(1);
    for tab in 0..2 {
        assert_eq!(tabs.tabs[tab].session.state(), AuthState::Unauthenticated, "tab {tab} is still signed in");
    }
}

/// Regression (open since the cross-tab work, fixed by the recorded sign-out): a tab opened after a
/// sign-out took a pre-sign-out token that a thawing tab re-broadcast from its backlog.
#[test]
fn fresh_tab_refuses_a_token_fetched_before_the_sign_out() {
    let mut tabs = Tabs::new(2, Tabs::cross_tab_config(), Issuer::new(60, 100));
    tabs.start_all();
    tabs.run_for(1_000);
    // Tab 1 is frozen while tab 0 refreshes (its request is parked for tab 1) and then signs out.
    tabs.freeze(1);
    ask(&mut tabs, 0, 1, TokenNeed::Forced);
    tabs.run_for(1_000);
    sign_out(&mut tabs, 0);
    let fresh = tabs.add_tab();
    tabs.start(fresh);
    tabs.run_for(1_000);
    assert_eq!(tabs.tabs[fresh].session.state(), AuthState::Unauthenticated);
    // Tab 1 thaws and works through its backlog in order: it answers tab 0's old request with its
    // pre-sign-out token before it reaches the sign-out. The fresh tab never saw the sign-out
    // message, but it recalled the recorded sign-out when it started, and refuses the token.
    tabs.thaw(1);
    assert_eq!(tabs.tabs[1].session.state(), AuthState::Unauthenticated);
    assert_eq!(tabs.tabs[fresh].session.state(), AuthState::Unauthenticated, "the fresh tab signed back in");
}

/// Regression (found by the random sequences; fails at d793916, fixed in the working tree at the
/// time of writing): the refresh backoff for a forced token whose refresh lands within 1 s grew
/// past the token's expiry.
#[test]
fn a_forced_token_living_just_over_the_leeway_is_never_served_expired() {
    // Single tab, no cross-tab: the leeway is 10 s and the issuer mints 11 s tokens.
    let mut h = Harness::started(Config::default());
    h.answer_fresh(11);
    for round in 0..8 {
        let refresh_at = h.session.refresh_at().unwrap();
        let expires_at = h.session.expires_at().unwrap();
        assert!(
            refresh_at < expires_at,
            "round {round}: refresh at +{} ms, expiry at +{} ms",
            refresh_at - h.now,
            expires_at - h.now
        );
        // Just before the refresh, the token is still handed out: it must not have expired.
        h.advance_to(refresh_at - 1);
        h.session.handle_token_request(h.now, round, TokenNeed::Current);
        h.drain();
        let (_, result) = h.resolved.last().unwrap().clone();
        let raw = result.unwrap().unwrap().1;
        // (The 1 s of slack is `iat`'s truncation to whole seconds, as in the random sequences.)
        assert!(
            h.now < exp_ms(&raw) + 1_000,
            "round {round}: handed out a token expired {} ms ago",
            h.now - exp_ms(&raw)
        );
        h.advance_to(refresh_at);
        assert!(h.open_fetches.len() == 1, "round {round}: the refresh started");
        h.answer_fresh(11);
    }
}

/// Regression (found by the random sequences; fails at d793916, fixed in the working tree at the
/// time of writing): a second rejection abandoned the fetch in flight and released the lock before
/// it landed; the next tab reused the refresh token.
#[test]
fn a_second_rejection_mid_fetch_must_not_hand_the_lock_over() {
    let mut tabs = Tabs::new(2, Tabs::cross_tab_config(), issuer_with(60, 1_000, 0));
    tabs.start_all();
    tabs.run_for(2_000);
    // Tab 0's server rejects the token: a forced replacement, which tab 1 shares (rejections: 1).
    judge(&mut tabs, 0, Verdict::Rejected);
    tabs.run_for(2_000);
    assert_eq!(tabs.tabs[0].session.state(), AuthState::Authenticated);
    // Tab 0 refreshes again (the app forces it); tab 1 needs a refresh too and queues for the lock.
    ask(&mut tabs, 0, 1, TokenNeed::Forced);
    run_until_fetching(&mut tabs, 0, 100);
    ask(&mut tabs, 1, 2, TokenNeed::Forced);
    // Tab 0's server rejects the replacement as well: tab 0 settles as unauthenticated, abandons
    // its fetch and releases the lock at once, while its request is still at the issuer.
    judge(&mut tabs, 0, Verdict::Rejected);
    assert_eq!(tabs.tabs[0].session.state(), AuthState::Unauthenticated);
    tabs.run_for(3_000);
    assert_eq!(tabs.issuer.reuse_detections, 0, "tab 1 fetched with the refresh token tab 0's request was redeeming");
}

/// Regression (found by the random sequences; fails at d793916, fixed in the working tree at the
/// time of writing): a forced token that arrived late was credited with its whole lifetime from
/// receipt, past its real expiry.
#[test]
fn a_late_forced_result_is_not_credited_with_its_whole_lifetime_from_receipt() {
    // Single tab: a forced fetch that takes 25 s (a slow network, or, cross-tab, a tab frozen
    // mid-fetch) within the 30 s fetch timeout. The token was minted when the request arrived.
    let mut h = Harness::started(Config::default());
    h.answer_fresh(60);
    h.session.handle_token_request(h.now, 1, TokenNeed::Forced);
    h.drain();
    let asked_at = h.now;
    h.advance(25_000);
    let token = mint(asked_at, 30, 2);
    h.answer(FetchOutcome::Token(token.clone()));
    let expires_at = h.session.expires_at().unwrap();
    assert!(
        expires_at <= exp_ms(&token) + 1_000,
        "believed to expire {} ms after its exp (counted from receipt, not from the request)",
        expires_at - exp_ms(&token)
    );
    // Cross-tab the error spreads: the commit guard prefers this token over a genuinely newer
    // peer token and every tab adopts it (seen in the random sequences with a tab frozen mid-fetch).
}

#[test]
fn a_tab_queued_behind_two_holders_must_not_rob_the_second() {
    // Without a peer grace (a new holder announces itself with `Holding` only when its grace
    // begins, and that announcement restarts the waiters' patience). Three tabs start together
    // while the user is signed out: tab 0 fetches ("signed out", 2 s), tabs 1 and 2 queue. The
    // user signs in just before tab 1's turn.
    let mut issuer = issuer_with(60, 2_000, 0);
    issuer.sign_out();
    let mut tabs = Tabs::new(3, config_with(3_000, 0), issuer);
    tabs.start_all();
    tabs.run_until(T0 + 1_999);
    tabs.issuer.sign_in();
    tabs.run_until(T0 + 2_000);
    assert_eq!(tabs.lock_holder().map(|(tab, _)| tab), Some(1), "tab 1 took the lock at +2 s and fetches");
    // Tab 2 has waited 3 s since *its* request, though tab 1 has held the lock for 1 s only.
    tabs.run_until(T0 + 5_000);
    assert_eq!(traced(&tabs, 1, TraceKind::LockLost), 0, "tab 1 was robbed after holding the lock for 1 s");
    assert_eq!(tabs.issuer.reuse_detections, 0);
}

#[test]
fn a_stale_hold_timer_must_not_take_the_next_attempts_lock() {
    // `on_lock_hold_timeout` takes `in_flight.lock` whatever the phase, and the hold timer armed by
    // a fetch outlives it when the fetch is abandoned (a fetch timeout here, with a lock timeout
    // longer than the fetch timeout; also any fetch abandoned mid-flight that keeps its lock until
    // it lands, e.g. on a sign-out).
    let config = Config { cross_tab: true, lock_timeout_ms: 60_000, ..Config::default() };
    let mut h = Harness::started(config);
    let (first, _) = h.lock_requests[0];
    h.session.handle_lock_acquired(h.now, first, LockGrant::MaybeContended);
    h.drain();
    h.advance(50);
    assert_eq!(h.fetch_count(), 1, "fetching, hold timer armed for 60 s");
    // The callback hangs: after the 30 s fetch timeout and a backoff, the retry asks for the lock
    // again; another tab holds it for now.
    h.advance(32_000);
    let (retry, _) = *h.lock_requests.last().unwrap();
    assert_ne!(retry, first, "the retry waits for a lock of its own");
    // The first fetch's hold timer fires at +60 s, then the lock is granted.
    h.advance(30_000);
    h.session.handle_lock_acquired(h.now, retry, LockGrant::MaybeContended);
    h.drain();
    h.advance(100);
    assert_eq!(h.fetch_count(), 2, "the retry never fetched: its lock was taken by the stale hold timer");
}

#[test]
fn a_token_with_under_a_second_left_is_refreshed_before_it_expires() {
    // A peer shares its token as it nears its expiry (with a zero leeway it is fresh until then).
    let mut h = Harness::started(Config { refresh_leeway_ms: 0, ..Tabs::cross_tab_config() });
    let token = mint(h.now - 59_500, 60, 1);
    let offer = PeerMessage::Token { token, expires_at: Some(h.now + 500) }.encode();
    h.session.handle_peer_message(h.now, &offer);
    h.drain();
    assert_eq!(h.session.expires_at(), Some(h.now + 500));
    let refresh_at = h.session.refresh_at().unwrap();
    assert!(refresh_at <= h.now + 500, "the refresh is due {} ms after the token expires", refresh_at - (h.now + 500));
}
