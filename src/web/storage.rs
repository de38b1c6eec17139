//! Where a session keeps its token record when asked to: `localStorage`, `sessionStorage`, or an
//! app-provided `{ getItem, setItem, removeItem }` whose methods may return promises.

use alloc::string::String;

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;

use super::bounded::bounded_record;
use super::promise::when_settled;

pub struct TokenStore {
    target: JsValue,
    key: String,
}

impl TokenStore {
    /// `"local"`, `"session"` or an object; anything else (including `"memory"`) means no store.
    /// A storage the browser refuses (privacy modes throw on access) also means no store.
    pub fn resolve(spec: &JsValue, name: &str) -> Option<TokenStore> {
        let target = match spec.as_string().as_deref() {
            Some("local") => Reflect::get(&super::global::global(), &"localStorage".into()).ok()?,
            Some("session") => Reflect::get(&super::global::global(), &"sessionStorage".into()).ok()?,
            Some(_) => return None,
            None if spec.is_object() => spec.clone(),
            None => return None,
        };
        if !target.is_object() {
            return None;
        }
        let mut key = String::from("authlane:");
        key.push_str(name);
        key.push_str(":token");
        Some(TokenStore { target, key })
    }

    /// Reads the stored record; `on_read` gets `None` when there is none, reading failed or the
    /// record is too long to be one.
    pub fn read(&self, on_read: impl FnOnce(Option<String>) + 'static) {
        match self.call("getItem", None) {
            Some(returned) => when_settled(&returned, move |result| on_read(result.ok().and_then(|v| bounded_record(&v)))),
            None => on_read(None),
        }
    }

    /// Stores the record, or removes it for `None`. Failures (quota, a rejecting custom store) are
    /// ignored: persistence is a convenience, never a reason to lose the session.
    pub fn write(&self, record: Option<&str>) {
        let returned = match record {
            Some(record) => self.call("setItem", Some(record)),
            None => self.call("removeItem", None),
        };
        if let Some(returned) = returned {
            when_settled(&returned, |_| {});
        }
    }

    fn call(&self, method: &str, value: Option<&str>) -> Option<JsValue> {
        let function: Function = Reflect::get(&self.target, &method.into()).ok()?.dyn_into().ok()?;
        let key = JsValue::from_str(&self.key);
        match value {
            Some(value) => function.call2(&self.target, &key, &JsValue::from_str(value)).ok(),
            None => function.call1(&self.target, &key).ok(),
        }
    }
}
