//! Identities in the store: accounts created for them in batches, linking, listing and
//! unlinking, on SQLite and PostgreSQL; and forgetting a cached identity, in process and in
//! Redis.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::{Backend, TestStore, clear_redis_prefix, redis_url};
use lares::domain::clock::ManualClock;
use lares::domain::ids::AccountId;
use lares::store::cache::{Cache, MemoryCache, RedisCache};
use lares::store::{Account, IdentityRecord, NewAccount, NewIdentity, Store, StoreError, Unlinked};

for_each_db!(
    a_batch_creates_one_account_per_identity,
    linking_attaches_free_identities_only,
    unlinking_removes_identities_but_keeps_a_way_in,
    a_password_is_a_way_in,
    concurrent_unlinks_keep_a_way_in,
);

const NOW: i64 = 1_800_000_000_000;

fn new_identity(provider: &str, subject: &str) -> NewIdentity {
    NewIdentity {
        provider: provider.into(),
        subject: subject.into(),
        zone: 3,
        register_ip: Some("198.51.100.7".into()),
        now_ms: NOW,
    }
}

fn record(provider: &str, subject: &str) -> IdentityRecord {
    IdentityRecord {
        provider: provider.into(),
        subject: subject.into(),
    }
}

/// A new guest account for one identity.
async fn guest(store: &dyn Store, provider: &str, subject: &str) -> Account {
    let made = store
        .create_identity_accounts(&[new_identity(provider, subject)])
        .await
        .unwrap();
    assert!(made[0].created);
    made[0].account.clone()
}

async fn a_batch_creates_one_account_per_identity(backend: Backend) {
    let t = TestStore::open(backend).await;
    let store = t.store.as_ref();
    let batch = [
        new_identity("device", "device-0001"),
        new_identity("apple", "001234.abcd"),
        new_identity("google", "same-subject"),
        new_identity("facebook", "same-subject"),
        new_identity("apple", "001234.abcd"),
    ];
    let made = store.create_identity_accounts(&batch).await.unwrap();
    assert_eq!(made.len(), batch.len(), "one answer per entry");
    let created: Vec<bool> = made.iter().map(|m| m.created).collect();
    assert_eq!(created, [true, true, true, true, false]);
    assert_eq!(
        made[4].account.id, made[1].account.id,
        "an identity listed twice gets one account"
    );
    let ids: HashSet<AccountId> = made.iter().map(|m| m.account.id).collect();
    assert_eq!(
        ids.len(),
        4,
        "one subject under two providers is two identities"
    );
    for (new, answer) in batch.iter().zip(&made) {
        let found = store
            .account_by_identity(&new.provider, &new.subject)
            .await
            .unwrap()
            .expect("the identity has its account");
        assert_eq!(found.id, answer.account.id);
        assert_eq!(found.zone, 3);
        assert_eq!(found.created_ms, NOW);
    }

    let again = [
        new_identity("google", "another"),
        new_identity("apple", "001234.abcd"),
    ];
    let made_again = store.create_identity_accounts(&again).await.unwrap();
    assert!(made_again[0].created);
    assert!(!made_again[1].created, "an existing identity is found");
    assert_eq!(made_again[1].account.id, made[1].account.id);
    assert_eq!(
        store.identities(made[1].account.id).await.unwrap(),
        [record("apple", "001234.abcd")]
    );
    assert_eq!(t.db.count("accounts").await, 5, "no account left over");
    assert_eq!(t.db.count("identities").await, 5);
    t.close().await;
}

