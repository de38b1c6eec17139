//! `make fuzz`: pushes random and mutated inputs through the decoders that take untrusted text —
//! JWTs from the app's callback (`core::decode`), messages from other tabs
//! (`PeerMessage::decode_with_time`), and records restored from storage (a fresh `Session` fed
//! the record, then started) — and counts panics and the slowest input.
//!
//! Inputs are mostly mutations of real tokens and messages (flipped bytes, truncations, splices,
//! nesting, huge and fractional numbers), so they get past the first checks; a share is plain
//! random bytes. Deterministic for a seed: `cargo run --profile fuzz --example fuzz_decoders -- [count] [seed]`.

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use authlane::core::{decode, Config, Output, PeerMessage, Session};

#[path = "../tests/common/mod.rs"]
mod common;
use common::b64;

const DEFAULT_COUNT: u64 = 10_000_000;
/// How many of the slowest inputs are timed again at the end.
const KEEP_SLOWEST: usize = 16;
/// 2026-11-23T00:00:00Z, in ms: the clock the stored records are judged on.
const NOW: u64 = 1_795_392_000_000;

/// xorshift64*: fast and good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn jwt(header: &str, claims: &str) -> String {
    format!("{}.{}.c2lnbmF0dXJl", b64(header.as_bytes()), b64(claims.as_bytes()))
}

/// Numbers a decoder must refuse or clamp without overflowing.
const NUMBERS: &[&str] = &[
    "0", "-1", "1.5", "1795392000.25", "1e3", "1E+400", "-0", "1e-400", "253402300799", "253402300800",
    "18446744073709551615", "18446744073709551616", "99999999999999999999999999999999", "9007199254740993",
    "0.0000001", "NaN", "Infinity", "0x10", "01", "-", "1.", ".5", "1e",
];

/// JSON values for claim payloads: nested, long, escaped, wrongly typed.
fn json_value(rng: &mut Rng, depth: usize) -> String {
    match rng.below(if depth > 3 { 4 } else { 7 }) {
        0 => rng.pick(NUMBERS).to_string(),
        1 => ["\"s\"", "\"\\u0000\\ud800\"", "\"\\\"\"", "null", "true", "\"é\u{1F600}\""][rng.below(6)].to_string(),
        2 => format!("\"{}\"", "x".repeat(rng.below(300))),
        3 => {
            let limit = if rng.below(50) == 0 { 5_000 } else { 100 };
            let deep = rng.below(limit);
            format!("{}{}", "[".repeat(deep), "]".repeat(deep))
        }
        4 => format!("[{},{}]", json_value(rng, depth + 1), json_value(rng, depth + 1)),
        5 => format!("{{\"k\":{}}}", json_value(rng, depth + 1)),
        _ => format!("{{\"{}\":{}}}", ["exp", "iat", "aud", "sub"][rng.below(4)], json_value(rng, depth + 1)),
    }
}

/// A claims object with registered claims of any shape (duplicated keys included).
fn claims_payload(rng: &mut Rng) -> String {
    let names = ["exp", "iat", "nbf", "iss", "sub", "aud", "https://hasura.io/jwt/claims", "jti"];
    let mut members = Vec::new();
    for _ in 0..rng.below(9) {
        members.push(format!("\"{}\":{}", rng.pick(&names), json_value(rng, 0)));
    }
    format!("{{{}}}", members.join(","))
}

