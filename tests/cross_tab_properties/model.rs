//! The model the harness's event log is replayed against: what each tab believes (the lock it
//! holds or wants, the tokens it adopted, the requests it made), the issuer's requests, and the
//! sequence's history for a failure report. The checks made as events are replayed live here too
//! (an output is judged against the input it answers); `invariants` holds the others.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use authlane::core::{
    decode, FetchId, FetchOutcome, FetchReason, Generation, LockId, Millis, Output, PeerMessage, TraceKind, Verdict,
    WaiterId,
};

use crate::common::rng::Rng;
use crate::common::tabs::{Event, Input, Tabs};
use crate::common::{mint, T0};
use crate::generator::Params;


#[derive(Debug, Default, Clone)]
pub(crate) struct TabModel {
    /// The lock this tab believes it holds, and since when.
    pub(crate) lock: Option<LockId>,
    pub(crate) lock_since: Millis,
    /// Locks stolen from this tab that it may not have been told about yet.
    pub(crate) robbed: BTreeSet<LockId>,
    /// The lock this tab has asked for and not yet been granted or given up.
    pub(crate) wanted: Option<LockId>,
    /// The tab gave up on the lock (`LockUnavailable`) and its next fetch goes without it.
    pub(crate) alone: bool,
    pub(crate) disposed: bool,
    pub(crate) closed: bool,
    /// Raw token of each generation this tab adopted.
    pub(crate) tokens: BTreeMap<Generation, String>,
    pub(crate) last_rejected: Option<String>,
    /// Garbage messages delivered while live.
    pub(crate) garbage_seen: u64,
    /// Token requests made and not yet answered.
    pub(crate) waiting: BTreeSet<WaiterId>,
    /// The lifetime left (ms) of the token this tab adopted last, from its `TokenAdopted` trace.
    pub(crate) adopted_with: Option<(u64, String)>,
}

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) tab: usize,
    pub(crate) fetch: FetchId,
    /// The lock the tab believed it held when it sent the request (none: it gave up on the lock).
    pub(crate) lock: Option<LockId>,
    pub(crate) refresh_token: u64,
    pub(crate) at: Millis,
    pub(crate) processed: bool,
    pub(crate) disturbed: Option<&'static str>,
}

/// What a direct call (through `Tabs::call`) was, matched in order with `Input::Direct` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direct {
    Start,
    Request(WaiterId),
    Verdict(Generation, Verdict),
    SignOut,
    Dispose,
    Wake,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) sequences: u64,
    pub(crate) steps: u64,
    pub(crate) fetches: u64,
    pub(crate) tokens_issued: u64,
    pub(crate) steals: u64,
    pub(crate) hold_timeouts: u64,
    pub(crate) robbed_fetches: u64,
    pub(crate) duplicates_exempted: u64,
    pub(crate) reuse_detections: u64,
    pub(crate) peer_adoptions: u64,
    pub(crate) fetches_skipped: u64,
    pub(crate) stale_broadcasts: u64,
    pub(crate) rejections: u64,
    pub(crate) rejected_replays: u64,
    pub(crate) garbage: u64,
    pub(crate) sign_outs: u64,
    pub(crate) sign_ins: u64,
    pub(crate) late_tabs: u64,
    pub(crate) freezes: u64,
    pub(crate) closes: u64,
    pub(crate) disposes: u64,
    pub(crate) hides: u64,
    pub(crate) lies: u64,
    pub(crate) calm_sequences: u64,
    pub(crate) racy_sequences: u64,
    pub(crate) waiters_answered: u64,
    pub(crate) abandoned_fetches: u64,
}

pub(crate) struct Fuzz {
    pub(crate) rng: Rng,
    pub(crate) p: Params,
    pub(crate) tabs: Tabs,
    pub(crate) m: Vec<TabModel>,
    pub(crate) requests: Vec<Request>,
    /// Refresh token -> the first request that spent it.
    pub(crate) spent: BTreeMap<u64, usize>,
    pub(crate) directs: VecDeque<Direct>,
    /// The input whose outputs are being replayed, and those outputs so far.
    pub(crate) ctx: Option<(usize, Input)>,
    pub(crate) ctx_outputs: Vec<Output>,
    /// Direct call being replayed.
    pub(crate) ctx_direct: Option<Direct>,
    /// The lock the tab of the input being replayed was waiting for when the input began.
    pub(crate) ctx_wanted: Option<LockId>,
    /// A sign-out ran and no sign-in since.
    pub(crate) signed_out: bool,
    /// Calm so far: see the module doc.
    pub(crate) calm: bool,
    pub(crate) next_waiter: WaiterId,
    /// Token messages tabs really sent, for replays.
    pub(crate) token_messages: Vec<String>,
    /// Raw tokens the issuer minted.
    pub(crate) minted: Vec<String>,
    pub(crate) stats: Stats,
    pub(crate) parsed: FastMap<String, Parsed>,
    /// The parsed form of the peer message being replayed.
    pub(crate) ctx_parsed: Option<Parsed>,
    pub(crate) exps: FastMap<String, Millis>,
    /// The sequence's parameters and its last steps, formatted only if it fails.
    pub(crate) params_line: String,
    pub(crate) history: VecDeque<Line>,
}

