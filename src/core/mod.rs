//! The sans-IO token lifecycle: no clocks, no browser, no JavaScript.
//!
//! Time arrives as an argument ([`Millis`], the client's wall clock) and every effect
//! leaves as an [`Output`] for a driver to perform. See [`Session`] for the contract.

pub mod backoff;
pub mod errors;
pub mod gate;
pub mod json_text;
pub mod peer_message;
pub mod protocol;
pub mod session;
pub mod state;
pub mod timers;
pub mod token;
pub mod wire_value;


/// Milliseconds since the Unix epoch on the client's clock (`Date.now()` in a browser).
pub type Millis = u64;

pub use errors::{AuthError, ErrorCode, TokenError};
pub use gate::{OpDecision, OpId};
#[cfg(not(target_arch = "wasm32"))]
pub use json_text::SerdeJson;
pub use json_text::JsonText;
pub use peer_message::PeerMessage;
pub use session::{Config, FetchId, FetchOutcome, Generation, LockGrant, LockId, Output, Session, Slot, TokenNeed, Verdict, WaiterId};
pub use state::{AuthState, FetchReason, Trace, TraceKind};
#[cfg(not(target_arch = "wasm32"))]
pub use token::decode;
pub use token::{decode_with, redact, Claims, DecodedToken};
