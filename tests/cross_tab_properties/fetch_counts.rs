//! Fetch counts: N tabs cost the issuer what one tab costs (within one token), over a few
//! configurations and random request schedules, all tabs open and never frozen.

use authlane::core::{AuthState, Config, TokenNeed, Verdict};

use crate::common::rng::Rng;
use crate::common::tabs::{Issuer, Tabs};
use crate::common::T0;


#[derive(Debug, Clone, Copy)]
pub(crate) enum Ask {
    Current,
    Forced,
    Newer,
    Accept,
}

/// A random schedule of app requests: (time offset, tab, what).
pub(crate) fn schedule(seed: u64, tabs: usize, minutes: u64) -> Vec<(u64, usize, Ask)> {
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
pub(crate) fn tokens_for(count: usize, config: &Config, lifetime_s: u64, latency_ms: u64, plan: &[(u64, usize, Ask)]) -> usize {
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
pub(crate) fn n_tabs_cost_the_issuer_what_one_tab_costs_within_one_token() {
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
