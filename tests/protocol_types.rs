//! pkg/src/protocol.ts spells the core's names for TypeScript; this test holds it to the Rust
//! definitions. Each list below is guarded by an exhaustive `match`, so a new variant fails to
//! compile here until it is listed, and then fails the comparison until protocol.ts has it.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, BTreeSet};

use authlane::core::{AuthState, ErrorCode, FetchReason, TraceKind};

fn union_members(source: &str, name: &str) -> BTreeSet<String> {
    let start = source.find(&format!("export type {name} =")).unwrap_or_else(|| panic!("protocol.ts lacks {name}"));
    let body = &source[start..];
    let body = &body[..body.find(';').expect("the union ends with ;")];
    body.split('"').skip(1).step_by(2).map(String::from).collect()
}

fn protocol() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pkg/src/protocol.ts")).expect("pkg/src/protocol.ts")
}

fn names<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> BTreeSet<String> {
    all.iter().map(|&item| name(item).to_string()).collect()
}

#[test]
fn error_codes_match_the_core() {
    use ErrorCode::*;
    let all = [MalformedToken, FetchFailed, FetchTimeout, InvalidCallbackResult, TokenRejected, TokenExpired, SignedOut, Disposed];
    for code in all {
        match code {
            MalformedToken | FetchFailed | FetchTimeout | InvalidCallbackResult | TokenRejected | TokenExpired | SignedOut | Disposed => {}
        }
    }
    assert_eq!(union_members(&protocol(), "CoreErrorCode"), names(&all, ErrorCode::as_str));
}

#[test]
fn statuses_match_the_core() {
    let all = [AuthState::Loading, AuthState::Authenticated, AuthState::Unauthenticated];
    for state in all {
        match state {
            AuthState::Loading | AuthState::Authenticated | AuthState::Unauthenticated => {}
        }
    }
    assert_eq!(union_members(&protocol(), "AuthStatus"), names(&all, AuthState::as_str));
}

#[test]
fn trace_kinds_match_the_core() {
    use TraceKind::*;
    let all = [
        FetchStarted(FetchReason::Startup, false), TokenAdopted, SameTokenReturned, RefreshScheduled, FetchFailed,
        RetryScheduled, FetchSignedOut, StaleResultDropped, ServerAccepted, ServerRejected, StaleVerdictIgnored,
        OperationsHeld, OperationsReleased, OperationsRejected, LockAcquired, LockStolen, LockLost,
        LockReleasedOnTimeout, LockUnavailable, PeerTokenAdopted, StaleBroadcastIgnored, PeerMessageIgnored,
        PeerSignedOut, FetchSkipped, InitialTokenIgnored, PeerFetchFailed,
    ];
    for kind in all {
        match kind {
            FetchStarted(..) | TokenAdopted | SameTokenReturned | RefreshScheduled | FetchFailed | RetryScheduled
            | FetchSignedOut | StaleResultDropped | ServerAccepted | ServerRejected | StaleVerdictIgnored
            | OperationsHeld | OperationsReleased | OperationsRejected | LockAcquired | LockStolen | LockLost
            | LockReleasedOnTimeout | LockUnavailable | PeerTokenAdopted | StaleBroadcastIgnored | PeerMessageIgnored
            | PeerSignedOut | FetchSkipped | InitialTokenIgnored | PeerFetchFailed => {}
        }
    }
    assert_eq!(union_members(&protocol(), "CoreTraceKind"), names(&all, TraceKind::as_str));
}

#[test]
fn the_early_request_is_the_cores_request() {
    let source = protocol();
    let start = source.find("export const PEER_REQUEST = '").expect("protocol.ts defines PEER_REQUEST") + "export const PEER_REQUEST = '".len();
    let literal = &source[start..start + source[start..].find('\'').expect("the literal ends with '")];
    assert_eq!(literal, authlane::core::PeerMessage::Request.encode());
}

