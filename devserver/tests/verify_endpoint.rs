//! `POST /debug/verify` runs the sync sessions' verifier on one token: customJwt issuers match
//! exactly (OIDC domains ignore a trailing slash), and a token without `kid` is refused even when
//! the JWKS holds a single key (as Convex does).

mod common;

use common::{auth_config, now, Server};
use serde_json::{json, Value};

async fn verify(server: &Server, header: Value, claims: Value) -> Value {
    let (status, minted) = server.post("/debug/mint", json!({ "header": header, "claims": claims })).await;
    assert_eq!(status, 200, "{minted}");
    let token = minted["token"].as_str().unwrap().to_string();
    let (status, verdict) = server.post("/debug/verify", Value::String(token)).await;
    assert_eq!(status, 200, "{verdict}");
    verdict
}

#[tokio::test]
async fn verify_reports_the_verifiers_verdict() {
    let config = auth_config(json!({"providers": [
        {"type": "customJwt", "issuer": "https://jwt.example/", "jwks": "{origin}/.well-known/jwks.json", "algorithm": "EdDSA"},
    ]}));
    let server = Server::start(&["--auth-config", config.to_str().unwrap()]);
    let live = |iss: &str| json!({"iss": iss, "sub": "user_1", "aud": "convex", "iat": now(), "exp": now() + 60});

    let accepted = verify(&server, json!({}), live("https://jwt.example/")).await;
    assert_eq!(accepted["accepted"], json!(true), "{accepted}");
    assert_eq!(accepted["subject"], json!("user_1"));

    let exact = verify(&server, json!({}), live("https://jwt.example")).await;
    assert_eq!((exact["accepted"].clone(), exact["reason"].clone()), (json!(false), json!("NoAuthProvider")), "{exact}");

    // The embedded issuer (an OIDC entry) still ignores a trailing slash on iss.
    let embedded = verify(&server, json!({}), live(&format!("{}/", server.origin))).await;
    assert_eq!(embedded["accepted"], json!(true), "{embedded}");

    let no_kid = verify(&server, json!({"kid": null}), live("https://jwt.example/")).await;
    assert_eq!(no_kid["reason"], json!("UnknownKid"), "{no_kid}");

    let (_, garbage) = server.post("/debug/verify", Value::String("not-a-jwt".into())).await;
    assert_eq!(garbage["reason"], json!("MalformedToken"), "{garbage}");
}
