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
use serde::ser::{Serialize, SerializeStruct, Serializer};
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
        JSON::stringify(&to_js(message))
            .ok()
            .map(String::from)
            .unwrap_or_default()
    }
}

/// A Rust value as JavaScript sees it (serde-wasm-bindgen; `None` as `null`): outputs, claims,
/// peer messages.
pub fn to_js(value: &impl Serialize) -> JsValue {
    // What crosses is strings, string lists, booleans and integers below 2^53: it always serializes.
    value.serialize(Objects(&TO_JS)).unwrap_or(JsValue::NULL)
}

const TO_JS: serde_wasm_bindgen::Serializer = serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true);

#[wasm_bindgen]
extern "C" {
    /// `Reflect.set` with the key passed as Rust text, for the plain objects built here (outputs,
    /// claims, a call's arguments), on which it cannot throw: no exception check, no key crossing as
    /// a value of its own (js-sys' `Reflect::set` does both).
    #[wasm_bindgen(js_namespace = Reflect, js_name = set)]
    pub fn set_member(target: &JsValue, key: &str, value: &JsValue);

    /// `Reflect.get` likewise, for objects `JSON.parse` made (plain data: no getter can throw).
    #[wasm_bindgen(js_namespace = Reflect, js_name = get)]
    fn member(target: &JsValue, key: &str) -> JsValue;
}

/// serde-wasm-bindgen, except that a struct's fields are set by name with `Reflect.set`: its own
/// struct writer caches each field name's JavaScript string in a `HashMap` (`static_str_to_js`,
/// 2.3 KB of code with hashbrown) to save a string copy per field, which a few outputs a minute do
/// not need. Every other value is serde-wasm-bindgen's.
struct Objects<'s>(&'s serde_wasm_bindgen::Serializer);

type Inner<'s> = &'s serde_wasm_bindgen::Serializer;

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {$(
        fn $method(self, $($arg: $ty),*) -> Result<$out, serde_wasm_bindgen::Error> {
            self.0.$method($($arg),*)
        }
    )*};
}

impl<'s> Serializer for Objects<'s> {
    type Ok = JsValue;
    type Error = serde_wasm_bindgen::Error;
    type SerializeSeq = <Inner<'s> as Serializer>::SerializeSeq;
    type SerializeTuple = <Inner<'s> as Serializer>::SerializeTuple;
    type SerializeTupleStruct = <Inner<'s> as Serializer>::SerializeTupleStruct;
    type SerializeTupleVariant = <Inner<'s> as Serializer>::SerializeTupleVariant;
    type SerializeMap = <Inner<'s> as Serializer>::SerializeMap;
    type SerializeStruct = ObjectFields<'s>;
    type SerializeStructVariant = <Inner<'s> as Serializer>::SerializeStructVariant;

    forward! {
        serialize_bool(v: bool) -> JsValue; serialize_i8(v: i8) -> JsValue; serialize_i16(v: i16) -> JsValue;
        serialize_i32(v: i32) -> JsValue; serialize_i64(v: i64) -> JsValue; serialize_u8(v: u8) -> JsValue;
        serialize_u16(v: u16) -> JsValue; serialize_u32(v: u32) -> JsValue; serialize_u64(v: u64) -> JsValue;
        serialize_f32(v: f32) -> JsValue; serialize_f64(v: f64) -> JsValue; serialize_char(v: char) -> JsValue;
        serialize_str(v: &str) -> JsValue; serialize_bytes(v: &[u8]) -> JsValue; serialize_none() -> JsValue;
        serialize_unit() -> JsValue; serialize_unit_struct(name: &'static str) -> JsValue;
        serialize_seq(len: Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(len: usize) -> Self::SerializeTuple;
        serialize_tuple_struct(name: &'static str, len: usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> Self::SerializeTupleVariant;
        serialize_map(len: Option<usize>) -> Self::SerializeMap;
        serialize_struct_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> Self::SerializeStructVariant;
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<JsValue, Self::Error> {
        value.serialize(self)
    }

    /// The variant's name as a string, as serde-wasm-bindgen writes it (without its cache).
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<JsValue, Self::Error> {
        self.0.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, value: &T) -> Result<JsValue, Self::Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<JsValue, Self::Error> {
        self.0.serialize_newtype_variant(name, index, variant, value)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<ObjectFields<'s>, Self::Error> {
        Ok(ObjectFields { object: Object::new(), inner: self.0 })
    }
}

struct ObjectFields<'s> {
    object: Object,
    inner: Inner<'s>,
}

impl SerializeStruct for ObjectFields<'_> {
    type Ok = JsValue;
    type Error = serde_wasm_bindgen::Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Self::Error> {
        let value = value.serialize(Objects(self.inner))?;
        set_member(&self.object, key, &value);
        Ok(())
    }

    fn end(self) -> Result<JsValue, Self::Error> {
        Ok(self.object.into())
    }
}

/// The top level must be an object; its members are then read by name (the struct's fields),
/// so unknown members are never copied into wasm. `JSON.parse` has already refused a repeated
/// member's first value (it keeps the last), where serde_json refuses the text.
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
            let value = member(&self.object, field);
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
