//! The route table: the sync websocket, the embedded issuer, `/debug/*` and the static folders.
//! The routes a page on another origin calls (the issuer's, and minting/verifying tokens) answer
//! CORS, preflights included, and are never cached.

use std::sync::Arc;

use axum::http::{header, HeaderValue, Method};
use axum::routing::{any, get, post};
use axum::Router;
use tower_http::cors::{Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::http::not_found;
use crate::state::AppState;
use crate::{debug_routes, issuer_routes, static_files, sync, workos};

pub fn router(state: Arc<AppState>) -> Router {
    let cross_origin = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(issuer_routes::discovery),
        )
        .route("/.well-known/jwks.json", get(issuer_routes::jwks))
        .route("/tenants/{*rest}", get(issuer_routes::tenant))
        .route("/auth/signin", post(issuer_routes::sign_in))
        .route("/oauth/token", post(issuer_routes::token))
        .route("/user_management/authenticate", post(workos::authenticate))
        .route("/debug/mint", post(debug_routes::mint))
        .route("/debug/verify", post(debug_routes::verify))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE]),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let same_origin = Router::new()
        .route("/api/{version}/sync", any(sync::socket))
        .route("/debug/stats", get(debug_routes::stats))
        .route("/debug/reset-stats", post(debug_routes::reset_stats))
        .route(
            "/debug/faults",
            get(debug_routes::get_faults).post(debug_routes::set_faults),
        )
        .route(
            "/debug/drop-connections",
            post(debug_routes::drop_connections),
        )
        .route("/debug/rotate-keys", post(debug_routes::rotate_keys))
        .route("/debug/refresh-jwks", post(debug_routes::refresh_jwks))
        .route("/debug/sign", post(debug_routes::sign));
    cross_origin
        .merge(same_origin)
        .merge(static_files::routes(&state.options.serve, state.options.static_max_age_secs))
        .fallback(|| async { not_found() })
        .with_state(state)
}
