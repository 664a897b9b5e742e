//! `X-Hub-Signature-256`: the HMAC-SHA256 of the raw body, keyed with the webhook's
//! secret, as `sha256=<64 hex digits>` (GitHub's "Validating webhook deliveries").
//!
//! The comparison is ring's [`ring::hmac::verify`], which takes the same time wherever
//! the first differing byte is, so an attacker cannot find a valid signature byte by
//! byte from response times.

use ring::hmac;

/// Why a delivery's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Hub-Signature-256` header.
    #[error("no X-Hub-Signature-256 header (is the webhook's secret set on GitHub?)")]
    Missing,
    /// The header is not `sha256=` and 64 hex digits.
    #[error("X-Hub-Signature-256 is not sha256=<64 hex digits>")]
    Malformed,
    /// Well formed, but not the HMAC of this body with our secret.
    #[error("X-Hub-Signature-256 does not match the body (wrong secret?)")]
    Mismatch,
}

/// The webhook secret, as an HMAC key. Its `Debug` shows nothing of the key.
pub struct Secret(hmac::Key);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// The key from the secret's bytes. A trailing newline (a file written with
    /// `echo`) is not part of the secret, as in Prow's HMAC token generator.
    pub fn new(secret: &[u8]) -> Secret {
        let trimmed = secret.strip_suffix(b"\n").unwrap_or(secret);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        Secret(hmac::Key::new(hmac::HMAC_SHA256, trimmed))
    }

    /// Checks `header` (the value of `X-Hub-Signature-256`, `None` when absent) against
    /// `body`.
    pub fn verify(&self, header: Option<&[u8]>, body: &[u8]) -> Result<(), SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let hex = header
            .strip_prefix(b"sha256=")
            .ok_or(SignatureError::Malformed)?;
        let tag = decode_hex(hex).ok_or(SignatureError::Malformed)?;
        hmac::verify(&self.0, body, &tag).map_err(|_| SignatureError::Mismatch)
    }

    /// The header value GitHub would send for `body`: for the job's report and tests.
    pub fn sign(&self, body: &[u8]) -> String {
        let tag = hmac::sign(&self.0, body);
        let mut out = String::with_capacity(7 + 64);
        out.push_str("sha256=");
        for b in tag.as_ref() {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

fn decode_hex(hex: &[u8]) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // GitHub's documented test vector ("Validating webhook deliveries"): secret
    // "It's a Secret to Everybody", payload "Hello, World!".
    const DOC_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn githubs_documented_example_verifies() {
        let secret = Secret::new(b"It's a Secret to Everybody");
        assert_eq!(secret.sign(b"Hello, World!"), DOC_SIGNATURE);
        assert_eq!(
            secret.verify(Some(DOC_SIGNATURE.as_bytes()), b"Hello, World!"),
            Ok(())
        );
    }

    #[test]
    fn a_trailing_newline_of_the_secret_file_is_not_part_of_the_key() {
        let secret = Secret::new(b"It's a Secret to Everybody\n");
        assert_eq!(secret.sign(b"Hello, World!"), DOC_SIGNATURE);
    }

    #[test]
    fn bad_signatures_are_told_apart() {
        let secret = Secret::new(b"It's a Secret to Everybody");
        let body = b"Hello, World!";
        assert_eq!(secret.verify(None, body), Err(SignatureError::Missing));
        assert_eq!(
            secret.verify(Some(b"sha1=abc"), body),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            secret.verify(Some(b"sha256=zz"), body),
            Err(SignatureError::Malformed)
        );
        let mut wrong = DOC_SIGNATURE.to_owned().into_bytes();
        let last = wrong.len() - 1;
        wrong[last] = b'0';
        assert_eq!(
            secret.verify(Some(&wrong), body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            secret.verify(Some(DOC_SIGNATURE.as_bytes()), b"Hello, World?"),
            Err(SignatureError::Mismatch)
        );
        let upper = DOC_SIGNATURE.to_uppercase().replace("SHA256=", "sha256=");
        assert_eq!(secret.verify(Some(upper.as_bytes()), body), Ok(()));
    }
}
