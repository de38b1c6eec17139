//! A JSON member's value of any type, read through serde without ever building an error.
//!
//! The token and peer-message structs derive `Deserialize` with fields of this type, so the JSON
//! reader (serde_json natively, `JSON.parse` in the browser) reports only syntax errors, and the type checks happen afterwards, where the error can name the
//! claim. Typed fields (`Option<u64>`, `String`) would reach serde's `invalid_type`, whose message
//! formats the unexpected value (floats included) and costs kilobytes of wasm for a path that only
//! ever says "malformed".

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

#[derive(Debug, Clone, Default, PartialEq)]
pub enum WireValue {
    /// The member is not there.
    #[default]
    Absent,
    String(String),
    /// A non-negative integer.
    Unsigned(u64),
    /// A negative integer.
    Negative,
    /// A number with a fraction or exponent, or an integer beyond `u64`.
    Float(f64),
    /// An array whose items are all strings.
    StringArray(Vec<String>),
    /// `null`, a boolean, an object or a mixed array: read, not kept.
    Other,
}

impl WireValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            WireValue::String(text) => Some(text),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for WireValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(WireValueVisitor)
    }
}

struct WireValueVisitor;

impl<'de> Visitor<'de> for WireValueVisitor {
    type Value = WireValue;

    // Never called: this visitor accepts every JSON value, so no error message is ever built.
    fn expecting(&self, _: &mut fmt::Formatter) -> fmt::Result {
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<WireValue, E> {
        Ok(WireValue::Other)
    }

    fn visit_i64<E>(self, value: i64) -> Result<WireValue, E> {
        Ok(if value < 0 { WireValue::Negative } else { WireValue::Unsigned(value as u64) })
    }

    fn visit_u64<E>(self, value: u64) -> Result<WireValue, E> {
        Ok(WireValue::Unsigned(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<WireValue, E> {
        Ok(WireValue::Float(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<WireValue, E> {
        Ok(WireValue::String(value.into()))
    }

    fn visit_string<E>(self, value: String) -> Result<WireValue, E> {
        Ok(WireValue::String(value))
    }

    fn visit_unit<E>(self) -> Result<WireValue, E> {
        Ok(WireValue::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<WireValue, A::Error> {
        let mut strings = Some(Vec::new());
        while let Some(ArrayItem(item)) = items.next_element::<ArrayItem>()? {
            match (item, strings.as_mut()) {
                (Some(text), Some(strings)) => strings.push(text),
                _ => strings = None,
            }
        }
        Ok(strings.map_or(WireValue::Other, WireValue::StringArray))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<WireValue, A::Error> {
        while members.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(WireValue::Other)
    }
}

/// An array's item: a string is kept; anything else is skipped without descending into it (a
/// parsed value has no depth limit of its own, and nested arrays must not recurse without bound).
struct ArrayItem(Option<String>);

impl<'de> Deserialize<'de> for ArrayItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ArrayItemVisitor)
    }
}

struct ArrayItemVisitor;

impl<'de> Visitor<'de> for ArrayItemVisitor {
    type Value = ArrayItem;

    fn expecting(&self, _: &mut fmt::Formatter) -> fmt::Result {
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<ArrayItem, E> {
        Ok(ArrayItem(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<ArrayItem, E> {
        Ok(ArrayItem(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<ArrayItem, E> {
        Ok(ArrayItem(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<ArrayItem, E> {
        Ok(ArrayItem(None))
    }

    fn visit_str<E>(self, value: &str) -> Result<ArrayItem, E> {
        Ok(ArrayItem(Some(value.into())))
    }

    fn visit_string<E>(self, value: String) -> Result<ArrayItem, E> {
        Ok(ArrayItem(Some(value)))
    }

    fn visit_unit<E>(self) -> Result<ArrayItem, E> {
        Ok(ArrayItem(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<ArrayItem, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(ArrayItem(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<ArrayItem, A::Error> {
        while members.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(ArrayItem(None))
    }
}

/// `T` (a struct deriving `Deserialize`) when the JSON text is an object: the same
/// no-error-message rule at the top level.
enum Object<T> {
    Members(T),
    /// Valid JSON of another type.
    Other,
    /// An object `T` refused (a member twice).
    Refused,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ObjectVisitor(PhantomData))
    }
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = Object<T>;

    fn expecting(&self, _: &mut fmt::Formatter) -> fmt::Result {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, members: A) -> Result<Object<T>, A::Error> {
        let mut syntax = None;
        match T::deserialize(QuietMembers { members, syntax: &mut syntax }) {
            Ok(value) => Ok(Object::Members(value)),
            // A syntax error inside the object is serde_json's own (its message is built only if displayed).
            Err(Dropped) => syntax.map_or(Ok(Object::Refused), Err),
        }
    }

    fn visit_bool<E>(self, _: bool) -> Result<Object<T>, E> {
        Ok(Object::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Object<T>, E> {
        Ok(Object::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Object<T>, E> {
        Ok(Object::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Object<T>, E> {
        Ok(Object::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<Object<T>, E> {
        Ok(Object::Other)
    }

    fn visit_unit<E>(self) -> Result<Object<T>, E> {
        Ok(Object::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Object<T>, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Object::Other)
    }
}

/// The error a derived visitor sees (and the browser's parsed-value deserializer's): it drops the
/// message it is given unformatted, so serde's `duplicate_field`, which builds one with
/// `format_args!`, links no formatting code.
#[derive(Debug)]
pub struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, _: &mut fmt::Formatter) -> fmt::Result {
        Ok(())
    }
}

impl core::error::Error for Dropped {}

impl de::Error for Dropped {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Dropped
    }
}

/// An object's members, handed to a derived visitor under the [`Dropped`] error type; the
/// parser's own error is kept aside in `syntax`.
struct QuietMembers<'s, A, E> {
    members: A,
    syntax: &'s mut Option<E>,
}

impl<'de, 's, A: MapAccess<'de>> Deserializer<'de> for QuietMembers<'s, A, A::Error> {
    type Error = Dropped;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Dropped> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, 's, A: MapAccess<'de>> MapAccess<'de> for QuietMembers<'s, A, A::Error> {
    type Error = Dropped;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Dropped> {
        self.members.next_key_seed(seed).map_err(|error| {
            *self.syntax = Some(error);
            Dropped
        })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Dropped> {
        self.members.next_value_seed(seed).map_err(|error| {
            *self.syntax = Some(error);
            Dropped
        })
    }
}

/// Why a text is not the JSON object expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectError {
    /// Not JSON at all, invalid UTF-8, nested too deeply, or a known member twice.
    Syntax,
    /// Valid JSON, but not an object.
    NotAnObject,
}

/// Reads a JSON object into `T` from any self-describing deserializer (serde_json natively, the
/// browser's parsed value in the wasm driver). The deserializer's own error is dropped unformatted.
pub fn read_object<'de, T: Deserialize<'de>, D: Deserializer<'de>>(deserializer: D) -> Result<T, ObjectError> {
    match Object::<T>::deserialize(deserializer) {
        Ok(Object::Members(value)) => Ok(value),
        Ok(Object::Other) => Err(ObjectError::NotAnObject),
        Ok(Object::Refused) | Err(_) => Err(ObjectError::Syntax),
    }
}

/// How an integer leaves the wasm build: as a JavaScript number (`serialize_f64`), which
/// `JSON.stringify` prints exactly like the integer below 2^53. serde-wasm-bindgen's
/// `serialize_u64` would also format an error message for values beyond 2^53 (0.5 KB of wasm).
/// Native builds keep `u64` (serde_json prints floats with a `.0`).
#[cfg(target_arch = "wasm32")]
pub fn number<S: serde::Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(*value as f64)
}

/// [`number`] for an optional member (`None` is skipped or `null`, as the struct says).
#[cfg(target_arch = "wasm32")]
pub fn optional_number<S: serde::Serializer>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.serialize_f64(*value as f64),
        None => serializer.serialize_none(),
    }
}
