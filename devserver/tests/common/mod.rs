//! Test harness: starts the real devserver binary on a free port, talks HTTP with reqwest and the
//! sync protocol with tokio-tungstenite, and serves a JWKS for customJwt providers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

pub const BIN: &str = env!("CARGO_BIN_EXE_devserver");

pub struct Server {
    pub child: Child,
    pub origin: String,
    http: reqwest::Client,
}

impl Server {
    /// Starts `devserver --port 0 --quiet <args>` and reads the bound address from stdout.
    pub fn start(args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["--port", "0", "--quiet"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn devserver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read address");
        let origin = line
            .trim()
            .strip_prefix("devserver listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server {
            child,
            origin,
            http: reqwest::Client::new(),
        }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.origin))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.answer(
            self.http
                .post(format!("{}{path}", self.origin))
                .body(body.to_string()),
        )
        .await
    }

    /// Posts an `application/x-www-form-urlencoded` body, as OAuth clients do.
    pub async fn post_form(&self, path: &str, body: &str) -> (u16, Value) {
        let request = self
            .http
            .post(format!("{}{path}", self.origin))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_string());
        self.answer(request).await
    }

    /// The status and the body as JSON (or as a JSON string when it is not JSON).
    async fn answer(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn stats(&self) -> Value {
        serde_json::from_str(&self.get("/debug/stats").await.1).unwrap()
    }

    /// A fresh access token from the embedded issuer (a new sign-in).
    pub async fn token(&self) -> String {
        self.post("/auth/signin", json!({"subject": "user_a"}))
            .await
            .1["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Claims signed with the embedded issuer's current key.
    pub async fn sign(&self, claims: Value) -> String {
        self.post("/debug/sign", claims).await.1["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn iss(&self) -> &str {
        &self.origin
    }

    pub async fn ws(&self) -> Ws {
        let url = format!(
            "{}/api/1.48.0/sync",
            self.origin.replace("http://", "ws://")
        );
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connect");
        let mut ws = Ws { stream };
        ws.send(json!({"type": "Connect", "sessionId": "00000000-0000-4000-8000-000000000000", "connectionCount": 0,
                       "lastCloseReason": "InitialConnect", "clientTs": now() as f64 * 1000.0}))
            .await;
        ws
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn ts(value: &Value) -> u64 {
    let bytes = STANDARD
        .decode(value.as_str().expect("ts string"))
        .expect("ts base64");
    u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
}

pub struct Ws {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Ws {
    pub async fn send(&mut self, message: Value) {
        self.stream
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("ws send");
    }

    pub async fn authenticate(&mut self, base_version: u64, token: &str) {
        self.send(json!({"type": "Authenticate", "baseVersion": base_version, "tokenType": "User", "value": token})).await;
    }

    /// The next server message other than Ping, or None when the socket closed.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            let message = self.next_raw().await?;
            if message["type"] != "Ping" {
                return Some(message);
            }
        }
    }

    /// The next JSON message including Pings; None when closed (or a close frame arrived).
    pub async fn next_raw(&mut self) -> Option<Value> {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("no server message within 10 s");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(text.as_str()).unwrap())
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn expect(&mut self, kind: &str) -> Value {
        let message = self
            .next()
            .await
            .unwrap_or_else(|| panic!("socket closed while waiting for {kind}"));
        assert_eq!(message["type"], kind, "{message}");
        message
    }

    pub async fn expect_closed(&mut self) {
        if let Some(message) = self.next().await {
            panic!("expected the socket to close, got {message}");
        }
    }

    /// The close code of the next close frame.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("no close within 10 s")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|frame| u16::from(frame.code)),
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }
}

/// A signing key for customJwt providers, with its public JWK.
pub struct TestKey {
    pub algorithm: Algorithm,
    pub kid: String,
    encoding: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    pub fn es256(kid: &str) -> TestKey {
        use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                         "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])});
        TestKey {
            algorithm: Algorithm::ES256,
            kid: kid.into(),
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk,
        }
    }

    /// A fixed 2048-bit RSA key (ring cannot generate RSA keys).
    pub fn rs256(kid: &str) -> TestKey {
        let der = STANDARD.decode(RSA_PKCS1_DER).unwrap();
        let jwk = json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": RSA_N, "e": "AQAB"});
        TestKey {
            algorithm: Algorithm::RS256,
            kid: kid.into(),
            encoding: EncodingKey::from_rsa_der(&der),
            jwk,
        }
    }

    pub fn sign(&self, claims: Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding).unwrap()
    }
}

/// Serves `{"keys": [...]}` on every request; returns its URL.
pub async fn serve_jwks(keys: Vec<Value>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let body = json!({ "keys": keys }).to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let response = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

/// Writes an auth config file into a fresh temp path.
pub fn auth_config(config: Value) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "devserver-test-{}-{}.json",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

const RSA_N: &str = "u3KRgdAnspjdResXCnH5TR688r01wpbcHDpup60u6YM8ya5MHfG5L9n2G3kq3qFODUK6I6VEkouOM5RZc3TO4-lzIVWfvP0kOv6cDGJ-oepi5pfnVvfoi2JJ32CMXzoL0Dp9bA8DS6DH5O2CeGWAln8hmnkempcvhd8Ay21uF_FVhBjWtze49rcRYKCgn8SK9CiZWjQ8a-ck9eSaJZEdftXeV3Bsn4N81p1QAwCpQkbFblP3wktUq9nZDS0EdctlNJNaGrPwQM2LZQAF-zdaCcau6mgP2L84jMc-ZgNwKfGlyk2glMzlSKz6xff0YaUAW_2puLDvFr48UPPfbkVlfw";
const RSA_PKCS1_DER: &str = "MIIEogIBAAKCAQEAu3KRgdAnspjdResXCnH5TR688r01wpbcHDpup60u6YM8ya5MHfG5L9n2G3kq3qFODUK6I6VEkouOM5RZc3TO4+lzIVWfvP0kOv6cDGJ+oepi5pfnVvfoi2JJ32CMXzoL0Dp9bA8DS6DH5O2CeGWAln8hmnkempcvhd8Ay21uF/FVhBjWtze49rcRYKCgn8SK9CiZWjQ8a+ck9eSaJZEdftXeV3Bsn4N81p1QAwCpQkbFblP3wktUq9nZDS0EdctlNJNaGrPwQM2LZQAF+zdaCcau6mgP2L84jMc+ZgNwKfGlyk2glMzlSKz6xff0YaUAW/2puLDvFr48UPPfbkVlfwIDAQABAoIBAERMtQ8XUPem8m1BAUa5i6yZiCBsZ/PMs0wH0H0BQegs/Q/BlhONGbyBT0boagHvxXhYeWl2lRtOhVRu9/71L1NlIyGgyND8beCfGC39D4Yg2MOL0uvh7dYnzKH7VHp4NIi9Xyjp+XnrjhpwnksPNQDhNtXJzyhl8Rd2z5vP9j77fJNxDjv6bML18o/BX3RYLCW/otkSE749bCPlLeSIxi54lhtDFuF6MoXTK491aP7AhcpF/AaYS/6SOqumxNJtfFtmRPvZEWmr6XjywdQxH7xXqZhwMbUnRuDTO3Up8TtOfMyxdvND3ONdFgZ1BMTbCNPlKTFRI8l5F1ZZFWFSAvUCgYEA8bkFY/b2zkgYl7CJg09+9rQ7kc757ICb61Mi5/eKhgM/h0G0NPqA5UHTa5AyLsfJiPNztecKQcn9KM0O0crjk+oD2py0Bx3p7VyFG2i9GN1HX7tDZ5HyXy2bi92qCvytCFoahauti17/9KRFFboZnHrTGKsjFMmXeqTOw6pAb10CgYEAxoTgdE96R44Rw2ZYP/31X7LeM7XHOW3ytRLPJEwRcaRkVsaP8g//8xMz3vwoZwTf3qPtXB7t4F0FpL5IYMN7/N8MeTFQvuqaYlOr1LgQaXTYe6gzhQz3+jEDLn6qEAxPlhZiyHDXLeGdRXkj0uPcLuTvRUfeuh4DwvLmq3xTxosCgYBwb3OGcBWVFgv6Yu9T2OJhtqwOwouV6qyb5WvTIl2YwGIIdBNyoSLbgKbq3YO6Jswjm7oy3mjy+RV8qQU/qHP7FVr9kO5ccRmiguqXOTzcF/FfIifUQRrQEtLLWCwEOEv0GpVDn/t1XJcKIG7SEGJhWvBeBRyoSqzfK1HRyZt3MQKBgAfPHk00+yhpbEV1dy89PDPBg4AhPG8D5jI9RSy2WVFRGClZsjvhaT4UmUvCO4yh4nSNmj6vcMgMoLY0TgCQcAYoeAMkb3qzG9OWWwIJI4wibomeujgXpIGRAAEKNoJfGZpb0xLzbWN+poMfGsum7vhhRRBCnX5Qw/EdQPmp8Fm1AoGAFxqym2E7FUcuXojGCW+vRRkCdpqwNT8goOWLmsoYzFgSmyE+bCz7SdduU3eeCWujC30rmZ/tsrnH475ftENyxeVolyNgsDzdnyHzOvtB88d8tgnBHh0UaQc8yYtmQPUAihY86IN33AjNP/zTQfFYDDEtKVnD/VOJLIeRrclMuyc=";