#[test]
fn input_codes_match_the_core() {
    use authlane::core::protocol::Input;
    let source = protocol();
    let start = source.find("export const Input = {").expect("protocol.ts defines Input") + "export const Input = {".len();
    let body = &source[start..start + source[start..].find('}').expect("Input's object ends")];
    let spelled: BTreeMap<String, u8> = body
        .split(',')
        .filter_map(|member| member.split_once(':'))
        .map(|(name, code)| (name.trim().to_string(), code.trim().parse().expect("a numeric code")))
        .collect();
    let core: BTreeMap<String, u8> = Input::ALL.iter().map(|&input| (input.name().to_string(), input as u8)).collect();
    assert_eq!(spelled, core);
    for input in Input::ALL {
        assert_eq!(Input::from_code(input as u8), Some(input));
    }
    assert_eq!(Input::from_code(Input::ALL.len() as u8), None);
}

/// Each member of protocol.ts's `Output` union: its `kind` and its other field names.
fn output_members(source: &str) -> BTreeMap<String, BTreeSet<String>> {
    let start = source.find("export type Output =").expect("protocol.ts lacks Output");
    let body = &source[start..];
    let body = &body[..body.find(";\n\n").map_or(body.len(), |end| end + 1)];
    let mut members = BTreeMap::new();
    for block in body.split('{').skip(1) {
        let block = &block[..block.find('}').expect("a member closes with }")];
        let mut kind = None;
        let mut fields = BTreeSet::new();
        for field in block.split(';').map(str::trim).filter(|field| !field.is_empty()) {
            let (name, value) = field.split_once(':').expect("name: type");
            match name.trim() {
                "kind" => kind = Some(value.trim().trim_matches('"').to_string()),
                name => {
                    fields.insert(name.to_string());
                }
            }
        }
        members.insert(kind.expect("every member has a kind"), fields);
    }
    members
}

#[test]
fn output_kinds_and_fields_match_the_core() {
    use authlane::core::protocol::JsOutput;
    let code = ErrorCode::FetchFailed;
    let all = [
        JsOutput::Token { waiter: 1, token: Some("a.b.c"), generation: 1.0 },
        JsOutput::TokenError { waiter: 1, code, detail: "d" },
        JsOutput::Release { operations: &[1] },
        JsOutput::Reject { operations: &[1], code, detail: "d" },
        JsOutput::TokenChanged { generation: 1.0 },
        JsOutput::State { status: AuthState::Loading, code: None, detail: None },
        JsOutput::Trace { event: TraceKind::LockLost, token_tail: None, value: None, code: None, detail: None },
    ];
    for output in &all {
        match output {
            JsOutput::Token { .. }
            | JsOutput::TokenError { .. }
            | JsOutput::Release { .. }
            | JsOutput::Reject { .. }
            | JsOutput::TokenChanged { .. }
            | JsOutput::State { .. }
            | JsOutput::Trace { .. } => {}
        }
    }
    let mut core = BTreeMap::new();
    for output in &all {
        let serde_json::Value::Object(object) = serde_json::to_value(output).expect("serializes") else {
            panic!("{output:?} is not an object");
        };
        let kind = object["kind"].as_str().expect("kind is a string").to_string();
        core.insert(kind, object.keys().filter(|key| *key != "kind").cloned().collect::<BTreeSet<_>>());
    }
    assert_eq!(output_members(&protocol()), core);
}

#[test]
fn errors_ts_spells_every_core_code_under_its_rust_name() {
    use ErrorCode::*;
    let errors = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pkg/src/errors.ts")).expect("pkg/src/errors.ts");
    for code in [MalformedToken, FetchFailed, FetchTimeout, InvalidCallbackResult, TokenRejected, TokenExpired, SignedOut, Disposed] {
        let entry = format!("{code:?}: \"{}\",", code.as_str());
        assert!(errors.contains(&entry), "errors.ts lacks `{entry}`");
    }
}

