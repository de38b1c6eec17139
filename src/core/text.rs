//! Sentences for diagnostics, built without `core::fmt` (its machinery would add kilobytes to the
//! wasm; the core is written to keep it out).

use alloc::string::String;

/// One piece of a sentence.
pub enum Part<'a> {
    /// Literal text.
    Text(&'a str),
    /// A claim or config value, in double quotes; control characters become `?` so a hostile
    /// claim cannot forge log lines.
    Quoted(&'a str),
    Int(i64),
}

pub fn sentence(parts: &[Part<'_>]) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Quoted(value) => {
                out.push('"');
                out.extend(value.chars().map(|c| if c.is_control() { '?' } else { c }));
                out.push('"');
            }
            Part::Int(value) => {
                if *value < 0 {
                    out.push('-');
                }
                push_decimal(&mut out, value.unsigned_abs());
            }
        }
    }
    out
}

pub fn push_decimal(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    loop {
        digits[len % 20] = b'0' + (value % 10) as u8;
        len += 1;
        value /= 10;
        if value == 0 || len == 20 {
            break;
        }
    }
    for &digit in digits.iter().take(len).rev() {
        out.push(digit as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_quote_values_and_print_integers() {
        let text = sentence(&[Part::Text("iss "), Part::Quoted("a\nb"), Part::Text(" "), Part::Int(-42), Part::Int(0)]);
        assert_eq!(text, "iss \"a?b\" -420");
        assert_eq!(sentence(&[Part::Int(i64::MIN)]), "-9223372036854775808");
    }
}
