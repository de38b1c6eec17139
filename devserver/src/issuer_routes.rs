//! The embedded issuer over HTTP: discovery and JWKS (its own and the tenant issuers'), sign-in,
//! the refresh_token grant, and the fault switches that spoil token answers. The router gives
//! these routes CORS and `no-store`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::http::{not_found, parse_body};
use crate::issuer::{redact, RefreshError};
use crate::state::AppState;

pub async fn discovery(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.issuer.discovery())
}

pub async fn jwks(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.issuer.jwks())
}

/// Tenant issuers `{origin}/tenants/{name}`: `GET /tenants/{name}/.well-known/openid-configuration`
/// (discovery) and `/tenants/{name}/.well-known/jwks.json` (the embedded keys). The issuer with a
/// trailing slash (Auth0's `iss` ends in `/`) discovers at `/tenants/{name}//.well-known/…`, and
/// that document's `issuer` keeps the slash.
pub async fn tenant(State(state): State<Arc<AppState>>, Path(rest): Path<String>) -> Response {
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
            Json(state.issuer.tenant_discovery(name, trailing_slash)).into_response()
        }
        ".well-known/jwks.json" if valid_name => Json(state.issuer.jwks()).into_response(),
        _ => not_found(),
    }
}

/// Applies the token-endpoint fault switches; `Ok` is the token lifetime and clock skew to mint
/// with, `Err` the spoiled answer.
pub async fn token_faults(state: &AppState) -> Result<(u64, i64), Response> {
    state.stats.bump("tokenRequests");
    let faults = state.faults.lock().unwrap().clone();
    if faults.token_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.token_delay_ms)).await;
    }
    if faults.token_fail {
        state.stats.bump("tokenFaults");
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "temporarily_unavailable"})),
        )
            .into_response());
    }
    if faults.token_garbage {
        state.stats.bump("tokenFaults");
        return Err((
            [(header::CONTENT_TYPE, "application/json")],
            "<html>garbage, not JSON",
        )
            .into_response());
    }
    Ok((faults.token_lifetime_seconds, faults.clock_skew_seconds))
}

/// `POST /auth/signin` `{subject?, name?}`: a new session, no account needed.
pub async fn sign_in(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Response, Response> {
    let (lifetime, skew) = token_faults(&state).await?;
    let body = parse_body(&body);
    let subject = body["subject"].as_str().unwrap_or("user_demo");
    let name = body["name"].as_str().unwrap_or("Demo User");
    state.stats.bump("signIns");
    state.log(format!("sign-in {subject}"));
    Ok(Json(state.issuer.sign_in(subject, name, lifetime, skew)).into_response())
}

/// `POST /oauth/token` with `grant_type=refresh_token&refresh_token=…` (form or JSON).
pub async fn token(State(state): State<Arc<AppState>>, body: Bytes) -> Result<Response, Response> {
    let (lifetime, skew) = token_faults(&state).await?;
    let body = parse_body(&body);
    if body["grant_type"].as_str() != Some("refresh_token") {
        return Err((
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response());
    }
    let presented = body["refresh_token"].as_str().unwrap_or("");
    let pair = state
        .issuer
        .refresh(presented, lifetime, skew)
        .map_err(|error| refresh_failure(&state, presented, error))?;
    state.stats.bump("refreshes");
    Ok(Json(pair).into_response())
}

/// The `invalid_grant` answer to a refresh token that was reused (its family is now revoked) or
/// is unknown, with its counter.
pub fn refresh_failure(state: &AppState, presented: &str, error: RefreshError) -> Response {
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
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant", "error_description": description})),
    )
        .into_response()
}
