//! Counters that tests read at `GET /debug/stats`, and the fault switches set at `POST /debug/faults`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every counter exists from the start (as 0), so a test can tell "never happened" from a typo.
pub const COUNTERS: &[&str] = &[
    "tokenRequests",        // every call to the sign-in or token endpoint
    "signIns",              // new refresh-token families
    "refreshes",            // refresh_token grants answered with a new pair
    "reuseDetections",      // a used refresh token presented again: its family is revoked
    "refreshRejections",    // unknown or revoked refresh tokens
    "tokenFaults",          // answers spoiled by a fault switch (fail or garbage)
    "authAccepted",         // Authenticate with a token the verifier accepted
    "authRejections",       // Authenticate with a token it rejected (sum of the reasons below)
    "expiredSessionErrors", // AuthError{authUpdateAttempted:false}: a session's token expired or its key vanished
    "jwksFetches",
    "mints", // tokens signed by POST /debug/mint
    "connections",
    "droppedConnections",
    "mutations",
    "actions",
];

#[derive(Default)]
pub struct Stats {
    counters: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    pub fn new() -> Stats {
        let stats = Stats::default();
        stats.reset();
        stats
    }
    pub fn bump(&self, name: &str) {
        *self
            .counters
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_default() += 1;
    }
    pub fn reset(&self) {
        let mut counters = self.counters.lock().unwrap();
        counters.clear();
        for name in COUNTERS {
            counters.insert((*name).to_string(), 0);
        }
    }
    /// `{counter: n, …, "rejectionsByReason": {Reason: n}}`; reasons are the `AuthError` codes.
    pub fn snapshot(&self) -> Value {
        let counters = self.counters.lock().unwrap();
        let mut out = serde_json::Map::new();
        let mut reasons = serde_json::Map::new();
        for (name, count) in counters.iter() {
            match name.strip_prefix("rejected:") {
                Some(reason) => {
                    reasons.insert(reason.to_string(), (*count).into());
                }
                None => {
                    out.insert(name.clone(), (*count).into());
                }
            }
        }
        out.insert("rejectionsByReason".into(), Value::Object(reasons));
        Value::Object(out)
    }
}

/// Fault switches; `POST /debug/faults` merges a partial object of these.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Faults {
    /// Delay every sign-in/token answer (and `/debug/mint`) by this much.
    pub token_delay_ms: u64,
    /// Answer sign-in/token calls with 503.
    pub token_fail: bool,
    /// Answer sign-in/token calls with 200 and a body that is not JSON.
    pub token_garbage: bool,
    /// Added to the issuer's clock for `iat`/`exp` (negative: tokens are born old).
    pub clock_skew_seconds: i64,
    /// Lifetime of new access tokens (set from --token-lifetime at startup).
    pub token_lifetime_seconds: u64,
}
