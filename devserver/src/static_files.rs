//! The `--serve PREFIX=DIR` folders, by tower-http's `ServeDir`: content types from the file
//! extension (`application/wasm` for `instantiateStreaming`), `index.html` for a folder, 404 for a
//! missing file or a path out of the folder. Everything here is `no-store` (the pages and the
//! package change under a running demo) unless `--static-max-age` lets browsers cache it.

use std::path::PathBuf;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::middleware::map_response_with_state;
use axum::response::{Redirect, Response};
use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// Routes for every folder, and `/` redirecting to the first one.
pub fn routes<S: Clone + Send + Sync + 'static>(
    folders: &[(String, PathBuf)],
    max_age_secs: Option<u64>,
) -> Router<S> {
    let mut router = Router::new();
    if let Some((first, _)) = folders.first() {
        router = router.route("/", get(redirect_to(format!("{first}/"))));
    }
    for (prefix, dir) in folders {
        // Relative URLs in an index page resolve against the folder only with the trailing slash.
        let files = Router::new()
            .fallback_service(ServeDir::new(dir))
            .layer(map_response_with_state(prefix.clone(), put_back_prefix));
        router = router
            .route(prefix, get(redirect_to(format!("{prefix}/"))))
            .nest_service(&format!("{prefix}/"), files);
    }
    let cache_control = match max_age_secs {
        Some(secs) => HeaderValue::from_str(&format!("max-age={secs}")).expect("digits are a valid header"),
        None => HeaderValue::from_static("no-store"),
    };
    router.layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, cache_control))
}

fn redirect_to(location: String) -> impl Fn() -> std::future::Ready<Redirect> + Clone {
    move || std::future::ready(Redirect::temporary(&location))
}

/// `ServeDir` sees the path below the prefix, so its folder redirects (`sub` → `sub/`) name that
/// path: put the prefix back in front.
async fn put_back_prefix(State(prefix): State<String>, mut response: Response) -> Response {
    let location = response.headers().get(header::LOCATION);
    if let Some(path) = location.and_then(|value| value.to_str().ok()) {
        if path.starts_with('/') {
            if let Ok(value) = HeaderValue::from_str(&format!("{prefix}{path}")) {
                response.headers_mut().insert(header::LOCATION, value);
            }
        }
    }
    response
}
