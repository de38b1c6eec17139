//! What browsers see of the devserver over plain HTTP: the static folders (content types the demo
//! and the end-to-end pages need, `no-store`, index pages and redirects, 404s, no escape from the
//! folder), CORS on the issuer endpoints, and form-encoded token requests.
mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::Server;
use reqwest::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE,
    LOCATION, ORIGIN,
};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A fresh folder (tests run in parallel) with an index page, a script, a wasm module and a
/// subfolder with its own index.
fn site() -> PathBuf {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "devserver-site-{}-{}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>top</title>").unwrap();
    std::fs::write(
        dir.join("sub/index.html"),
        "<!doctype html><title>sub</title>",
    )
    .unwrap();
    std::fs::write(dir.join("app.js"), "export const answer = 42;").unwrap();
    std::fs::write(dir.join("mod.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.join("data.json"), "{\"ok\":true}").unwrap();
    dir
}

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(server: &Server, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", server.origin))
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> &str {
    response
        .headers()
        .get(&name)
        .map(|value| value.to_str().unwrap())
        .unwrap_or_else(|| panic!("no {name} on {} {}", response.status(), response.url()))
}

fn redirect_target(response: &reqwest::Response) -> &str {
    assert!(
        response.status().is_redirection(),
        "{} for {}",
        response.status(),
        response.url()
    );
    header(response, LOCATION)
}

#[tokio::test]
async fn static_files_carry_the_types_browsers_need_and_are_never_cached() {
    let dir = site();
    let server = Server::start(&["--serve", &format!("/site={}", dir.display())]);
    for (path, content_type, body) in [
        ("/site/", "text/html", "<!doctype html><title>top</title>"),
        (
            "/site/sub/",
            "text/html",
            "<!doctype html><title>sub</title>",
        ),
        (
            "/site/app.js",
            "text/javascript",
            "export const answer = 42;",
        ),
        ("/site/data.json", "application/json", "{\"ok\":true}"),
    ] {
        let response = get(&server, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            header(&response, CONTENT_TYPE).starts_with(content_type),
            "{path}: {}",
            header(&response, CONTENT_TYPE)
        );
        assert_eq!(header(&response, CACHE_CONTROL), "no-store", "{path}");
        assert_eq!(response.text().await.unwrap(), body, "{path}");
    }
    // WebAssembly.instantiateStreaming refuses any other type.
    let wasm = get(&server, "/site/mod.wasm").await;
    assert_eq!(header(&wasm, CONTENT_TYPE), "application/wasm");
    assert_eq!(header(&wasm, CACHE_CONTROL), "no-store");
    assert_eq!(&wasm.bytes().await.unwrap()[..], b"\0asm\x01\0\0\0");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn static_max_age_lets_browsers_cache_served_files() {
    let dir = site();
    let served = format!("/site={}", dir.display());
    let server = Server::start(&["--serve", &served, "--static-max-age", "600"]);
    for path in ["/site/", "/site/app.js", "/site/mod.wasm"] {
        let response = get(&server, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, CACHE_CONTROL), "max-age=600", "{path}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn folders_redirect_to_their_slash_and_the_root_to_the_first_folder() {
    let dir = site();
    let server = Server::start(&["--serve", &format!("/site={}", dir.display())]);
    // Relative URLs in an index page resolve against the folder only with the trailing slash.
    assert_eq!(redirect_target(&get(&server, "/").await), "/site/");
    assert_eq!(redirect_target(&get(&server, "/site").await), "/site/");
    assert_eq!(
        redirect_target(&get(&server, "/site/sub").await),
        "/site/sub/"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn missing_files_and_paths_outside_the_folder_are_404() {
    let dir = site();
    let server = Server::start(&["--serve", &format!("/site={}", dir.display())]);
    // The sibling file a `..` would reach exists, so only the refusal can make these 404.
    let outside = dir.with_extension("secret");
    std::fs::write(&outside, "secret").unwrap();
    let name = outside.file_name().unwrap().to_str().unwrap();
    for path in [
        "/site/missing.js".to_string(),
        "/elsewhere/app.js".to_string(),
        format!("/site/%2e%2e%2f{name}"),
        format!("/site/..%2f{name}"),
    ] {
        let response = get(&server, &path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!response.text().await.unwrap().contains("secret"), "{path}");
    }
    let _ = std::fs::remove_file(outside);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn issuer_endpoints_answer_cross_origin_pages_and_are_never_cached() {
    let server = Server::start(&[]);
    let page = "http://127.0.0.1:1";
    for path in [
        "/auth/signin",
        "/oauth/token",
        "/user_management/authenticate",
        "/debug/mint",
        "/debug/verify",
    ] {
        // A JSON POST from another origin is preflighted.
        let preflight = client()
            .request(Method::OPTIONS, format!("{}{path}", server.origin))
            .header(ORIGIN, page)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        assert!(
            preflight.status().is_success(),
            "{path}: {}",
            preflight.status()
        );
        assert_eq!(
            header(&preflight, ACCESS_CONTROL_ALLOW_ORIGIN),
            "*",
            "{path}"
        );
        assert!(
            header(&preflight, ACCESS_CONTROL_ALLOW_HEADERS).contains("content-type"),
            "{path}"
        );
    }
    for (method, path, status) in [
        (Method::GET, "/.well-known/openid-configuration", 200),
        (Method::GET, "/.well-known/jwks.json", 200),
        (Method::GET, "/tenants/clerk/.well-known/jwks.json", 200),
        (Method::POST, "/auth/signin", 200),
        // A wrong grant is still readable by the page: the error must reach its code.
        (Method::POST, "/oauth/token", 400),
    ] {
        let response = client()
            .request(method, format!("{}{path}", server.origin))
            .header(ORIGIN, page)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert_eq!(
            header(&response, ACCESS_CONTROL_ALLOW_ORIGIN),
            "*",
            "{path}"
        );
        assert_eq!(header(&response, CACHE_CONTROL), "no-store", "{path}");
    }
}

#[tokio::test]
async fn form_encoded_fields_are_decoded() {
    let server = Server::start(&[]);
    let (status, answer) = server
        .post_form("/auth/signin", "subject=ada+lovelace%21&name=Ada")
        .await;
    assert_eq!(status, 200, "{answer}");
    let payload = answer["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["sub"], "ada lovelace!");
}
