//! Command line and auth config. Errors are plain sentences that name the flag or field at fault.

use std::path::PathBuf;

use jsonwebtoken::Algorithm;
use serde::Deserialize;

pub const USAGE: &str = "\
usage: devserver [options]
  --port N                  port on 127.0.0.1 (default 8080; 0 picks a free one)
  --auth-config FILE        JSON like Convex's auth.config: {\"providers\": [...]}; the text {origin}
                            stands for this server's http://127.0.0.1:PORT (known after binding)
  --no-embedded-issuer      do not trust the embedded dev issuer (default: trusted, aud \"convex\")
  --token-lifetime SECS     lifetime of the embedded issuer's access tokens (default 20)
  --serve PREFIX=DIR        serve DIR under PREFIX (repeatable; default /www=www and /pkg=pkg)
  --static-max-age SECS     let browsers cache served files this long (default: no-store, since the
                            files change under a running demo; the startup benchmark's repeat visit)
  --ping-interval-ms MS     server Ping period (default 15000, at most 60000)
  --quiet                   no request log on stderr
The bound address is printed on stdout as `devserver listening on http://127.0.0.1:PORT`.
Tenant issuers {origin}/tenants/NAME (discovery, the embedded keys; NAME/ discovers the issuer with a
trailing slash) stand in for other identity providers' iss. Dev only: GET /debug/stats, POST
/debug/{reset-stats,faults,drop-connections,rotate-keys,refresh-jwks,sign} and /debug/mint
{\"claims\": {...}, \"header\": {...}?} (claims signed verbatim; header fields override
alg EdDSA, typ JWT, kid current; null removes one). POST /user_management/authenticate answers a
refresh_token grant like WorkOS AuthKit (for @workos-inc/authkit-js).";

#[derive(Debug, Clone)]
pub struct Options {
    pub port: u16,
    pub auth_config: Option<PathBuf>,
    pub embedded_issuer: bool,
    pub token_lifetime_secs: u64,
    pub serve: Vec<(String, PathBuf)>,
    /// `Cache-Control: max-age` for served files; `None` is `no-store`.
    pub static_max_age_secs: Option<u64>,
    pub ping_interval_ms: u64,
    pub quiet: bool,
}

fn value(args: &mut impl Iterator<Item = String>, flag: &str) -> Result<String, String> {
    args.next().ok_or_else(|| format!("{flag} needs a value"))
}

fn number<T: std::str::FromStr>(text: &str, flag: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag}: {text:?} is not a valid number"))
}

impl Options {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            port: 8080,
            auth_config: None,
            embedded_issuer: true,
            token_lifetime_secs: 20,
            serve: Vec::new(),
            static_max_age_secs: None,
            ping_interval_ms: 15_000,
            quiet: false,
        };
        let mut serve_given = false;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--port" => options.port = number(&value(&mut args, "--port")?, "--port")?,
                "--auth-config" => {
                    options.auth_config = Some(value(&mut args, "--auth-config")?.into())
                }
                "--no-embedded-issuer" => options.embedded_issuer = false,
                "--token-lifetime" => {
                    options.token_lifetime_secs =
                        number(&value(&mut args, "--token-lifetime")?, "--token-lifetime")?;
                    if options.token_lifetime_secs == 0 {
                        return Err("--token-lifetime must be at least 1 second".into());
                    }
                }
                "--serve" => {
                    serve_given = true;
                    let spec = value(&mut args, "--serve")?;
                    let (prefix, dir) = spec.split_once('=').ok_or_else(|| {
                        format!("--serve {spec:?}: expected PREFIX=DIR, e.g. /www=www")
                    })?;
                    if !prefix.starts_with('/') {
                        return Err(format!("--serve {spec:?}: the prefix must start with '/'"));
                    }
                    // Route syntax ({name}, *) or the root would not mean a folder to the router.
                    let prefix = prefix.trim_end_matches('/');
                    let plain = prefix.len() > 1
                        && prefix[1..].split('/').all(|segment| {
                            !segment.is_empty()
                                && segment.bytes().all(|byte| {
                                    byte.is_ascii_alphanumeric() || b"-_.".contains(&byte)
                                })
                        });
                    if !plain {
                        return Err(format!(
                            "--serve {spec:?}: the prefix must name a folder like /www (letters, digits, - _ . between slashes)"
                        ));
                    }
                    if options.serve.iter().any(|(given, _)| given == prefix) {
                        return Err(format!("--serve {spec:?}: {prefix} is served twice"));
                    }
                    let dir = PathBuf::from(dir);
                    if !dir.is_dir() {
                        return Err(format!(
                            "--serve {spec:?}: {} is not a directory",
                            dir.display()
                        ));
                    }
                    options.serve.push((prefix.to_string(), dir));
                }
                "--static-max-age" => {
                    let flag = "--static-max-age";
                    options.static_max_age_secs = Some(number(&value(&mut args, flag)?, flag)?);
                }
                "--ping-interval-ms" => {
                    options.ping_interval_ms = number(
                        &value(&mut args, "--ping-interval-ms")?,
                        "--ping-interval-ms",
                    )?;
                    if !(1..=60_000).contains(&options.ping_interval_ms) {
                        return Err("--ping-interval-ms must be between 1 and 60000 (clients expect a Ping within 60 s)".into());
                    }
                }
                "--quiet" => options.quiet = true,
                "--help" | "-h" => return Err(USAGE.into()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        if !serve_given {
            for (prefix, dir) in [("/www", "www"), ("/pkg", "pkg")] {
                if PathBuf::from(dir).is_dir() {
                    options.serve.push((prefix.into(), dir.into()));
                }
            }
        }
        Ok(options)
    }
}

