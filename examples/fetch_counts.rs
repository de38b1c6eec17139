//! Prints how many times authlane calls `fetchAccessToken` over two simulated hours, by token
//! lifetime and client clock skew. Virtual clock: runs in milliseconds, same numbers every run.

#[path = "../tests/common/mod.rs"]
mod common;

use authlane::core::{Config, FetchOutcome};
use common::{mint, Harness};

const HOURS: u64 = 2;

/// Runs one session, answering every fetch with a fresh token from an issuer whose clock is
/// `skew_ms` behind the client's. Returns (fetches at startup, total fetches).
fn run(lifetime_s: u64, skew_ms: i64) -> (usize, usize) {
    let mut harness = Harness::started(Config::default());
    let end = harness.now + HOURS * 3_600_000;
    let mut startup = 0;
    let mut serial = 0;
    loop {
        while !harness.open_fetches.is_empty() {
            serial += 1;
            let issuer_now = (harness.now as i64 - skew_ms) as u64;
            harness.answer(FetchOutcome::Token(mint(issuer_now, lifetime_s, serial)));
        }
        if startup == 0 {
            startup = harness.fetch_count();
        }
        match harness.session.poll_timeout() {
            Some(next) if next <= end => harness.advance_to(next),
            _ => break,
        }
    }
    (startup, harness.fetch_count())
}

fn main() {
    println!("fetchAccessToken calls over {HOURS} h (virtual clock, leeway 10 s)");
    println!("token lifetime   client clock   startup   total   floor");
    // floor: the fewest calls that keep a token valid, 1 + ⌊duration / (lifetime − leeway)⌋.
    for lifetime_s in [20u64, 60, 3_600] {
        for (label, skew_ms) in [("on time", 0i64), ("1 h behind", -3_600_000), ("1 h ahead", 3_600_000)] {
            let (startup, total) = run(lifetime_s, skew_ms);
            let floor = 1 + (HOURS * 3_600) / (lifetime_s - 10);
            println!("{lifetime_s:>11} s   {label:<12} {startup:>9} {total:>7} {floor:>7}");
        }
    }
}
