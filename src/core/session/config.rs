//! What a session is configured with.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Refresh this long before the token's estimated expiry (convex-js's default is 10 s).
    pub refresh_leeway_ms: u64,
    /// Hold operations until the server accepts the first token.
    pub expect_auth: bool,
    /// When auth settles as signed out, reject held operations instead of running them unauthenticated.
    pub reject_held_when_signed_out: bool,
    /// A callback that has not settled after this long counts as failed.
    pub fetch_timeout_ms: u64,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// Failed startup attempts before `Loading` settles as `Unauthenticated` (retries continue).
    pub startup_attempts: u32,
    /// Seeds the backoff jitter.
    pub seed: u64,
    /// Coordinate with the app's other tabs: refresh under a shared lock, share tokens, sign out everywhere.
    pub cross_tab: bool,
    /// Cross-tab: waiting longer than this for the lock steals it; holding it longer releases it.
    pub lock_timeout_ms: u64,
    /// Cross-tab: after taking the lock, how long peers get to answer a request for their token.
    pub peer_grace_ms: u64,
    /// Emit [`Output::Persist`] so the driver can keep the token in storage.
    pub persist: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            refresh_leeway_ms: 10_000,
            expect_auth: false,
            reject_held_when_signed_out: false,
            fetch_timeout_ms: 30_000,
            backoff_initial_ms: 1_000,
            backoff_max_ms: 30_000,
            startup_attempts: 3,
            seed: 0x5eed,
            cross_tab: false,
            lock_timeout_ms: 10_000,
            peer_grace_ms: 50,
            persist: false,
        }
    }
}