async fn linking_attaches_free_identities_only(backend: Backend) {
    let t = TestStore::open(backend).await;
    let store = t.store.as_ref();
    let mine = guest(store, "device", "device-0001").await.id;
    let other = guest(store, "device", "device-0002").await.id;

    assert!(
        store
            .link_identity(mine, "google", "g-1", NOW)
            .await
            .unwrap(),
        "attached now"
    );
    assert!(
        store
            .link_identity(mine, "apple", "a-1", NOW)
            .await
            .unwrap()
    );
    assert!(
        !store
            .link_identity(mine, "apple", "a-1", NOW)
            .await
            .unwrap(),
        "already this account's"
    );
    let taken = store.link_identity(other, "apple", "a-1", NOW).await;
    assert!(matches!(taken, Err(StoreError::Conflict)), "{taken:?}");
    let taken = store
        .link_identity(other, "device", "device-0001", NOW)
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict)), "{taken:?}");
    let missing = store
        .link_identity(AccountId(987_654), "facebook", "f-1", NOW)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");

    assert_eq!(
        store.identities(mine).await.unwrap(),
        [
            record("apple", "a-1"),
            record("device", "device-0001"),
            record("google", "g-1"),
        ]
    );
    assert_eq!(
        store.identities(other).await.unwrap(),
        [record("device", "device-0002")]
    );
    assert!(
        store
            .identities(AccountId(987_654))
            .await
            .unwrap()
            .is_empty()
    );
    let found = store.account_by_identity("apple", "a-1").await.unwrap();
    assert_eq!(found.map(|a| a.id), Some(mine));
    t.close().await;
}

async fn unlinking_removes_identities_but_keeps_a_way_in(backend: Backend) {
    let t = TestStore::open(backend).await;
    let store = t.store.as_ref();
    let account = guest(store, "device", "device-0001").await.id;
    for (provider, subject) in [("apple", "a-2"), ("apple", "a-1"), ("google", "g-1")] {
        assert!(
            store
                .link_identity(account, provider, subject, NOW)
                .await
                .unwrap()
        );
    }

    let unlinked = store.unlink_identity(account, "facebook", None).await;
    assert_eq!(unlinked.unwrap(), Unlinked::NotLinked);
    let unlinked = store.unlink_identity(account, "google", Some("g-2")).await;
    assert_eq!(unlinked.unwrap(), Unlinked::NotLinked);
    let unlinked = store.unlink_identity(account, "google", Some("g-1")).await;
    assert_eq!(unlinked.unwrap(), Unlinked::Removed(vec!["g-1".into()]));
    let unlinked = store.unlink_identity(account, "apple", None).await;
    assert_eq!(
        unlinked.unwrap(),
        Unlinked::Removed(vec!["a-1".into(), "a-2".into()]),
        "every subject of the provider"
    );
    assert_eq!(
        store.identities(account).await.unwrap(),
        [record("device", "device-0001")]
    );
    let unlinked = store.unlink_identity(account, "device", None).await;
    assert_eq!(unlinked.unwrap(), Unlinked::LastWayIn);
    let unlinked = store
        .unlink_identity(account, "device", Some("device-0001"))
        .await;
    assert_eq!(unlinked.unwrap(), Unlinked::LastWayIn);
    assert_eq!(
        store.identities(account).await.unwrap(),
        [record("device", "device-0001")],
        "the last way in stays"
    );
    let found = store
        .account_by_identity("device", "device-0001")
        .await
        .unwrap();
    assert_eq!(found.map(|a| a.id), Some(account));
    assert_eq!(
        store.account_by_identity("apple", "a-1").await.unwrap(),
        None
    );

    let missing = store
        .unlink_identity(AccountId(987_654), "apple", None)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    t.close().await;
}

