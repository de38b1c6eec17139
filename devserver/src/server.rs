//! Routes: the sync websocket, the embedded issuer, `/debug/*` (stats and fault switches) and the
//! static folders.

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ws::WebSocketUpgrade, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::{broadcast, watch};

use crate::config::Options;
use crate::functions::Store;
use crate::issuer::{redact, Issuer, RefreshError};
use crate::stats::{Faults, Stats};
use crate::sync;
use crate::verify::Verifier;

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

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/{version}/sync", any(sync_socket))
        .route(
            "/.well-known/openid-configuration",
            get(|State(s): State<Arc<AppState>>| async move { cors(Json(s.issuer.discovery())) }),
        )
        .route(
            "/.well-known/jwks.json",
            get(|State(s): State<Arc<AppState>>| async move { cors(Json(s.issuer.jwks())) }),
        )
        .route("/tenants/{*rest}", get(tenant))
        .route("/auth/signin", post(sign_in).options(preflight))
        .route("/oauth/token", post(token).options(preflight))
        .route(
            "/user_management/authenticate",
            post(crate::workos::authenticate).options(preflight),
        )
        .route(
            "/debug/stats",
            get(|State(s): State<Arc<AppState>>| async move { Json(s.stats.snapshot()) }),
        )
        .route(
            "/debug/reset-stats",
            post(|State(s): State<Arc<AppState>>| async move {
                s.stats.reset();
                Json(s.stats.snapshot())
            }),
        )
        .route("/debug/faults", get(get_faults).post(set_faults))
        .route("/debug/drop-connections", post(drop_connections))
        .route("/debug/rotate-keys", post(rotate_keys))
        .route("/debug/refresh-jwks", post(refresh_jwks))
        .route("/debug/sign", post(sign))
        .route("/debug/mint", post(mint).options(preflight))
        .route("/debug/verify", post(verify_token).options(preflight))
        .fallback(static_file)
        .with_state(state)
}

pub(crate) fn cors(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) async fn preflight() -> Response {
    cors(StatusCode::NO_CONTENT)
}

async fn sync_socket(State(state): State<Arc<AppState>>, upgrade: WebSocketUpgrade) -> Response {
    let id = state.next_session.fetch_add(1, Ordering::Relaxed) + 1;
    upgrade.on_upgrade(move |socket| sync::run(socket, state, id))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                index += 3;
            }
            (byte, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a JSON object or an `application/x-www-form-urlencoded` body.
pub(crate) fn parse_body(body: &[u8]) -> Value {
    if let Ok(value @ Value::Object(_)) = serde_json::from_slice::<Value>(body) {
        return value;
    }
    let mut map = serde_json::Map::new();
    for pair in String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        map.insert(
            percent_decode(&key.replace('+', " ")),
            Value::String(percent_decode(&value.replace('+', " "))),
        );
    }
    Value::Object(map)
}

/// Applies the token-endpoint fault switches; `Err` is the spoiled answer.
pub(crate) async fn token_faults(state: &AppState) -> Result<(u64, i64), Response> {
    state.stats.bump("tokenRequests");
    let faults = state.faults.lock().unwrap().clone();
    if faults.token_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.token_delay_ms)).await;
    }
    if faults.token_fail {
        state.stats.bump("tokenFaults");
        return Err(cors((
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "temporarily_unavailable"})),
        )));
    }
    if faults.token_garbage {
        state.stats.bump("tokenFaults");
        return Err(cors((
            [(header::CONTENT_TYPE, "application/json")],
            "<html>garbage, not JSON",
        )));
    }
    Ok((faults.token_lifetime_seconds, faults.clock_skew_seconds))
}

/// `POST /auth/signin` `{subject?, name?}`: a new session, no account needed.
async fn sign_in(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let (lifetime, skew) = match token_faults(&state).await {
        Ok(settings) => settings,
        Err(response) => return response,
    };
    let body = parse_body(&body);
    let subject = body["subject"].as_str().unwrap_or("user_demo");
    let name = body["name"].as_str().unwrap_or("Demo User");
    state.stats.bump("signIns");
    state.log(format!("sign-in {subject}"));
    cors(Json(state.issuer.sign_in(subject, name, lifetime, skew)))
}

