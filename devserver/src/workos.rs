//! `POST /user_management/authenticate` shaped like WorkOS AuthKit's refresh_token grant, so the
//! real `@workos-inc/authkit-js` client (given `apiHostname`, `port` and `https: false`) runs
//! against this server in the end-to-end recipe test. It spends the embedded issuer's rotating
//! refresh tokens (from `POST /auth/signin`) and answers as WorkOS does: the user object, an
//! access token shaped like AuthKit's (`iss` `https://api.workos.com/user_management/<client_id>`,
//! `sub`, `sid`, `jti`, `iat`, `exp`, no `aud`) signed with the embedded key (EdDSA, where WorkOS
//! uses RS256), and the next refresh token.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::http::parse_body;
use crate::issuer::now_secs;
use crate::issuer_routes::{refresh_failure, token_faults};
use crate::state::AppState;

pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Response, Response> {
    let (lifetime, skew) = token_faults(&state).await?;
    let body = parse_body(&body);
    let client_id = body["client_id"].as_str().unwrap_or("");
    if body["grant_type"].as_str() != Some("refresh_token") || client_id.is_empty() {
        return Err((
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request",
                        "error_description": "expected grant_type refresh_token and a client_id"})),
        )
            .into_response());
    }
    let presented = body["refresh_token"].as_str().unwrap_or("");
    let redeemed = state
        .issuer
        .redeem(presented)
        .map_err(|error| refresh_failure(&state, presented, error))?;
    state.stats.bump("refreshes");
    let iat = now_secs() + skew;
    let access_token = state.issuer.mint(
        &json!({
            "iss": format!("https://api.workos.com/user_management/{client_id}"),
            "sub": redeemed.subject, "sid": format!("session_dev{}", redeemed.family),
            "jti": state.issuer.jti(), "iat": iat, "exp": iat + lifetime as i64,
        }),
        None,
    );
    let created = "2026-01-01T00:00:00.000Z";
    Ok(Json(json!({
        "user": {
            "object": "user", "id": redeemed.subject, "email": format!("{}@example.com", redeemed.subject),
            "email_verified": true, "first_name": redeemed.name, "last_name": null,
            "profile_picture_url": null, "last_sign_in_at": created, "external_id": null,
            "created_at": created, "updated_at": created,
        },
        "access_token": access_token,
        "refresh_token": redeemed.refresh_token,
        "authentication_method": "Password",
    }))
    .into_response())
}
