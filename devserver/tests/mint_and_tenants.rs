//! `POST /debug/mint`, tenant issuers (`/tenants/{name}`) and `{origin}` in `--auth-config`: what
//! lets one devserver mint and verify other identity providers' token shapes.
mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{auth_config, now, Server};
use serde_json::{json, Value};

/// The header and payload of a JWT, decoded.
fn parts(token: &str) -> (Value, Value) {
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
    };
    let mut split = token.split('.');
    (decode(split.next().unwrap()), decode(split.next().unwrap()))
}

async fn mint(server: &Server, body: Value) -> String {
    let (status, answer) = server.post("/debug/mint", body).await;
    assert_eq!(status, 200, "{answer}");
    answer["token"].as_str().unwrap().to_string()
}

/// Authenticates on a fresh socket: `Ok(users:viewer)` when accepted, `Err(AuthError text)` when not.
async fn authenticate(server: &Server, token: &str) -> Result<Value, String> {
    let mut ws = server.ws().await;
    ws.authenticate(0, token).await;
    let answer = ws.next().await.expect("an answer to Authenticate");
    if answer["type"] == "AuthError" {
        assert_eq!(answer["authUpdateAttempted"], true, "{answer}");
        return Err(answer["error"].as_str().unwrap().to_string());
    }
    assert_eq!(answer["endVersion"]["identity"], 1, "{answer}");
    ws.send(json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1,
                   "modifications": [{"type": "Add", "queryId": 0, "udfPath": "users:viewer", "args": [{}]}]}))
        .await;
    let result = ws.expect("Transition").await;
    Ok(result["modifications"][0]["value"].clone())
}

fn code(result: Result<Value, String>) -> String {
    let message = result.expect_err("expected a rejection");
    message.split(':').next().unwrap().to_string()
}

#[tokio::test]
async fn mint_signs_claims_verbatim_and_lets_the_header_be_overridden() {
    let server = Server::start(&[]);
    let jwks: Value = serde_json::from_str(&server.get("/.well-known/jwks.json").await.1).unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_string();
    let exp = now() + 300;
    let claims = json!({"iss": server.iss(), "sub": "minted", "aud": ["convex"], "exp": exp,
                        "nested": {"org": "o_1"}});

    let token = mint(&server, json!({ "claims": claims })).await;
    let (header, payload) = parts(&token);
    assert_eq!(header, json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}));
    assert_eq!(payload, claims, "nothing added: no iat, no jti");
    let viewer = authenticate(&server, &token).await.unwrap();
    assert_eq!(viewer["subject"], "minted");

    // Header fields override the defaults; null removes one.
    let token = mint(
        &server,
        json!({"claims": claims, "header": {"typ": "at+jwt", "kid": null, "x-extra": 1}}),
    )
    .await;
    assert_eq!(
        parts(&token).0,
        json!({"alg": "EdDSA", "typ": "at+jwt", "x-extra": 1})
    );
    let token = mint(
        &server,
        json!({"claims": claims, "header": {"kid": "missing"}}),
    )
    .await;
    assert_eq!(code(authenticate(&server, &token).await), "UnknownKid");
    // A foreign alg keeps the Ed25519 signature: verification fails on the algorithm.
    let token = mint(
        &server,
        json!({"claims": claims, "header": {"alg": "HS256"}}),
    )
    .await;
    assert_eq!(parts(&token).0["alg"], "HS256");
    assert_eq!(
        code(authenticate(&server, &token).await),
        "InvalidAlgorithm"
    );
    // Verbatim means the claims' faults are the token's.
    let token = mint(
        &server,
        json!({"claims": {"iss": server.iss(), "sub": "x", "aud": "convex"}}),
    )
    .await;
    assert_eq!(code(authenticate(&server, &token).await), "MalformedToken");
    let expired = json!({"iss": server.iss(), "sub": "x", "aud": "convex", "iat": now() - 10, "exp": now() - 5});
    let token = mint(&server, json!({ "claims": expired })).await;
    assert_eq!(code(authenticate(&server, &token).await), "TokenExpired");

    for bad in [
        json!([]),
        json!({}),
        json!({"claims": "x"}),
        json!({"claims": {}, "header": "x"}),
        json!({"claims": {}, "headers": {}}),
    ] {
        let (status, answer) = server.post("/debug/mint", bad.clone()).await;
        assert_eq!(status, 400, "{bad} → {answer}");
    }
    let (_, typo) = server
        .post("/debug/mint", json!({"claims": {}, "headers": {}}))
        .await;
    assert!(typo.as_str().unwrap().contains("\"headers\""), "{typo}");
    assert_eq!(server.stats().await["mints"], 6);
}

#[tokio::test]
async fn tenant_issuers_discover_with_and_without_a_trailing_slash() {
    let server = Server::start(&[]);
    let discovery = |path: &'static str| {
        let server = &server;
        async move {
            let (status, body) = server.get(path).await;
            assert_eq!(status, 200, "{path}: {body}");
            serde_json::from_str::<Value>(&body).unwrap()
        }
    };
    let clerk = discovery("/tenants/clerk/.well-known/openid-configuration").await;
    assert_eq!(clerk["issuer"], format!("{}/tenants/clerk", server.origin));
    let auth0 = discovery("/tenants/auth0//.well-known/openid-configuration").await;
    assert_eq!(auth0["issuer"], format!("{}/tenants/auth0/", server.origin));
    let jwks_path = clerk["jwks_uri"]
        .as_str()
        .unwrap()
        .strip_prefix(&server.origin)
        .unwrap()
        .to_string();
    assert_eq!(
        auth0["jwks_uri"],
        clerk["jwks_uri"]
            .as_str()
            .unwrap()
            .replace("clerk", "auth0")
    );
    let tenant_keys = server.get(&jwks_path).await.1;
    assert_eq!(
        tenant_keys,
        server.get("/.well-known/jwks.json").await.1,
        "the embedded keys"
    );
    for missing in [
        "/tenants/clerk",
        "/tenants//.well-known/openid-configuration",
        "/tenants/clerk/.well-known/other",
        "/tenants/a%2Fb/.well-known/openid-configuration",
    ] {
        assert_eq!(server.get(missing).await.0, 404, "{missing}");
    }
}

