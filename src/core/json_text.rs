//! Where the core's JSON texts are read and written: JWT segments and peer messages (and the
//! stored record, which is a peer message) in, peer messages out.
//!
//! The core only declares the shapes (serde-derived structs) and what it does with them; the
//! parser is the driver's choice. Natively it is serde_json ([`SerdeJson`], used by `cargo test`,
//! the fuzzer and the harness). The browser driver uses the browser's own `JSON.parse` and
//! `JSON.stringify` (src/web/json.rs), which keeps a JSON parser out of the wasm module.

use alloc::string::String;
use core::fmt;

use super::peer_message::{Incoming, Outgoing};
use super::token::WireSegment;
use super::wire_value::ObjectError;

pub trait JsonText: fmt::Debug {
    /// A JWT segment, already base64-decoded, as its members.
    fn read_segment(&self, json: &str) -> Result<WireSegment, ObjectError>;
    /// A message from another tab, or the stored record, as its members.
    fn read_peer_message(&self, json: &str) -> Result<Incoming, ObjectError>;
    /// The text a message to other tabs (or the stored record) travels as.
    fn write_peer_message(&self, message: &Outgoing) -> String;
}

/// serde_json without std: the native reader and writer.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, Copy)]
pub struct SerdeJson;

#[cfg(not(target_arch = "wasm32"))]
impl JsonText for SerdeJson {
    fn read_segment(&self, json: &str) -> Result<WireSegment, ObjectError> {
        read(json)
    }

    fn read_peer_message(&self, json: &str) -> Result<Incoming, ObjectError> {
        read(json)
    }

    fn write_peer_message(&self, message: &Outgoing) -> String {
        // Serializing plain strings and integers into memory cannot fail.
        serde_json::to_string(message).unwrap_or_default()
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn read<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, ObjectError> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let value = super::wire_value::read_object(&mut deserializer)?;
    // Text after the object is a syntax error, as `serde_json::from_str` has it.
    deserializer.end().map_err(|_| ObjectError::Syntax)?;
    Ok(value)
}