/// One line of a sequence's history, formatted lazily (formatting every output is slow).
pub(crate) enum Line {
    Text(String),
    Output(Millis, usize, Output),
    Issuer(usize, FetchId, u64, FetchOutcome),
}

impl Line {
    pub(crate) fn format(&self) -> String {
        compact(&match self {
            Line::Text(text) => text.clone(),
            Line::Output(at, tab, output) => format!("    +{} tab {tab}: {output:?}", at - T0),
            Line::Issuer(tab, fetch, refresh_token, outcome) => {
                format!("    issuer: tab {tab} fetch {fetch} with refresh token {refresh_token:#x} -> {outcome:?}")
            }
        })
    }
}

pub(crate) const HISTORY: usize = 400;

/// FNV-1a: the model hashes every message it sees, and SipHash showed up in profiles.
#[derive(Default)]
pub(crate) struct Fnv(u64);

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

pub(crate) type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// A peer message as the model reads it (parsed once per distinct text: parsing dominates the run time).
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub(crate) garbage: bool,
    pub(crate) message: Option<PeerMessage>,
}

pub(crate) fn parse(text: &str) -> Parsed {
    match PeerMessage::decode_with_time(text) {
        Ok((_, message)) => Parsed { garbage: is_garbage(text), message: Some(message) },
        Err(_) => Parsed { garbage: true, message: None },
    }
}

pub(crate) fn is_garbage(text: &str) -> bool {
    match PeerMessage::decode(text) {
        Err(_) => true,
        Ok(PeerMessage::Token { token, .. }) => decode(&token).is_err(),
        Ok(_) => false,
    }
}

