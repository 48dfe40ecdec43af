//! Generated secrets: alphanumeric, from the kernel's CSPRNG.

use std::io::{self, Read};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters drawn uniformly from [A-Za-z0-9] (48 of them carry ~285 bits).
pub fn alphanumeric(len: usize) -> io::Result<String> {
    let mut source = std::fs::File::open("/dev/urandom")?;
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        source.read_exact(&mut buf)?;
        for &b in &buf {
            // Rejection sampling: 248 = 4 * 62, so every accepted byte maps uniformly.
            if b < 248 && out.len() < len {
                out.push(ALPHABET[usize::from(b) % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_the_length_and_alphabet_asked_for_and_differ() {
        let a = alphanumeric(48).expect("urandom");
        let b = alphanumeric(48).expect("urandom");
        assert_eq!(a.len(), 48);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }
}
