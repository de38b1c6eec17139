//! The in-memory data and the tiny function registry. Results depend on the caller's identity, so a
//! test can see who the server thinks it is talking to.
//!
//! | udfPath | kind | |
//! |---|---|---|
//! | `messages:list` `{channel?}` | query | `{viewer, messages:[{author, body, channel}]}`; throws `Unauthenticated` when signed out |
//! | `users:viewer` `{}` | query | `{subject, issuer, name}` or `null` |
//! | `messages:send` `{channel?, body}` | mutation | requires auth; returns the message count |
//! | `users:whoami` `{}` | action | the subject or `null` |

use serde_json::{json, Value};

use crate::verify::Identity;

pub const UNAUTHENTICATED: &str = "Unauthenticated: this function requires a signed-in user";

#[derive(Default)]
pub struct Store {
    /// The database timestamp: bumped by every write, never 0 once started.
    pub ts: u64,
    messages: Vec<(String, String, String)>, // (channel, author, body)
}

impl Store {
    pub fn new() -> Store {
        Store {
            ts: 1,
            messages: Vec::new(),
        }
    }
}

fn arg<'a>(args: &'a Value, name: &str) -> Option<&'a str> {
    args.get(name).and_then(Value::as_str)
}

fn not_found(udf_path: &str, kind: &str) -> String {
    format!("Could not find public {kind} function for '{udf_path}'")
}

pub fn query(
    store: &Store,
    identity: Option<&Identity>,
    udf_path: &str,
    args: &Value,
) -> Result<Value, String> {
    match udf_path {
        "messages:list" => {
            let identity = identity.ok_or(UNAUTHENTICATED)?;
            let channel = arg(args, "channel").unwrap_or("general");
            let messages: Vec<Value> = store
                .messages
                .iter()
                .filter(|(c, _, _)| c == channel)
                .map(|(channel, author, body)| json!({"channel": channel, "author": author, "body": body}))
                .collect();
            Ok(json!({ "viewer": identity.subject, "messages": messages }))
        }
        "users:viewer" => Ok(identity.map_or(Value::Null, |identity| {
            json!({"subject": identity.subject, "issuer": identity.issuer, "name": identity.claims.get("name")})
        })),
        _ => Err(not_found(udf_path, "query")),
    }
}

/// Runs a mutation; `Ok` means the store was written and its `ts` advanced.
pub fn mutation(
    store: &mut Store,
    identity: Option<&Identity>,
    udf_path: &str,
    args: &Value,
) -> Result<Value, String> {
    match udf_path {
        "messages:send" => {
            let identity = identity.ok_or(UNAUTHENTICATED)?;
            let body = arg(args, "body").ok_or("messages:send needs a string `body`")?;
            let channel = arg(args, "channel").unwrap_or("general");
            store
                .messages
                .push((channel.into(), identity.subject.clone(), body.into()));
            store.ts += 1;
            Ok(json!(store.messages.len() as f64))
        }
        _ => Err(not_found(udf_path, "mutation")),
    }
}

pub fn action(identity: Option<&Identity>, udf_path: &str) -> Result<Value, String> {
    match udf_path {
        "users:whoami" => Ok(identity.map_or(Value::Null, |identity| json!(identity.subject))),
        _ => Err(not_found(udf_path, "action")),
    }
}
