use super::*;
use crate::domain::credentials::SecretHasher;
use crate::domain::session::{RevokeReason, SessionPolicy};

fn family(generation_steps: usize) -> Session {
    let policy = SessionPolicy {
        idle_ms: 1000,
        absolute_ms: 5000,
        grace_ms: 10,
    };
    let hasher = SecretHasher::new(b"k");
    let (mut s, _) = Session::open(AccountId(1), &hasher, &policy, 0);
    for t in 0..generation_steps {
        s.rotate(&hasher, &policy, t as i64);
    }
    s
}

#[test]
fn coalesces_to_the_newest_family_and_keeps_revocations() {
    let mut pending = Pending::default();
    let newer = family(3);
    let mut older = newer.clone();
    older.generation = 1;
    older.revoke(RevokeReason::Logout, 7);
    pending.add(Record::Session(newer.clone()));
    pending.add(Record::Session(older));
    assert_eq!(pending.sessions.len(), 1);
    let kept = &pending.sessions[&newer.id];
    assert_eq!(kept.generation, 3);
    assert_eq!(
        kept.revoked.map(|r| r.at_ms),
        Some(7),
        "a revocation is never dropped"
    );
}

#[test]
fn keeps_the_latest_sign_in_and_every_event() {
    let mut pending = Pending::default();
    for at in [5, 9, 7] {
        pending.add(Record::Login(LastLogin {
            account: AccountId(1),
            ip: None,
            at_ms: at,
        }));
        pending.add(Record::Event(LoginEvent {
            account: AccountId(1),
            provider: "device",
            ip: None,
            at_ms: at,
        }));
    }
    assert_eq!(pending.logins[&AccountId(1)].at_ms, 9);
    assert_eq!(pending.events.len(), 3);
}

#[test]
fn batches_are_bounded_and_failed_ones_come_back() {
    let mut pending = Pending::default();
    for i in 0..10 {
        pending.add(Record::Login(LastLogin {
            account: AccountId(i),
            ip: None,
            at_ms: 1,
        }));
        pending.add(Record::Event(LoginEvent {
            account: AccountId(i),
            provider: "device",
            ip: None,
            at_ms: 1,
        }));
    }
    let batch = pending.take(7);
    assert_eq!(batch.len(), 7);
    assert_eq!(pending.len(), 13);
    pending.restore(batch);
    assert_eq!(pending.len(), 20);
}

#[test]
fn batches_hold_rows_in_key_order() {
    let mut pending = Pending::default();
    for i in [7, 3, 9, 1, 5, 8, 2] {
        pending.add(Record::Login(LastLogin {
            account: AccountId(i),
            ip: None,
            at_ms: 1,
        }));
        let copy = family(0);
        pending.add(Record::Revoked(
            copy.id.clone(),
            Revocation {
                reason: RevokeReason::Logout,
                at_ms: 1,
            },
        ));
        pending.add(Record::Session(copy));
    }
    let batch = pending.take(100);
    let accounts: Vec<i64> = batch.logins.iter().map(|l| l.account.0).collect();
    assert_eq!(accounts, [1, 2, 3, 5, 7, 8, 9]);
    let ids: Vec<&str> = batch.sessions.iter().map(|s| s.id.as_str()).collect();
    assert!(ids.is_sorted(), "{ids:?}");
    let revoked: Vec<&str> = batch.revocations.iter().map(|r| r.0.as_str()).collect();
    assert!(revoked.is_sorted(), "{revoked:?}");
    assert_eq!(ids.len(), 7);
}
