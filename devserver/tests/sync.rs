//! The devserver binary driven over a real websocket (tokio-tungstenite) and HTTP (reqwest).
mod common;

use std::time::{Duration, Instant};

use common::{auth_config, now, serve_jwks, ts, Server, TestKey};
use serde_json::{json, Value};

fn add(query_id: u64, udf_path: &str) -> Value {
    json!({"type": "Add", "queryId": query_id, "udfPath": udf_path, "args": [{}]})
}

fn query_set(base: u64, modifications: Vec<Value>) -> Value {
    json!({"type": "ModifyQuerySet", "baseVersion": base, "newVersion": base + 1, "modifications": modifications})
}

/// Asserts the Transition starts where the previous one ended and returns its endVersion.
fn chain(transition: &Value, previous: &Value) -> Value {
    assert_eq!(transition["type"], "Transition", "{transition}");
    assert_eq!(
        transition["startVersion"], *previous,
        "startVersion must equal the client's version"
    );
    transition["endVersion"].clone()
}

fn version(query_set: u64, identity: u64, ts: &str) -> Value {
    json!({"querySet": query_set, "identity": identity, "ts": ts})
}

#[tokio::test]
async fn prints_its_address_and_serves_discovery_jwks_and_stats() {
    let server = Server::start(&[]);
    assert!(
        server.origin.starts_with("http://127.0.0.1:"),
        "{}",
        server.origin
    );
    let (status, discovery) = server.get("/.well-known/openid-configuration").await;
    assert_eq!(status, 200);
    let discovery: Value = serde_json::from_str(&discovery).unwrap();
    assert_eq!(discovery["issuer"], server.origin);
    let jwks: Value = serde_json::from_str(&server.get("/.well-known/jwks.json").await.1).unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    let stats = server.stats().await;
    for counter in [
        "tokenRequests",
        "refreshes",
        "reuseDetections",
        "authRejections",
        "authAccepted",
        "expiredSessionErrors",
    ] {
        assert_eq!(stats[counter], 0, "{counter} in {stats}");
    }
}

#[tokio::test]
async fn connect_authenticate_then_queries_follow_the_protocol_order() {
    let server = Server::start(&[]);
    let token = server.token().await;
    let mut ws = server.ws().await;
    // What convex 1.48 sends on connect: Authenticate (base 0) before the first ModifyQuerySet.
    ws.authenticate(0, &token).await;
    ws.send(query_set(
        0,
        vec![add(0, "users:viewer"), add(1, "messages:list")],
    ))
    .await;

    let accepted = ws.expect("Transition").await;
    let zero = base64_ts(0);
    let after_auth = chain(&accepted, &version(0, 0, &zero));
    assert_eq!(after_auth["identity"], 1);
    assert_eq!(after_auth["querySet"], 0);
    assert!(
        accepted["clientClockSkew"].is_number(),
        "skew for clients reusing a cached token: {accepted}"
    );

    let queries = ws.expect("Transition").await;
    let after_queries = chain(&queries, &after_auth);
    assert_eq!(after_queries["querySet"], 1);
    let modifications = queries["modifications"].as_array().unwrap();
    assert_eq!(modifications.len(), 2);
    assert_eq!(modifications[0]["type"], "QueryUpdated");
    assert_eq!(modifications[0]["value"]["subject"], "user_a");
    assert_eq!(modifications[1]["value"]["viewer"], "user_a");

    ws.send(json!({"type": "ModifyQuerySet", "baseVersion": 1, "newVersion": 2, "modifications": [{"type": "Remove", "queryId": 0}]})).await;
    let removed = ws.expect("Transition").await;
    chain(&removed, &after_queries);
    assert_eq!(
        removed["modifications"],
        json!([{"type": "QueryRemoved", "queryId": 0}])
    );
    assert_eq!(server.stats().await["authAccepted"], 1);
}

fn base64_ts(value: u64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(value.to_le_bytes())
}

