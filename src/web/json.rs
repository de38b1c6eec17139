//! The browser's JSON for the core ([`JsonText`]): `JSON.parse` reads tokens' segments and peers'
//! messages, serde-wasm-bindgen and `JSON.stringify` write peer messages. No JSON parser is
//! compiled into the module (serde_json's was 11.8 KB of code and most of 5.3 KB of tables).
//!
//! The parsed value reaches the core's serde-derived structs through [`Parsed`], a deserializer
//! whose error carries no message. serde-wasm-bindgen's own `Deserializer` would do the same job,
//! but its type errors format the unexpected value, which links `f64`'s `Display` (13.9 KB of
//! code; measured +11 KB gzip in all), for values `JSON.parse` never produces.

use alloc::string::String;

use js_sys::{Array, Object, Reflect, JSON};
use serde::de::{DeserializeOwned, IntoDeserializer, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use wasm_bindgen::prelude::*;

use crate::core::json_text::JsonText;
use crate::core::peer_message::{Incoming, Outgoing};
use crate::core::token::WireSegment;
use crate::core::wire_value::{Dropped, ObjectError};

#[derive(Debug)]
pub struct BrowserJson;

impl JsonText for BrowserJson {
    fn read_segment(&self, json: &str) -> Result<WireSegment, ObjectError> {
        read(json)
    }

    fn read_peer_message(&self, json: &str) -> Result<Incoming, ObjectError> {
        read(json)
    }

    fn write_peer_message(&self, message: &Outgoing) -> String {
        // Plain strings and integers below 2^53 always serialize and stringify.
        serde_wasm_bindgen::to_value(message)
            .ok()
            .and_then(|value| JSON::stringify(&value).ok())
            .map(String::from)
            .unwrap_or_default()
    }
}

/// The top level must be an object; its members are then read by name (the struct's fields),
/// so unknown members are never copied into wasm. `JSON.parse` has already refused a repeated
/// member's first value (it keeps the last), where serde_json refuses the text.
/// A Rust value as JavaScript sees it (serde-wasm-bindgen; `None` as `null`): outputs, claims.
pub fn to_js(value: &impl serde::Serialize) -> JsValue {
    // What crosses is strings, string lists, booleans and integers below 2^53: it always serializes.
    value.serialize(&serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true)).unwrap_or(JsValue::NULL)
}

fn read<T: DeserializeOwned>(json: &str) -> Result<T, ObjectError> {
    let value = JSON::parse(json).map_err(|_| ObjectError::Syntax)?;
    if !value.is_object() || Array::is_array(&value) {
        return Err(ObjectError::NotAnObject);
    }
    T::deserialize(Parsed(value)).map_err(|_| ObjectError::Syntax)
}

/// A value `JSON.parse` returned: null, a boolean, a number, a string, an array or a plain object.
pub struct Parsed(JsValue);

impl<'de> Deserializer<'de> for Parsed {
    type Error = Dropped;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Dropped> {
        let value = self.0;
        if let Some(number) = value.as_f64() {
            // Whole non-negative numbers are integers (NumericDates, times), saturating at u64::MAX
            // as serde_json reads "18446744073709551615"; the rest are floats, which the core
            // range-checks (a negative or fractional time is refused there).
            if number >= 0.0 && number.is_finite() && number.fract() == 0.0 {
                visitor.visit_u64(number as u64)
            } else {
                visitor.visit_f64(number)
            }
        } else if let Some(text) = value.as_string() {
            visitor.visit_string(text)
        } else if let Some(flag) = value.as_bool() {
            visitor.visit_bool(flag)
        } else if Array::is_array(&value) {
            visitor.visit_seq(Items { array: value.unchecked_into(), next: 0 })
        } else if value.is_object() {
            let keys = Object::keys(value.unchecked_ref::<Object>());
            visitor.visit_map(Members { object: value, keys, next: 0 })
        } else {
            visitor.visit_unit()
        }
    }

    /// Skipped values are not walked: nothing below them is read, whatever their depth.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Dropped> {
        visitor.visit_unit()
    }

    /// A derived struct names its fields: only those are looked up.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Dropped> {
        if !self.0.is_object() {
            // A struct reads only objects (`read` checks the top level): refused without walking.
            return visitor.visit_unit();
        }
        visitor.visit_map(Fields { object: self.0, fields: fields.iter(), value: None })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
    }
}

/// An object's members that a struct has fields for, in the struct's order; absent ones skipped.
struct Fields {
    object: JsValue,
    fields: core::slice::Iter<'static, &'static str>,
    value: Option<JsValue>,
}

impl<'de> MapAccess<'de> for Fields {
    type Error = Dropped;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Dropped> {
        for &field in self.fields.by_ref() {
            let value = Reflect::get(&self.object, &JsValue::from_str(field)).unwrap_or(JsValue::UNDEFINED);
            if !value.is_undefined() {
                self.value = Some(value);
                return seed.deserialize(field.into_deserializer()).map(Some);
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Dropped> {
        seed.deserialize(Parsed(self.value.take().unwrap_or(JsValue::NULL)))
    }
}

struct Items {
    array: Array,
    next: u32,
}

impl<'de> SeqAccess<'de> for Items {
    type Error = Dropped;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Dropped> {
        if self.next >= self.array.length() {
            return Ok(None);
        }
        let item = self.array.get(self.next);
        self.next += 1;
        seed.deserialize(Parsed(item)).map(Some)
    }
}

struct Members {
    object: JsValue,
    keys: Array,
    next: u32,
}

impl<'de> MapAccess<'de> for Members {
    type Error = Dropped;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Dropped> {
        if self.next >= self.keys.length() {
            return Ok(None);
        }
        seed.deserialize(Parsed(self.keys.get(self.next))).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Dropped> {
        let key = self.keys.get(self.next);
        self.next += 1;
        seed.deserialize(Parsed(Reflect::get(&self.object, &key).unwrap_or(JsValue::NULL)))
    }
}
