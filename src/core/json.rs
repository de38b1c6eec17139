//! A small, strict JSON reader for JWT headers and claim sets.
//!
//! Only what the token decoder needs: a top-level object whose values are kept
//! when they are strings, integers or arrays of strings, and validated then
//! summarised as [`JsonValue::Other`] otherwise. Recursion is bounded by
//! [`MAX_DEPTH`], so hostile input yields an error instead of a stack overflow.
//! Written by hand (not serde_json) to keep the wasm small.

use alloc::string::String;
use alloc::vec::Vec;

/// Nesting deeper than this is refused.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    NotAnObject,
    Syntax,
    TooDeep,
    InvalidUtf8,
    DuplicateKey,
}

/// A JSON number as the claim checks need to see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonNumber {
    Unsigned(u64),
    Negative,
    NonInteger,
    TooLarge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonValue {
    String(String),
    Number(JsonNumber),
    /// An array whose items are all strings.
    StringArray(Vec<String>),
    /// Anything else (null, booleans, objects, mixed arrays): validated, not kept.
    Other,
}

/// Parses `input` as a JSON object and returns its members in order.
pub fn parse_object(input: &[u8]) -> Result<Vec<(String, JsonValue)>, JsonError> {
    let mut reader = Reader { input, pos: 0 };
    reader.skip_ws();
    if reader.peek() != Some(b'{') {
        // Still reject syntax errors first so the message is the useful one.
        reader.value(0)?;
        return Err(JsonError::NotAnObject);
    }
    let members = reader.object_members(0)?;
    reader.skip_ws();
    if reader.pos != input.len() {
        return Err(JsonError::Syntax);
    }
    Ok(members)
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        if self.bump() == Some(byte) {
            Ok(())
        } else {
            Err(JsonError::Syntax)
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn object_members(&mut self, depth: usize) -> Result<Vec<(String, JsonValue)>, JsonError> {
        if depth >= MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.expect(b'{')?;
        let mut members: Vec<(String, JsonValue)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(members);
        }
        loop {
            self.skip_ws();
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            let value = self.value(depth + 1)?;
            if members.iter().any(|(existing, _)| *existing == key) {
                return Err(JsonError::DuplicateKey);
            }
            members.push((key, value));
            self.skip_ws();
            match self.bump() {
                Some(b',') => continue,
                Some(b'}') => return Ok(members),
                _ => return Err(JsonError::Syntax),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<JsonValue, JsonError> {
        if depth >= MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.skip_ws();
        match self.peek() {
            Some(b'"') => self.string().map(JsonValue::String),
            Some(b'{') => self.object_members(depth).map(|_| JsonValue::Other),
            Some(b'[') => self.array(depth),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number().map(JsonValue::Number),
            _ => Err(JsonError::Syntax),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<JsonValue, JsonError> {
        if self.input.get(self.pos..).is_some_and(|rest| rest.starts_with(word)) {
            self.pos += word.len();
            Ok(JsonValue::Other)
        } else {
            Err(JsonError::Syntax)
        }
    }

    fn array(&mut self, depth: usize) -> Result<JsonValue, JsonError> {
        self.expect(b'[')?;
        let mut strings = Some(Vec::new());
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(JsonValue::StringArray(Vec::new()));
        }
        loop {
            match (self.value(depth + 1)?, strings.as_mut()) {
                (JsonValue::String(item), Some(items)) => items.push(item),
                _ => strings = None,
            }
            self.skip_ws();
            match self.bump() {
                Some(b',') => continue,
                Some(b']') => break,
                _ => return Err(JsonError::Syntax),
            }
        }
        Ok(strings.map_or(JsonValue::Other, JsonValue::StringArray))
    }

    fn number(&mut self) -> Result<JsonNumber, JsonError> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let mut value: Option<u64> = Some(0);
        let digits_start = self.pos;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            value = value
                .and_then(|v| v.checked_mul(10))
                .and_then(|v| v.checked_add((digit - b'0') as u64));
            self.pos += 1;
        }
        let int_digits = self.pos - digits_start;
        if int_digits == 0 || (int_digits > 1 && self.input.get(digits_start) == Some(&b'0')) {
            return Err(JsonError::Syntax);
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            integer = false;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            integer = false;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.digits()?;
        }
        Ok(match (negative, integer, value) {
            (_, false, _) => JsonNumber::NonInteger,
            (true, true, Some(0)) => JsonNumber::Unsigned(0),
            (true, true, _) => JsonNumber::Negative,
            (false, true, Some(v)) => JsonNumber::Unsigned(v),
            (false, true, None) => JsonNumber::TooLarge,
        })
    }

    fn digits(&mut self) -> Result<(), JsonError> {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        if self.pos == start {
            Err(JsonError::Syntax)
        } else {
            Ok(())
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.expect(b'"')?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            match self.bump().ok_or(JsonError::Syntax)? {
                b'"' => break,
                b'\\' => {
                    let escaped = match self.bump().ok_or(JsonError::Syntax)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(JsonError::Syntax),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(escaped.encode_utf8(&mut buf).as_bytes());
                }
                0x00..=0x1f => return Err(JsonError::Syntax),
                byte => out.push(byte),
            }
        }
        String::from_utf8(out).map_err(|_| JsonError::InvalidUtf8)
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut code = 0u32;
        for _ in 0..4 {
            let nibble = match self.bump().ok_or(JsonError::Syntax)? {
                byte @ b'0'..=b'9' => byte - b'0',
                byte @ b'a'..=b'f' => byte - b'a' + 10,
                byte @ b'A'..=b'F' => byte - b'A' + 10,
                _ => return Err(JsonError::Syntax),
            };
            code = (code << 4) | nibble as u32;
        }
        Ok(code)
    }

    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&first) {
            // A high surrogate must be followed by an escaped low surrogate.
            if self.bump() != Some(b'\\') || self.bump() != Some(b'u') {
                return Err(JsonError::InvalidUtf8);
            }
            let second = self.hex4()?;
            if !(0xdc00..0xe000).contains(&second) {
                return Err(JsonError::InvalidUtf8);
            }
            0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
        } else {
            first
        };
        char::from_u32(code).ok_or(JsonError::InvalidUtf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> Result<Vec<(String, JsonValue)>, JsonError> {
        parse_object(text.as_bytes())
    }

    #[test]
    fn keeps_strings_integers_and_string_arrays() {
        let members =
            object(r#" {"a":"x\u00e9\ud83d\ude00","n":17,"l":["p","q"],"o":{"k":[1,true,null]}} "#)
                .unwrap();
        assert_eq!(members[0], ("a".into(), JsonValue::String("xé😀".into())));
        assert_eq!(members[1].1, JsonValue::Number(JsonNumber::Unsigned(17)));
        assert_eq!(members[2].1, JsonValue::StringArray(vec!["p".into(), "q".into()]));
        assert_eq!(members[3].1, JsonValue::Other);
    }

    #[test]
    fn classifies_numbers() {
        let value = |text: &str| object(&format!(r#"{{"n":{text}}}"#)).map(|m| m[0].1.clone());
        assert_eq!(value("-5"), Ok(JsonValue::Number(JsonNumber::Negative)));
        assert_eq!(value("-0"), Ok(JsonValue::Number(JsonNumber::Unsigned(0))));
        assert_eq!(value("1.5"), Ok(JsonValue::Number(JsonNumber::NonInteger)));
        assert_eq!(value("1e3"), Ok(JsonValue::Number(JsonNumber::NonInteger)));
        assert_eq!(value("99999999999999999999999"), Ok(JsonValue::Number(JsonNumber::TooLarge)));
        assert_eq!(value("01"), Err(JsonError::Syntax));
        assert_eq!(value("1."), Err(JsonError::Syntax));
    }

    #[test]
    fn rejects_non_objects_bad_syntax_depth_and_duplicates() {
        assert_eq!(object("[1]"), Err(JsonError::NotAnObject));
        assert_eq!(object("\"s\""), Err(JsonError::NotAnObject));
        assert_eq!(object("{\"a\":1,}"), Err(JsonError::Syntax));
        assert_eq!(object("{\"a\":1} x"), Err(JsonError::Syntax));
        assert_eq!(object(""), Err(JsonError::Syntax));
        assert_eq!(object("{\"a\":1,\"a\":2}"), Err(JsonError::DuplicateKey));
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(object(&deep), Err(JsonError::TooDeep));
        assert_eq!(parse_object(b"{\"a\":\"\xff\"}"), Err(JsonError::InvalidUtf8));
    }
}