#[tokio::test]
async fn queries_are_re_evaluated_when_auth_changes() {
    let server = Server::start(&[]);
    let mut ws = server.ws().await;
    ws.send(query_set(
        0,
        vec![add(0, "users:viewer"), add(1, "messages:list")],
    ))
    .await;
    let signed_out = ws.expect("Transition").await;
    let mods = &signed_out["modifications"];
    assert_eq!(mods[0]["value"], Value::Null);
    assert_eq!(mods[1]["type"], "QueryFailed");
    assert!(
        mods[1]["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Unauthenticated"),
        "{mods}"
    );

    ws.authenticate(0, &server.token().await).await;
    let signed_in = ws.expect("Transition").await;
    let end = chain(&signed_in, &signed_out["endVersion"]);
    assert_eq!(end["identity"], 1);
    let mods = signed_in["modifications"].as_array().unwrap();
    assert_eq!(mods.len(), 2, "both queries pushed again: {signed_in}");
    assert_eq!(mods[0]["value"]["subject"], "user_a");
    assert_eq!(mods[1]["value"]["viewer"], "user_a");

    // Another user's token: identity-dependent results change again.
    let other = server
        .post("/auth/signin", json!({"subject": "user_b"}))
        .await
        .1["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    ws.authenticate(1, &other).await;
    let switched = ws.expect("Transition").await;
    let end = chain(&switched, &end);
    assert_eq!(switched["modifications"][1]["value"]["viewer"], "user_b");

    ws.send(json!({"type": "Authenticate", "baseVersion": 2, "tokenType": "None"}))
        .await;
    let cleared = ws.expect("Transition").await;
    assert_eq!(chain(&cleared, &end)["identity"], 3);
    assert_eq!(cleared["modifications"][0]["value"], Value::Null);
    assert_eq!(cleared["modifications"][1]["type"], "QueryFailed");
}

/// Opens a socket, sends the token, expects `AuthError{authUpdateAttempted:true, baseVersion:0}`
/// whose message starts with `code`, then the close.
async fn expect_rejected(server: &Server, token: &str, code: &str) {
    let mut ws = server.ws().await;
    ws.authenticate(0, token).await;
    let error = ws.expect("AuthError").await;
    assert_eq!(error["authUpdateAttempted"], true, "{error}");
    assert_eq!(error["baseVersion"], 0, "{error}");
    let message = error["error"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("{code}: ")),
        "expected {code}, got {message}"
    );
    assert!(
        !message.contains(token),
        "the error must not echo the token"
    );
    ws.expect_closed().await;
}

async fn expect_accepted(server: &Server, token: &str) {
    let mut ws = server.ws().await;
    ws.authenticate(0, token).await;
    let transition = ws.expect("Transition").await;
    assert_eq!(transition["endVersion"]["identity"], 1, "{transition}");
}

