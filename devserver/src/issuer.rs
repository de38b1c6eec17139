//! The embedded dev issuer: an Ed25519 (EdDSA) signing key with OIDC discovery and JWKS, a sign-in
//! endpoint that needs no account, and a token endpoint with rotating refresh tokens. A refresh
//! token presented a second time revokes its whole family (reuse detection, no grace window).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    /// The same key for `mint`, which writes its own header.
    pair: Ed25519KeyPair,
    public: Vec<u8>,
}

struct Family {
    subject: String,
    name: String,
}

#[derive(Default)]
struct Ledger {
    /// refresh token → (family id, already used)
    refresh_tokens: HashMap<String, (u64, bool)>,
    families: HashMap<u64, Family>,
    revoked: HashSet<u64>,
    next_family: u64,
}

pub struct Issuer {
    origin: String,
    rng: SystemRandom,
    /// Published in the JWKS; the first signs.
    keys: Mutex<Vec<SigningKey>>,
    ledger: Mutex<Ledger>,
    serial: Mutex<u64>,
}

/// A spent refresh token's session and its replacement (see `Issuer::redeem`).
pub struct Redeemed {
    pub family: u64,
    pub subject: String,
    pub name: String,
    pub refresh_token: String,
}

/// Why a refresh_token grant failed.
pub enum RefreshError {
    Reuse,
    Unknown,
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn redact(token: &str) -> String {
    let tail: String = token
        .chars()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

impl Issuer {
    pub fn new(origin: String) -> Issuer {
        let issuer = Issuer {
            origin,
            rng: SystemRandom::new(),
            keys: Mutex::new(Vec::new()),
            ledger: Mutex::new(Ledger::default()),
            serial: Mutex::new(0),
        };
        issuer.rotate(false);
        issuer
    }

    fn random(&self, bytes: usize) -> String {
        let mut buffer = vec![0u8; bytes];
        self.rng.fill(&mut buffer).expect("system randomness");
        URL_SAFE_NO_PAD.encode(buffer)
    }

    /// A new signing key with a new `kid`; the old ones leave the JWKS unless `keep_old`.
    pub fn rotate(&self, keep_old: bool) -> String {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&self.rng).expect("ed25519 keygen");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("fresh ed25519 key");
        let kid = format!("dev-{}", self.random(6));
        let key = SigningKey {
            kid: kid.clone(),
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            public: pair.public_key().as_ref().to_vec(),
            pair,
        };
        let mut keys = self.keys.lock().unwrap();
        if !keep_old {
            keys.clear();
        }
        keys.insert(0, key);
        kid
    }

    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.origin,
            "jwks_uri": format!("{}/.well-known/jwks.json", self.origin),
            "token_endpoint": format!("{}/oauth/token", self.origin),
            "grant_types_supported": ["refresh_token"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
        })
    }

    pub fn jwks(&self) -> Value {
        let keys = self.keys.lock().unwrap();
        let keys: Vec<Value> = keys
            .iter()
            .map(|key| {
                json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": key.kid,
                       "x": URL_SAFE_NO_PAD.encode(&key.public)})
            })
            .collect();
        json!({ "keys": keys })
    }

    /// Signs arbitrary claims with the current key (tests use it for crafted tokens).
    pub fn sign(&self, claims: &Value) -> String {
        let keys = self.keys.lock().unwrap();
        let key = &keys[0];
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).expect("sign with ed25519")
    }

    /// Discovery for a tenant issuer `{origin}/tenants/{name}` (with `trailing_slash`, the issuer
    /// ends in `/`, as Auth0's does): one devserver stands in for many identity providers' `iss`.
    /// The keys are the embedded issuer's.
    pub fn tenant_discovery(&self, name: &str, trailing_slash: bool) -> Value {
        let slash = if trailing_slash { "/" } else { "" };
        json!({
            "issuer": format!("{}/tenants/{name}{slash}", self.origin),
            "jwks_uri": format!("{}/tenants/{name}/.well-known/jwks.json", self.origin),
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
        })
    }

    /// Signs `claims` verbatim with the current key. The header is `{"alg":"EdDSA","typ":"JWT",
    /// "kid":<current kid>}` with each field of `header` overriding it (`null` removes the field);
    /// the signature is always Ed25519, whatever `alg` says.
    pub fn mint(&self, claims: &Value, header: Option<&serde_json::Map<String, Value>>) -> String {
        let keys = self.keys.lock().unwrap();
        let key = &keys[0];
        let mut fields = serde_json::Map::new();
        fields.insert("alg".into(), "EdDSA".into());
        fields.insert("typ".into(), "JWT".into());
        fields.insert("kid".into(), key.kid.clone().into());
        for (name, value) in header.into_iter().flatten() {
            match value {
                Value::Null => fields.remove(name),
                value => fields.insert(name.clone(), value.clone()),
            };
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(Value::Object(fields).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = key.pair.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// A token id unique in this server's life: a serial and some randomness.
    pub fn jti(&self) -> String {
        let serial = {
            let mut serial = self.serial.lock().unwrap();
            *serial += 1;
            *serial
        };
        format!("{serial}-{}", self.random(4))
    }

    fn access_token(&self, family: &Family, lifetime: u64, skew: i64) -> String {
        let iat = now_secs() + skew;
        self.sign(&json!({
            "iss": self.origin, "sub": family.subject, "aud": "convex", "name": family.name,
            "iat": iat, "exp": iat + lifetime as i64, "jti": self.jti(),
        }))
    }

    fn new_refresh_token(&self, ledger: &mut Ledger, family: u64) -> String {
        let refresh_token = format!("rt_{}", self.random(24));
        ledger
            .refresh_tokens
            .insert(refresh_token.clone(), (family, false));
        refresh_token
    }

    fn pair(&self, ledger: &mut Ledger, family: u64, lifetime: u64, skew: i64) -> Value {
        let refresh_token = self.new_refresh_token(ledger, family);
        let access_token = self.access_token(&ledger.families[&family], lifetime, skew);
        json!({ "access_token": access_token, "token_type": "Bearer", "expires_in": lifetime,
                "refresh_token": refresh_token })
    }

    /// A new session (refresh-token family) for `subject`.
    pub fn sign_in(&self, subject: &str, name: &str, lifetime: u64, skew: i64) -> Value {
        let mut ledger = self.ledger.lock().unwrap();
        ledger.next_family += 1;
        let family = ledger.next_family;
        ledger.families.insert(
            family,
            Family {
                subject: subject.into(),
                name: name.into(),
            },
        );
        self.pair(&mut ledger, family, lifetime, skew)
    }

    /// Spends `presented` (rotation with reuse detection) and returns its session with the
    /// replacement refresh token, minting no access token: for endpoints that shape their own.
    pub fn redeem(&self, presented: &str) -> Result<Redeemed, RefreshError> {
        let mut ledger = self.ledger.lock().unwrap();
        let family = Self::spend(&mut ledger, presented)?;
        let refresh_token = self.new_refresh_token(&mut ledger, family);
        let session = &ledger.families[&family];
        Ok(Redeemed {
            family,
            subject: session.subject.clone(),
            name: session.name.clone(),
            refresh_token,
        })
    }

    fn spend(ledger: &mut Ledger, presented: &str) -> Result<u64, RefreshError> {
        let Some(&(family, used)) = ledger.refresh_tokens.get(presented) else {
            return Err(RefreshError::Unknown);
        };
        if ledger.revoked.contains(&family) {
            return Err(RefreshError::Unknown);
        }
        if used {
            ledger.revoked.insert(family);
            return Err(RefreshError::Reuse);
        }
        ledger
            .refresh_tokens
            .insert(presented.to_string(), (family, true));
        Ok(family)
    }

    /// The refresh_token grant: a new access token and a new refresh token; the presented one is spent.
    pub fn refresh(
        &self,
        presented: &str,
        lifetime: u64,
        skew: i64,
    ) -> Result<Value, RefreshError> {
        let mut ledger = self.ledger.lock().unwrap();
        let family = Self::spend(&mut ledger, presented)?;
        Ok(self.pair(&mut ledger, family, lifetime, skew))
    }
}
