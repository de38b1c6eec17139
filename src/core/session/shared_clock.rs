//! One clock per app. The skew between the machine's clock and the issuer's is learnt from a forced
//! token's `iat`; the app's tabs share the machine clock, so the skew one tab learns is every tab's.
//! A tab that learns a skew the app did not know broadcasts it and keeps it for tabs opened later
//! ([`Slot::Clock`]), so a cached token that looks an hour old on a clock an hour ahead is judged
//! right in every tab, and a skewed machine costs one extra fetch per app rather than per tab.

use super::{Output, Session, Slot};
use crate::core::peer_message::PeerMessage;
use crate::core::Millis;

/// A skew within this of the known one is not news: `iat` is whole seconds, and latency adds to it.
const SKEW_NEWS_MS: u64 = 2_000;
/// A skew no machine plausibly has (a year), from a peer or storage, is ignored.
const MAX_SKEW_MS: u64 = 366 * 24 * 3_600_000;
/// A stored reading older than this is ignored: the machine's clock may have been set right since
/// (a forced fetch would then teach the tab again, at the cost of one extra fetch).
const READING_TTL_MS: u64 = 24 * 3_600_000;
/// How far in this tab's future a peer's reading may be (message transit, timer granularity).
const READING_SLACK_MS: u64 = 1_000;

impl Session {
    /// A forced token issued at `issuer_at` (the issuer's clock) was asked for at `asked_at`: keep
    /// the skew, and tell the app when it differs from what it knew. Measured from the request, not
    /// the response: the token was minted after it, so a slow response (or a tab frozen with its
    /// request out) never makes the issuer's clock look further behind than it is — which would
    /// make cached tokens look younger than they are, in every tab.
    pub(super) fn learn_skew(&mut self, asked_at: Millis, issuer_at: Millis) {
        let skew = (asked_at as i64).saturating_sub(issuer_at as i64);
        let known = self.skew_ms.unwrap_or(0);
        self.skew_ms = Some(skew);
        if self.config.cross_tab && skew.abs_diff(known) >= SKEW_NEWS_MS {
            let record = PeerMessage::Clock { issuer_at }.write(self.json, asked_at);
            self.outputs.push_back(Output::Broadcast(record.clone()));
            self.outputs.push_back(Output::Remember { slot: Slot::Clock, record: Some(record) });
        }
    }

    /// A peer's reading (or the stored one, at startup): the issuer's clock showed `issuer_at`
    /// when the machine's showed `read_at`.
    pub(super) fn adopt_peer_clock(&mut self, now: Millis, read_at: Millis, issuer_at: Millis) {
        let fresh = read_at <= now.saturating_add(READING_SLACK_MS) && now.saturating_sub(read_at) <= READING_TTL_MS;
        let skew = (read_at as i64).saturating_sub(issuer_at as i64);
        if fresh && skew.unsigned_abs() <= MAX_SKEW_MS {
            self.skew_ms = Some(skew);
        }
    }
}