#[tokio::test]
async fn every_rejection_reason_is_distinguishable() {
    let es = TestKey::es256("es-1");
    let rs = TestKey::rs256("rs-1");
    let es_jwks = serve_jwks(vec![es.jwk.clone()]).await;
    let rs_jwks = serve_jwks(vec![rs.jwk.clone()]).await;
    let config = auth_config(json!({"providers": [
        {"type": "customJwt", "issuer": "https://es.example", "jwks": es_jwks, "algorithm": "ES256", "applicationID": "app-es"},
        {"type": "customJwt", "issuer": "https://rs.example", "jwks": rs_jwks, "algorithm": "RS256"},
    ]}));
    let server = Server::start(&["--auth-config", config.to_str().unwrap()]);
    let exp = now() + 300;
    let es_claims = |aud: Value| json!({"iss": "https://es.example", "sub": "es_user", "aud": aud, "iat": now(), "exp": exp});

    // Accepted: ES256 with aud string and with aud array containing the applicationID; RS256
    // without applicationID (no aud check); the embedded EdDSA issuer.
    expect_accepted(&server, &es.sign(es_claims(json!("app-es")))).await;
    expect_accepted(&server, &es.sign(es_claims(json!(["other", "app-es"])))).await;
    expect_accepted(
        &server,
        &rs.sign(
            json!({"iss": "https://rs.example", "sub": "rs_user", "aud": "anything", "exp": exp}),
        ),
    )
    .await;
    expect_accepted(&server, &server.token().await).await;

    expect_rejected(
        &server,
        &es.sign(json!({"iss": "https://nobody.example", "sub": "x", "aud": "app-es", "exp": exp})),
        "NoAuthProvider",
    )
    .await;
    expect_rejected(
        &server,
        &es.sign(es_claims(json!("wrong-app"))),
        "AudienceMismatch",
    )
    .await;
    expect_rejected(
        &server,
        &es.sign(es_claims(json!(["a", "b"]))),
        "AudienceMismatch",
    )
    .await;
    expect_rejected(
        &server,
        &server
            .sign(json!({"iss": server.iss(), "sub": "x", "aud": "other", "exp": exp}))
            .await,
        "AudienceMismatch",
    )
    .await;
    expect_rejected(&server, &es.sign(json!({"iss": "https://es.example", "sub": "x", "aud": "app-es", "iat": now() - 100, "exp": now() - 1})), "TokenExpired").await;
    let unknown_kid = TestKey::es256("not-published");
    expect_rejected(
        &server,
        &unknown_kid.sign(es_claims(json!("app-es"))),
        "UnknownKid",
    )
    .await;
    // Same kid, another key: the signature does not verify.
    let impostor = TestKey::es256("es-1");
    expect_rejected(
        &server,
        &impostor.sign(es_claims(json!("app-es"))),
        "InvalidSignature",
    )
    .await;
    // A valid token with its payload swapped for another: signature mismatch.
    let good = server.token().await;
    let forged = server
        .sign(json!({"iss": server.iss(), "sub": "admin", "aud": "convex", "exp": exp}))
        .await;
    let mut parts: Vec<&str> = good.split('.').collect();
    parts[1] = forged.split('.').nth(1).unwrap();
    expect_rejected(&server, &parts.join("."), "InvalidSignature").await;
    expect_rejected(
        &server,
        &rs.sign(json!({"iss": "https://es.example", "sub": "x", "aud": "app-es", "exp": exp})),
        "InvalidAlgorithm",
    )
    .await;
    expect_rejected(&server, "not-a-jwt", "MalformedToken").await;

    let stats = server.stats().await;
    assert_eq!(stats["authAccepted"], 4);
    assert_eq!(stats["authRejections"], 10);
    assert_eq!(
        stats["rejectionsByReason"],
        json!({"AudienceMismatch": 3, "InvalidAlgorithm": 1, "InvalidSignature": 2, "MalformedToken": 1,
               "NoAuthProvider": 1, "TokenExpired": 1, "UnknownKid": 1})
    );
    // Cached JWKS: one fetch per provider plus one per unknown kid.
    assert!(stats["jwksFetches"].as_u64().unwrap() <= 5, "{stats}");
}

