//! `POST /debug/verify` runs the sync sessions' verifier on one token, with Convex's rules:
//! customJwt issuers match exactly (OIDC domains ignore a trailing slash); customJwt tokens need a
//! `kid` (OIDC ones may use a JWKS's only key); OIDC refuses extra audiences and algorithms other
//! than RS256 and EdDSA.

mod common;

use common::{auth_config, now, Server};
use serde_json::{json, Value};

async fn verify(server: &Server, header: Value, claims: Value) -> Value {
    let (status, minted) = server
        .post("/debug/mint", json!({ "header": header, "claims": claims }))
        .await;
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
    assert_eq!(
        (exact["accepted"].clone(), exact["reason"].clone()),
        (json!(false), json!("NoAuthProvider")),
        "{exact}"
    );

    // The embedded issuer (an OIDC entry) still ignores a trailing slash on iss.
    let embedded = verify(&server, json!({}), live(&format!("{}/", server.origin))).await;
    assert_eq!(embedded["accepted"], json!(true), "{embedded}");

    // customJwt tokens must name their key; an OIDC one may use the JWKS's only key…
    let no_kid = verify(&server, json!({"kid": null}), live("https://jwt.example/")).await;
    assert_eq!(no_kid["reason"], json!("UnknownKid"), "{no_kid}");
    let oidc_no_kid = verify(&server, json!({"kid": null}), live(&server.origin)).await;
    assert_eq!(oidc_no_kid["accepted"], json!(true), "{oidc_no_kid}");
    // …until a rotation publishes two.
    server
        .post("/debug/rotate-keys", json!({"keepOld": true}))
        .await;
    let two_keys = verify(&server, json!({"kid": null}), live(&server.origin)).await;
    assert_eq!(two_keys["reason"], json!("UnknownKid"), "{two_keys}");

    // OIDC refuses audiences beside the applicationID, and algorithms other than RS256/EdDSA.
    let mut extra = live(&server.origin);
    extra["aud"] = json!(["convex", "https://api.example"]);
    let extra = verify(&server, json!({}), extra).await;
    assert_eq!(extra["reason"], json!("AudienceMismatch"), "{extra}");
    let es256 = verify(&server, json!({"alg": "ES256"}), live(&server.origin)).await;
    assert_eq!(es256["reason"], json!("InvalidAlgorithm"), "{es256}");

    let (_, garbage) = server
        .post("/debug/verify", Value::String("not-a-jwt".into()))
        .await;
    assert_eq!(garbage["reason"], json!("MalformedToken"), "{garbage}");
}
