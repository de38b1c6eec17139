#![cfg(not(target_arch = "wasm32"))]
//! Cross-tab property tests: seeded random multi-tab sequences (2–8 tabs on one virtual clock,
//! one lock manager, one bus, one rotating issuer; see `common::tabs`) checked against the
//! invariants below after every step, plus deterministic tests for the edge cases and bugs the
//! sequences turned up. One concern per module: `generator` (parameters and steps), `model`
//! (beliefs replayed from the event log), `invariants`, `fetch_counts`, `regressions`.
//!
//! A failure prints the seed, the sequence's parameters and its last steps; runs are
//! deterministic, so the seed reproduces it. Environment:
//! `AUTHLANE_FUZZ_SEQUENCES=20000 cargo test --release --test cross_tab_properties` for a
//! deeper run, `AUTHLANE_FUZZ_SEED=n` for sequence `n` alone, `AUTHLANE_FUZZ_KEEP_GOING=1` to tally
//! failures by kind instead of stopping at the first, `AUTHLANE_FUZZ_TIMES=1` for the slowest sequences.
//!
//! # The model
//!
//! Each sequence draws a config (cross-tab on; lock timeout from the whole range the core takes,
//! 1 ms to setTimeout's 2^31 - 1 ms, mostly 1–15 s, one time in ten under 50 ms; peer grace 0 to
//! just under the lock timeout, mostly 0–200 ms and often 0–3 ms; leeway 0–30 s, sometimes just
//! under the lifetime; token lifetime 5–120 s; issuer latency 0–3 s; reuse window 0 or 10 s; Web
//! Locks, or one time in four the lease, which reports no grant uncontended) and runs 150 steps:
//! the clock forward by 0–90 s (or, *racy*, to the next timer with only part of what is then due
//! delivered, in random order), token requests of every `TokenNeed`, server verdicts on current
//! and older generations, sign-out and sign-in, freeze/thaw/close, back/forward-cache round trips
//! (`pagehide` gives the tab's locks back, a later thaw is its `pageshow`), late tabs, garbage,
//! stale or replayed token messages, peers that lie about times (see `Fuzz::lie`), rarely a dispose.
//! *Sign-out*: the provider drops its refresh token (the issuer answers "signed out") and one tab
//! calls `sign_out`. *Sign-in*: the provider opens a new refresh-token family and the app asks one
//! tab for a `Current` token.
//!
//! # The invariants, precisely
//!
//! Checked on the harness's event log as it happens (every input, output, issuer request):
//! - **Fetch only under the lock.** A tab emits `FetchToken` only while it believes it holds a
//!   lock (it accepted a grant, traced `LockAcquired`, and has since neither released it, traced
//!   `LockLost`, released it on the hold timeout, nor given it back on `pagehide`) — or it has just
//!   traced `LockUnavailable` (a forced steal nobody granted: it fetches alone, and the checks below
//!   judge that fetch like any other). When the request reaches the issuer, the
//!   lock manager's holder is that (tab, lock) — or the grant was stolen and the robbed tab has
//!   not been told yet (`handle_lock_lost` is still queued: a thawed tab can run its grace timer
//!   before it hears of the steal). The same holds of every belief at every step boundary, so at
//!   most one tab believes it holds the lock, apart from robbed tabs not yet told.
//! - **No refresh-token reuse.** The issuer never receives two requests carrying the same refresh
//!   token, unless one of them was *disturbed*: its tab was frozen, hidden, closed or disposed while the
//!   request was outstanding (sent, response not yet processed), its lock was stolen or released on
//!   the hold timeout while outstanding, the tab's fetch timeout gave up on it, or it was sent by a
//!   robbed tab not yet told. (Requests answered "signed out" or "revoked" spend nothing and are
//!   not counted.) Stronger, for *calm* sequences — no freeze, close or dispose so far, and
//!   `peer_grace + latency < lock_timeout` — the issuer detects no reuse at all. (`latency <
//!   lock_timeout` alone is not enough: the hold timer starts when the fetch does, so a holder may
//!   keep the lock for grace + lock timeout, while a waiter steals after a lock timeout counted
//!   from its own request.)
//! - **One fetch in flight per app.** When a request reaches the issuer, no other request is out
//!   (sent, its response not processed), unless one of the two is disturbed as above. Requests
//!   answered "signed out" or "revoked" count too.
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
//! # No steering
//!
//! The sequences run unsteered: nothing in the generator avoids a trigger and nothing in the
//! model exempts an effect because of a known bug. The bugs the sequences found are fixed, and
//! each keeps a minimal regression test in `regressions` (and `tests/core_lock_failures.rs`).
//! Draws that would reach another issue item's open bug stay off, each with a comment naming it.



#[path = "../common/mod.rs"]
mod common;
mod fetch_counts;
mod generator;
mod invariants;
mod model;
mod regressions;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use common::rng::Rng;
use generator::Params;
use model::{Direct, Fuzz, Line, Stats};

const SEQUENCES: u64 = 500;
const STEPS: usize = 150;

fn run_sequence(seed: u64, steps: usize, history: &mut Vec<String>, totals: &mut Stats) {
    let mut fuzz = Fuzz::new(seed);
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
    let pairs: [(&mut u64, u64); 27] = [
        (&mut total.hides, s.hides),
        (&mut total.lies, s.lies),
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

fn run_sequences(default_sequences: u64) -> Stats {
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
            catch_unwind(AssertUnwindSafe(|| run_sequence(seed, STEPS, &mut history, &mut totals)))
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
            eprintln!("sequence seed {seed} failed (AUTHLANE_FUZZ_SEED={seed} reruns it alone)");
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
    let stats = run_sequences(SEQUENCES);
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
        hides,
        lies,
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
        ("hides", hides, 200),
        ("lies", lies, 200),
        ("calm_sequences", calm_sequences, 80),
        ("racy_sequences", racy_sequences, 100),
    ] {
        assert!(n >= least, "the generator reached {name} only {n} times (at least {least} expected)");
    }
}
