//! The browser driver: the only Rust that touches web APIs.
//!
//! It owns a [`crate::core::Session`], feeds it the clock, the app's callback results, timer
//! fires and page wake-ups, and performs its outputs. JavaScript hears about outputs through a
//! single `onOutput` function so the TypeScript face can keep promises and operations.

pub mod allocator;
pub mod bounded;
pub mod channel;
pub mod clock;
pub mod driver;
pub mod fetch;
pub mod global;
pub mod json;
pub mod locks;
pub mod promise;
pub mod storage;
pub mod timer;
pub mod wake;
