//! Token verification the way Convex's `auth.config` does it: find the provider whose issuer is the
//! token's `iss`, check `aud` against its `applicationID` (a string or an array containing it), find
//! the key by `kid` in the provider's JWKS (discovered through `/.well-known/openid-configuration`
//! for OIDC entries), check the signature (RS256, ES256, EdDSA) and `exp`. The JWKS is cached per
//! provider and fetched again when a token names an unknown `kid`.
//!
//! Every rejection is a `Rejection` whose message starts with a stable code, e.g.
//! `UnknownKid: …`: that string is what the client receives in `AuthError.error`.

use std::collections::HashMap;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::config::Provider;
use crate::issuer::now_secs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    MalformedToken,
    NoAuthProvider,
    AudienceMismatch,
    InvalidAlgorithm,
    UnknownKid,
    InvalidSignature,
    TokenExpired,
    JwksUnavailable,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::MalformedToken => "MalformedToken",
            Reason::NoAuthProvider => "NoAuthProvider",
            Reason::AudienceMismatch => "AudienceMismatch",
            Reason::InvalidAlgorithm => "InvalidAlgorithm",
            Reason::UnknownKid => "UnknownKid",
            Reason::InvalidSignature => "InvalidSignature",
            Reason::TokenExpired => "TokenExpired",
            Reason::JwksUnavailable => "JwksUnavailable",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rejection {
    pub reason: Reason,
    pub detail: String,
}

impl Rejection {
    fn new(reason: Reason, detail: impl Into<String>) -> Rejection {
        Rejection {
            reason,
            detail: detail.into(),
        }
    }
    /// `"<Code>: <detail>"`, the `AuthError.error` text.
    pub fn message(&self) -> String {
        format!("{}: {}", self.reason.code(), self.detail)
    }
}

#[derive(Debug, Clone)]
pub struct Identity {
    pub subject: String,
    pub issuer: String,
    pub expires_at: Option<i64>,
    pub claims: Value,
    /// Kept so the session can be re-verified after a key rotation; never logged.
    pub token: String,
}

struct CachedKeys {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    /// Keys published without a `kid` (an OIDC token without one may use the JWKS's only key).
    anonymous: Vec<(DecodingKey, Algorithm)>,
}

struct ProviderState {
    provider: Provider,
    cache: Mutex<Option<CachedKeys>>,
}

pub struct Verifier {
    providers: Vec<ProviderState>,
    http: reqwest::Client,
    on_fetch: Box<dyn Fn() + Send + Sync>,
}

fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        _ => None,
    }
}

/// OIDC domains match `iss` with a trailing slash ignored (Auth0's `iss` ends with one); customJwt
/// issuers must match exactly, as their docs say.
fn issuer_matches(provider: &Provider, iss: &str) -> bool {
    match provider {
        Provider::Oidc { .. } => provider.issuer() == iss.trim_end_matches('/'),
        Provider::Custom { issuer, .. } => issuer == iss,
    }
}

/// `aud` (a string or an array) holds `wanted`. OIDC ID-token verification also refuses other
/// audiences beside it (untrusted audiences, as openidconnect's verifier does for Convex).
fn audience_matches(provider: &Provider, aud: Option<&Value>, wanted: &str) -> bool {
    match aud {
        Some(Value::String(aud)) => aud == wanted,
        Some(Value::Array(auds)) => match provider {
            Provider::Oidc { .. } => {
                !auds.is_empty() && auds.iter().all(|aud| aud.as_str() == Some(wanted))
            }
            Provider::Custom { .. } => auds.iter().any(|aud| aud.as_str() == Some(wanted)),
        },
        _ => false,
    }
}