#[tokio::test]
async fn a_mutation_answers_then_a_transition_reaches_its_ts_and_other_sessions_see_the_write() {
    let server = Server::start(&[]);
    let mut reader = server.ws().await;
    reader
        .authenticate(
            0,
            server
                .post("/auth/signin", json!({"subject": "user_b"}))
                .await
                .1["access_token"]
                .as_str()
                .unwrap(),
        )
        .await;
    reader
        .send(query_set(0, vec![add(7, "messages:list")]))
        .await;
    reader.expect("Transition").await;
    let initial = reader.expect("Transition").await;
    assert_eq!(initial["modifications"][0]["value"]["messages"], json!([]));

    let mut writer = server.ws().await;
    writer.send(json!({"type": "Mutation", "requestId": 0, "udfPath": "messages:send", "args": [{"body": "signed out"}]})).await;
    let refused = writer.expect("MutationResponse").await;
    assert_eq!(refused["success"], false);
    assert!(
        refused["result"]
            .as_str()
            .unwrap()
            .starts_with("Unauthenticated"),
        "{refused}"
    );

    writer.authenticate(0, &server.token().await).await;
    writer.expect("Transition").await;
    writer.send(json!({"type": "Mutation", "requestId": 1, "udfPath": "messages:send", "args": [{"body": "hello"}]})).await;
    let response = writer.expect("MutationResponse").await;
    assert_eq!(response["success"], true, "{response}");
    let write_ts = ts(&response["ts"]);
    let after = writer.expect("Transition").await;
    assert!(
        ts(&after["endVersion"]["ts"]) >= write_ts,
        "the promise resolves only once a Transition reaches ts"
    );

    let pushed = reader.expect("Transition").await;
    chain(&pushed, &initial["endVersion"]);
    assert_eq!(pushed["modifications"][0]["queryId"], 7);
    assert_eq!(
        pushed["modifications"][0]["value"]["messages"],
        json!([{"channel": "general", "author": "user_a", "body": "hello"}])
    );
    assert_eq!(pushed["modifications"][0]["value"]["viewer"], "user_b");

    writer
        .send(json!({"type": "Action", "requestId": 2, "udfPath": "users:whoami", "args": [{}]}))
        .await;
    let action = writer.expect("ActionResponse").await;
    assert_eq!(action["result"], "user_a");
}

#[tokio::test]
async fn an_expired_session_gets_an_auth_error_without_update_attempt_and_is_closed() {
    // 3 s: `iat` is whole seconds, so the token lives 2 to 3 s from here.
    let server = Server::start(&["--token-lifetime", "3"]);
    let mut ws = server.ws().await;
    ws.authenticate(0, &server.token().await).await;
    ws.expect("Transition").await;
    let started = Instant::now();
    let error = ws.expect("AuthError").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(error["authUpdateAttempted"], false, "{error}");
    assert_eq!(error["baseVersion"], 1);
    assert!(
        error["error"].as_str().unwrap().starts_with("TokenExpired"),
        "{error}"
    );
    ws.expect_closed().await;
    assert_eq!(server.stats().await["expiredSessionErrors"], 1);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let server = Server::start(&[]);
    let first = server.post("/auth/signin", json!({})).await.1;
    let rt1 = first["refresh_token"].as_str().unwrap();
    // Form-encoded, as OAuth clients send it.
    let form = |rt: &str| format!("grant_type=refresh_token&refresh_token={rt}");
    let (_, second) = server.post_form("/oauth/token", &form(rt1)).await;
    let rt2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2);
    assert_ne!(first["access_token"], second["access_token"]);
    expect_accepted(&server, second["access_token"].as_str().unwrap()).await;

    let (status, reuse) = server
        .post(
            "/oauth/token",
            json!({"grant_type": "refresh_token", "refresh_token": rt1}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        reuse["error_description"]
            .as_str()
            .unwrap()
            .contains("reuse"),
        "{reuse}"
    );
    let (status, _) = server
        .post(
            "/oauth/token",
            json!({"grant_type": "refresh_token", "refresh_token": rt2}),
        )
        .await;
    assert_eq!(status, 400, "the whole family is revoked");

    let stats = server.stats().await;
    assert_eq!(
        (
            stats["tokenRequests"].as_u64(),
            stats["refreshes"].as_u64(),
            stats["reuseDetections"].as_u64(),
            stats["refreshRejections"].as_u64()
        ),
        (Some(4), Some(1), Some(1), Some(1))
    );
}

