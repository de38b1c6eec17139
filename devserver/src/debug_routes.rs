//! `/debug/*`: the counters, the fault switches, dropping every socket, key rotation, and signing
//! or verifying crafted tokens — what the tests steer the server with. Dev only.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::http::parse_body;
use crate::state::{AppState, Control};
use crate::stats::Faults;

pub async fn stats(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.stats.snapshot())
}

pub async fn reset_stats(State(state): State<Arc<AppState>>) -> Json<Value> {
    state.stats.reset();
    Json(state.stats.snapshot())
}

pub async fn get_faults(State(state): State<Arc<AppState>>) -> Json<Faults> {
    Json(state.faults.lock().unwrap().clone())
}

/// Merges a partial `Faults` object; unknown fields are a 400 naming them.
pub async fn set_faults(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let mut faults = state.faults.lock().unwrap();
    let mut merged = serde_json::to_value(&*faults).expect("faults serialize");
    let patch = match serde_json::from_slice(&body) {
        Ok(Value::Object(patch)) => patch,
        _ => return (StatusCode::BAD_REQUEST, "expected a JSON object").into_response(),
    };
    for (key, value) in patch {
        merged[key] = value;
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

pub async fn drop_connections(State(state): State<Arc<AppState>>) -> Json<Value> {
    let sessions = state.control.send(Control::DropConnections).unwrap_or(0);
    Json(json!({ "sessions": sessions }))
}

/// A new embedded signing key (new `kid`); the verifier forgets its cached keys and every session
/// re-verifies its token (the old key is gone unless `{"keepOld": true}`).
pub async fn rotate_keys(State(state): State<Arc<AppState>>, body: Bytes) -> Json<Value> {
    let keep_old = parse_body(&body)["keepOld"].as_bool().unwrap_or(false);
    let kid = state.issuer.rotate(keep_old);
    state.log(format!("rotated the embedded key: kid {kid}"));
    state.verifier.forget_keys().await;
    let _ = state.control.send(Control::Reverify);
    Json(json!({ "kid": kid }))
}

/// For external issuers that rotated: forget cached JWKS and re-verify every session.
pub async fn refresh_jwks(State(state): State<Arc<AppState>>) -> Json<Value> {
    state.verifier.forget_keys().await;
    let _ = state.control.send(Control::Reverify);
    Json(json!({ "ok": true }))
}

/// Signs the given claims with the embedded key (tests craft wrong `aud`, `iss`, `exp` with it).
pub async fn sign(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
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
pub async fn verify(State(state): State<Arc<AppState>>, body: Bytes) -> Json<Value> {
    let text = String::from_utf8_lossy(&body).trim().to_string();
    let token = serde_json::from_str::<String>(&text).unwrap_or(text);
    Json(match state.verifier.verify(&token).await {
        Ok(identity) => {
            json!({ "accepted": true, "subject": identity.subject, "issuer": identity.issuer })
        }
        Err(rejection) => {
            json!({ "accepted": false, "reason": rejection.reason.code(), "detail": rejection.detail })
        }
    })
}

/// `POST /debug/mint` `{"claims": {…}, "header": {…}?}` → `{"token"}`: the claims signed verbatim
/// (nothing added) with the embedded key; `header` fields override `{"alg":"EdDSA","typ":"JWT",
/// "kid":<current>}` (`null` removes one; a foreign `alg` keeps the Ed25519 signature). Tests mint
/// other identity providers' token shapes with it. The `tokenDelayMs` fault delays it too, so that a
/// benchmark can put the provider as far away as a real one is.
pub async fn mint(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    const EXPECTED: &str = "expected {\"claims\": {…}, \"header\": {…}?}";
    let body = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(body)) => body,
        _ => return (StatusCode::BAD_REQUEST, EXPECTED).into_response(),
    };
    if let Some(unknown) = body
        .keys()
        .find(|key| !matches!(key.as_str(), "claims" | "header"))
    {
        return (
            StatusCode::BAD_REQUEST,
            format!("unknown field {unknown:?}: {EXPECTED}"),
        )
            .into_response();
    }
    let Some(claims @ Value::Object(_)) = body.get("claims") else {
        return (StatusCode::BAD_REQUEST, EXPECTED).into_response();
    };
    let header = match body.get("header") {
        None | Some(Value::Null) => None,
        Some(Value::Object(header)) => Some(header),
        Some(_) => return (StatusCode::BAD_REQUEST, EXPECTED).into_response(),
    };
    let delay_ms = state.faults.lock().unwrap().token_delay_ms;
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    state.stats.bump("mints");
    Json(json!({ "token": state.issuer.mint(claims, header) })).into_response()
}