#[tokio::test]
async fn an_auth_config_written_before_the_port_is_known_trusts_tenant_issuers() {
    // Provider shapes as in the recipes: an OIDC entry whose domain ends in "/" (Auth0) and a
    // customJwt entry with its own JWKS URL (WorkOS-like), both on this server's tenants.
    let config = auth_config(json!({"providers": [
        {"domain": "{origin}/tenants/auth0/", "applicationID": "client_123"},
        {"type": "customJwt", "issuer": "{origin}/tenants/workos", "algorithm": "EdDSA",
         "jwks": "{origin}/tenants/workos/.well-known/jwks.json"},
    ]}));
    let server = Server::start(&[
        "--auth-config",
        config.to_str().unwrap(),
        "--no-embedded-issuer",
    ]);
    let exp = now() + 60;
    let auth0 = format!("{}/tenants/auth0/", server.origin);
    let token = mint(&server, json!({"claims": {"iss": auth0, "sub": "auth0|u1", "aud": "client_123", "iat": now(), "exp": exp}})).await;
    let viewer = authenticate(&server, &token).await.unwrap();
    assert_eq!(viewer["subject"], "auth0|u1");
    let workos = format!("{}/tenants/workos", server.origin);
    let token = mint(&server, json!({"claims": {"iss": workos, "sub": "user_01", "sid": "session_01", "iat": now(), "exp": exp}})).await;
    assert_eq!(
        authenticate(&server, &token).await.unwrap()["issuer"],
        workos
    );
    let token = mint(
        &server,
        json!({"claims": {"iss": auth0, "sub": "u", "aud": "other", "exp": exp}}),
    )
    .await;
    assert_eq!(
        code(authenticate(&server, &token).await),
        "AudienceMismatch"
    );
    // The embedded issuer is not trusted here, and tenants are only what the config names.
    let token = mint(&server, json!({"claims": {"iss": format!("{}/tenants/clerk", server.origin), "sub": "u", "aud": "convex", "exp": exp}})).await;
    assert_eq!(code(authenticate(&server, &token).await), "NoAuthProvider");
}

#[tokio::test]
async fn workos_authenticate_spends_rotating_refresh_tokens_and_mints_authkit_shaped_tokens() {
    // Convex's AuthKit entry: customJwt, the real issuer string, no applicationID; only the JWKS
    // URL points at this server.
    let config = auth_config(json!({"providers": [
        {"type": "customJwt", "issuer": "https://api.workos.com/user_management/client_01TEST",
         "algorithm": "EdDSA", "jwks": "{origin}/tenants/workos/.well-known/jwks.json"},
    ]}));
    let server = Server::start(&[
        "--auth-config",
        config.to_str().unwrap(),
        "--token-lifetime",
        "300",
    ]);
    let (_, signed_in) = server
        .post(
            "/auth/signin",
            json!({"subject": "user_01W", "name": "Ada"}),
        )
        .await;
    let first = signed_in["refresh_token"].as_str().unwrap().to_string();
    let authenticate = |refresh_token: String| {
        let server = &server;
        async move {
            server
                .post(
                    "/user_management/authenticate",
                    json!({"client_id": "client_01TEST", "grant_type": "refresh_token", "refresh_token": refresh_token}),
                )
                .await
        }
    };
    let (status, answer) = authenticate(first.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["user"]["id"], "user_01W");
    assert_eq!(answer["user"]["first_name"], "Ada");
    assert_eq!(answer["authentication_method"], "Password");
    let token = answer["access_token"].as_str().unwrap();
    let (header, claims) = parts(token);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(
        claims["iss"],
        "https://api.workos.com/user_management/client_01TEST"
    );
    assert_eq!(claims["sub"], "user_01W");
    assert!(
        claims.get("aud").is_none(),
        "AuthKit access tokens carry no aud"
    );
    assert!(claims["sid"].as_str().unwrap().starts_with("session_"));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    assert_eq!(
        authenticate_viewer(&server, token).await["subject"],
        "user_01W"
    );

    // Rotation: the next refresh token works once; the spent one revokes the family.
    let second = answer["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(authenticate(second.clone()).await.0, 200);
    let (status, reuse) = authenticate(first).await;
    assert_eq!(
        (status, reuse["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(authenticate(second).await.0, 400, "the family is revoked");
    let (status, _) = server
        .post(
            "/user_management/authenticate",
            json!({"grant_type": "refresh_token", "refresh_token": "x"}),
        )
        .await;
    assert_eq!(status, 400, "client_id is required");
    let stats = server.stats().await;
    assert_eq!(
        (
            stats["refreshes"].as_u64(),
            stats["reuseDetections"].as_u64()
        ),
        (Some(2), Some(1))
    );
}

async fn authenticate_viewer(server: &Server, token: &str) -> Value {
    authenticate(server, token).await.expect("accepted")
}
