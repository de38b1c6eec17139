//! Unpadded base64url decoding (RFC 4648 §5) for JWT segments.
//!
//! Hand-written rather than the `base64` crate: JWT segments need only this one
//! alphabet and direction, and the crate's engines cost several KB of wasm.

use alloc::vec::Vec;

/// Why a segment is not base64url.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base64Error {
    /// A byte outside `A–Z a–z 0–9 - _` (padding `=` is tolerated only at the end).
    InvalidByte,
    /// A length that no encoding produces (4n + 1).
    InvalidLength,
}

fn sextet(byte: u8) -> Option<u32> {
    match byte {
        b'A'..=b'Z' => Some((byte - b'A') as u32),
        b'a'..=b'z' => Some((byte - b'a') as u32 + 26),
        b'0'..=b'9' => Some((byte - b'0') as u32 + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Decodes base64url, with or without trailing `=` padding.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, Base64Error> {
    let data = input.strip_suffix(b"==").or_else(|| input.strip_suffix(b"=")).unwrap_or(input);
    if data.len() % 4 == 1 {
        return Err(Base64Error::InvalidLength);
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for chunk in data.chunks(4) {
        let mut acc: u32 = 0;
        for &byte in chunk {
            acc = (acc << 6) | sextet(byte).ok_or(Base64Error::InvalidByte)?;
        }
        // Left-align a short final chunk so its bytes sit in the top positions.
        acc <<= 6 * (4 - chunk.len() as u32);
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend(bytes.into_iter().take(chunk.len() - 1));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rfc4648_vectors_without_padding() {
        let cases: [(&str, &str); 7] = [
            ("", ""),
            ("Zg", "f"),
            ("Zm8", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg", "foob"),
            ("Zm9vYmE", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ];
        for (encoded, plain) in cases {
            assert_eq!(decode(encoded.as_bytes()).unwrap(), plain.as_bytes(), "{encoded}");
        }
    }

    #[test]
    fn uses_the_url_alphabet() {
        assert_eq!(decode(b"-_8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode(b"+/8"), Err(Base64Error::InvalidByte));
    }

    #[test]
    fn tolerates_padding_but_rejects_impossible_lengths() {
        assert_eq!(decode(b"Zg==").unwrap(), b"f");
        assert_eq!(decode(b"Z"), Err(Base64Error::InvalidLength));
        assert_eq!(decode(b"Zg==="), Err(Base64Error::InvalidByte));
        assert_eq!(decode(b"Z=g"), Err(Base64Error::InvalidByte));
    }
}
