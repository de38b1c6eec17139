//! One websocket session of the Convex-like sync protocol (see shared PROTOCOL.md).
//!
//! Rules kept: versions start at `{querySet:0, identity:0, ts:0}` on every socket and each
//! Transition starts at the version last sent; nothing answers Connect; ModifyQuerySet with a wrong
//! `baseVersion` is a FatalError; an accepted Authenticate bumps `identity` and re-evaluates every
//! query; a rejected one gets `AuthError{authUpdateAttempted:true}` and the socket is closed; a
//! session whose token expires (or whose key left the JWKS) gets `AuthError{authUpdateAttempted:false}`
//! and is closed; a MutationResponse is followed by a Transition reaching its `ts`; Ping every
//! `--ping-interval-ms`.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{sleep_until, Instant};

use crate::functions;
use crate::issuer::redact;
use crate::state::{AppState, Control};
use crate::verify::Identity;

/// A u64 timestamp as the protocol sends it: 8 bytes little-endian, base64.
pub fn encode_ts(ts: u64) -> String {
    STANDARD.encode(ts.to_le_bytes())
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as f64)
        .unwrap_or(0.0)
}

#[derive(Clone, Copy, Default)]
struct Version {
    query_set: u64,
    identity: u64,
    ts: u64,
}

impl Version {
    fn json(self) -> Value {
        json!({"querySet": self.query_set, "identity": self.identity, "ts": encode_ts(self.ts)})
    }
}

struct Query {
    udf_path: String,
    args: Value,
    last: Option<Result<Value, String>>,
}

/// What handling one input produced: messages to send, then maybe close.
#[derive(Default)]
struct Outcome {
    send: Vec<Value>,
    close: bool,
}

impl Outcome {
    fn one(message: Value) -> Outcome {
        Outcome {
            send: vec![message],
            close: false,
        }
    }
    fn closing(message: Value) -> Outcome {
        Outcome {
            send: vec![message],
            close: true,
        }
    }
}

struct Session {
    state: Arc<AppState>,
    id: u64,
    version: Version,
    queries: BTreeMap<u64, Query>,
    identity: Option<Identity>,
    clock_skew_ms: Option<f64>,
}

/// `GET /api/{version}/sync`: upgrades to a websocket and runs one numbered session on it.
pub async fn socket(State(state): State<Arc<AppState>>, upgrade: WebSocketUpgrade) -> Response {
    let id = state.next_session.fetch_add(1, Ordering::Relaxed) + 1;
    upgrade.on_upgrade(move |socket| run(socket, state, id))
}

async fn run(mut socket: WebSocket, state: Arc<AppState>, id: u64) {
    state.stats.bump("connections");
    let mut data = state.data.subscribe();
    let mut control = state.control.subscribe();
    let mut shutdown = state.shutdown.subscribe();
    let period = Duration::from_millis(state.options.ping_interval_ms);
    let mut ping = tokio::time::interval_at(Instant::now() + period, period);
    let mut session = Session {
        state: state.clone(),
        id,
        version: Version::default(),
        queries: BTreeMap::new(),
        identity: None,
        clock_skew_ms: None,
    };
    state.log(format!("ws#{id} open"));
    loop {
        let expiry = session.expiry_deadline();
        let outcome = tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => session.handle_text(text.as_str()).await,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => Outcome::default(),
            },
            changed = data.changed() => {
                if changed.is_err() { break }
                session.on_data()
            }
            _ = ping.tick() => Outcome::one(json!({"type": "Ping"})),
            _ = sleep_until(expiry.unwrap_or_else(Instant::now)), if expiry.is_some() => session.on_expired(),
            control = control.recv() => match control {
                Ok(Control::DropConnections) => {
                    state.stats.bump("droppedConnections");
                    state.log(format!("ws#{id} dropped (fault switch)"));
                    return; // no close frame: the client sees an abnormal closure
                }
                Ok(Control::Reverify) => session.reverify().await,
                Err(RecvError::Lagged(_)) => Outcome::default(),
                Err(RecvError::Closed) => break,
            },
            _ = shutdown.changed() => {
                let _ = socket.send(Message::Close(Some(CloseFrame { code: 1001, reason: "server shutting down".into() }))).await;
                break;
            }
        };
        for message in outcome.send {
            if socket
                .send(Message::Text(message.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
        }
        if outcome.close {
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code: 1000,
                    reason: "".into(),
                })))
                .await;
            finish_closing(&mut socket).await;
            break;
        }
    }
    state.log(format!("ws#{id} closed"));
}

