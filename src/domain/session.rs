//! Session families and the rotation rules of RFC 9700: every rotation retires the presented
//! secret; a retired secret never works again, and presenting one after the grace window is
//! treated as theft and revokes the family. Pure state; the session actor applies it and the
//! stores persist it.

use subtle::ConstantTimeEq;

use super::clock::Millis;
use super::credentials::{SecretHash, SecretHasher, SessionCredential};
use super::ids::{AccountId, SessionId};

/// How many retired secrets a family remembers for reuse detection. An older one than that
/// fails as unknown, without revoking the family.
pub const RETIRED_HISTORY: usize = 16;

/// Lifetimes of a session family, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Sliding lifetime, renewed by every rotation.
    pub idle_ms: Millis,
    /// Absolute lifetime from the sign-in, never renewed.
    pub absolute_ms: Millis,
    /// How long a retired secret may be presented again without revoking the family.
    pub grace_ms: Millis,
}

/// A retired secret and when it was retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retired {
    pub hash: SecretHash,
    pub at_ms: Millis,
}

/// Why a family was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    Logout,
    LogoutAll,
    /// A retired credential was presented after the grace window.
    Reuse,
    /// A newer sign-in of the account under the single-session policy.
    SingleSession,
    /// The account was banned.
    Ban,
    /// An operator ended the session.
    Admin,
    /// An operator set a new password.
    PasswordReset,
}

impl RevokeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Logout => "logout",
            RevokeReason::LogoutAll => "logout_all",
            RevokeReason::Reuse => "reuse",
            RevokeReason::SingleSession => "single_session",
            RevokeReason::Ban => "ban",
            RevokeReason::Admin => "admin",
            RevokeReason::PasswordReset => "password_reset",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let all = [
            Self::Logout,
            Self::LogoutAll,
            Self::Reuse,
            Self::SingleSession,
            Self::Ban,
            Self::Admin,
            Self::PasswordReset,
        ];
        all.into_iter().find(|r| r.as_str() == text)
    }
}

/// A revoked family, as told to gateways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    pub account: AccountId,
    pub session: SessionId,
    pub reason: RevokeReason,
    pub at_ms: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    pub at_ms: Millis,
    pub reason: RevokeReason,
}

/// One session family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub account: AccountId,
    /// Hash of the one secret that is valid now.
    pub current: SecretHash,
    /// Recently retired secrets, newest first, at most [`RETIRED_HISTORY`].
    pub retired: Vec<Retired>,
    /// Number of rotations so far; guards concurrent writers (compare and set).
    pub generation: i64,
    /// Sign-in epoch under the single-session policy (0 when the policy is off): a family
    /// with a lower epoch than a newer sign-in of the account is revoked by it.
    pub epoch: i64,
    pub created_ms: Millis,
    /// Sliding expiry.
    pub expires_ms: Millis,
    /// Absolute expiry.
    pub absolute_ms: Millis,
    pub revoked: Option<Revocation>,
}

/// What a presented secret turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The current secret of a live family.
    Current,
    Expired,
    Revoked,
    /// Retired within the grace window: refused, but the family lives on.
    RetiredInGrace,
    /// Retired before the grace window: the family must be revoked.
    Reuse,
    /// Never issued for this family, as far as it remembers.
    Unknown,
}

impl Session {
    /// Starts a family and returns it with its first credential.
    pub fn open(
        account: AccountId,
        hasher: &SecretHasher,
        policy: &SessionPolicy,
        now: Millis,
    ) -> (Session, SessionCredential) {
        let credential = SessionCredential::issue(SessionId::random());
        let absolute_ms = now.saturating_add(policy.absolute_ms);
        let session = Session {
            id: credential.id.clone(),
            account,
            current: hasher.hash(&credential),
            retired: Vec::new(),
            generation: 0,
            epoch: 0,
            created_ms: now,
            expires_ms: now.saturating_add(policy.idle_ms).min(absolute_ms),
            absolute_ms,
            revoked: None,
        };
        (session, credential)
    }

    /// Classifies a presented secret hash. Revocation and expiry are checked first, so a dead
    /// family answers the same whatever is presented.
    pub fn check(&self, presented: &SecretHash, policy: &SessionPolicy, now: Millis) -> Verdict {
        if self.revoked.is_some() {
            return Verdict::Revoked;
        }
        if now >= self.expires_ms {
            return Verdict::Expired;
        }
        if bool::from(self.current.ct_eq(presented)) {
            return Verdict::Current;
        }
        match self
            .retired
            .iter()
            .find(|r| bool::from(r.hash.ct_eq(presented)))
        {
            Some(r) if now - r.at_ms <= policy.grace_ms => Verdict::RetiredInGrace,
            Some(_) => Verdict::Reuse,
            None => Verdict::Unknown,
        }
    }

    /// Retires the current secret and returns the new credential. Call only after
    /// [`Session::check`] answered [`Verdict::Current`].
    pub fn rotate(
        &mut self,
        hasher: &SecretHasher,
        policy: &SessionPolicy,
        now: Millis,
    ) -> SessionCredential {
        let credential = SessionCredential::issue(self.id.clone());
        self.retired.insert(
            0,
            Retired {
                hash: self.current,
                at_ms: now,
            },
        );
        self.retired.truncate(RETIRED_HISTORY);
        self.current = hasher.hash(&credential);
        self.generation += 1;
        self.expires_ms = now.saturating_add(policy.idle_ms).min(self.absolute_ms);
        credential
    }

    pub fn revoke(&mut self, reason: RevokeReason, now: Millis) {
        if self.revoked.is_none() {
            self.revoked = Some(Revocation { at_ms: now, reason });
        }
    }
}

/// Packs retired secrets for storage: 40 bytes each, hash then big-endian milliseconds.
pub fn encode_retired(retired: &[Retired]) -> Vec<u8> {
    let mut out = Vec::with_capacity(retired.len() * 40);
    for r in retired {
        out.extend_from_slice(&r.hash);
        out.extend_from_slice(&r.at_ms.to_be_bytes());
    }
    out
}

/// Unpacks [`encode_retired`]; a torn tail is dropped.
pub fn decode_retired(bytes: &[u8]) -> Vec<Retired> {
    let entries = bytes.chunks_exact(40).take(RETIRED_HISTORY);
    entries
        .map(|chunk| {
            let (hash, at) = chunk.split_at(32);
            let mut h = [0u8; 32];
            h.copy_from_slice(hash);
            let mut t = [0u8; 8];
            t.copy_from_slice(at);
            Retired {
                hash: h,
                at_ms: Millis::from_be_bytes(t),
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