/// The option defaults options.ts applies are the core's (`Config::default`, src/core/session/config.rs).
#[test]
fn option_defaults_match_the_core() {
    use authlane::core::timers::MAX_TIMER_DELAY_MS;
    use authlane::core::Config;
    let options = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pkg/src/options.ts")).expect("pkg/src/options.ts");
    let number = |name: &str| -> u64 {
        let at = options.find(&format!("{name}")).unwrap_or_else(|| panic!("options.ts lacks {name}"));
        let rest = &options[at + name.len()..];
        let value: String = rest.trim_start_matches([':', ' ', '=']).chars().take_while(|c| c.is_ascii_digit() || *c == '_').collect();
        value.replace('_', "").parse().unwrap_or_else(|_| panic!("{name} is not a number in options.ts"))
    };
    let defaults = Config::default();
    assert_eq!(number("refreshLeewaySeconds") * 1000, defaults.refresh_leeway_ms);
    assert_eq!(number("fetchTimeoutMs"), defaults.fetch_timeout_ms);
    assert_eq!(number("lockTimeoutMs"), defaults.lock_timeout_ms);
    assert_eq!(number("const PEER_GRACE_MS"), defaults.peer_grace_ms);
    assert_eq!(number("const MAX_TIMER_MS"), MAX_TIMER_DELAY_MS);
    assert!(options.contains(&format!("expectAuth: {},", defaults.expect_auth)));
    let signed_out = if defaults.reject_held_when_signed_out { "reject" } else { "run" };
    assert!(options.contains(&format!("signedOutOperations: \"{signed_out}\",")));
}

/// The head start (pkg/src/head-start.ts) acts before the driver exists, under the driver's own
/// names: the same lock, the same channel, the same backoff slot. Renaming one side alone would let
/// an early fetch run beside a session's fetch, or miss the app's recorded failure.
#[test]
fn the_head_start_uses_the_drivers_lock_channel_and_backoff_names() {
    let read = |path: &str| std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).expect(path);
    let head_start = read("pkg/src/head-start.ts");
    let locks = read("src/web/locks.js");
    let channel = read("src/web/channel.js");
    assert!(locks.contains("this.name = `authlane:${name}`;"), "locks.js names the refresh lock authlane:<name>");
    assert!(channel.contains("new BroadcastChannel(`authlane:${name}`)"), "channel.js opens authlane:<name>");
    assert!(head_start.contains("const channelAndLockName = `authlane:${name}`;"), "head-start.ts names both the same");
    assert!(head_start.contains("new BroadcastChannel(channelAndLockName)"), "head-start.ts listens on the app's channel");
    assert!(head_start.contains(".request(channelAndLockName, { ifAvailable: true }"), "head-start.ts asks for the app's lock");
    assert!(locks.contains("`${this.name}:present`"), "locks.js holds the presence lock");
    assert!(head_start.contains("`${lockName}:present`"), "head-start.ts looks for the same presence lock");
    assert!(channel.contains("`authlane:${slot}:${this.name}`"), "channel.js stores slots as authlane:<slot>:<name>");
    let backoff = authlane::core::session::Slot::Backoff.as_str();
    assert!(head_start.contains(&format!("`authlane:{backoff}:${{name}}`")), "head-start.ts reads the backoff slot");
}

#[test]
fn what_javascript_hears_of_each_output() {
    use authlane::core::protocol::JsOutput;
    use authlane::core::session::Output;
    use authlane::core::state::Trace;
    // A fetch is the driver's to perform: JavaScript hears nothing of it.
    let fetch = Output::FetchToken { fetch: 1, force_refresh: true };
    assert_eq!(JsOutput::of(&fetch), None);
    // A fetch's trace says why, and whether forced, in its detail.
    let trace = Output::Trace(Trace::fetch_started(FetchReason::Proactive, true));
    let heard = JsOutput::of(&trace);
    assert_eq!(heard, Some(JsOutput::Trace {
        event: TraceKind::FetchStarted(FetchReason::Proactive, true),
        token_tail: None,
        value: None,
        code: None,
        detail: Some("proactive,forced".into()),
    }));
    let changed = Output::StateChanged { state: AuthState::Authenticated, error: None };
    assert_eq!(JsOutput::of(&changed), Some(JsOutput::State { status: AuthState::Authenticated, code: None, detail: None }));
}
