//! What clients present: usernames, passwords and session credentials, with the rules each must
//! meet. Session secrets are stored only as a keyed hash (HMAC-SHA-256 under the session key), so
//! a copy of the database alone cannot be used to forge or check one.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::{Error, Result};
use super::ids::SessionId;
use super::random;

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;

/// A username that meets the rules: 3 to 32 of ASCII letters, digits, `_`, `.` and `-`.
/// Uniqueness ignores case, through [`Username::key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(text: &str) -> Result<Self> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if !(USERNAME_MIN..=USERNAME_MAX).contains(&text.chars().count()) {
            return Err(Error::param("username: must be 3 to 32 characters"));
        }
        if !text.chars().all(allowed) {
            return Err(Error::param(
                "username: only ASCII letters, digits, '_', '.' and '-' are allowed",
            ));
        }
        Ok(Username(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that is unique across accounts.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// Checks a password's length (8 to 128 characters); the text itself is never logged or echoed.
pub fn check_password(text: &str) -> Result<()> {
    if (PASSWORD_MIN..=PASSWORD_MAX).contains(&text.chars().count()) {
        Ok(())
    } else {
        Err(Error::param("password: must be 8 to 128 characters"))
    }
}

/// A device id for guest sign-in: 8 to 128 printable ASCII characters (no spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId(String);

impl DeviceId {
    pub const MIN: usize = 8;
    pub const MAX: usize = 128;

    pub fn parse(text: &str) -> Result<Self> {
        let printable = text.bytes().all(|b| b.is_ascii_graphic());
        if !(Self::MIN..=Self::MAX).contains(&text.len()) || !printable {
            return Err(Error::param(
                "deviceId: 8 to 128 printable ASCII characters",
            ));
        }
        Ok(DeviceId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A session credential, `sessionId.secret`: the family id and a 256-bit secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionCredential {
    pub id: SessionId,
    secret: String,
}

/// Length of the secret part: 32 bytes in URL-safe base64 without padding.
const SECRET_LEN: usize = 43;

impl SessionCredential {
    /// A new credential for the given family.
    pub fn issue(id: SessionId) -> Self {
        SessionCredential {
            id,
            secret: random::b64_token::<32>(),
        }
    }

    /// Parses `sessionId.secret`; anything else is `SESSION_ILLEGAL`.
    pub fn parse(text: &str) -> Result<Self> {
        let (id, secret) = text.split_once('.').ok_or_else(Error::session_illegal)?;
        let id = SessionId::parse(id).ok_or_else(Error::session_illegal)?;
        if secret.len() != SECRET_LEN || !secret.bytes().all(random::is_b64url) {
            return Err(Error::session_illegal());
        }
        Ok(SessionCredential {
            id,
            secret: secret.to_owned(),
        })
    }

    /// The text handed to the client.
    pub fn expose(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }
}

impl std::fmt::Debug for SessionCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionCredential({}.<redacted>)", self.id)
    }
}

/// Keyed hash of a session secret, as stored.
pub type SecretHash = [u8; 32];

/// Hashes session secrets under the session key.
#[derive(Clone)]
pub struct SecretHasher {
    key: Vec<u8>,
}

impl SecretHasher {
    pub fn new(key: &[u8]) -> Self {
        SecretHasher { key: key.to_vec() }
    }

    pub fn hash(&self, credential: &SessionCredential) -> SecretHash {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(credential.id.as_str().as_bytes());
        mac.update(b".");
        mac.update(credential.secret.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::Reason;

    #[test]
    fn usernames_follow_the_documented_rules() {
        for good in ["abc", "Player_1", "a.b-c", &"x".repeat(32)] {
            assert!(Username::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "",
            &"x".repeat(33),
            "has space",
            "émile",
            "semi;colon",
            "null\0",
        ] {
            let err = Username::parse(bad).unwrap_err();
            assert_eq!(err.reason, Reason::ParamInvalid, "{bad}");
        }
        assert_eq!(Username::parse("MiXeD").unwrap().key(), "mixed");
    }

    #[test]
    fn device_ids_are_printable_and_bounded() {
        for good in [
            "abcdefgh",
            "A1B2-C3D4-E5F6",
            &"d".repeat(128),
            "00000000-0000-4000-8000-000000000000",
        ] {
            assert!(DeviceId::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "short",
            "",
            &"d".repeat(129),
            "has space!",
            "tab\there12",
            "ünïcödé-id",
        ] {
            assert_eq!(
                DeviceId::parse(bad).unwrap_err().reason,
                Reason::ParamInvalid,
                "{bad}"
            );
        }
    }

    #[test]
    fn passwords_are_length_checked_in_characters() {
        assert!(check_password("12345678").is_ok());
        assert!(check_password("ééééééé").is_err());
        assert!(check_password("éééééééé").is_ok());
        assert!(check_password(&"p".repeat(129)).is_err());
        assert!(
            !check_password("short")
                .unwrap_err()
                .message
                .contains("short")
        );
    }

    #[test]
    fn credentials_round_trip_and_reject_other_shapes() {
        let cred = SessionCredential::issue(SessionId::random());
        let text = cred.expose();
        assert_eq!(SessionCredential::parse(&text).unwrap(), cred);
        assert!(!format!("{cred:?}").contains(&cred.secret));
        let (id, _) = text.split_once('.').unwrap();
        for bad in [
            String::new(),
            id.to_owned(),
            format!("{id}."),
            format!("{id}.{}", "a".repeat(42)),
            format!("{id}.{}", "+".repeat(43)),
            format!("x.{}", "a".repeat(43)),
        ] {
            assert_eq!(
                SessionCredential::parse(&bad).unwrap_err().reason,
                Reason::SessionIllegal
            );
        }
    }

    #[test]
    fn secret_hash_depends_on_key_and_secret() {
        let cred = SessionCredential::issue(SessionId::random());
        let other = SessionCredential::issue(cred.id.clone());
        let a = SecretHasher::new(b"key-one");
        let b = SecretHasher::new(b"key-two");
        assert_eq!(a.hash(&cred), a.hash(&cred));
        assert_ne!(a.hash(&cred), b.hash(&cred));
        assert_ne!(a.hash(&cred), a.hash(&other));
    }
}
