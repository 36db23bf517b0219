//! Handshake tokens in the gateway's format: the `gate.intra.v1.AuthToken` protobuf, sealed with
//! AES-GCM (12-byte random nonce before the ciphertext, 16-byte tag after it, no associated
//! data) and encoded as URL-safe base64 with padding. A key ring lets keys rotate: the first key
//! seals, every key opens.

use aes_gcm::aead::{Aead, KeyInit, consts::U12};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm, Nonce, aes::Aes192};
use base64::{Engine, engine::general_purpose::URL_SAFE, engine::general_purpose::URL_SAFE_NO_PAD};
use prost::Message;

use crate::proto::gate::{AuthToken, OnlineStatus};

type Aes192Gcm = AesGcm<Aes192, U12>;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Longest token text accepted for opening; real ones are about 120 characters.
pub const MAX_TOKEN_LEN: usize = 1024;

/// One AES-GCM key of 16, 24 or 32 bytes.
#[derive(Clone)]
enum Cipher {
    A128(Aes128Gcm),
    A192(Aes192Gcm),
    A256(Aes256Gcm),
}

impl Cipher {
    fn new(key: &[u8]) -> Option<Self> {
        match key.len() {
            16 => Aes128Gcm::new_from_slice(key).ok().map(Cipher::A128),
            24 => Aes192Gcm::new_from_slice(key).ok().map(Cipher::A192),
            32 => Aes256Gcm::new_from_slice(key).ok().map(Cipher::A256),
            _ => None,
        }
    }

    fn encrypt(&self, nonce: &[u8; NONCE_LEN], plain: &[u8]) -> Option<Vec<u8>> {
        let nonce = Nonce::from_slice(nonce);
        match self {
            Cipher::A128(c) => c.encrypt(nonce, plain).ok(),
            Cipher::A192(c) => c.encrypt(nonce, plain).ok(),
            Cipher::A256(c) => c.encrypt(nonce, plain).ok(),
        }
    }

    fn decrypt(&self, nonce: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let nonce = Nonce::from_slice(nonce);
        match self {
            Cipher::A128(c) => c.decrypt(nonce, sealed).ok(),
            Cipher::A192(c) => c.decrypt(nonce, sealed).ok(),
            Cipher::A256(c) => c.decrypt(nonce, sealed).ok(),
        }
    }
}

/// How new tokens are sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenFormat {
    /// The gateway's sealed AuthToken.
    #[default]
    Gate,
    /// The same claims as JSON in a compact JWE (`dir`, `A256GCM`).
    Jwe,
}

/// Why a token could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not well-formed")]
    Malformed,
    #[error("token was not sealed by a known key")]
    BadKey,
}

/// Seals and opens handshake tokens with a key ring.
#[derive(Clone)]
pub struct TokenSealer {
    ring: Vec<Cipher>,
    /// The 32-byte keys of the ring, for the JWE form.
    jwe_keys: Vec<Vec<u8>>,
    format: TokenFormat,
}

impl TokenSealer {
    /// Builds a ring from raw keys, current key first. Fails on an empty ring or a key that is
    /// not 16, 24 or 32 bytes, naming its position.
    pub fn new<K: AsRef<[u8]>>(keys: &[K]) -> Result<Self, String> {
        Self::with_format(keys, TokenFormat::Gate)
    }

