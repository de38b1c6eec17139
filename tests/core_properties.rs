//! Property tests with a seeded xorshift PRNG: `decode` never panics, and a `Session` driven by
//! random inputs keeps its invariants after every single input.
//!
//! A failure prints the seed and the last steps of the sequence; the run is deterministic, so
//! the seed reproduces it.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use authlane::core::token::MAX_NUMERIC_DATE;
use authlane::core::{
    decode, AuthError, AuthState, Config, ErrorCode, FetchId, FetchOutcome, Generation, Millis, OpDecision, OpId,
    Output, Session, TokenNeed, TraceKind, Verdict, WaiterId,
};
use common::rng::Rng;
use common::{b64, jwt_from_claims, mint, Harness};


// ---- decode never panics ----

const B64_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Decodes and checks the one promise an `Ok` makes to the session: NumericDates fit millisecond arithmetic.
fn decode_checked(input: &str) -> bool {
    match decode(input) {
        Ok(decoded) => {
            for date in [decoded.claims.exp, decoded.claims.iat, decoded.claims.nbf].into_iter().flatten() {
                assert!(date <= MAX_NUMERIC_DATE, "a NumericDate beyond 9999 was accepted: {date}");
            }
            true
        }
        Err(_) => false,
    }
}

fn random_char(rng: &mut Rng) -> char {
    match rng.below(10) {
        0..=4 => B64_ALPHABET[rng.index(B64_ALPHABET.len())] as char,
        5 => rng.pick(&['.', '=', '+', '/', ' ', '%']),
        6 => rng.pick(&['"', '{', '}', '[', ']', ':', ',', '\\']),
        7 => rng.pick(&['\0', '\n', '\u{7f}', '\u{ff}']),
        8 => rng.pick(&['é', '€', '😀', '\u{fffd}', '\u{2028}', '\u{10ffff}']),
        _ => char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('\u{d7ff}'),
    }
}