#[tokio::test]
async fn fault_switches_delay_fail_garbage_and_skew_the_issuer() {
    let server = Server::start(&[]);
    let (status, faults) = server
        .post("/debug/faults", json!({"tokenFail": true}))
        .await;
    assert_eq!((status, faults["tokenFail"].as_bool()), (200, Some(true)));
    assert_eq!(server.post("/auth/signin", json!({})).await.0, 503);
    server
        .post(
            "/debug/faults",
            json!({"tokenFail": false, "tokenGarbage": true}),
        )
        .await;
    let (status, body) = server.post("/auth/signin", json!({})).await;
    assert_eq!(status, 200);
    assert!(body.is_string(), "not JSON: {body}");
    server
        .post(
            "/debug/faults",
            json!({"tokenGarbage": false, "tokenDelayMs": 400}),
        )
        .await;
    let started = Instant::now();
    assert_eq!(server.post("/auth/signin", json!({})).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
    // An issuer clock an hour behind mints tokens that are already expired.
    server
        .post(
            "/debug/faults",
            json!({"tokenDelayMs": 0, "clockSkewSeconds": -3600}),
        )
        .await;
    expect_rejected(&server, &server.token().await, "TokenExpired").await;
    assert_eq!(
        server.post("/debug/faults", json!({"bogus": 1})).await.0,
        400
    );
    let stats = server.stats().await;
    assert_eq!(
        (
            stats["tokenRequests"].as_u64(),
            stats["tokenFaults"].as_u64()
        ),
        (Some(4), Some(2))
    );
}

#[tokio::test]
async fn dropping_connections_and_rotating_keys() {
    let server = Server::start(&[]);
    let old_token = server.token().await;
    let mut ws = server.ws().await;
    ws.authenticate(0, &old_token).await;
    ws.expect("Transition").await;
    server.post("/debug/drop-connections", json!({})).await;
    assert_eq!(ws.close_code().await, None, "dropped without a close frame");

    let mut ws = server.ws().await;
    ws.authenticate(0, &old_token).await;
    ws.expect("Transition").await;
    let (_, rotated) = server.post("/debug/rotate-keys", json!({})).await;
    let new_kid = rotated["kid"].as_str().unwrap();
    // The session's token was signed by a key that left the JWKS.
    let error = ws.expect("AuthError").await;
    assert_eq!(error["authUpdateAttempted"], false, "{error}");
    assert!(
        error["error"].as_str().unwrap().starts_with("UnknownKid"),
        "{error}"
    );
    ws.expect_closed().await;
    expect_rejected(&server, &old_token, "UnknownKid").await;
    let new_token = server.token().await;
    assert!(String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            new_token.split('.').next().unwrap()
        )
        .unwrap()
    )
    .unwrap()
    .contains(new_kid));
    expect_accepted(&server, &new_token).await;
}

#[tokio::test]
async fn pings_and_a_wrong_query_set_base_version_is_fatal() {
    let server = Server::start(&["--ping-interval-ms", "200"]);
    let mut ws = server.ws().await;
    assert_eq!(ws.next_raw().await.unwrap()["type"], "Ping");
    ws.send(
        json!({"type": "ModifyQuerySet", "baseVersion": 5, "newVersion": 6, "modifications": []}),
    )
    .await;
    let fatal = ws.expect("FatalError").await;
    assert!(
        fatal["error"].as_str().unwrap().contains("baseVersion"),
        "{fatal}"
    );
    ws.expect_closed().await;
}

#[tokio::test]
async fn shuts_down_gracefully_on_sigterm() {
    let mut server = Server::start(&[]);
    let mut ws = server.ws().await;
    ws.send(query_set(0, vec![])).await;
    ws.expect("Transition").await;
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert_eq!(ws.close_code().await, Some(1001));
    let started = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let run = |args: &[&str]| {
        let output = std::process::Command::new(common::BIN)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        String::from_utf8(output.stderr).unwrap()
    };
    assert!(run(&["--auth-config", "/nonexistent.json"]).contains("/nonexistent.json"));
    let bad = auth_config(
        json!({"providers": [{"type": "customJwt", "issuer": "i", "jwks": "http://j", "algorithm": "HS256"}]}),
    );
    assert!(run(&["--auth-config", bad.to_str().unwrap()]).contains("HS256"));
    assert!(run(&["--no-embedded-issuer"]).contains("no auth providers"));
    assert!(run(&["--port", "nope"]).contains("--port"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    assert!(run(&["--port", &port]).contains("cannot listen"));
}
