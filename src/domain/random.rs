//! Random values for credentials, from the thread-local CSPRNG.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;

pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::rng().fill_bytes(&mut out);
    out
}

/// `N` random bytes as URL-safe base64 without padding.
pub fn b64_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(bytes::<N>())
}

pub fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}