/// The auth config text with every `{origin}` replaced by the server's own `http://127.0.0.1:PORT`,
/// so a config can be written before `--port 0` picks the port.
pub fn with_origin(text: &str, origin: &str) -> String {
    text.replace("{origin}", origin)
}

/// One trusted issuer, as in Convex's `auth.config.ts`.
#[derive(Debug, Clone, PartialEq)]
pub enum Provider {
    /// OIDC: the token's `iss` must equal `domain`, its `aud` must contain `application_id`; keys come
    /// from the `jwks_uri` of `<domain>/.well-known/openid-configuration`.
    Oidc {
        domain: String,
        application_id: String,
    },
    /// `type: "customJwt"`: `iss` must equal `issuer`; keys from `jwks`; `aud` checked only when
    /// `application_id` is set; the header's `alg` must equal `algorithm`.
    Custom {
        issuer: String,
        jwks: String,
        algorithm: Algorithm,
        application_id: Option<String>,
    },
}

impl Provider {
    pub fn issuer(&self) -> &str {
        match self {
            Provider::Oidc { domain, .. } => domain.trim_end_matches('/'),
            Provider::Custom { issuer, .. } => issuer.trim_end_matches('/'),
        }
    }
    pub fn application_id(&self) -> Option<&str> {
        match self {
            Provider::Oidc { application_id, .. } => Some(application_id),
            Provider::Custom { application_id, .. } => application_id.as_deref(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    providers: Vec<RawProvider>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawProvider {
    #[serde(rename = "type")]
    kind: Option<String>,
    domain: Option<String>,
    #[serde(rename = "applicationID")]
    application_id: Option<String>,
    issuer: Option<String>,
    jwks: Option<String>,
    algorithm: Option<String>,
}

fn http_url(text: &str, what: &str) -> Result<String, String> {
    if text.starts_with("http://") || text.starts_with("https://") {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{what} {text:?} must be an http:// or https:// URL"
        ))
    }
}

/// Parses the providers list; `source` names the file in error messages.
pub fn parse_auth_config(text: &str, source: &str) -> Result<Vec<Provider>, String> {
    let raw: RawConfig =
        serde_json::from_str(text).map_err(|error| format!("{source}: {error}"))?;
    let mut providers = Vec::new();
    for (index, entry) in raw.providers.into_iter().enumerate() {
        let at = format!("{source}: providers[{index}]");
        let provider = match entry.kind.as_deref() {
            None => {
                if entry.issuer.is_some() || entry.jwks.is_some() || entry.algorithm.is_some() {
                    return Err(format!(
                        "{at}: issuer/jwks/algorithm belong to type \"customJwt\" entries"
                    ));
                }
                let domain = entry
                    .domain
                    .ok_or_else(|| format!("{at}: an OIDC entry needs \"domain\""))?;
                let application_id = entry
                    .application_id
                    .ok_or_else(|| format!("{at}: an OIDC entry needs \"applicationID\""))?;
                Provider::Oidc {
                    domain: http_url(&domain, &format!("{at}: domain"))?,
                    application_id,
                }
            }
            Some("customJwt") => {
                if entry.domain.is_some() {
                    return Err(format!(
                        "{at}: a customJwt entry has \"issuer\", not \"domain\""
                    ));
                }
                let issuer = entry
                    .issuer
                    .ok_or_else(|| format!("{at}: a customJwt entry needs \"issuer\""))?;
                let jwks = entry
                    .jwks
                    .ok_or_else(|| format!("{at}: a customJwt entry needs \"jwks\""))?;
                let algorithm = match entry.algorithm.as_deref() {
                    Some("RS256") => Algorithm::RS256,
                    Some("ES256") => Algorithm::ES256,
                    Some("EdDSA") => Algorithm::EdDSA,
                    Some(other) => {
                        return Err(format!(
                            "{at}: algorithm {other:?} is not one of RS256, ES256, EdDSA"
                        ))
                    }
                    None => return Err(format!("{at}: a customJwt entry needs \"algorithm\"")),
                };
                Provider::Custom {
                    issuer,
                    jwks: http_url(&jwks, &format!("{at}: jwks"))?,
                    algorithm,
                    application_id: entry.application_id,
                }
            }
            Some(other) => {
                return Err(format!(
                    "{at}: unknown type {other:?} (only \"customJwt\" or none for OIDC)"
                ))
            }
        };
        providers.push(provider);
    }
    Ok(providers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds_and_names_what_is_wrong() {
        let providers = parse_auth_config(
            r#"{"providers":[{"domain":"http://127.0.0.1:9/","applicationID":"convex"},
               {"type":"customJwt","issuer":"https://i","jwks":"http://127.0.0.1:9/jwks","algorithm":"ES256"}]}"#,
            "f.json",
        )
        .unwrap();
        assert_eq!(providers[0].issuer(), "http://127.0.0.1:9");
        assert_eq!(providers[1].application_id(), None);
        for (text, expected) in [
            (
                r#"{"providers":[{"domain":"http://x"}]}"#,
                "needs \"applicationID\"",
            ),
            (
                r#"{"providers":[{"type":"customJwt","issuer":"i","jwks":"http://j","algorithm":"HS256"}]}"#,
                "HS256",
            ),
            (
                r#"{"providers":[{"type":"customJwt","issuer":"i","jwks":"ftp://j","algorithm":"ES256"}]}"#,
                "http://",
            ),
            (
                r#"{"providers":[{"domain":"http://x","applicationID":"a","extra":1}]}"#,
                "unknown field",
            ),
            (r#"{"providers":[{"type":"oidc"}]}"#, "unknown type"),
            (r#"not json"#, "f.json"),
        ] {
            let error = parse_auth_config(text, "f.json").unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn origin_placeholders_become_the_bound_address() {
        let text = with_origin(
            r#"{"providers":[{"domain":"{origin}/tenants/auth0/","applicationID":"a"},
               {"type":"customJwt","issuer":"{origin}/tenants/w","jwks":"{origin}/tenants/w/.well-known/jwks.json","algorithm":"EdDSA"}]}"#,
            "http://127.0.0.1:4321",
        );
        let providers = parse_auth_config(&text, "f.json").unwrap();
        assert_eq!(providers[0].issuer(), "http://127.0.0.1:4321/tenants/auth0");
        assert_eq!(providers[1].issuer(), "http://127.0.0.1:4321/tenants/w");
        assert!(USAGE.contains("{origin}"));
    }

    #[test]
    fn rejects_bad_flags() {
        let parse = |args: &[&str]| Options::parse(args.iter().map(|s| s.to_string()));
        assert!(parse(&["--port", "x"]).unwrap_err().contains("--port"));
        assert!(parse(&["--serve", "www"])
            .unwrap_err()
            .contains("PREFIX=DIR"));
        assert!(parse(&["--serve", "/x=/definitely/missing"])
            .unwrap_err()
            .contains("not a directory"));
        for prefix in ["/", "/{x}", "/a//b", "/*"] {
            assert!(parse(&["--serve", &format!("{prefix}=.")])
                .unwrap_err()
                .contains("must name a folder"));
        }
        assert!(parse(&["--serve", "/a=.", "--serve", "/a/=."])
            .unwrap_err()
            .contains("served twice"));
        assert_eq!(parse(&["--serve", "/a/b/=."]).unwrap().serve[0].0, "/a/b");
        assert!(parse(&["--ping-interval-ms", "70000"])
            .unwrap_err()
            .contains("60"));
        assert!(parse(&["--bogus"])
            .unwrap_err()
            .contains("unknown argument"));
        assert_eq!(parse(&["--port", "0"]).unwrap().port, 0);
    }
}
