//! The generator: each sequence's parameters (`Params`) and the random steps a sequence takes —
//! time passing (evenly, or racily with part of what is due delivered in random order), token
//! requests, server verdicts, sign-out and sign-in, freezes, closes, late tabs, garbage and
//! lying or replayed peer messages, wake-ups, disposes.

use authlane::core::{AuthState, Config, Millis, PeerMessage, TokenNeed, Verdict};

use crate::common::rng::Rng;
use crate::common::tabs::Issuer;
use crate::common::{mint, T0};
use crate::model::{exp_ms, is_garbage, Direct, Fuzz, Line, TabModel};

/// Provider outages, checked against "the tabs together call a failing provider no more often than
/// one tab's backoff would" (issue 12 item 3: failures are shared across tabs, `shared_backoff.rs`;
/// before that, 196 of the 500 default sequences failed it). See `outage` for the set-ups exempted.
const OUTAGES: bool = true;


#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub(crate) tabs: usize,
    pub(crate) config: Config,
    pub(crate) lifetime_s: u64,
    pub(crate) latency_ms: u64,
    pub(crate) reuse_window_ms: u64,
    /// Interleave deliveries in random order and act while work is still pending.
    pub(crate) racy: bool,
    /// The driver's localStorage lease instead of Web Locks: no grant is reported uncontended, so
    /// every holder waits the peer grace.
    pub(crate) lease: bool,
    /// No freeze, close or dispose, and `peer_grace + latency < lock_timeout`: the sequence stays
    /// calm (see the crate doc).
    pub(crate) calm: bool,
}