/// `POST /oauth/token` with `grant_type=refresh_token&refresh_token=…` (form or JSON).
async fn token(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let (lifetime, skew) = match token_faults(&state).await {
        Ok(settings) => settings,
        Err(response) => return response,
    };
    let body = parse_body(&body);
    if body["grant_type"].as_str() != Some("refresh_token") {
        return cors((
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        ));
    }
    let presented = body["refresh_token"].as_str().unwrap_or("");
    match state.issuer.refresh(presented, lifetime, skew) {
        Ok(pair) => {
            state.stats.bump("refreshes");
            cors(Json(pair))
        }
        Err(error) => refresh_failure(&state, presented, error),
    }
}

/// The `invalid_grant` answer to a refresh token that was reused (its family is now revoked) or
/// is unknown, with its counter.
pub(crate) fn refresh_failure(state: &AppState, presented: &str, error: RefreshError) -> Response {
    let description = match error {
        RefreshError::Reuse => {
            state.stats.bump("reuseDetections");
            state.log(format!(
                "refresh token {} reused: family revoked",
                redact(presented)
            ));
            "refresh token reuse detected; session revoked"
        }
        RefreshError::Unknown => {
            state.stats.bump("refreshRejections");
            "unknown or revoked refresh token"
        }
    };
    cors((
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant", "error_description": description})),
    ))
}

async fn get_faults(State(state): State<Arc<AppState>>) -> Json<Faults> {
    Json(state.faults.lock().unwrap().clone())
}

/// Merges a partial `Faults` object; unknown fields are a 400 naming them.
async fn set_faults(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let mut faults = state.faults.lock().unwrap();
    let mut merged = serde_json::to_value(&*faults).expect("faults serialize");
    let patch: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(patch)) => Value::Object(patch),
        _ => return (StatusCode::BAD_REQUEST, "expected a JSON object").into_response(),
    };
    for (key, value) in patch.as_object().unwrap() {
        merged[key] = value.clone();
    }
    match serde_json::from_value::<Faults>(merged) {
        Ok(next) if next.token_lifetime_seconds > 0 => {
            *faults = next;
            Json(faults.clone()).into_response()
        }
        Ok(_) => (
            StatusCode::BAD_REQUEST,
            "tokenLifetimeSeconds must be at least 1",
        )
            .into_response(),
        Err(error) => (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    }
}

async fn drop_connections(State(state): State<Arc<AppState>>) -> Json<Value> {
    let sessions = state.control.send(Control::DropConnections).unwrap_or(0);
    Json(json!({ "sessions": sessions }))
}

/// A new embedded signing key (new `kid`); the verifier forgets its cached keys and every session
/// re-verifies its token (the old key is gone unless `{"keepOld": true}`).
async fn rotate_keys(State(state): State<Arc<AppState>>, body: Bytes) -> Json<Value> {
    let keep_old = parse_body(&body)["keepOld"].as_bool().unwrap_or(false);
    let kid = state.issuer.rotate(keep_old);
    state.log(format!("rotated the embedded key: kid {kid}"));
    state.verifier.forget_keys().await;
    let _ = state.control.send(Control::Reverify);
    Json(json!({ "kid": kid }))
}

/// For external issuers that rotated: forget cached JWKS and re-verify every session.
async fn refresh_jwks(State(state): State<Arc<AppState>>) -> Json<Value> {
    state.verifier.forget_keys().await;
    let _ = state.control.send(Control::Reverify);
    Json(json!({ "ok": true }))
}

/// Signs the given claims with the embedded key (tests craft wrong `aud`, `iss`, `exp` with it).
async fn sign(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Value>(&body) {
        Ok(claims @ Value::Object(_)) => {
            Json(json!({ "token": state.issuer.sign(&claims) })).into_response()
        }
        _ => (StatusCode::BAD_REQUEST, "expected a JSON object of claims").into_response(),
    }
}

/// `POST /debug/verify` with the token as the body (raw or a JSON string) → `{"accepted": true, "subject", "issuer"}` or
/// `{"accepted": false, "reason": "<Code>", "detail"}`: the verifier sync sessions use, without a
/// socket (tests cross-check `explainToken` against it).
async fn verify_token(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    // The raw token, or the token as a JSON string.
    let text = String::from_utf8_lossy(&body).trim().to_string();
    let token = serde_json::from_str::<String>(&text).unwrap_or(text);
    let verdict = match state.verifier.verify(&token).await {
        Ok(identity) => {
            json!({ "accepted": true, "subject": identity.subject, "issuer": identity.issuer })
        }
        Err(rejection) => {
            json!({ "accepted": false, "reason": rejection.reason.code(), "detail": rejection.detail })
        }
    };
    cors(Json(verdict))
}

