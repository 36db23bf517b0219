//! Typed ids, so that an account id and a session id cannot be swapped, and the opaque form of
//! account ids that clients see.

use std::fmt;

/// Internal account number (the `accounts.id` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Id of a session family: stable across rotations of its credential. 128 random bits,
/// URL-safe base64 without padding (22 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    pub const LEN: usize = 22;

    pub fn random() -> Self {
        SessionId(super::random::b64_token::<16>())
    }

    /// Accepts only the exact shape [`SessionId::random`] produces.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = text.len() == Self::LEN && text.bytes().all(super::random::is_b64url);
        valid.then(|| SessionId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Turns internal account numbers into the opaque, stable strings clients see and back
/// (hashids, salted). Obfuscation only: an account id is not a secret.
pub struct AccountIdCodec(harsh::Harsh);

/// Longest opaque id accepted on input; real ones are far shorter.
const MAX_OPAQUE_LEN: usize = 32;

impl AccountIdCodec {
    pub fn new(salt: &str, min_length: usize) -> Result<Self, String> {
        let harsh = harsh::Harsh::builder()
            .salt(salt)
            .length(min_length)
            .build();
        harsh.map(AccountIdCodec).map_err(|e| e.to_string())
    }

    pub fn encode(&self, id: AccountId) -> String {
        self.0.encode(&[id.0 as u64])
    }

    pub fn decode(&self, text: &str) -> Option<AccountId> {
        if text.is_empty() || text.len() > MAX_OPAQUE_LEN || !text.is_ascii() {
            return None;
        }
        match self.0.decode(text).ok()?.as_slice() {
            [n] if *n > 0 && *n <= i64::MAX as u64 => Some(AccountId(*n as i64)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_ids_round_trip_and_reject_garbage() {
        let codec = AccountIdCodec::new("salt", 8).unwrap();
        for n in [1, 42, 1 << 40, i64::MAX] {
            let text = codec.encode(AccountId(n));
            assert!(text.len() >= 8);
            assert_eq!(codec.decode(&text), Some(AccountId(n)));
        }
        for bad in ["", "x", "not-an-id!", "ééééééééé", &"a".repeat(200)] {
            assert_eq!(codec.decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn opaque_ids_depend_on_the_salt() {
        let a = AccountIdCodec::new("one", 8).unwrap();
        let b = AccountIdCodec::new("two", 8).unwrap();
        assert_ne!(a.encode(AccountId(7)), b.encode(AccountId(7)));
    }

    #[test]
    fn session_ids_have_one_shape() {
        let id = SessionId::random();
        assert_eq!(id.as_str().len(), SessionId::LEN);
        assert_eq!(SessionId::parse(id.as_str()), Some(id));
        assert_eq!(SessionId::parse("short"), None);
        assert_eq!(SessionId::parse(&"+".repeat(SessionId::LEN)), None);
    }
}