    /// Like [`TokenSealer::new`], sealing new tokens in `format`. The JWE form needs the current
    /// key to be 32 bytes.
    pub fn with_format<K: AsRef<[u8]>>(keys: &[K], format: TokenFormat) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("at least one token key is required".into());
        }
        if format == TokenFormat::Jwe && keys[0].as_ref().len() != 32 {
            return Err("the JWE form (A256GCM) needs a 32-byte current key".into());
        }
        let ring = keys.iter().enumerate().map(|(i, key)| {
            let key = key.as_ref();
            Cipher::new(key)
                .ok_or_else(|| format!("key {i} is {} bytes, not 16, 24 or 32", key.len()))
        });
        let ring = ring.collect::<Result<_, _>>()?;
        let jwe_keys = keys
            .iter()
            .map(|k| k.as_ref().to_vec())
            .filter(|k| k.len() == 32)
            .collect();
        Ok(TokenSealer {
            ring,
            jwe_keys,
            format,
        })
    }

    /// Seals a token with the current key, in the configured form.
    pub fn seal(&self, token: &AuthToken) -> String {
        match self.format {
            TokenFormat::Gate => self.seal_gate(token),
            TokenFormat::Jwe => jwe::seal(&self.jwe_keys[0], token).unwrap_or_default(),
        }
    }

    /// Serialises and seals a token in the gateway's form with the current key.
    fn seal_gate(&self, token: &AuthToken) -> String {
        let nonce = super::random::bytes::<NONCE_LEN>();
        let plain = token.encode_to_vec();
        // Encryption fails only for inputs over 64 GiB.
        let sealed = self.ring[0].encrypt(&nonce, &plain).unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        URL_SAFE.encode(out)
    }

    /// Decodes and opens a token, in either form, with any key of the ring. Expiry is not
    /// checked here.
    pub fn open(&self, text: &str) -> Result<AuthToken, TokenError> {
        if text.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        if text.bytes().filter(|b| *b == b'.').count() == 4 {
            return jwe::open(&self.jwe_keys, text);
        }
        let bytes = URL_SAFE.decode(text).map_err(|_| TokenError::Malformed)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(TokenError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self.ring.iter().find_map(|c| c.decrypt(nonce, sealed));
        let plain = plain.ok_or(TokenError::BadKey)?;
        AuthToken::decode(plain.as_slice()).map_err(|_| TokenError::Malformed)
    }
}

/// Seals bytes under one AES-GCM key as handshake tokens are sealed (a random 12-byte nonce,
/// the ciphertext, the 16-byte tag), in URL-safe base64 without padding. It carries the
/// sign-in result of the Apple web flow to the app, which opens it with the platform key.
#[derive(Clone)]
pub struct Sealer(Cipher);

impl Sealer {
    /// A key of 16, 24 or 32 bytes.
    pub fn new(key: &[u8]) -> Result<Self, String> {
        Cipher::new(key)
            .map(Sealer)
            .ok_or_else(|| format!("a key of {} bytes; 16, 24 or 32 are required", key.len()))
    }

    pub fn seal(&self, plain: &[u8]) -> String {
        let nonce = super::random::bytes::<NONCE_LEN>();
        // Encryption fails only for inputs over 64 GiB.
        let sealed = self.0.encrypt(&nonce, plain).unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Opens what [`Sealer::seal`] made; `None` when it was not sealed with this key.
    pub fn open(&self, text: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        self.0.decrypt(nonce, sealed)
    }
}

mod jwe {
    //! The JWE form: the token's claims as JSON (proto3 JSON mapping) in a compact JWE with
    //! `alg` `dir` and `enc` `A256GCM`.

    use josekit::jwe::{self, Dir, JweHeader};

    use super::{AuthToken, TokenError};

    pub fn seal(key: &[u8], token: &AuthToken) -> Result<String, String> {
        let mut header = JweHeader::new();
        header.set_content_encryption("A256GCM");
        header.set_token_type("JWT");
        let payload = serde_json::to_vec(token).map_err(|e| e.to_string())?;
        let encrypter = Dir.encrypter_from_bytes(key).map_err(|e| e.to_string())?;
        jwe::serialize_compact(&payload, &header, &encrypter).map_err(|e| e.to_string())
    }

    pub fn open(keys: &[Vec<u8>], text: &str) -> Result<AuthToken, TokenError> {
        for key in keys {
            let Ok(decrypter) = Dir.decrypter_from_bytes(key) else {
                continue;
            };
            let Ok((payload, header)) = jwe::deserialize_compact(text, &decrypter) else {
                continue;
            };
            if header.content_encryption() != Some("A256GCM") {
                return Err(TokenError::Malformed);
            }
            return serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed);
        }
        Err(TokenError::BadKey)
    }
}

