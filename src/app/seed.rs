//! `lares seed-qa`: QA accounts for test environments, `<prefix>1` to `<prefix><count>`, each
//! with a password and a default release colour, so that testers reach the QA build.

use anyhow::{Context, bail};
use serde_json::json;

use crate::config::{Config, Profile};
use crate::domain::credentials::{Username, check_password};
use crate::domain::ids::AccountIdCodec;
use crate::domain::password::{HashParams, PasswordHashing};
use crate::store::admin::{AccountChange, AuditEntry};
use crate::store::{self, NewAccount, StoreError};

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedQa {
    pub prefix: String,
    pub count: u32,
    pub color: String,
    /// The accounts' password; one is generated when none is given.
    pub password: Option<String>,
}

/// What seeding did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    pub created: u32,
    /// Accounts that existed already; their colour and password were set again.
    pub updated: u32,
    pub password: String,
}

/// Most accounts one run seeds.
pub const SEED_MAX: u32 = 10_000;

/// The audit actor of seeding.
const ACTOR: &str = "cli:seed-qa";

/// Creates or updates the QA accounts in the configured store. Refused in the `prod` profile.
/// One password hash serves every account of the run (they share the password anyway).
pub async fn seed_qa(config: &Config, seed: &SeedQa, now_ms: i64) -> anyhow::Result<Seeded> {
    if config.label.profile == Profile::Prod {
        bail!(
            "seed-qa: refused in the prod profile (label.profile); QA accounts are for test environments"
        );
    }
    if !(1..=SEED_MAX).contains(&seed.count) {
        bail!("seed-qa: --count must be 1 to {SEED_MAX}");
    }
    if !crate::domain::color::is_valid(&seed.color) {
        bail!("seed-qa: --color must be 1 to 32 of A-Z a-z 0-9 - _");
    }
    Username::parse(&format!("{}{}", seed.prefix, seed.count))
        .map_err(|e| anyhow::anyhow!("seed-qa: --prefix: {}", e.message))?;
    let password = match &seed.password {
        Some(p) => {
            check_password(p).map_err(|e| anyhow::anyhow!("seed-qa: --password: {}", e.message))?;
            p.clone()
        }
        None => crate::domain::random::b64_token::<15>(),
    };
    let p = &config.password;
    let hashing = PasswordHashing::new(HashParams {
        memory_kib: p.memory_kib,
        iterations: p.iterations,
        parallelism: p.parallelism,
    })
    .map_err(|e| anyhow::anyhow!("password: {e}"))?;
    let hash = hashing
        .hash(&password)
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?;
    let a = &config.account;
    let ids = AccountIdCodec::new(&a.id_salt, a.id_min_length)
        .map_err(|e| anyhow::anyhow!("account.id_salt: {e}"))?;
    let s = &config.store;
    let store = store::open(&s.url, s.max_connections, s.acquire_timeout_ms)
        .await
        .context("store.url: cannot open the store")?;
    let mut done = Seeded {
        created: 0,
        updated: 0,
        password,
    };
    for n in 1..=seed.count {
        let username = Username::parse(&format!("{}{n}", seed.prefix))
            .map_err(|e| anyhow::anyhow!("seed-qa: {}", e.message))?;
        let key = username.key();
        let new = NewAccount {
            zone: config.label.zone,
            username: username.as_str(),
            username_key: &key,
            password_hash: &hash,
            register_ip: None,
            now_ms,
        };
        let (id, created) = match store.create_account(&new).await {
            Ok(account) => (account.id, true),
            Err(StoreError::Conflict) => {
                let existing = store.account_by_username(&key).await?;
                let existing = existing.context("seed-qa: account vanished while seeding")?;
                (existing.id, false)
            }
            Err(err) => return Err(err.into()),
        };
        let audit = |action: &str| AuditEntry {
            actor: ACTOR.to_owned(),
            action: action.to_owned(),
            target: format!("account:{}", ids.encode(id)),
            detail: json!({ "username": username.as_str(), "color": seed.color }).to_string(),
            at_ms: now_ms,
        };
        if !created {
            let change = AccountChange::PasswordHash(&hash);
            store
                .change_account(id, change, &audit("account.reset_password"))
                .await?;
        }
        let change = AccountChange::DefaultColor(Some(&seed.color));
        store
            .change_account(id, change, &audit("account.set_color"))
            .await?;
        if created {
            done.created += 1;
        } else {
            done.updated += 1;
        }
    }
    store.close().await;
    Ok(done)
}
