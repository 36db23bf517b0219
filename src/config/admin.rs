//! The `admin` section: the keys that may call the admin API.

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};

/// What an admin key may do. An operator may do everything a viewer may.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    /// Reads accounts, sessions, notices, the audit log and sign-in events.
    Viewer,
    /// Also bans, ends sessions, resets passwords, sets colours and edits notices.
    Operator,
}

impl AdminRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Viewer => "viewer",
            AdminRole::Operator => "operator",
        }
    }
}

/// One admin key, stored as the SHA-256 of the key text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminKey {
    /// Who holds the key; written to the audit log as the actor. 1 to 64 characters of
    /// `A-Z a-z 0-9 . _ @ -`.
    pub name: String,
    pub role: AdminRole,
    /// Lower-case hex SHA-256 of the key (`lares admin-key` prints one).
    pub sha256: String,
}

/// Admin keys. Without any, every admin call answers `UNAUTHENTICATED`.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Admin {
    /// One operator key, named `bootstrap`, for first set-up; meant for
    /// `LARES__ADMIN__BOOTSTRAP_KEY`. At least 24 characters. Default empty (none).
    #[serde(deserialize_with = "super::lenient_text")]
    pub bootstrap_key: String,
    /// The keys, by hash. Default none.
    pub keys: Vec<AdminKey>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field(
                "bootstrap_key",
                &(!self.bootstrap_key.is_empty()).then_some("<redacted>"),
            )
            .field("keys", &self.keys)
            .finish()
    }
}

/// The name the bootstrap key acts under.
pub const BOOTSTRAP_NAME: &str = "bootstrap";
/// Shortest bootstrap key accepted.
const BOOTSTRAP_MIN: usize = 24;

impl Admin {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.bootstrap_key.is_empty() && self.bootstrap_key.chars().count() < BOOTSTRAP_MIN {
            return Err(invalid(
                "admin.bootstrap_key",
                "must be at least 24 characters (`lares admin-key` makes one)",
            ));
        }
        let mut names = std::collections::HashSet::new();
        for key in &self.keys {
            let name_ok = (1..=64).contains(&key.name.len())
                && key
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c));
            if !name_ok {
                return Err(invalid(
                    "admin.keys",
                    format!(
                        "name {:?}: 1 to 64 characters of A-Z a-z 0-9 . _ @ -",
                        key.name
                    ),
                ));
            }
            if key.name == BOOTSTRAP_NAME || !names.insert(key.name.as_str()) {
                return Err(invalid(
                    "admin.keys",
                    format!("name {:?} is used twice or reserved", key.name),
                ));
            }
            let hash_ok = key.sha256.len() == 64
                && key
                    .sha256
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
            if !hash_ok {
                return Err(invalid(
                    "admin.keys",
                    format!("{}: sha256 must be 64 lower-case hex digits", key.name),
                ));
            }
        }
        Ok(())
    }
}