/// Debug output with each minted token shown as `jwt#<serial>`.
pub(crate) fn compact(text: &str) -> String {
    let header = &mint(0, 1, 0)[..crate::common::b64(br#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#).len() + 1];
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

pub(crate) fn exp_ms(raw: &str) -> Millis {
    decode(raw).expect("tokens in play decode").claims.exp.expect("minted tokens have exp") * 1000
}

impl Fuzz {
    pub(crate) fn new(seed: u64) -> Self {
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

    pub(crate) fn now(&self) -> Millis {
        self.tabs.now
    }

    pub(crate) fn parsed(&mut self, text: &str) -> Parsed {
        if let Some(parsed) = self.parsed.get(text) {
            return parsed.clone();
        }
        let parsed = parse(text);
        self.parsed.insert(text.to_string(), parsed.clone());
        parsed
    }

    pub(crate) fn exp_of(&mut self, raw: &str) -> Millis {
        if let Some(&exp) = self.exps.get(raw) {
            return exp;
        }
        let exp = exp_ms(raw);
        self.exps.insert(raw.to_string(), exp);
        exp
    }

    pub(crate) fn log(&mut self, line: String) {
        let text = format!("@{} {line}", self.now() - T0);
        self.note(Line::Text(text));
    }

    pub(crate) fn note(&mut self, line: Line) {
        if self.history.len() >= HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(line);
    }

    pub(crate) fn live(&self, tab: usize) -> bool {
        self.tabs.is_runnable(tab) && !self.m[tab].disposed
    }

    pub(crate) fn live_tabs(&self) -> Vec<usize> {
        (0..self.tabs.tabs.len()).filter(|&i| self.live(i)).collect()
    }

    pub(crate) fn pick_live(&mut self) -> Option<usize> {
        let live = self.live_tabs();
        (!live.is_empty()).then(|| live[self.rng.index(live.len())])
    }

    // ---- replaying the event log ----

    pub(crate) fn absorb(&mut self) {
        let events = std::mem::take(self.tabs.events.as_mut().expect("recording"));
        for event in events {
            self.event(event);
        }
        self.end_input();
    }

    pub(crate) fn end_input(&mut self) {
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
        // fetched nor answered its waiters (see `a_stale_hold_timer_must_not_take_the_next_attempts_lock`).
        let trace = |kind: TraceKind| outputs.iter().any(|o| matches!(o, Output::Trace(t) if t.kind == kind));
        let dropped = match input {
            Input::LockAcquired(lock, _) => self.ctx_wanted == Some(lock) && !trace(TraceKind::LockAcquired),
            Input::LockLost(lock) => self.ctx_wanted == Some(lock) && !trace(TraceKind::LockLost),
            _ => false,
        };
        assert!(
            !dropped || self.m[tab].disposed,
            "tab {tab} refused the lock it was waiting for: its attempt lost track of it"
        );
        self.ctx_direct = None;
    }

    pub(crate) fn mark_outstanding(&mut self, tab: usize, why: &'static str) {
        for request in self.requests.iter_mut().filter(|r| r.tab == tab && !r.processed) {
            request.disturbed.get_or_insert(why);
        }
    }

    pub(crate) fn event(&mut self, event: Event) {
        match event {
            Event::Input { tab, input, at } => {
                self.end_input();
                if !matches!(input, Input::Timeout | Input::Direct(_)) {
                    self.note(Line::Text(format!("  +{} tab {tab} <- {input:?}", at - T0)));
                }
                if let Input::Direct(label) = &input {
                    let direct = self.directs.pop_front().unwrap_or_else(|| panic!("unexpected direct call {label}"));
                    self.ctx_direct = Some(direct);
                }
                self.ctx_parsed = None;
                if let Input::PeerMessage(text) = &input {
                    let parsed = self.parsed(text);
                    self.ctx_parsed = Some(parsed);
                }
                self.ctx_wanted = self.m[tab].wanted;
                if let Input::LockLost(lock) = input {
                    // Told of the loss, the tab holds the lock no more, whatever it does with the news
                    // (a fetch it abandoned and keeps the lock for until it lands traces nothing).
                    if self.m[tab].lock == Some(lock) {
                        self.m[tab].lock = None;
                    }
                }
                if input == Input::LocksReleased {
                    // The driver gave back what the tab held and asked for (`pagehide`).
                    self.m[tab].lock = None;
                    self.m[tab].wanted = None;
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
            Event::Stolen { tab, lock, .. } => {
                self.stats.steals += 1;
                self.m[tab].robbed.insert(lock);
                self.note(Line::Text(format!("    lock {lock} stolen from tab {tab}")));
                self.mark_outstanding(tab, "its lock was stolen");
            }
        }
    }

    pub(crate) fn input(&self) -> Option<&Input> {
        self.ctx.as_ref().map(|(_, input)| input)
    }

    pub(crate) fn output(&mut self, tab: usize, now: Millis, output: &Output) {
        self.note(Line::Output(now, tab, output.clone()));
        match output {
            Output::Trace(trace) => match trace.kind {
                TraceKind::LockAcquired => {
                    let Some(&Input::LockAcquired(lock, _)) = self.input() else {
                        panic!("tab {tab}: LockAcquired outside a grant")
                    };
                    // (A lock it still believes it holds may have been stolen, the news not delivered
                    // yet: one kept for an abandoned fetch while the tab was frozen, say.)
                    let held = self.m[tab].lock;
                    assert!(
                        held.is_none_or(|held| self.m[tab].robbed.contains(&held)),
                        "tab {tab} accepted lock {lock} while believing it held lock {held:?}"
                    );
                    self.m[tab].lock = Some(lock);
                    self.m[tab].wanted = None;
                    self.m[tab].lock_since = now;
                }
                TraceKind::LockLost => match self.input() {
                    Some(&Input::LockLost(lock)) => {
                        if self.m[tab].lock == Some(lock) {
                            self.m[tab].lock = None;
                        }
                    }
                    Some(Input::LocksReleased) => {}
                    _ => panic!("tab {tab}: LockLost outside a loss"),
                },
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
                    // Nor for a token with less than a second left, which once got the minimum delay
                    // (see `a_token_with_under_a_second_left_is_refreshed_before_it_expires`).
                    if let (Some(delay), Some((left, _))) = (trace.millis, self.m[tab].adopted_with.take()) {
                        assert!(delay <= left, "tab {tab} scheduled the refresh {delay} ms out for a token with {left} ms left");
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
                    let slack = self.p.slack_ms();
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

}