/// `POST /debug/mint` `{"claims": {…}, "header": {…}?}` → `{"token"}`: the claims signed verbatim
/// (nothing added) with the embedded key; `header` fields override `{"alg":"EdDSA","typ":"JWT",
/// "kid":<current>}` (`null` removes one; a foreign `alg` keeps the Ed25519 signature). Tests mint
/// other identity providers' token shapes with it.
async fn mint(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    const EXPECTED: &str = "expected {\"claims\": {…}, \"header\": {…}?}";
    let body = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(body)) => body,
        _ => return cors((StatusCode::BAD_REQUEST, EXPECTED)),
    };
    if let Some(unknown) = body
        .keys()
        .find(|key| !matches!(key.as_str(), "claims" | "header"))
    {
        return cors((
            StatusCode::BAD_REQUEST,
            format!("unknown field {unknown:?}: {EXPECTED}"),
        ));
    }
    let Some(claims @ Value::Object(_)) = body.get("claims") else {
        return cors((StatusCode::BAD_REQUEST, EXPECTED));
    };
    let header = match body.get("header") {
        None | Some(Value::Null) => None,
        Some(Value::Object(header)) => Some(header),
        Some(_) => return cors((StatusCode::BAD_REQUEST, EXPECTED)),
    };
    state.stats.bump("mints");
    cors(Json(json!({ "token": state.issuer.mint(claims, header) })))
}

/// Tenant issuers `{origin}/tenants/{name}`: `GET /tenants/{name}/.well-known/openid-configuration`
/// (discovery) and `/tenants/{name}/.well-known/jwks.json` (the embedded keys). The issuer with a
/// trailing slash (Auth0's `iss` ends in `/`) discovers at `/tenants/{name}//.well-known/…`, and
/// that document's `issuer` keeps the slash.
async fn tenant(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(rest): axum::extract::Path<String>,
) -> Response {
    let Some((name, file)) = rest.split_once('/') else {
        return not_found();
    };
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte));
    let (trailing_slash, file) = match file.strip_prefix('/') {
        Some(file) => (true, file),
        None => (false, file),
    };
    match file {
        ".well-known/openid-configuration" if valid_name => {
            cors(Json(state.issuer.tenant_discovery(name, trailing_slash)))
        }
        ".well-known/jwks.json" if valid_name => cors(Json(state.issuer.jwks())),
        _ => not_found(),
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

async fn static_file(State(state): State<Arc<AppState>>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return not_found();
    }
    let path = uri.path();
    if path == "/" {
        if let Some((prefix, _)) = state.options.serve.first() {
            return (
                StatusCode::FOUND,
                [(header::LOCATION, format!("{prefix}/"))],
            )
                .into_response();
        }
    }
    let Some((prefix, dir)) = state
        .options
        .serve
        .iter()
        .find(|(prefix, _)| path == prefix || path.starts_with(&format!("{prefix}/")))
    else {
        return not_found();
    };
    let rest = &path[prefix.len()..];
    if rest.is_empty() {
        return (
            StatusCode::FOUND,
            [(header::LOCATION, format!("{prefix}/"))],
        )
            .into_response();
    }
    let decoded = percent_decode(rest);
    let relative = PathBuf::from(decoded.trim_start_matches('/'));
    if relative
        .components()
        .any(|component| !matches!(component, Component::Normal(_)))
    {
        return not_found();
    }
    let mut file = dir.join(relative);
    if rest.ends_with('/') {
        file.push("index.html");
    } else if file.is_dir() {
        return (StatusCode::FOUND, [(header::LOCATION, format!("{path}/"))]).into_response();
    }
    match tokio::fs::read(&file).await {
        Ok(bytes) => Response::builder()
            .header(header::CONTENT_TYPE, content_type(&file))
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::from(bytes))
            .expect("static response"),
        Err(_) => not_found(),
    }
}