async fn a_password_is_a_way_in(backend: Backend) {
    let t = TestStore::open(backend).await;
    let store = t.store.as_ref();
    let named = store
        .create_account(&NewAccount {
            zone: 3,
            username: "Alice",
            username_key: "alice",
            password_hash: "$argon2id$stand-in",
            register_ip: None,
            now_ms: NOW,
        })
        .await
        .unwrap()
        .id;
    assert!(
        store
            .link_identity(named, "apple", "a-1", NOW)
            .await
            .unwrap()
    );
    let unlinked = store.unlink_identity(named, "apple", None).await;
    assert_eq!(unlinked.unwrap(), Unlinked::Removed(vec!["a-1".into()]));
    assert!(store.identities(named).await.unwrap().is_empty());

    let upgraded = guest(store, "device", "device-0001").await.id;
    let unlinked = store.unlink_identity(upgraded, "device", None).await;
    assert_eq!(unlinked.unwrap(), Unlinked::LastWayIn);
    store
        .set_password_hash(upgraded, "$argon2id$stand-in", NOW)
        .await
        .unwrap();
    let unlinked = store.unlink_identity(upgraded, "device", None).await;
    assert_eq!(
        unlinked.unwrap(),
        Unlinked::Removed(vec!["device-0001".into()])
    );
    assert_eq!(
        store
            .account_by_identity("device", "device-0001")
            .await
            .unwrap(),
        None,
        "the identity is free again"
    );
    t.close().await;
}

async fn concurrent_unlinks_keep_a_way_in(backend: Backend) {
    let t = TestStore::open(backend).await;
    for round in 0..8 {
        let apple = format!("a-{round}");
        let google = format!("g-{round}");
        let account = guest(t.store.as_ref(), "apple", &apple).await.id;
        assert!(
            t.store
                .link_identity(account, "google", &google, NOW)
                .await
                .unwrap()
        );
        let unlink = |store: Arc<dyn Store>, provider: &'static str| {
            tokio::spawn(async move { store.unlink_identity(account, provider, None).await })
        };
        let first = unlink(t.store.clone(), "apple");
        let second = unlink(t.store.clone(), "google");
        let answers = [
            first.await.unwrap().unwrap(),
            second.await.unwrap().unwrap(),
        ];
        let removed = answers
            .iter()
            .filter(|a| matches!(a, Unlinked::Removed(_)))
            .count();
        let refused = answers
            .iter()
            .filter(|a| **a == Unlinked::LastWayIn)
            .count();
        assert_eq!((removed, refused), (1, 1), "round {round}: {answers:?}");
        let left = t.store.identities(account).await.unwrap();
        assert_eq!(left.len(), 1, "round {round}: {left:?}");
        let kept = if answers[0] == Unlinked::LastWayIn {
            record("apple", &apple)
        } else {
            record("google", &google)
        };
        assert_eq!(left, [kept], "round {round}");
    }
    t.close().await;
}

/// Caches two identities, forgets one, and checks that only it is gone.
async fn forget_one_identity(cache: &dyn Cache) {
    cache
        .put_identity("apple", "a-1", AccountId(7))
        .await
        .unwrap();
    cache
        .put_identity("google", "a-1", AccountId(7))
        .await
        .unwrap();
    assert_eq!(
        cache.identity("apple", "a-1").await.unwrap(),
        Some(AccountId(7))
    );
    cache.forget_identity("apple", "a-1").await.unwrap();
    assert_eq!(cache.identity("apple", "a-1").await.unwrap(), None);
    assert_eq!(
        cache.identity("google", "a-1").await.unwrap(),
        Some(AccountId(7)),
        "other identities stay"
    );
    cache.forget_identity("apple", "a-1").await.unwrap();
}

#[tokio::test]
async fn the_memory_cache_forgets_an_identity() {
    let cache = MemoryCache::new(1_000, 100, Arc::new(ManualClock::new()));
    forget_one_identity(&cache).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_cache_forgets_an_identity() {
    let prefix = format!("lares-test-{}:", hex::encode(rand::random::<[u8; 6]>()));
    let timeout = std::time::Duration::from_secs(2);
    let cache = RedisCache::connect(&redis_url(), &prefix, 2, timeout, 100)
        .await
        .unwrap();
    forget_one_identity(&cache).await;
    cache.close().await;
    clear_redis_prefix(&prefix).await;
}
