//! What JavaScript receives for each output the driver hands it: one object, `kind` naming the
//! variant (the `Output` union in pkg/src/protocol.ts). The browser driver serializes it with
//! serde-wasm-bindgen; tests/protocol_types.rs serializes every variant with serde_json and holds
//! protocol.ts's kinds and field names to this definition.

use alloc::string::String;

use serde::{Serialize, Serializer};

use super::errors::{AuthError, ErrorCode};
use super::session::Output;
use super::state::{AuthState, TraceKind};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JsOutput<'a> {
    /// A waiter's token (`null`: signed out) and the generation it belongs to (0 without one).
    Token { waiter: u32, token: Option<&'a str>, generation: f64 },
    TokenError { waiter: u32, code: ErrorCode, detail: &'static str },
    Release { operations: &'a [u32] },
    Reject { operations: &'a [u32], code: ErrorCode, detail: &'static str },
    TokenChanged { generation: f64 },
    State { status: AuthState, code: Option<ErrorCode>, detail: Option<&'static str> },
    Trace {
        event: TraceKind,
        #[serde(rename = "tokenTail")]
        token_tail: Option<&'a str>,
        /// The log's one value slot: a duration, or for the operations kinds a count.
        value: Option<f64>,
        code: Option<ErrorCode>,
        /// For `fetch_started`: the reason, and `,forced` when forced.
        detail: Option<String>,
    },
}

impl<'a> JsOutput<'a> {
    /// The message for an output JavaScript hears about; `None` for those the driver performs
    /// itself (fetches, locks, broadcasts, storage).
    pub fn of(output: &'a Output) -> Option<JsOutput<'a>> {
        let code = |error: &Option<AuthError>| error.map(|error| error.code);
        let detail = |error: &Option<AuthError>| error.map(|error| error.detail);
        Some(match output {
            Output::ResolveToken { waiter, result: Ok(Some((generation, token))) } => {
                JsOutput::Token { waiter: *waiter, token: Some(token), generation: *generation as f64 }
            }
            Output::ResolveToken { waiter, result: Ok(None) } => JsOutput::Token { waiter: *waiter, token: None, generation: 0.0 },
            Output::ResolveToken { waiter, result: Err(error) } => {
                JsOutput::TokenError { waiter: *waiter, code: error.code, detail: error.detail }
            }
            Output::ReleaseOperations(operations) => JsOutput::Release { operations },
            Output::RejectOperations(operations, error) => {
                JsOutput::Reject { operations, code: error.code, detail: error.detail }
            }
            Output::TokenChanged { generation } => JsOutput::TokenChanged { generation: *generation as f64 },
            Output::StateChanged { state, error } => JsOutput::State { status: *state, code: code(error), detail: detail(error) },
            Output::Trace(trace) => JsOutput::Trace {
                event: trace.kind,
                token_tail: trace.token_tail.as_deref(),
                value: trace.millis.or(trace.count).map(|value| value as f64),
                code: code(&trace.error),
                detail: match trace.kind {
                    TraceKind::FetchStarted(reason, forced) => {
                        let mut text = String::from(reason.as_str());
                        if forced {
                            text.push_str(",forced");
                        }
                        Some(text)
                    }
                    _ => None,
                },
            },
            Output::FetchToken { .. }
            | Output::AcquireLock { .. }
            | Output::ReleaseLock { .. }
            | Output::Broadcast(_)
            | Output::Persist(_)
            | Output::RecordSignOut(_)
            | Output::Remember { .. } => return None,
        })
    }
}

/// The session's small inputs, which cross as one export, `WasmSession.input(kind, value, flag)`
/// (src/lib.rs), instead of one export each: every export costs a shim in the module and a method
/// in the glue. `Input` in pkg/src/protocol.ts spells the codes (tests/protocol_types.rs checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Input {
    /// `value`: the generation the server judged; `flag`: accepted.
    ServerVerdict = 0,
    AttachClient = 1,
    DetachClient = 2,
    /// `value`: the operation's id; answers true when it may run now (false: held).
    SubmitOperation = 3,
    /// `value`: the operation's id; answers true when it was held.
    CancelOperation = 4,
    SignOut = 5,
    /// `value`: when the fetch being performed began, before the session existed; answers
    /// [`Session::backdate_fetch`](super::Session::backdate_fetch)'s verdict.
    BackdateFetch = 6,
}

impl Input {
    pub const ALL: [Input; 7] = [
        Input::ServerVerdict,
        Input::AttachClient,
        Input::DetachClient,
        Input::SubmitOperation,
        Input::CancelOperation,
        Input::SignOut,
        Input::BackdateFetch,
    ];

    pub fn from_code(code: u8) -> Option<Input> {
        Input::ALL.get(usize::from(code)).copied()
    }

    /// The member's name in protocol.ts's `Input`.
    pub fn name(self) -> &'static str {
        match self {
            Input::ServerVerdict => "ServerVerdict",
            Input::AttachClient => "AttachClient",
            Input::DetachClient => "DetachClient",
            Input::SubmitOperation => "SubmitOperation",
            Input::CancelOperation => "CancelOperation",
            Input::SignOut => "SignOut",
            Input::BackdateFetch => "BackdateFetch",
        }
    }
}

/// The names JavaScript sees are the `as_str` names.
macro_rules! serialize_as_str {
    ($($name:ty),*) => {$(
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    )*};
}

serialize_as_str!(ErrorCode, AuthState, TraceKind);