impl Params {
    pub(crate) fn random(rng: &mut Rng) -> Self {
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
        // The whole range the core takes, tiny values included (the JS API allows 1 s and up, with
        // a 50 ms grace): a lock timeout of a few ms makes every wait a steal and every hold a
        // release; one up to setTimeout's range never steals within a sequence.
        let lock_timeout_ms = match rng.below(20) {
            0..=1 => rng.range(1, 50),
            2..=3 => rng.range(50, 1_000),
            4 => rng.range(15_000, 2_147_483_648),
            _ => rng.range(1_000, 15_001),
        };
        // Any grace shorter than the lock timeout (a longer one would outlast the lock it waits under).
        let peer_grace_ms = match rng.below(8) {
            0..=1 => 0,
            2 => rng.range(1, 4),
            _ => rng.below(201),
        }
        .min(lock_timeout_ms - 1);
        let config = Config {
            cross_tab: true,
            refresh_leeway_ms,
            lock_timeout_ms,
            peer_grace_ms,
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

    pub(crate) fn issuer(&self) -> Issuer {
        let mut issuer = Issuer::new(self.lifetime_s, self.latency_ms);
        issuer.reuse_window_ms = self.reuse_window_ms;
        issuer
    }

    /// The by-design lateness of an expiry estimate (see the module doc).
    pub(crate) fn slack_ms(&self) -> u64 {
        self.latency_ms + 1_000
    }
}
/// Envelope-level garbage: wrong version, missing or unknown kind, fields of the wrong type.
pub(crate) fn rng_pick_envelope(rng: &mut Rng, token: &str) -> String {
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


impl Fuzz {
    // ---- actions ----

    pub(crate) fn call(&mut self, tab: usize, direct: Direct, f: impl FnOnce(&mut authlane::core::Session, Millis)) {
        self.log(format!("tab {tab}: {direct:?}"));
        self.directs.push_back(direct);
        self.tabs.call(tab, &format!("{direct:?}"), f);
        self.absorb();
    }

    /// Delivers up to `steps` pending deliveries, each picked at random among those pending now.
    fn deliver_in_random_order(&mut self, steps: usize) {
        for _ in 0..steps {
            let pending = self.tabs.pending_work();
            if pending.is_empty() {
                break;
            }
            let kind = pending[self.rng.index(pending.len())];
            self.tabs.step_once(Some(kind));
            self.absorb();
        }
    }

    /// Delivers everything deliverable now: in the harness's order, or (racy) in random order.
    pub(crate) fn settle(&mut self) {
        if self.p.racy {
            self.deliver_in_random_order(100_000);
        }
        self.tabs.settle();
        self.absorb();
    }

    /// After a call: settle, unless (racy) the next action should land while work is pending.
    pub(crate) fn maybe_settle(&mut self) {
        if !self.p.racy || self.rng.chance(60) {
            self.settle();
        }
    }

    pub(crate) fn run_for(&mut self, ms: u64) {
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
    pub(crate) fn run_partly(&mut self) {
        self.settle();
        let Some(at) = self.tabs.next_due() else { return };
        if at > self.now() + 120_000 {
            return;
        }
        self.log(format!("run partly to +{}", at - T0));
        self.tabs.fire_timers_at(at);
        self.absorb();
        let steps = self.rng.below(4) as usize;
        self.deliver_in_random_order(steps);
    }

    pub(crate) fn token_request(&mut self, tab: usize, need: TokenNeed) {
        self.next_waiter += 1;
        let waiter = self.next_waiter;
        self.m[tab].waiting.insert(waiter);
        self.note(Line::Text(format!("  need {need:?}")));
        self.call(tab, Direct::Request(waiter), |s, now| s.handle_token_request(now, waiter, need));
    }

    pub(crate) fn random_need(&mut self, tab: usize) -> TokenNeed {
        let generation = self.tabs.tabs[tab].session.generation();
        match self.rng.below(20) {
            0..=7 => TokenNeed::Current,
            8..=11 => TokenNeed::Forced,
            12..=16 => TokenNeed::NewerThan(generation),
            17..=18 => TokenNeed::NewerThan(generation.saturating_sub(1)),
            _ => TokenNeed::NewerThan(self.rng.below(generation + 3)),
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<String> {
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

    pub(crate) fn garbage_text(&mut self) -> String {
        let token = self.minted.last().cloned().unwrap_or_else(|| mint(self.now(), 60, 1));
        let mut text = match self.rng.below(14) {
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

    pub(crate) fn step(&mut self) {
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
                let verdict = if self.rng.chance(65) { Verdict::Accepted } else { Verdict::Rejected };
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
            63..=65 | 71 | 90..=92 if self.p.calm => self.request_everywhere(),
            63..=65 | 91..=92 => {
                // A freeze, or (91–92) a round trip through the back/forward cache: `pagehide` gives
                // the tab's locks back and the page sleeps until a thaw step restores it (`pageshow`).
                let Some(tab) = self.pick_live() else { return };
                self.calm = false;
                if roll >= 91 {
                    self.log(format!("hide tab {tab} (back/forward cache)"));
                    self.stats.hides += 1;
                    self.mark_outstanding(tab, "its page was hidden");
                    self.tabs.hide(tab);
                    self.absorb();
                } else {
                    self.log(format!("freeze tab {tab}"));
                    self.stats.freezes += 1;
                    self.mark_outstanding(tab, "its tab was frozen");
                    self.tabs.freeze(tab);
                }
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
                // A stale or replayed token message (a replay while signed out carries its fetch
                // time, before the sign-out: see `fresh_tab_refuses_a_token_fetched_before_the_sign_out`).
                let text = if !self.token_messages.is_empty() && self.rng.chance(50) {
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
            93..=95 => self.lie(),
            96 if OUTAGES => self.outage(),
            _ => self.request_everywhere(),
        }
    }

    /// The provider is down for 5–60 s: the tabs together may call it no more often than one tab's
    /// backoff would (see [`OUTAGES`]).
    fn outage(&mut self) {
        let window = self.rng.range(5_000, 60_001);
        self.log(format!("issuer down for {window} ms"));
        let before = self.requests.len();
        self.tabs.issuer.down = true;
        self.run_for(window);
        self.tabs.issuer.down = false;
        let calls = self.requests[before..].len() as u64;
        // Two set-ups where the bound cannot hold, by design: a lock timeout shorter than a call
        // lets waiters steal from a holder whose call is still out (a frozen holder looks the same),
        // each steal a call of its own; and without a peer grace, a failure broadcast delivered out
        // of order (racy) can arrive after the next tab was granted the lock, which then calls (the
        // JS API always has a grace, see `robbed_fetches`).
        let c = &self.p.config;
        if c.lock_timeout_ms <= self.p.latency_ms || (self.p.racy && c.peer_grace_ms == 0) {
            return;
        }
        // One tab's most calls in the window: the first, then one per backoff delay, each at least
        // half its capped exponential step.
        let (mut bound, mut at, mut step) = (1, 0, c.backoff_initial_ms);
        while at + step / 2 <= window {
            at += step / 2;
            bound += 1;
            step = (step * 2).min(c.backoff_max_ms);
        }
        assert!(calls <= bound, "{calls} calls during a {window} ms outage; one tab's backoff makes at most {bound}");
    }

    /// A peer message that lies about its times: a real token with an `expiresAt` out of range,
    /// messages stamped `at` far in the past or future. Each lie the session must not believe.
    ///
    ///
    /// Not drawn: a fetch time later than the token's real one with an `expiresAt` past its `exp`
    /// (believed for up to one lifetime by a tab that has not learnt its clock's skew, the README's
    /// "What a tab believes"; `tests/core_peer_trust.rs` checks that bound), and a peer's sign-out
    /// (any tab may sign the user out; the model would not know of it).
    fn lie(&mut self) {
        let Some(raw) = (!self.minted.is_empty()).then(|| self.minted[self.rng.index(self.minted.len())].clone()) else {
            return;
        };
        let now = self.now();
        let at = match self.rng.below(3) {
            0 => 0,
            // While the user is signed out, an old token stamped as fetched after the sign-out
            // passes for a sign-in in another tab: only its own `iat` could give it away, a
            // plausibility check of peer times (issue 12 item 1, helper "trust"). Kept off until then.
            _ if self.signed_out => 0,
            1 => now.saturating_sub(self.rng.below(3_600_000)),
            _ => now,
        };
        let text = match self.rng.below(5) {
            // `expiresAt` before the token's real expiry, or none, or 0: believable, or expired.
            0 => PeerMessage::Token { token: raw.clone(), expires_at: Some(exp_ms(&raw).saturating_sub(self.rng.below(60_000))) }.encode_at(at),
            1 => PeerMessage::Token { token: raw, expires_at: Some(0) }.encode_at(at),
            // Far past the token's own `exp` (u64::MAX, an hour after it), with no fetch time: the
            // token's `exp` on the clock bounds it (src/core/session/trust.rs).
            2 => {
                let expires_at = self.rng.pick(&[u64::MAX, exp_ms(&raw).saturating_add(3_600_000)]);
                PeerMessage::Token { token: raw, expires_at: Some(expires_at) }.encode_at(0)
            }
            3 => PeerMessage::Request.encode_at(self.rng.pick(&[0, u64::MAX, now + 3_600_000])),
            _ => PeerMessage::Holding.encode_at(self.rng.pick(&[0, u64::MAX, now + 3_600_000])),
        };
        self.stats.lies += 1;
        self.log(format!("inject lie {text}"));
        self.tabs.post(usize::MAX, &text);
        self.maybe_settle();
    }

    /// Every live tab asks for its current token, as clients about to send one do.
    pub(crate) fn request_everywhere(&mut self) {
        for tab in self.live_tabs() {
            self.token_request(tab, TokenNeed::Current);
        }
        self.settle();
    }

    pub(crate) fn sign_out(&mut self) {
        let Some(tab) = self.pick_live() else { return };
        self.stats.sign_outs += 1;
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

    pub(crate) fn sign_in(&mut self) {
        let Some(tab) = self.pick_live() else { return };
        let from_signed_out = self.signed_out;
        self.stats.sign_ins += 1;
        self.log(format!("sign in via tab {tab}"));
        self.tabs.issuer.sign_in();
        self.signed_out = false;
        self.token_request(tab, TokenNeed::Current);
        let c = &self.p.config;
        // Time for one lock wait (bounded: a lock timeout of days would run days of refreshes).
        let ms = c.lock_timeout_ms.min(120_000) + c.peer_grace_ms + self.p.latency_ms + 10;
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
}
