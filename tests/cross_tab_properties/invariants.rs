//! The invariants checked against the model: at each request that reaches the issuer (the lock,
//! refresh-token reuse, one fetch in flight per app), at every step boundary, and at the end of a
//! sequence. See the crate doc for their precise statement.

use authlane::core::{AuthState, FetchId, FetchOutcome, LockId, Millis};

use crate::common::T0;
use crate::model::{Fuzz, Line, Request};

impl Fuzz {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn request(
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
            // Without a peer grace nothing gives a robbed tab time to hear of the steal before it
            // fetches (tabs forcing their steals together rob each other); the JS API always has one.
            if self.p.config.peer_grace_ms > 0 {
                self.stats.robbed_fetches += 1;
            }
            disturbed = Some("it was sent by a robbed tab not yet told");
        }
        if let FetchOutcome::Token(raw) = &outcome {
            self.minted.push(raw.clone());
        }
        self.note(Line::Issuer(tab, fetch, refresh_token, outcome.clone()));
        // Requests answered "signed out", "revoked" or "issuer down" spend nothing.
        let spends = match &outcome {
            FetchOutcome::Token(_) => true,
            FetchOutcome::Failed(error) => !error.detail.contains("revoked") && !error.detail.contains("down"),
            FetchOutcome::SignedOut => false,
        };
        // One fetch in flight per app: no other request is out (sent, its response not processed
        // yet) unless one of the two is disturbed, as the reuse check below exempts it.
        if disturbed.is_none() {
            let out = self.requests.iter().find(|r| !r.processed && r.disturbed.is_none() && self.tabs.tabs[r.tab].open);
            if let Some(earlier) = out {
                panic!(
                    "two fetches in flight: tab {} fetch {} sent at +{} ms is still out as tab {tab} fetch {fetch} is sent",
                    earlier.tab,
                    earlier.fetch,
                    earlier.at - T0
                );
            }
        }
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

    // ---- step-boundary checks ----

    pub(crate) fn check(&mut self) {
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
                let slack = self.p.slack_ms();
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

    pub(crate) fn finish(&mut self) {
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
        let waiting = |fuzz: &Fuzz| fuzz.m.iter().any(|m| !m.closed && !m.waiting.is_empty());
        for _ in 0..20 {
            self.run_for(30_000);
            self.check();
            if !waiting(self) {
                break;
            }
        }
        for (tab, model) in self.m.iter().enumerate() {
            if !model.closed {
                assert!(model.waiting.is_empty(), "tab {tab}: waiters {:?} never answered", model.waiting);
            }
        }
        self.stats.tokens_issued += self.tabs.issuer.tokens_issued as u64;
        self.stats.reuse_detections += self.tabs.issuer.reuse_detections as u64;
        self.stats.calm_sequences += self.calm as u64;
        self.stats.racy_sequences += self.p.racy as u64;
    }
}