impl Verifier {
    pub fn new(providers: Vec<Provider>, on_fetch: Box<dyn Fn() + Send + Sync>) -> Verifier {
        Verifier {
            providers: providers
                .into_iter()
                .map(|provider| ProviderState {
                    provider,
                    cache: Mutex::new(None),
                })
                .collect(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("http client"),
            on_fetch,
        }
    }

    pub fn providers(&self) -> impl Iterator<Item = &Provider> {
        self.providers.iter().map(|state| &state.provider)
    }

    /// Forgets every cached JWKS (the next verification fetches again).
    pub async fn forget_keys(&self) {
        for state in &self.providers {
            *state.cache.lock().await = None;
        }
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        serde_json::from_slice(&body).map_err(|error| format!("GET {url}: not JSON ({error})"))
    }

    async fn fetch_keys(&self, provider: &Provider) -> Result<CachedKeys, String> {
        (self.on_fetch)();
        let jwks_url = match provider {
            Provider::Custom { jwks, .. } => jwks.clone(),
            Provider::Oidc { domain, .. } => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    domain.trim_end_matches('/')
                );
                let discovery = self.get_json(&url).await?;
                discovery["jwks_uri"]
                    .as_str()
                    .ok_or_else(|| format!("{url} has no jwks_uri"))?
                    .to_string()
            }
        };
        let jwks = self.get_json(&jwks_url).await?;
        let entries = jwks["keys"]
            .as_array()
            .ok_or_else(|| format!("{jwks_url} has no \"keys\" array"))?;
        let mut cached = CachedKeys {
            keys: HashMap::new(),
            anonymous: Vec::new(),
        };
        for entry in entries {
            // Skip what cannot verify signatures (encryption keys, unknown key types).
            if entry
                .get("use")
                .and_then(Value::as_str)
                .is_some_and(|usage| usage != "sig")
            {
                continue;
            }
            let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
                continue;
            };
            let (Some(algorithm), Ok(key)) = (key_algorithm(&jwk), DecodingKey::from_jwk(&jwk))
            else {
                continue;
            };
            match &jwk.common.key_id {
                Some(kid) => {
                    cached.keys.insert(kid.clone(), (key, algorithm));
                }
                None => cached.anonymous.push((key, algorithm)),
            }
        }
        Ok(cached)
    }

    /// The key for `kid`, from the cache or, when unknown, from a fresh JWKS fetch.
    async fn key_for(
        &self,
        state: &ProviderState,
        kid: Option<&str>,
    ) -> Result<(DecodingKey, Algorithm), Rejection> {
        let mut cache = state.cache.lock().await;
        let lookup = |cached: &CachedKeys| match kid {
            Some(kid) => cached.keys.get(kid).cloned(),
            // No kid: only a JWKS with a single key says which key that is.
            None if cached.anonymous.len() + cached.keys.len() == 1 => cached
                .anonymous
                .first()
                .or_else(|| cached.keys.values().next())
                .cloned(),
            None => None,
        };
        if let Some(found) = cache.as_ref().and_then(lookup) {
            return Ok(found);
        }
        let fresh = self.fetch_keys(&state.provider).await.map_err(|error| {
            Rejection::new(
                Reason::JwksUnavailable,
                format!(
                    "could not load the JWKS of {}: {error}",
                    state.provider.issuer()
                ),
            )
        })?;
        let found = lookup(&fresh);
        *cache = Some(fresh);
        found.ok_or_else(|| {
            Rejection::new(
                Reason::UnknownKid,
                match kid {
                    Some(kid) => format!(
                        "no key with kid {kid:?} in the JWKS of issuer {}",
                        state.provider.issuer()
                    ),
                    None => format!(
                        "the token names no kid and the JWKS of issuer {} holds more than one key",
                        state.provider.issuer()
                    ),
                },
            )
        })
    }

    pub async fn verify(&self, token: &str) -> Result<Identity, Rejection> {
        let malformed = |detail: &str| Rejection::new(Reason::MalformedToken, detail.to_string());
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| malformed("not a JWT (header)"))?;
        let payload = token
            .split('.')
            .nth(1)
            .ok_or_else(|| malformed("not a JWT (no payload)"))?;
        let claims: Value = URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| malformed("payload is not base64url JSON"))?;
        let token_issuer = claims["iss"].as_str().unwrap_or("");
        let issuer = token_issuer.trim_end_matches('/').to_string();
        let aud = claims.get("aud");

        let by_issuer: Vec<&ProviderState> = self
            .providers
            .iter()
            .filter(|state| issuer_matches(&state.provider, token_issuer))
            .collect();
        if by_issuer.is_empty() {
            return Err(Rejection::new(
                Reason::NoAuthProvider,
                format!("no auth provider matches issuer {issuer:?}"),
            ));
        }
        let state = by_issuer
            .iter()
            .find(|state| {
                state
                    .provider
                    .application_id()
                    .is_none_or(|id| audience_matches(&state.provider, aud, id))
            })
            .ok_or_else(|| {
                let wanted: Vec<&str> = by_issuer
                    .iter()
                    .filter_map(|state| state.provider.application_id())
                    .collect();
                Rejection::new(
                    Reason::AudienceMismatch,
                    format!(
                        "aud {} is not applicationID {wanted:?} of issuer {issuer:?} (OIDC: nor may it hold other audiences)",
                        aud.unwrap_or(&Value::Null)
                    ),
                )
            })?;

        if let Provider::Custom { algorithm, .. } = &state.provider {
            if header.alg != *algorithm {
                return Err(Rejection::new(
                    Reason::InvalidAlgorithm,
                    format!(
                        "alg {:?} but the provider expects {algorithm:?}",
                        header.alg
                    ),
                ));
            }
        } else if !matches!(header.alg, Algorithm::RS256 | Algorithm::EdDSA) {
            // Convex verifies OIDC ID tokens signed with RS256 or EdDSA.
            return Err(Rejection::new(
                Reason::InvalidAlgorithm,
                format!("alg {:?} is not RS256 or EdDSA", header.alg),
            ));
        }

        // Like Convex: customJwt tokens must name their key; OIDC ones may rely on a JWKS's only key.
        let kid = header.kid.as_deref().filter(|kid| !kid.is_empty());
        if kid.is_none() && matches!(state.provider, Provider::Custom { .. }) {
            return Err(Rejection::new(
                Reason::UnknownKid,
                "the token's header names no kid (customJwt providers require one)",
            ));
        }
        let (key, key_algorithm) = self.key_for(state, kid).await?;
        if key_algorithm != header.alg {
            return Err(Rejection::new(
                Reason::InvalidSignature,
                format!(
                    "alg {:?} does not fit the {key_algorithm:?} key",
                    header.alg
                ),
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|error| {
            Rejection::new(
                Reason::InvalidSignature,
                format!("signature check failed ({error})"),
            )
        })?;

        let expires_at = claims["exp"].as_i64();
        let now = now_secs();
        match expires_at {
            Some(exp) if exp <= now => {
                return Err(Rejection::new(
                    Reason::TokenExpired,
                    format!("exp {exp} is {}s before the server's time {now}", now - exp),
                ))
            }
            None => {
                return Err(Rejection::new(
                    Reason::MalformedToken,
                    "no numeric exp claim",
                ))
            }
            _ => {}
        }
        let subject = claims["sub"]
            .as_str()
            .ok_or_else(|| malformed("no sub claim"))?
            .to_string();
        Ok(Identity {
            subject,
            issuer,
            expires_at,
            claims,
            token: token.to_string(),
        })
    }
}
