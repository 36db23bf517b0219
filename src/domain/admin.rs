//! Admin credentials: keys are held as SHA-256 hashes and compared in constant time, each with a
//! name (the actor in the audit log) and a role.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Error, Reason, Result};
use crate::config::{Admin, AdminRole, BOOTSTRAP_NAME};

/// Who is calling the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: AdminRole,
}

struct Held {
    name: String,
    role: AdminRole,
    hash: [u8; 32],
}

/// Why an admin call was refused, for the security log (never the key itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    Missing,
    Unknown,
    Role,
}

impl Denial {
    pub fn as_str(self) -> &'static str {
        match self {
            Denial::Missing => "missing",
            Denial::Unknown => "unknown_key",
            Denial::Role => "role",
        }
    }
}

/// The admin keys of this deployment.
pub struct AdminKeys {
    keys: Vec<Held>,
}

/// Longest `Authorization` value looked at.
const MAX_CREDENTIAL: usize = 512;

impl AdminKeys {
    pub fn new(config: &Admin) -> Self {
        let mut keys: Vec<Held> = config
            .keys
            .iter()
            .filter_map(|k| {
                let hash = <[u8; 32]>::try_from(hex::decode(&k.sha256).ok()?).ok()?;
                Some(Held {
                    name: k.name.clone(),
                    role: k.role,
                    hash,
                })
            })
            .collect();
        if !config.bootstrap_key.is_empty() {
            keys.push(Held {
                name: BOOTSTRAP_NAME.to_owned(),
                role: AdminRole::Operator,
                hash: digest(&config.bootstrap_key),
            });
        }
        AdminKeys { keys }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks an `Authorization` value (`Bearer <key>`) against the keys and the role `need`.
    /// Every key is compared, so the time taken does not tell which one came close.
    pub fn authorize(
        &self,
        authorization: Option<&str>,
        need: AdminRole,
    ) -> std::result::Result<Caller, (Denial, Option<String>)> {
        let key = authorization
            .filter(|v| v.len() <= MAX_CREDENTIAL)
            .and_then(bearer)
            .ok_or((Denial::Missing, None))?;
        let presented = digest(key);
        let mut found: Option<&Held> = None;
        for held in &self.keys {
            if bool::from(held.hash.ct_eq(&presented)) {
                found = Some(held);
            }
        }
        let held = found.ok_or((Denial::Unknown, None))?;
        if held.role < need {
            return Err((Denial::Role, Some(held.name.clone())));
        }
        Ok(Caller {
            name: held.name.clone(),
            role: held.role,
        })
    }
}

/// The error a refused admin call answers.
pub fn denied(denial: Denial, need: AdminRole) -> Error {
    match denial {
        Denial::Missing => Error::new(
            Reason::Unauthenticated,
            "an admin key is required: Authorization: Bearer <key>",
        ),
        Denial::Unknown => Error::new(Reason::Unauthenticated, "admin key not recognised"),
        Denial::Role => Error::new(
            Reason::PermissionDenied,
            format!("this call needs the {} role", need.as_str()),
        ),
    }
}

/// The key from `Bearer <key>` (scheme case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, key) = value.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The configuration hash of a key, as `admin.keys[].sha256` wants it.
pub fn key_hash(key: &str) -> String {
    hex::encode(digest(key))
}

/// A new random admin key.
pub fn new_key() -> String {
    format!("lra_{}", super::random::b64_token::<32>())
}

pub fn checked(keys: &AdminKeys, authorization: Option<&str>, need: AdminRole) -> Result<Caller> {
    keys.authorize(authorization, need)
        .map_err(|(denial, _)| denied(denial, need))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AdminKey;

    fn keys() -> AdminKeys {
        AdminKeys::new(&Admin {
            bootstrap_key: "bootstrap-key-of-at-least-24-chars".into(),
            keys: vec![AdminKey {
                name: "ana".into(),
                role: AdminRole::Viewer,
                sha256: key_hash("viewer-key"),
            }],
        })
    }

    #[test]
    fn keys_are_matched_by_hash_and_role() {
        let keys = keys();
        let viewer = keys.authorize(Some("Bearer viewer-key"), AdminRole::Viewer);
        assert_eq!(viewer.unwrap().name, "ana");
        let denied = keys.authorize(Some("bearer viewer-key"), AdminRole::Operator);
        assert_eq!(denied.unwrap_err(), (Denial::Role, Some("ana".into())));
        let boot = keys.authorize(
            Some("Bearer bootstrap-key-of-at-least-24-chars"),
            AdminRole::Operator,
        );
        assert_eq!(boot.unwrap().name, BOOTSTRAP_NAME);
    }

    #[test]
    fn missing_malformed_and_unknown_keys_are_refused() {
        let keys = keys();
        for (value, why) in [
            (None, Denial::Missing),
            (Some("viewer-key"), Denial::Missing),
            (Some("Basic dmlld2VyLWtleQ=="), Denial::Missing),
            (Some("Bearer "), Denial::Missing),
            (Some("Bearer viewer-key2"), Denial::Unknown),
        ] {
            let err = keys.authorize(value, AdminRole::Viewer).unwrap_err();
            assert_eq!(err.0, why, "{value:?}");
        }
        let long = format!("Bearer {}", "k".repeat(600));
        assert_eq!(
            keys.authorize(Some(&long), AdminRole::Viewer)
                .unwrap_err()
                .0,
            Denial::Missing
        );
    }

    #[test]
    fn new_keys_differ_and_hash_to_hex() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert_eq!(key_hash(&a).len(), 64);
    }
}