fn random_bytes_string(rng: &mut Rng, len: usize) -> String {
    let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn random_b64(rng: &mut Rng, len: usize) -> String {
    (0..len).map(|_| B64_ALPHABET[rng.index(B64_ALPHABET.len())] as char).collect()
}

fn json_number(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => rng.below(2_000_000_000).to_string(),
        1 => format!("-{}", rng.below(1_000_000)),
        2 => format!("{}.{}", rng.below(2_000_000_000), rng.below(1000)),
        3 => format!("{}e{}", rng.below(100), rng.below(500)),
        4 => format!("-{}E-{}", rng.below(100), rng.below(500)),
        5 => "1e400".into(),
        6 => "18446744073709551615".into(),
        7 => "18446744073709551616".into(),
        8 => "9".repeat(rng.range(1, 400) as usize),
        9 => MAX_NUMERIC_DATE.to_string(),
        10 => (MAX_NUMERIC_DATE + 1).to_string(),
        _ => rng.pick(&["-0", "0", "00", "01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "NaN", "-Infinity"]).into(),
    }
}

fn json_string(rng: &mut Rng) -> String {
    let mut out = String::from("\"");
    for _ in 0..rng.below(12) {
        match rng.below(8) {
            0 => out.push_str(rng.pick(&["\\n", "\\\"", "\\\\", "\\/", "\\b", "\\t", "\\x", "\\"])),
            1 => out.push_str(&format!("\\u{:04x}", rng.below(0x1_0000))),
            2 => out.push_str(rng.pick(&["\\ud83d\\ude00", "\\ud83d", "\\ude00", "\\ud83d\\u0041", "\\ud83dx", "\\u12"])),
            3 => out.push(random_char(rng)),
            _ => out.push((b'a' + rng.below(26) as u8) as char),
        }
    }
    if rng.chance(95) {
        out.push('"');
    }
    out
}

const CLAIM_NAMES: [&str; 10] = ["exp", "iat", "nbf", "iss", "sub", "aud", "alg", "kid", "typ", "jti"];

fn json_value(rng: &mut Rng, depth: u32) -> String {
    let leaf = depth > 6 || rng.chance(55);
    if leaf {
        return match rng.below(6) {
            0 | 1 => json_number(rng),
            2 | 3 => json_string(rng),
            4 => rng.pick(&["true", "false", "null", "tru", "nul"]).into(),
            _ => rng.pick(&["[]", "{}", "[\"a\"]", "[\"a\",1]"]).into(),
        };
    }
    if rng.chance(50) {
        let items: Vec<String> = (0..rng.below(5)).map(|_| json_value(rng, depth + 1)).collect();
        format!("[{}]", items.join(","))
    } else {
        json_object(rng, depth + 1)
    }
}

fn json_object(rng: &mut Rng, depth: u32) -> String {
    let members: Vec<String> = (0..rng.below(7))
        .map(|_| {
            let key = if rng.chance(70) { format!("\"{}\"", rng.pick(&CLAIM_NAMES)) } else { json_string(rng) };
            let ws = rng.pick(&["", " ", "\n\t", "\r"]);
            format!("{ws}{key}{ws}:{ws}{}", json_value(rng, depth))
        })
        .collect();
    format!("{{{}}}", members.join(rng.pick(&[",", ", ", ",,", " , "])))
}

/// JSON-ish text: usually an object, sometimes not, sometimes truncated or with trailing junk.
fn jsonish(rng: &mut Rng) -> String {
    let mut text = match rng.below(10) {
        0 => json_value(rng, 0),
        1 => format!("{}{}", "[".repeat(rng.range(1, 100) as usize), "]".repeat(rng.below(100) as usize)),
        2 => format!("{}1{}", "{\"a\":".repeat(rng.range(1, 60) as usize), "}".repeat(rng.below(60) as usize)),
        _ => json_object(rng, 0),
    };
    if rng.chance(20) {
        let mut cut = rng.index(text.len() + 1);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    if rng.chance(10) {
        text.push(random_char(rng));
    }
    text
}

fn mutate(rng: &mut Rng, token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    for _ in 0..rng.range(1, 9) {
        match rng.below(6) {
            // flip
            0 | 1 if !chars.is_empty() => {
                let at = rng.index(chars.len());
                chars[at] = random_char(rng);
            }
            // insert
            2 => {
                let at = rng.index(chars.len() + 1);
                chars.insert(at, random_char(rng));
            }
            // delete
            3 if !chars.is_empty() => {
                let at = rng.index(chars.len());
                chars.remove(at);
            }
            // splice a base64url segment of JSON-ish text in place of a random range
            4 => {
                let a = rng.index(chars.len() + 1);
                let b = (a + rng.index(chars.len() - a + 1)).min(chars.len());
                let splice: Vec<char> = b64(jsonish(rng).as_bytes()).chars().collect();
                chars.splice(a..b, splice);
            }
            // truncate
            _ => {
                let at = rng.index(chars.len() + 1);
                chars.truncate(at);
            }
        }
    }
    chars.into_iter().collect()
}

/// A token whose header or claims segment (or both) is random JSON-ish text.
fn spliced_token(rng: &mut Rng) -> String {
    let header = if rng.chance(50) { b64(jsonish(rng).as_bytes()) } else { b64(br#"{"alg":"RS256"}"#) };
    let claims = b64(jsonish(rng).as_bytes());
    let signature_len = rng.below(40) as usize;
    let mut parts = vec![header, claims, random_b64(rng, signature_len)];
    if rng.chance(10) {
        let pad = rng.pick(&["=", "==", "==="]);
        let at = rng.index(parts.len());
        parts[at].push_str(pad);
    }
    if rng.chance(5) {
        parts.push(random_b64(rng, 4));
    }
    parts.join(".")
}

#[test]
fn decode_never_panics_on_random_bytes() {
    let mut rng = Rng::new(1);
    for case in 0..3_000 {
        let len = rng.below(2_000) as usize;
        let input = random_bytes_string(&mut rng, len);
        let _ = catch_unwind(|| decode_checked(&input)).unwrap_or_else(|e| {
            eprintln!("decode panicked on random-bytes case {case}: {input:?}");
            resume_unwind(e)
        });
        // Random base64url text with dots, which gets past the segment and base64 checks more often.
        let dotted: String = (0..rng.below(300))
            .map(|_| if rng.chance(5) { '.' } else { B64_ALPHABET[rng.index(64)] as char })
            .collect();
        let _ = catch_unwind(|| decode_checked(&dotted)).unwrap_or_else(|e| {
            eprintln!("decode panicked on dotted case {case}: {dotted:?}");
            resume_unwind(e)
        });
    }
}

#[test]
fn decode_never_panics_on_mutated_and_spliced_tokens() {
    let mut rng = Rng::new(2);
    let mut ok = 0;
    let mut cases = 0;
    for case in 0..8_000u32 {
        let valid = match rng.below(3) {
            0 => mint(common::T0 + rng.below(1 << 40), rng.below(100_000), case),
            1 => jwt_from_claims(&json_object(&mut rng, 0)),
            _ => jwt_from_claims(r#"{"sub":"u","aud":["a","b"],"iat":1,"exp":2,"nbf":0}"#),
        };
        let input = if rng.chance(70) { mutate(&mut rng, &valid) } else { spliced_token(&mut rng) };
        cases += 1;
        let decoded = catch_unwind(|| decode_checked(&input)).unwrap_or_else(|e| {
            eprintln!("decode panicked on case {case}: {input:?}");
            resume_unwind(e)
        });
        ok += decoded as u32;
    }
    assert!(cases >= 8_000);
    // Not a property, a sanity check on the generator: some inputs must get all the way through.
    assert!(ok > 50, "only {ok} of {cases} inputs decoded; the generator is too destructive to test much");
}

#[test]
fn decode_never_panics_on_huge_or_deep_inputs() {
    let mut rng = Rng::new(3);
    let megabyte = "a".repeat(1 << 20);
    assert!(decode(&megabyte).is_err());
    let megabyte_token = format!("{}.{}.{}", random_b64(&mut rng, 1 << 19), random_b64(&mut rng, 1 << 19), "c2ln");
    assert!(decode(&megabyte_token).is_err());
    let megabyte_bytes = random_bytes_string(&mut rng, 1 << 20);
    assert!(decode(&megabyte_bytes).is_err());

    // Just under the 64 KiB cap: as much work as decode will ever do on one input.
    let cap = authlane::core::token::MAX_TOKEN_LEN;
    let header = b64(br#"{"alg":"RS256"}"#);
    let room = (cap - header.len() - 6) / 4 * 3;
    let many_keys = {
        let mut text = String::from("{");
        let mut i = 0;
        while text.len() + 20 < room {
            text.push_str(&format!("\"k{i}\":{i},"));
            i += 1;
        }
        text.push_str("\"exp\":1}");
        text
    };
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(room / 2 - 4), "]".repeat(room / 2 - 4));
    let long_string = format!("{{\"sub\":\"{}\"}}", "\\u00e9".repeat(room / 6 - 2));
    for claims in [many_keys, deep, long_string] {
        let token = format!("{header}.{}.c2ln", b64(claims.as_bytes()));
        assert!(token.len() <= cap, "{} > {cap}", token.len());
        let _ = decode_checked(&token);
        let _ = decode_checked(&format!("{token}x"));
    }
}

// ---- random event sequences on a Session ----

const SEQUENCES: u64 = 1_500;
const STEPS: usize = 200;

/// One input to the session, as far as the invariants need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Timeout,
    Wake,
    Answer(FetchId),
    Request(WaiterId),
    Verdict(Generation, Verdict),
    SignOut,
    Dispose,
    Start,
    /// `submit_operation` or `cancel_operation`, already made: only their outputs are checked.
    Gate,
}

/// How often the generator reached the situations the invariants are about, over all sequences.
#[derive(Debug, Default)]
struct Stats {
    fetches: u64,
    joined_requests: u64,
    stale_results: u64,
    released_on_acceptance: u64,
    released_signed_out: u64,
    rejected_signed_out: u64,
    rejected_disposed: u64,
    token_rejected: u64,
    same_token: u64,
    timeouts: u64,
    authenticated: u64,
    unauthenticated: u64,
}

struct Fuzz {
    stats: Stats,
    h: Harness,
    rng: Rng,
    config: Config,
    /// Issuer clock minus client clock for this sequence.
    skew_ms: i64,
    serial: u32,
    /// The last (state, error) announced; the session starts `Loading` without error.
    last: (AuthState, Option<AuthError>),
    settled: bool,
    disposed: bool,
    /// The fetch the session considers in flight, by the outputs seen so far.
    open: Option<FetchId>,
    last_fetch: FetchId,
    last_generation: Generation,
    /// Raw token of each generation, as answered.
    raw_by_generation: BTreeMap<Generation, String>,
    issued: Vec<String>,
    next_op: OpId,
    held: BTreeSet<OpId>,
    ran: BTreeSet<OpId>,
    settled_ops: BTreeSet<OpId>,
    next_waiter: WaiterId,
    asked: BTreeSet<WaiterId>,
    answered: BTreeSet<WaiterId>,
    /// The token of the answer currently being processed, to learn the raw of a new generation.
    answering_with: Option<String>,
    /// The verdict last applied to each generation (the session keeps one per current token).
    verdicts: BTreeMap<Generation, Verdict>,
    attached: bool,
    /// The outputs of the last input, for checks specific to one kind of input.
    last_outputs: Vec<Output>,
    history: Vec<String>,
}

impl Fuzz {
    fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let config = Config {
            refresh_leeway_ms: rng.below(20_000),
            expect_auth: rng.chance(50),
            reject_held_when_signed_out: rng.chance(50),
            // Degenerate timing (a 1 ms fetch timeout with a 1 ms backoff cap) is left out: it
            // makes a retry storm by configuration, which the virtual clock reports as a livelock.
            fetch_timeout_ms: rng.pick(&[30_000, 30_000, 5_000, 60_000, 1_000]),
            backoff_initial_ms: rng.pick(&[1_000, 1_000, 100, 1]),
            backoff_max_ms: rng.pick(&[30_000, 30_000, 2_000]),
            startup_attempts: rng.range(1, 5) as u32,
            seed: rng.next(),
            // Single-tab properties; cross-tab sequences are checked in core_cross_tab.rs.
            ..Config::default()
        };
        let skew_ms = match rng.below(4) {
            0 | 1 => 0,
            2 => rng.below(120_000) as i64 - 60_000,
            _ => rng.below(7_200_000) as i64 - 3_600_000,
        };
        let mut fuzz = Fuzz {
            stats: Stats::default(),
            h: Harness::new(config.clone()),
            rng,
            config,
            skew_ms,
            serial: 0,
            last: (AuthState::Loading, None),
            settled: false,
            disposed: false,
            open: None,
            last_fetch: 0,
            last_generation: 0,
            raw_by_generation: BTreeMap::new(),
            issued: Vec::new(),
            next_op: 0,
            held: BTreeSet::new(),
            ran: BTreeSet::new(),
            settled_ops: BTreeSet::new(),
            next_waiter: 0,
            asked: BTreeSet::new(),
            answered: BTreeSet::new(),
            answering_with: None,
            verdicts: BTreeMap::new(),
            attached: false,
            last_outputs: Vec::new(),
            history: Vec::new(),
        };
        let attach = fuzz.rng.chance(50);
        if attach {
            fuzz.attached = true;
            fuzz.h.session.attach_client();
        }
        fuzz.history.push(format!("config {:?} attach {attach} skew {skew_ms}", fuzz.config));
        if fuzz.rng.chance(90) {
            fuzz.call(Call::Start, |s, now| s.start(now));
        }
        fuzz
    }

    fn now(&self) -> Millis {
        self.h.now
    }

    // ---- the invariant checker around each input ----

    fn call(&mut self, call: Call, input: impl FnOnce(&mut Session, Millis)) {
        self.history.push(format!("@{} {call:?}", self.h.now - common::T0));
        let was_fetching = self.h.session.is_fetching();
        assert_eq!(was_fetching, self.open.is_some(), "the model of the in-flight fetch drifted");
        let generation_before = self.h.session.generation();
        // The answer to the open fetch consumes it; nothing else frees the slot before the outputs say so.
        let mut open = self.open;
        let answers_open = matches!(call, Call::Answer(id) if Some(id) == self.open);
        if answers_open {
            open = None;
        }
        let accepted_now = matches!(call, Call::Verdict(g, Verdict::Accepted) if g == generation_before && g != 0)
            && !self.disposed;

        input(&mut self.h.session, self.h.now);
        if call == Call::Dispose {
            self.disposed = true;
        }

        let outputs: Vec<Output> = std::iter::from_fn(|| self.h.session.poll()).collect();
        for output in &outputs {
            self.history.push(format!("    {output:?}"));
        }
        let mut observed_state = self.last.0;
        let mut unforced_fetch = false;
        for output in outputs.clone() {
            match output {
                Output::FetchToken { fetch, force_refresh } => {
                    unforced_fetch |= !force_refresh;
                    assert!(!self.disposed, "a fetch after dispose");
                    assert!(
                        open.is_none(),
                        "FetchToken {fetch} while fetch {open:?} is still in flight (single flight)"
                    );
                    assert!(fetch > self.last_fetch, "fetch ids must be new: {fetch} after {}", self.last_fetch);
                    self.last_fetch = fetch;
                    open = Some(fetch);
                    self.stats.fetches += 1;
                }
                Output::Trace(trace) => match trace.kind {
                    // A timed-out fetch is over: the next one may start (after the backoff).
                    TraceKind::FetchFailed if matches!(call, Call::Timeout | Call::Wake) => {
                        self.stats.timeouts += 1;
                        open = None
                    }
                    TraceKind::SameTokenReturned => self.stats.same_token += 1,
                    TraceKind::StaleResultDropped => {
                        self.stats.stale_results += 1;
                        assert!(!answers_open, "the answer to the fetch in flight was dropped as stale")
                    }
                    _ => {}
                },
                Output::ResolveToken { waiter, result } => {
                    assert!(self.asked.contains(&waiter), "answered waiter {waiter} that never asked");
                    assert!(self.answered.insert(waiter), "waiter {waiter} answered twice");
                    if let Ok(Some((generation, raw))) = &result {
                        // Always the current token, and the very string the issuer gave for it.
                        assert_eq!(*generation, self.last_generation, "waiter {waiter} got an old generation");
                        assert_eq!(self.raw_by_generation.get(generation), Some(raw), "waiter {waiter} got another raw");
                    }
                    if let Err(error) = &result {
                        assert!(!matches!(error.code, ErrorCode::SignedOut), "waiter {waiter} failed with {error:?}");
                        assert!(self.disposed == (error.code == ErrorCode::Disposed), "waiter {waiter}: {error:?}");
                    }
                }
                Output::ReleaseOperations(ops) => {
                    assert!(!ops.is_empty(), "an empty release");
                    assert!(self.config.expect_auth, "released operations without expect_auth: {ops:?}");
                    assert!(
                        accepted_now || observed_state == AuthState::Unauthenticated,
                        "released {ops:?} before an acceptance while {observed_state:?}"
                    );
                    if accepted_now {
                        self.stats.released_on_acceptance += 1;
                    } else {
                        self.stats.released_signed_out += 1;
                    }
                    self.settle_ops(&ops);
                }
                Output::RejectOperations(ops, error) => {
                    assert!(!ops.is_empty(), "an empty rejection");
                    match error.code {
                        ErrorCode::Disposed => {
                            assert_eq!(call, Call::Dispose);
                            self.stats.rejected_disposed += 1;
                        }
                        ErrorCode::SignedOut => {
                            self.stats.rejected_signed_out += 1;
                            assert!(self.config.reject_held_when_signed_out);
                            assert_eq!(observed_state, AuthState::Unauthenticated);
                        }
                        other => panic!("held operations rejected with {other:?}"),
                    }
                    self.settle_ops(&ops);
                }
                Output::TokenChanged { generation } => {
                    assert!(!self.disposed);
                    assert!(generation > self.last_generation, "generation {generation} after {}", self.last_generation);
                    self.last_generation = generation;
                    if let Some(raw) = &self.answering_with {
                        self.raw_by_generation.insert(generation, raw.clone());
                    }
                }
                Output::StateChanged { state, error } => {
                    assert!(!self.disposed, "a state change after dispose");
                    assert_ne!((state, error), self.last, "StateChanged repeated the previous state and error");
                    assert_ne!(state, AuthState::Loading, "Loading reappeared after settling");
                    self.last = (state, error);
                    observed_state = state;
                    match state {
                        AuthState::Authenticated => self.stats.authenticated += 1,
                        _ => self.stats.unauthenticated += 1,
                    }
                    if error.is_some_and(|e| e.code == ErrorCode::TokenRejected) {
                        self.stats.token_rejected += 1;
                    }
                    self.settled = true;
                }
                Output::AcquireLock { .. }
                | Output::ReleaseLock { .. }
                | Output::Broadcast(_)
                | Output::Persist(_)
                | Output::RecordSignOut(_)
                | Output::Remember { .. } => {
                    panic!("a cross-tab or storage output without cross_tab/persist: {output:?}");
                }
            }
        }

        // After the input: the model and the session agree.
        if self.h.session.is_fetching() {
            assert!(open.is_some(), "the session is fetching without having asked for a fetch");
        } else {
            // Answered, timed out, dropped by sign-out or dispose, or by a second rejection.
            open = None;
        }
        self.open = open;
        assert_eq!(self.last, (self.h.session.state(), self.h.session.error()), "getters disagree with the outputs");
        if self.settled {
            assert_ne!(self.h.session.state(), AuthState::Loading);
        }
        let generation = self.h.session.generation();
        assert!(generation == 0 || generation == self.last_generation, "generation {generation} never announced");
        if self.h.session.is_holding_operations() {
            assert!(self.config.expect_auth && !self.disposed);
        } else {
            assert!(self.held.is_empty(), "the gate opened without settling {:?}", self.held);
        }
        // Only a session without a token may use the provider's cache: a held token's replacement
        // is always forced (the cache would hand back the same token).
        if unforced_fetch {
            assert_eq!(generation, 0, "an unforced fetch while a token is held");
        }
        // Settled quietly (signed out, or rejected for good) with nothing in flight: no timer may
        // fetch again; only the app (a Current/Forced request, or a fetch it answers) reopens it.
        let quiet = matches!(self.last.1.map(|e| e.code), None | Some(ErrorCode::TokenRejected));
        if self.last.0 == AuthState::Unauthenticated && quiet && generation == 0 && !self.h.session.is_fetching() {
            assert_eq!(self.h.session.poll_timeout(), None, "a settled session keeps a timer");
        }
        if accepted_now {
            assert_eq!(self.last, (AuthState::Authenticated, None), "an accepted token did not authenticate");
        }
        // Authenticated always has a token; without a client reporting verdicts, a token means Authenticated.
        if self.h.session.state() == AuthState::Authenticated {
            assert_ne!(generation, 0, "Authenticated without a token");
        }
        if !self.attached && generation != 0 {
            assert_eq!(self.h.session.state(), AuthState::Authenticated, "a token is held without a client");
        }
        // Liveness: a pending request always has a fetch under way or a deadline that will start one.
        if !self.disposed && self.asked.len() > self.answered.len() {
            assert!(
                self.h.session.is_fetching() || self.h.session.poll_timeout().is_some(),
                "requests wait with nothing in flight and no timer"
            );
        }
        if matches!(call, Call::Timeout | Call::Wake) {
            if let Some(deadline) = self.h.session.poll_timeout() {
                assert!(deadline > self.h.now, "poll_timeout {deadline} is not after now {}", self.h.now);
            }
        }
        self.last_outputs = outputs;
    }

    fn settle_ops(&mut self, ops: &[OpId]) {
        assert!(ops.windows(2).all(|w| w[0] < w[1]), "not in call order: {ops:?}");
        for op in ops {
            assert!(self.held.remove(op), "op {op} settled but it was not held (ran: {})", self.ran.contains(op));
            assert!(self.settled_ops.insert(*op), "op {op} released or rejected twice");
        }
    }

    // ---- random inputs ----

    fn issuer_now(&self) -> Millis {
        (self.now() as i64 - self.skew_ms).max(0) as Millis
    }

    fn fresh_token(&mut self) -> String {
        self.serial += 1;
        let lifetime = self.rng.pick(&[1, 2, 5, 8, 15, 30, 60, 300, 3_600, 86_400]);
        mint(self.issuer_now(), lifetime, self.serial)
    }

    fn odd_token(&mut self) -> String {
        self.serial += 1;
        let serial = self.serial;
        let iat = self.issuer_now() / 1000;
        match self.rng.below(6) {
            // A cached token near (or past) its end.
            0 => {
                let lifetime = self.rng.pick(&[10, 60, 3_600]);
                let age = lifetime * 1000 - self.rng.below(25_000).min(lifetime * 1000);
                mint(self.issuer_now().saturating_sub(age), lifetime, serial)
            }
            1 => jwt_from_claims(&format!(r#"{{"sub":"u","jti":"{serial}"}}"#)),
            2 => {
                let exp = (iat + self.rng.below(7_200)).saturating_sub(600);
                jwt_from_claims(&format!(r#"{{"sub":"u","exp":{exp},"jti":"{serial}"}}"#))
            }
            3 => {
                let exp = iat.saturating_sub(self.rng.below(100));
                jwt_from_claims(&format!(r#"{{"sub":"u","iat":{iat},"exp":{exp},"jti":"{serial}"}}"#))
            }
            4 => jwt_from_claims(&format!(r#"{{"iat":{iat},"exp":{MAX_NUMERIC_DATE},"jti":"{serial}"}}"#)),
            // Issued in the future on the client's clock.
            _ => mint(self.issuer_now() + self.rng.below(600_000), 60, serial),
        }
    }

    fn garbage(&mut self) -> String {
        match self.rng.below(4) {
            0 => "not a jwt".into(),
            1 => String::new(),
            2 => {
                let len = self.rng.below(80) as usize;
                random_bytes_string(&mut self.rng, len)
            }
            _ => {
                let token = self.fresh_token();
                jwt_from_claims(&format!(r#"{{"exp":"soon","t":"{}"}}"#, &token[..10]))
            }
        }
    }

    fn outcome(&mut self) -> FetchOutcome {
        let token = match self.rng.below(20) {
            0..=6 => self.fresh_token(),
            7..=9 => self.odd_token(),
            10..=11 => match self.raw_by_generation.get(&self.h.session.generation()) {
                Some(raw) => raw.clone(),
                None => self.fresh_token(),
            },
            12 if !self.issued.is_empty() => self.issued[self.rng.index(self.issued.len())].clone(),
            12 | 13 => self.garbage(),
            14..=16 => {
                let code = self.rng.pick(&[ErrorCode::FetchFailed, ErrorCode::InvalidCallbackResult, ErrorCode::FetchTimeout]);
                return FetchOutcome::Failed(AuthError::new(code, "fuzz"));
            }
            _ => return FetchOutcome::SignedOut,
        };
        self.issued.push(token.clone());
        FetchOutcome::Token(token)
    }

    fn answer(&mut self, fetch: FetchId) {
        let outcome = self.outcome();
        self.answering_with = match &outcome {
            FetchOutcome::Token(raw) => Some(raw.clone()),
            _ => None,
        };
        self.history.push(format!("  outcome {outcome:?}"));
        self.call(Call::Answer(fetch), |s, now| s.handle_fetch_result(now, fetch, outcome));
        self.answering_with = None;
    }

    /// The harness's `advance_to`, one `handle_timeout` per deadline, each checked as its own input.
    fn advance_to(&mut self, target: Millis) {
        let mut firings = 0;
        while let Some(deadline) = self.h.session.poll_timeout() {
            if deadline > target {
                break;
            }
            firings += 1;
            assert!(firings < 10_000, "livelock: timers keep firing before {target}");
            self.h.now = self.h.now.max(deadline);
            self.call(Call::Timeout, |s, now| s.handle_timeout(now));
        }
        self.h.now = self.h.now.max(target);
    }

    fn step(&mut self) {
        let generation = self.h.session.generation();
        // Bias towards answering promptly and towards using the gate while it holds, so that
        // sequences reach acceptance and settling, not only timeouts.
        if let Some(fetch) = self.open.filter(|_| self.rng.chance(30)) {
            return self.answer(fetch);
        }
        let roll = if self.h.session.is_holding_operations() && self.rng.chance(25) { 73 } else { self.rng.below(100) };
        match roll {
            0..=9 => {
                let ms = self.rng.below(2_000);
                self.advance_to(self.now() + ms);
            }
            10..=19 => {
                let ms = self.rng.below(90_000);
                self.advance_to(self.now() + ms);
            }
            20 => {
                let ms = self.rng.below(3_600_000);
                self.advance_to(self.now() + ms);
            }
            21..=24 => {
                // A tab that slept: the clock jumps past deadlines without firing them, then wakes.
                self.h.now += self.rng.below(1_800_000);
                self.call(Call::Wake, |s, now| s.handle_wake(now));
            }
            25..=44 => match self.open {
                Some(fetch) => self.answer(fetch),
                None => {
                    let ms = self.rng.below(60_000);
                    self.advance_to(self.now() + ms);
                }
            },
            45..=48 => {
                // A late or unknown result: any id but the open one.
                let fetch = match self.rng.below(3) {
                    0 if self.last_fetch > 0 => self.rng.range(1, self.last_fetch + 1),
                    1 => self.last_fetch + 1 + self.rng.below(5),
                    _ => self.rng.next(),
                };
                if Some(fetch) != self.open {
                    self.answer(fetch);
                    assert!(
                        matches!(&self.last_outputs[..], [Output::Trace(t)] if t.kind == TraceKind::StaleResultDropped),
                        "a result for fetch {fetch}, not the one in flight, had effects"
                    );
                }
            }
            49..=60 => {
                let need = match self.rng.below(6) {
                    0 | 1 => TokenNeed::Current,
                    2 => TokenNeed::Forced,
                    3 => TokenNeed::NewerThan(generation),
                    4 => TokenNeed::NewerThan(generation.saturating_sub(1)),
                    _ => TokenNeed::NewerThan(self.rng.below(generation + 3)),
                };
                let unauthenticated = self.h.session.state() == AuthState::Unauthenticated;
                self.next_waiter += 1;
                let waiter = self.next_waiter;
                self.asked.insert(waiter);
                self.history.push(format!("  need {need:?}"));
                if self.open.is_some() {
                    self.stats.joined_requests += 1;
                }
                let now = self.now();
                // Settled: Unauthenticated with no token held.
                let settled_before =
                    (unauthenticated && generation == 0).then(|| self.h.session.error());
                self.call(Call::Request(waiter), |s, now| s.handle_token_request(now, waiter, need));
                let fetched = self.last_outputs.iter().any(|o| matches!(o, Output::FetchToken { .. }));
                let immediate = self.last_outputs.iter().find_map(|o| match o {
                    Output::ResolveToken { waiter: w, result } if *w == waiter => Some(result.clone()),
                    _ => None,
                });
                match immediate {
                    // By design, a client asking to replace its token cannot reopen a settled
                    // session: while Unauthenticated without a token, NewerThan answers at once
                    // with the settled outcome and fetches nothing. (With a token held for the
                    // server's verdict the session is not settled: the ordinary rules below apply.)
                    Some(result) if matches!(need, TokenNeed::NewerThan(_)) && settled_before.is_some() && !self.disposed => {
                        let error = settled_before.unwrap();
                        assert_eq!(result, error.map_or(Ok(None), Err), "NewerThan while settled");
                        assert!(!fetched, "NewerThan reopened a settled session");
                    }
                    // Answered from the cache: a token fresh by its schedule and, for NewerThan, newer.
                    Some(Ok(Some((generation, _)))) => {
                        assert!(!fetched, "waiter {waiter} answered from the cache, yet a fetch started");
                        assert_ne!(need, TokenNeed::Forced, "a forced request was answered from the cache");
                        if let TokenNeed::NewerThan(held) = need {
                            assert!(generation > held, "NewerThan({held}) answered with generation {generation}");
                        }
                        assert!(self.h.session.refresh_at().is_none_or(|at| now < at), "answered with a stale token");
                    }
                    Some(Ok(None)) => panic!("waiter {waiter} answered 'signed out' without a fetch"),
                    Some(Err(error)) => assert!(self.disposed, "waiter {waiter} failed at once: {error:?}"),
                    None => assert!(
                        self.h.session.is_fetching(),
                        "waiter {waiter} neither answered nor waiting on a fetch"
                    ),
                }
            }
            61..=72 => {
                let target = match self.rng.below(5) {
                    0..=2 => generation,
                    3 => self.rng.below(generation + 1),
                    _ => self.rng.below(1_000),
                };
                let verdict = if self.rng.chance(65) { Verdict::Accepted } else { Verdict::Rejected };
                let current = target == generation && generation != 0;
                let repeated_rejection = current
                    && verdict == Verdict::Rejected
                    && self.verdicts.get(&target) == Some(&Verdict::Rejected);
                self.call(Call::Verdict(target, verdict), |s, now| s.handle_server_verdict(now, target, verdict));
                if self.disposed {
                    assert!(self.last_outputs.is_empty(), "a verdict after dispose had effects");
                } else if !current {
                    assert!(
                        matches!(&self.last_outputs[..], [Output::Trace(t)] if t.kind == TraceKind::StaleVerdictIgnored),
                        "a verdict on generation {target} (current {generation}) was not just ignored"
                    );
                } else if repeated_rejection {
                    // A duplicate rejection of the same token must not count as a second one.
                    assert!(self.last_outputs.is_empty(), "a repeated rejection of generation {target} had effects");
                } else {
                    if verdict == Verdict::Rejected {
                        // A first rejection fetches a replacement; a second settles for good.
                        let settled = self.last == (AuthState::Unauthenticated, self.h.session.error())
                            && self.h.session.error().is_some_and(|e| e.code == ErrorCode::TokenRejected)
                            && self.h.session.generation() == 0;
                        assert!(self.h.session.is_fetching() || settled, "a rejection neither refetched nor settled");
                    }
                    self.verdicts.insert(target, verdict);
                }
            }
            73..=82 => {
                self.next_op += 1;
                let op = self.next_op;
                let holding = self.h.session.is_holding_operations();
                let decision = self.h.session.submit_operation(op);
                // Submitting is a mutator too: drain and check it like any input.
                self.call(Call::Gate, |_, _| {});
                self.history.push(format!("  submit {op} -> {decision:?}"));
                match decision {
                    OpDecision::Hold => {
                        assert!(holding && self.config.expect_auth && !self.disposed, "op {op} held by an open gate");
                        self.held.insert(op);
                    }
                    OpDecision::Run => {
                        assert!(!holding, "op {op} run while the gate holds");
                        self.ran.insert(op);
                    }
                }
            }
            83..=86 => {
                let op = match self.rng.below(3) {
                    0 if !self.held.is_empty() => *self.held.iter().nth(self.rng.index(self.held.len())).unwrap(),
                    _ => self.rng.below(self.next_op as u64 + 2) as OpId,
                };
                let was_held = self.held.contains(&op);
                let cancelled = self.h.session.cancel_operation(op);
                self.history.push(format!("  cancel {op} -> {cancelled}"));
                assert_eq!(cancelled, was_held, "cancel_operation({op})");
                self.held.remove(&op);
                self.call(Call::Gate, |_, _| {});
            }
            87..=90 => self.call(Call::Wake, |s, now| s.handle_wake(now)),
            91..=93 => self.call(Call::Timeout, |s, now| s.handle_timeout(now)),
            94..=95 => self.call(Call::SignOut, |s, now| s.sign_out(now)),
            96..=98 => self.call(Call::Start, |s, now| s.start(now)),
            _ => {
                if self.rng.chance(30) {
                    self.call(Call::Dispose, |s, _| s.dispose());
                } else {
                    self.call(Call::Start, |s, now| s.start(now));
                }
            }
        }
    }

    fn finish(&mut self) {
        self.call(Call::Dispose, |s, _| s.dispose());
        // Beyond the brief's invariants: once disposed, every request has had exactly one answer
        // and every held operation has been settled.
        let unanswered: Vec<_> = self.asked.difference(&self.answered).collect();
        assert!(unanswered.is_empty(), "waiters never answered: {unanswered:?}");
        assert!(self.held.is_empty(), "held operations never settled: {:?}", self.held);
        assert!(!self.h.session.is_holding_operations());
        assert_eq!(self.h.session.poll_timeout(), None, "timers left after dispose");
    }
}

fn run_sequence(seed: u64, history: &mut Vec<String>, stats: &mut Stats) {
    let mut fuzz = Fuzz::new(seed);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // One sequence in five is disposed part-way through and goes on receiving inputs.
        // Half of those early, while the gate may still hold.
        let dispose_at = match fuzz.rng.below(10) {
            0 => fuzz.rng.index(20),
            1 => fuzz.rng.index(STEPS),
            _ => STEPS,
        };
        for step in 0..STEPS {
            if step == dispose_at {
                fuzz.call(Call::Dispose, |s, _| s.dispose());
            }
            fuzz.step();
        }
        fuzz.finish();
    }));
    *history = std::mem::take(&mut fuzz.history);
    let s = &fuzz.stats;
    for (total, n) in [
        (&mut stats.fetches, s.fetches),
        (&mut stats.joined_requests, s.joined_requests),
        (&mut stats.stale_results, s.stale_results),
        (&mut stats.released_on_acceptance, s.released_on_acceptance),
        (&mut stats.released_signed_out, s.released_signed_out),
        (&mut stats.rejected_signed_out, s.rejected_signed_out),
        (&mut stats.rejected_disposed, s.rejected_disposed),
        (&mut stats.token_rejected, s.token_rejected),
        (&mut stats.same_token, s.same_token),
        (&mut stats.timeouts, s.timeouts),
        (&mut stats.authenticated, s.authenticated),
        (&mut stats.unauthenticated, s.unauthenticated),
    ] {
        *total += n;
    }
    if let Err(panic) = outcome {
        resume_unwind(panic);
    }
}

/// A deeper run: AUTHLANE_FUZZ_SEQUENCES=100000 cargo test --release --test core_properties
/// (`make mutants` runs fewer).
fn sequences() -> u64 {
    std::env::var("AUTHLANE_FUZZ_SEQUENCES").ok().and_then(|n| n.parse().ok()).unwrap_or(SEQUENCES)
}

fn run_sequences() -> Stats {
    let mut stats = Stats::default();
    for seed in 0..sequences() {
        let mut history = Vec::new();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run_sequence(seed, &mut history, &mut stats))) {
            let tail = history.len().saturating_sub(60);
            eprintln!("sequence seed {seed} failed; its last steps:\n{}", history[tail..].join("\n"));
            resume_unwind(panic);
        }
    }
    eprintln!("{stats:#?}");
    stats
}

#[test]
fn random_event_sequences_keep_the_session_invariants() {
    let stats = run_sequences();
    if sequences() < SEQUENCES {
        return; // A shortened run: too few sequences to reach every situation.
    }
    // The invariants are only as good as the situations reached: each must have come up.
    let Stats {
        fetches, joined_requests, stale_results, released_on_acceptance, released_signed_out,
        rejected_signed_out, rejected_disposed, token_rejected, same_token, timeouts, authenticated,
        unauthenticated,
    } = stats;
    for (name, n) in [
        ("fetches", fetches),
        ("joined_requests", joined_requests),
        ("stale_results", stale_results),
        ("released_on_acceptance", released_on_acceptance),
        ("released_signed_out", released_signed_out),
        ("rejected_signed_out", rejected_signed_out),
        ("rejected_disposed", rejected_disposed),
        ("token_rejected", token_rejected),
        ("same_token", same_token),
        ("timeouts", timeouts),
        ("authenticated", authenticated),
        ("unauthenticated", unauthenticated),
    ] {
        assert!(n >= 20, "the generator reached {name} only {n} times");
    }
}
