//! What every handler and sync session shares: the issuer, the verifier, the store, the counters
//! and fault switches, and the channels that reach every open session.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, watch};

use crate::config::Options;
use crate::functions::Store;
use crate::issuer::Issuer;
use crate::stats::{Faults, Stats};
use crate::verify::Verifier;

/// Told to every sync session at once (`/debug/drop-connections`, key rotations).
#[derive(Clone, Copy, Debug)]
pub enum Control {
    DropConnections,
    Reverify,
}

pub struct AppState {
    pub options: Options,
    pub issuer: Issuer,
    pub verifier: Verifier,
    pub stats: Arc<Stats>,
    pub faults: Mutex<Faults>,
    pub store: Mutex<Store>,
    /// The store's ts after each write; sessions push Transitions when it moves.
    pub data: watch::Sender<u64>,
    pub control: broadcast::Sender<Control>,
    pub shutdown: watch::Sender<bool>,
    pub next_session: AtomicU64,
}

impl AppState {
    pub fn log(&self, line: String) {
        if !self.options.quiet {
            eprintln!("devserver: {line}");
        }
    }
}