/// The closing handshake's second half (RFC 6455 §7.1.1): read, and ignore, what the client sent
/// after the message that ended the session (a pipelined query behind a refused token), until its
/// Close frame, for at most a second. Dropping the connection with those frames unread makes the
/// kernel answer with a reset, and a client may then lose the AuthError sent just before it (seen:
/// the real convex client reconnected with the refused token and presented it again).
async fn finish_closing(socket: &mut WebSocket) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

impl Session {
    fn expiry_deadline(&self) -> Option<Instant> {
        let exp_ms = self.identity.as_ref()?.expires_at? as f64 * 1000.0;
        let left = (exp_ms - now_ms()).max(0.0);
        Some(Instant::now() + Duration::from_millis(left as u64))
    }

    async fn handle_text(&mut self, text: &str) -> Outcome {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            return Outcome::closing(json!({"type": "FatalError", "error": "message is not JSON"}));
        };
        match message["type"].as_str().unwrap_or("") {
            "Connect" => {
                if let Some(client_ts) = message["clientTs"].as_f64() {
                    // convex-js's sign: how far the client clock is behind (server time minus clientTs).
                    self.clock_skew_ms = Some(now_ms() - client_ts);
                }
                Outcome::default()
            }
            "Authenticate" => self.authenticate(&message).await,
            "ModifyQuerySet" => self.modify_query_set(&message),
            "Mutation" => self.mutation(&message),
            "Action" => self.action(&message),
            "Event" => Outcome::default(),
            other => Outcome::closing(
                json!({"type": "FatalError", "error": format!("unknown message type {other:?}")}),
            ),
        }
    }

    /// Evaluates every query; returns modifications for those whose result changed.
    fn reevaluate(&mut self, store: &functions::Store) -> Vec<Value> {
        let mut modifications = Vec::new();
        for (query_id, query) in self.queries.iter_mut() {
            let result =
                functions::query(store, self.identity.as_ref(), &query.udf_path, &query.args);
            if query.last.as_ref() == Some(&result) {
                continue;
            }
            modifications.push(match &result {
                Ok(value) => json!({"type": "QueryUpdated", "queryId": query_id, "value": value, "logLines": [], "journal": null}),
                Err(error) => json!({"type": "QueryFailed", "queryId": query_id, "errorMessage": error, "logLines": [], "journal": null}),
            });
            query.last = Some(result);
        }
        modifications
    }

    /// A Transition from the current version; `query_set`/`bump_identity` say what else moved.
    fn transition(
        &mut self,
        query_set: Option<u64>,
        bump_identity: bool,
        mut modifications: Vec<Value>,
    ) -> Value {
        let state = self.state.clone();
        let store = state.store.lock().unwrap();
        modifications.extend(self.reevaluate(&store));
        let start = self.version;
        let end = Version {
            query_set: query_set.unwrap_or(start.query_set),
            identity: start.identity + bump_identity as u64,
            ts: store.ts.max(start.ts),
        };
        self.version = end;
        let mut message = json!({"type": "Transition", "startVersion": start.json(), "endVersion": end.json(), "modifications": modifications});
        if bump_identity {
            if let Some(skew) = self.clock_skew_ms {
                message["clientClockSkew"] = json!(skew);
            }
        }
        message
    }

    fn auth_error(&self, error: String, attempted: bool) -> Outcome {
        Outcome::closing(
            json!({"type": "AuthError", "error": error, "baseVersion": self.version.identity, "authUpdateAttempted": attempted}),
        )
    }

    async fn authenticate(&mut self, message: &Value) -> Outcome {
        match message["tokenType"].as_str() {
            Some("User") => {
                let token = message["value"].as_str().unwrap_or("");
                match self.state.verifier.verify(token).await {
                    Ok(identity) => {
                        self.state.stats.bump("authAccepted");
                        self.state.log(format!(
                            "ws#{} accepted token {} (sub {})",
                            self.id,
                            redact(token),
                            identity.subject
                        ));
                        self.identity = Some(identity);
                        Outcome::one(self.transition(None, true, Vec::new()))
                    }
                    Err(rejection) => {
                        self.state.stats.bump("authRejections");
                        self.state
                            .stats
                            .bump(&format!("rejected:{}", rejection.reason.code()));
                        self.state.log(format!(
                            "ws#{} rejected token {}: {}",
                            self.id,
                            redact(token),
                            rejection.message()
                        ));
                        self.auth_error(rejection.message(), true)
                    }
                }
            }
            Some("None") | Some("Admin") => {
                self.identity = None;
                Outcome::one(self.transition(None, true, Vec::new()))
            }
            other => Outcome::closing(
                json!({"type": "FatalError", "error": format!("unknown tokenType {other:?}")}),
            ),
        }
    }

    fn modify_query_set(&mut self, message: &Value) -> Outcome {
        let base = message["baseVersion"].as_u64();
        let Some(new_version) = message["newVersion"].as_u64() else {
            return Outcome::closing(
                json!({"type": "FatalError", "error": "ModifyQuerySet without newVersion"}),
            );
        };
        if base != Some(self.version.query_set) {
            return Outcome::closing(json!({"type": "FatalError",
                "error": format!("InvalidModifyQuerySet: baseVersion {base:?} but the query set is at {}", self.version.query_set)}));
        }
        let mut removed = Vec::new();
        for modification in message["modifications"].as_array().into_iter().flatten() {
            let Some(query_id) = modification["queryId"].as_u64() else {
                continue;
            };
            match modification["type"].as_str() {
                Some("Add") => {
                    let udf_path = modification["udfPath"].as_str().unwrap_or("").to_string();
                    let args = modification["args"].get(0).cloned().unwrap_or(json!({}));
                    self.queries.insert(
                        query_id,
                        Query {
                            udf_path,
                            args,
                            last: None,
                        },
                    );
                }
                Some("Remove") => {
                    self.queries.remove(&query_id);
                    removed.push(json!({"type": "QueryRemoved", "queryId": query_id}));
                }
                _ => {}
            }
        }
        Outcome::one(self.transition(Some(new_version), false, removed))
    }

    fn identity_expired(&self) -> bool {
        self.identity
            .as_ref()
            .and_then(|identity| identity.expires_at)
            .is_some_and(|exp| exp as f64 * 1000.0 <= now_ms())
    }

    fn mutation(&mut self, message: &Value) -> Outcome {
        if self.identity_expired() {
            return self.on_expired();
        }
        self.state.stats.bump("mutations");
        let request_id = message["requestId"].clone();
        let udf_path = message["udfPath"].as_str().unwrap_or("");
        let args = message["args"].get(0).cloned().unwrap_or(json!({}));
        let result = {
            let mut store = self.state.store.lock().unwrap();
            functions::mutation(&mut store, self.identity.as_ref(), udf_path, &args)
                .map(|value| (value, store.ts))
        };
        match result {
            Ok((value, ts)) => {
                let response = json!({"type": "MutationResponse", "requestId": request_id, "success": true, "result": value, "ts": encode_ts(ts), "logLines": []});
                self.state.data.send_replace(ts);
                Outcome {
                    send: vec![response, self.transition(None, false, Vec::new())],
                    close: false,
                }
            }
            Err(error) => Outcome::one(
                json!({"type": "MutationResponse", "requestId": request_id, "success": false, "result": error, "logLines": []}),
            ),
        }
    }

    fn action(&mut self, message: &Value) -> Outcome {
        if self.identity_expired() {
            return self.on_expired();
        }
        self.state.stats.bump("actions");
        let request_id = message["requestId"].clone();
        let (success, result) = match functions::action(
            self.identity.as_ref(),
            message["udfPath"].as_str().unwrap_or(""),
        ) {
            Ok(value) => (true, value),
            Err(error) => (false, json!(error)),
        };
        Outcome::one(
            json!({"type": "ActionResponse", "requestId": request_id, "success": success, "result": result, "logLines": []}),
        )
    }

    fn on_data(&mut self) -> Outcome {
        let ts = self.state.store.lock().unwrap().ts;
        if ts <= self.version.ts {
            return Outcome::default();
        }
        Outcome::one(self.transition(None, false, Vec::new()))
    }

    fn on_expired(&mut self) -> Outcome {
        let exp = self
            .identity
            .as_ref()
            .and_then(|identity| identity.expires_at)
            .unwrap_or(0);
        self.state.stats.bump("expiredSessionErrors");
        self.state
            .log(format!("ws#{} token expired mid-session", self.id));
        self.auth_error(
            format!("TokenExpired: the session's token expired (exp {exp})"),
            false,
        )
    }

    /// After a key change: a session whose token no longer verifies is told and closed.
    async fn reverify(&mut self) -> Outcome {
        let Some(identity) = &self.identity else {
            return Outcome::default();
        };
        match self.state.verifier.verify(&identity.token).await {
            Ok(_) => Outcome::default(),
            Err(rejection) => {
                self.state.stats.bump("expiredSessionErrors");
                self.state.log(format!(
                    "ws#{} token no longer verifies: {}",
                    self.id,
                    rejection.message()
                ));
                self.auth_error(rejection.message(), false)
            }
        }
    }
}
