//! Small HTTP pieces more than one route module needs.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// A JSON object body, or an `application/x-www-form-urlencoded` one as an object of strings
/// (OAuth clients send either).
pub fn parse_body(body: &[u8]) -> Value {
    if let Ok(value @ Value::Object(_)) = serde_json::from_slice::<Value>(body) {
        return value;
    }
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    Value::Object(
        fields
            .into_iter()
            .map(|(key, value)| (key, Value::String(value)))
            .collect::<Map<_, _>>(),
    )
}

pub fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}
