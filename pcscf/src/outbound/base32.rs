//! Base32 (RFC 4648 §6) in lower case without padding, strict on decode.
//!
//! Why base32 and lower case: every output character is `unreserved` in a SIP URI user part
//! (RFC 3261 §25.1), so the token needs no escaping; one case only means no proxy or UA that
//! changes case can make two spellings of one token.

/// The RFC 4648 §6 alphabet, lower-cased.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Why text is not the canonical base32 form of some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base32Error {
    /// A character outside the lower-case alphabet, at this byte position.
    BadCharacter { position: usize, byte: u8 },
    /// The number of characters does not match the output buffer.
    WrongLength { chars: usize, expected: usize },
    /// The unused low bits of the last character are not zero, so the text is not what
    /// [`encode`] would produce.
    NonCanonical,
}

/// The number of characters encoding `bytes` bytes.
pub(crate) const fn encoded_len(bytes: usize) -> usize {
    (bytes * 8).div_ceil(5)
}

/// Encodes `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(bytes.len()));
    let mut acc: u16 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        acc = (acc << 8) | u16::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[usize::from((acc >> bits) & 0x1F)]));
        }
        // Keep only the bits not yet emitted, so the accumulator never overflows.
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(
            ALPHABET[usize::from((acc << (5 - bits)) & 0x1F)],
        ));
    }
    out
}

/// Decodes `text` into exactly `out.len()` bytes.
pub(crate) fn decode_into(text: &str, out: &mut [u8]) -> Result<(), Base32Error> {
    let expected = encoded_len(out.len());
    if text.len() != expected {
        return Err(Base32Error::WrongLength {
            chars: text.len(),
            expected,
        });
    }
    let mut acc: u16 = 0;
    let mut bits = 0u32;
    let mut written = 0;
    for (position, byte) in text.bytes().enumerate() {
        let value = match byte {
            b'a'..=b'z' => byte - b'a',
            b'2'..=b'7' => byte - b'2' + 26,
            _ => return Err(Base32Error::BadCharacter { position, byte }),
        };
        acc = (acc << 5) | u16::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            if let Some(slot) = out.get_mut(written) {
                *slot = (acc >> bits) as u8;
            }
            written += 1;
            acc &= (1 << bits) - 1;
        }
    }
    // What is left are the padding bits of the last character; encode() leaves them zero.
    if acc != 0 {
        return Err(Base32Error::NonCanonical);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors_lower_case() {
        // RFC 4648 §10, without the padding and in lower case.
        for (input, expected) in [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(encode(input.as_bytes()), expected);
            let mut out = vec![0u8; input.len()];
            assert_eq!(decode_into(expected, &mut out), Ok(()));
            assert_eq!(out, input.as_bytes());
        }
    }

    #[test]
    fn strict_decoding() {
        let mut out = [0u8; 1];
        assert_eq!(
            decode_into("MY", &mut out),
            Err(Base32Error::BadCharacter {
                position: 0,
                byte: b'M'
            })
        );
        assert_eq!(decode_into("mz", &mut out), Err(Base32Error::NonCanonical));
        assert_eq!(
            decode_into("my=", &mut out),
            Err(Base32Error::WrongLength {
                chars: 3,
                expected: 2
            })
        );
        assert_eq!(
            decode_into("m1", &mut out),
            Err(Base32Error::BadCharacter {
                position: 1,
                byte: b'1'
            })
        );
    }

    #[test]
    fn all_byte_values_round_trip() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..bytes.len() {
            let text = encode(&bytes[..len]);
            assert_eq!(text.len(), encoded_len(len));
            let mut out = vec![0u8; len];
            assert_eq!(decode_into(&text, &mut out), Ok(()));
            assert_eq!(out, &bytes[..len]);
        }
    }
}