/// The claims of a new gateway token.
pub fn gate_token(account_id: i64, color: &str, zone: i32, expires_unix_s: i64) -> AuthToken {
    AuthToken {
        rand: hex(&super::random::bytes::<16>()),
        color: color.to_owned(),
        account_id,
        server_id: 0,
        timeout: expires_unix_s,
        location: zone,
        status: OnlineStatus::Gate as i32,
        unencrypted: false,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuthToken {
        gate_token(42, "blue", 3, 1_700_000_000)
    }

    #[test]
    fn seals_and_opens_with_every_key_size() {
        for len in [16, 24, 32] {
            let sealer = TokenSealer::new(&[vec![7u8; len]]).unwrap();
            let text = sealer.seal(&sample());
            assert_eq!(text.len() % 4, 0, "padded base64");
            assert!(!text.contains(['+', '/']), "URL-safe alphabet");
            let opened = sealer.open(&text).unwrap();
            assert_eq!(opened.account_id, 42);
            assert_eq!(opened.rand.len(), 32);
            assert_eq!(opened.status, OnlineStatus::Gate as i32);
        }
    }

    #[test]
    fn layout_is_nonce_ciphertext_tag() {
        let sealer = TokenSealer::new(&[[1u8; 32]]).unwrap();
        let token = sample();
        let bytes = URL_SAFE.decode(sealer.seal(&token)).unwrap();
        assert_eq!(bytes.len(), NONCE_LEN + token.encoded_len() + TAG_LEN);
        let cipher = Aes256Gcm::new_from_slice(&[1u8; 32]).unwrap();
        let plain = cipher
            .decrypt(Nonce::from_slice(&bytes[..12]), &bytes[12..])
            .unwrap();
        assert_eq!(AuthToken::decode(plain.as_slice()).unwrap(), token);
    }

    #[test]
    fn ring_opens_old_keys_and_seals_with_the_first() {
        let old = TokenSealer::new(&[[1u8; 32]]).unwrap();
        let ring = TokenSealer::new(&[[2u8; 32], [1u8; 32]]).unwrap();
        let new_only = TokenSealer::new(&[[2u8; 32]]).unwrap();
        assert!(ring.open(&old.seal(&sample())).is_ok());
        assert!(new_only.open(&ring.seal(&sample())).is_ok());
        assert_eq!(new_only.open(&old.seal(&sample())), Err(TokenError::BadKey));
    }

    #[test]
    fn damaged_tokens_are_refused() {
        let sealer = TokenSealer::new(&[[1u8; 16]]).unwrap();
        let text = sealer.seal(&sample());
        let mut flipped = URL_SAFE.decode(&text).unwrap();
        flipped[20] ^= 1;
        assert_eq!(
            sealer.open(&URL_SAFE.encode(flipped)),
            Err(TokenError::BadKey)
        );
        let padded_wrong = match text.strip_suffix('=') {
            Some(stripped) => stripped.to_owned(),
            None => format!("{text}="),
        };
        assert_eq!(sealer.open(&padded_wrong), Err(TokenError::Malformed));
        let standard = text.replace('-', "+").replace('_', "/");
        if standard != text {
            assert_eq!(sealer.open(&standard), Err(TokenError::Malformed));
        }
        assert_eq!(sealer.open(&text[..10]), Err(TokenError::Malformed));
        assert_eq!(sealer.open("!!!!"), Err(TokenError::Malformed));
        assert_eq!(
            sealer.open(&"A".repeat(MAX_TOKEN_LEN + 4)),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn jwe_form_round_trips_and_both_forms_open() {
        let key = [3u8; 32];
        let jwe = TokenSealer::with_format(&[key], TokenFormat::Jwe).unwrap();
        let gate = TokenSealer::new(&[key]).unwrap();
        let sealed = jwe.seal(&sample());
        assert_eq!(sealed.split('.').count(), 5, "compact JWE");
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sealed.split('.').next().unwrap())
            .unwrap();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(
            (header["alg"].as_str(), header["enc"].as_str()),
            (Some("dir"), Some("A256GCM"))
        );
        assert_eq!(
            gate.open(&sealed).unwrap(),
            sample_with_rand(&jwe.open(&sealed).unwrap())
        );
        assert!(
            jwe.open(&gate.seal(&sample())).is_ok(),
            "the gate form still opens"
        );
        let stranger = TokenSealer::with_format(&[[4u8; 32]], TokenFormat::Jwe).unwrap();
        assert_eq!(stranger.open(&sealed), Err(TokenError::BadKey));
        assert!(TokenSealer::with_format(&[[3u8; 16]], TokenFormat::Jwe).is_err());
    }

    fn sample_with_rand(opened: &AuthToken) -> AuthToken {
        AuthToken {
            rand: opened.rand.clone(),
            ..sample()
        }
    }

    #[test]
    fn bad_key_sizes_are_named() {
        let err = TokenSealer::new(&[vec![0u8; 16], vec![0u8; 20]])
            .err()
            .unwrap();
        assert!(err.contains("key 1 is 20 bytes"));
        assert!(TokenSealer::new::<Vec<u8>>(&[]).is_err());
    }
}