/// Real-looking tokens and messages to mutate.
fn corpus() -> Vec<Vec<u8>> {
    let header = r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#;
    let tokens = [
        jwt(header, r#"{"iss":"https://issuer.test","sub":"user_1","aud":"convex","iat":1795392000,"exp":1795395600}"#),
        jwt(header, r#"{"iss":"https://issuer.test","sub":"user_1","aud":["a","b"],"iat":1795392000,"exp":1795392060,"nbf":1795392000}"#),
        jwt(
            header,
            r#"{"sub":"u","exp":1795395600,"https://hasura.io/jwt/claims":{"x-hasura-default-role":"user","x-hasura-allowed-roles":["user","admin"]}}"#,
        ),
        jwt(r#"{"alg":"none"}"#, r#"{"sub":"no exp"}"#),
    ];
    let mut corpus: Vec<Vec<u8>> = tokens.iter().map(|t| t.clone().into_bytes()).collect();
    for token in &tokens {
        let message = PeerMessage::Token { token: token.clone(), expires_at: Some(NOW + 60_000) };
        corpus.push(message.encode_at(NOW - 1_000).into_bytes());
    }
    for message in [PeerMessage::Request, PeerMessage::Holding, PeerMessage::SignedOut] {
        corpus.push(message.encode_at(NOW).into_bytes());
    }
    corpus
}

/// One input: a mutation of a corpus item (most of the time), a generated token, or random bytes.
fn input(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(10) {
        0 => (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
        1 | 2 => jwt(r#"{"alg":"RS256"}"#, &claims_payload(rng)).into_bytes(),
        3 => {
            // A generated token inside a peer message or stored record.
            let token = jwt(r#"{"alg":"RS256"}"#, &claims_payload(rng));
            let at = rng.pick(NUMBERS);
            let expires = rng.pick(NUMBERS);
            format!("{{\"v\":1,\"at\":{at},\"kind\":\"token\",\"token\":{token:?},\"expiresAt\":{expires}}}").into_bytes()
        }
        _ => {
            let mut bytes = rng.pick(corpus).clone();
            for _ in 0..1 + rng.below(4) {
                mutate(rng, &mut bytes, corpus);
            }
            bytes
        }
    }
}

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    if bytes.is_empty() {
        bytes.push(b'.');
    }
    let at = rng.below(bytes.len());
    match rng.below(9) {
        0 => bytes[at] ^= 1 << rng.below(8),
        1 => bytes[at] = rng.next() as u8,
        2 => bytes.truncate(at),
        3 => {
            bytes.remove(at);
        }
        4 => bytes.insert(at, *rng.pick(b".=+/_-\"\\{}[]:,0e\x00\xff")),
        5 => {
            // Splice: this input up to `at`, then another item's tail.
            let other = rng.pick(corpus);
            let from = rng.below(other.len());
            bytes.truncate(at);
            bytes.extend_from_slice(&other[from..]);
        }
        6 => {
            // A number where a digit was.
            if let Some(start) = bytes.iter().position(|b| b.is_ascii_digit()) {
                let end = bytes[start..].iter().position(|b| !b.is_ascii_digit()).map_or(bytes.len(), |n| start + n);
                bytes.splice(start..end, rng.pick(NUMBERS).bytes());
            }
        }
        7 => {
            // Repeat a slice: long inputs, many dots.
            let end = (at + 1 + rng.below(64)).min(bytes.len());
            let piece = bytes[at..end].to_vec();
            let limit = if rng.below(50) == 0 { 2_000 } else { 40 };
            for _ in 0..rng.below(limit) {
                bytes.extend_from_slice(&piece);
            }
        }
        _ => {
            // Nest: the whole input as a JSON string inside a message, or base64 of it as a segment.
            let text = String::from_utf8_lossy(bytes).into_owned();
            *bytes = if rng.below(2) == 0 {
                format!("{{\"v\":1,\"kind\":\"token\",\"token\":{text:?}}}").into_bytes()
            } else {
                format!("{}.{}.", b64(b"{\"alg\":\"RS256\"}"), b64(text.as_bytes())).into_bytes()
            };
        }
    }
}

/// Runs one input through every decoder; what it returns is kept so the work is not optimised away.
fn run(text: &str, restore: bool) -> usize {
    let mut seen = decode(text).map_or(0, |t| t.claims.aud.len() + 1);
    seen += PeerMessage::decode_with_time(text).map_or(0, |(at, _)| (at & 1) as usize + 1);
    if restore {
        let mut session = Session::new(Config { persist: true, cross_tab: true, ..Config::default() });
        session.handle_peer_message(NOW, text);
        session.start(NOW);
        while let Some(output) = session.poll() {
            seen += matches!(output, Output::FetchToken { .. }) as usize;
        }
    }
    seen
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(DEFAULT_COUNT);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0x5eed_f022);
    let mut rng = Rng(seed | 1);
    let corpus = corpus();
    // A panic is counted and reported once below, not printed per input.
    panic::set_hook(Box::new(|_| {}));

    let started = Instant::now();
    let (mut panics, mut first_panic, mut checksum) = (0u64, None, 0usize);
    // The slowest inputs as first timed (wall clock: on a busy machine a preemption lands on some
    // input), kept to be timed again at the end.
    let mut slowest: Vec<(Duration, String, bool)> = Vec::new();
    for index in 0..count {
        let bytes = input(&mut rng, &corpus);
        let text = String::from_utf8_lossy(&bytes);
        let restore = index % 4 == 0;
        let begun = Instant::now();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| run(&text, restore)));
        let took = begun.elapsed();
        match outcome {
            Ok(seen) => checksum = checksum.wrapping_add(seen),
            Err(_) => {
                panics += 1;
                first_panic.get_or_insert((index, text.chars().take(120).collect::<String>()));
            }
        }
        if slowest.len() < KEEP_SLOWEST || took > slowest[KEEP_SLOWEST - 1].0 {
            slowest.push((took, text.into_owned(), restore));
            slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
            slowest.truncate(KEEP_SLOWEST);
        }
    }
    let elapsed = started.elapsed();
    // Each kept input's own cost: the best of five runs, so a preemption is not counted as work.
    let retimed = slowest
        .iter()
        .map(|(_, text, restore)| {
            let best = (0..5)
                .map(|_| {
                    let begun = Instant::now();
                    let _ = panic::catch_unwind(AssertUnwindSafe(|| run(text, *restore)));
                    begun.elapsed()
                })
                .min()
                .unwrap_or_default();
            (best, text.len())
        })
        .max()
        .unwrap_or_default();
    println!("{count} inputs, {panics} panics");
    println!(
        "max {:.1} µs per input ({} bytes; best of 5 runs of the {KEEP_SLOWEST} slowest, first timed at up to {:.1} µs), mean {:.2} µs, {:.1} s in all (checksum {checksum})",
        retimed.0.as_secs_f64() * 1e6,
        retimed.1,
        slowest.first().map_or(0.0, |s| s.0.as_secs_f64() * 1e6),
        elapsed.as_secs_f64() * 1e6 / count.max(1) as f64,
        elapsed.as_secs_f64()
    );
    if let Some((index, text)) = first_panic {
        println!("first panic at input {index}: {text:?}");
        std::process::exit(1);
    }
}
