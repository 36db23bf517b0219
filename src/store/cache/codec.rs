//! Compact binary forms of cached values (protobuf, so fields can be added later).

use prost::Message;

use crate::domain::clock::Millis;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{Revocation, RevokeReason, Session, decode_retired, encode_retired};
use crate::store::{Account, AccountStatus};

/// A family without its generation and revocation, which are kept beside it so that scripts
/// can compare and set them.
#[derive(Clone, PartialEq, Message)]
struct SessionBody {
    #[prost(int64, tag = "1")]
    account: i64,
    #[prost(bytes = "vec", tag = "2")]
    current: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    retired: Vec<u8>,
    #[prost(int64, tag = "4")]
    created_ms: i64,
    #[prost(int64, tag = "5")]
    expires_ms: i64,
    #[prost(int64, tag = "6")]
    absolute_ms: i64,
    #[prost(int64, tag = "7")]
    epoch: i64,
}

pub fn encode_session(s: &Session) -> Vec<u8> {
    SessionBody {
        account: s.account.0,
        current: s.current.to_vec(),
        retired: encode_retired(&s.retired),
        created_ms: s.created_ms,
        expires_ms: s.expires_ms,
        absolute_ms: s.absolute_ms,
        epoch: s.epoch,
    }
    .encode_to_vec()
}

/// Rebuilds a family; `None` when the bytes are not one.
pub fn decode_session(
    id: &SessionId,
    generation: i64,
    body: &[u8],
    revoked: Option<&str>,
) -> Option<Session> {
    let b = SessionBody::decode(body).ok()?;
    let current: [u8; 32] = b.current.as_slice().try_into().ok()?;
    Some(Session {
        id: id.clone(),
        account: AccountId(b.account),
        current,
        retired: decode_retired(&b.retired),
        generation,
        epoch: b.epoch,
        created_ms: b.created_ms,
        expires_ms: b.expires_ms,
        absolute_ms: b.absolute_ms,
        revoked: revoked.and_then(decode_revocation),
    })
}

/// `at_ms:reason`.
pub fn encode_revocation(r: &Revocation) -> String {
    format!("{}:{}", r.at_ms, r.reason.as_str())
}

pub fn decode_revocation(text: &str) -> Option<Revocation> {
    let (at, reason) = text.split_once(':')?;
    let at_ms: Millis = at.parse().ok()?;
    Some(Revocation {
        at_ms,
        reason: RevokeReason::parse(reason).unwrap_or(RevokeReason::Logout),
    })
}

#[derive(Clone, PartialEq, Message)]
struct AccountSummary {
    #[prost(int64, tag = "1")]
    id: i64,
    #[prost(int32, tag = "2")]
    zone: i32,
    #[prost(string, optional, tag = "3")]
    default_color: Option<String>,
    #[prost(bool, tag = "4")]
    banned: bool,
    #[prost(int64, optional, tag = "5")]
    banned_until_ms: Option<i64>,
    #[prost(int64, tag = "6")]
    created_ms: i64,
}

pub fn encode_account(a: &Account) -> Vec<u8> {
    AccountSummary {
        id: a.id.0,
        zone: a.zone,
        default_color: a.default_color.clone(),
        banned: a.status == AccountStatus::Banned,
        banned_until_ms: a.banned_until_ms,
        created_ms: a.created_ms,
    }
    .encode_to_vec()
}

pub fn decode_account(bytes: &[u8]) -> Option<Account> {
    let s = AccountSummary::decode(bytes).ok()?;
    Some(Account {
        id: AccountId(s.id),
        zone: s.zone,
        username: None,
        password_hash: None,
        default_color: s.default_color,
        status: if s.banned {
            AccountStatus::Banned
        } else {
            AccountStatus::Active
        },
        banned_until_ms: s.banned_until_ms,
        created_ms: s.created_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::credentials::SecretHasher;
    use crate::domain::session::SessionPolicy;

    #[test]
    fn sessions_round_trip() {
        let policy = SessionPolicy {
            idle_ms: 1000,
            absolute_ms: 5000,
            grace_ms: 10,
        };
        let hasher = SecretHasher::new(b"k");
        let (mut s, _) = Session::open(AccountId(9), &hasher, &policy, 100);
        s.rotate(&hasher, &policy, 200);
        s.revoke(RevokeReason::Reuse, 300);
        let rev = encode_revocation(&s.revoked.unwrap());
        let back = decode_session(&s.id, s.generation, &encode_session(&s), Some(&rev)).unwrap();
        assert_eq!(back, s);
        assert_eq!(decode_session(&s.id, 0, b"\xff\xff", None), None);
    }

    #[test]
    fn accounts_round_trip_without_secrets() {
        let mut a = Account::new_guest(AccountId(3), 2, 50);
        a.default_color = Some("blue".into());
        a.status = AccountStatus::Banned;
        a.banned_until_ms = Some(99);
        assert_eq!(decode_account(&encode_account(&a)), Some(a));
    }
}
