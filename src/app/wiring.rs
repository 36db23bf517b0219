//! Building the parts: the data path (cache, write-behind, tiered view, group commit) and the
//! service's dependencies, from the configuration.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};

use crate::actors::SessionDeps;
use crate::actors::hasher::HashPool;
use crate::config::{Config, Keys};
use crate::domain::access::AccessTokens;
use crate::domain::admin::AdminKeys;
use crate::domain::clock::Clock;
use crate::domain::credentials::SecretHasher;
use crate::domain::ids::AccountIdCodec;
use crate::domain::password::{HashParams, PasswordHashing};
use crate::domain::session::SessionPolicy;
use crate::domain::token::{Sealer, TokenSealer};
use crate::platform::Platforms;
use crate::service::Parts;
use crate::store::Store;
use crate::store::cache::{Cache, MemoryCache, RedisCache};
use crate::store::creator::Creator;
use crate::store::notice_board::NoticeBoard;
use crate::store::revocations::Hub;
use crate::store::tiered::{Tiered, TieredParts};
use crate::store::write_behind::{Drain, Settings, WriteBehind};
use crate::telemetry::Metrics;

/// The data path above the store.
pub struct Data {
    pub tiered: Arc<Tiered>,
    pub hub: Arc<Hub>,
    pub cache: Arc<dyn Cache>,
    pub drain: Drain,
    pub creator: Creator,
    /// The notices clients are served from, loaded.
    pub notices: Arc<NoticeBoard>,
}

/// Connects the cache, starts the write-behind and group-commit tasks on the current runtime,
/// and loads the notices.
pub async fn open_data(
    config: &Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Data> {
    let c = &config.cache;
    let cache: Arc<dyn Cache> = if c.url == "memory" {
        Arc::new(MemoryCache::new(
            c.memory_max_entries,
            config.revocations.retain,
            clock.clone(),
        ))
    } else {
        let timeout = Duration::from_millis(c.command_timeout_ms);
        let retain = config.revocations.retain;
        let redis = RedisCache::connect(&c.url, &c.key_prefix, c.pool_size, timeout, retain).await;
        Arc::new(redis.context("cache.url: not a usable Redis URL")?)
    };
    let w = &config.write_behind;
    let settings = Settings {
        interval: Duration::from_millis(w.interval_ms),
        batch: w.batch,
        queue: w.queue,
        drain: Duration::from_secs(w.drain_timeout_secs),
    };
    let notices = Arc::new(NoticeBoard::new(
        store.clone(),
        cache.clone(),
        clock.clone(),
    ));
    notices
        .reload()
        .await
        .context("store.url: cannot load the notices")?;
    let (write_behind, drain) = WriteBehind::start(store.clone(), settings, metrics.clone());
    let s = &config.store;
    let creator = Creator::start(
        store.clone(),
        s.create_batch,
        s.create_queue,
        metrics.clone(),
    );
    let tiered = Arc::new(Tiered::new(TieredParts {
        cache: cache.clone(),
        store,
        write_behind,
        clock,
        metrics: metrics.clone(),
        pause_ms: c.retry_after_ms as i64,
        settle_ms: 2 * w.interval_ms,
    }));
    let hub = Hub::start(
        cache.clone(),
        config.revocations.subscriber_buffer,
        metrics.clone(),
    );
    Ok(Data {
        tiered,
        hub,
        cache,
        drain,
        creator,
        notices,
    })
}

/// Everything the service needs except the actor shards, which must start inside actix.
pub fn service_parts(
    config: &Config,
    keys: &Keys,
    data: &Data,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Parts> {
    let p = &config.password;
    let params = HashParams {
        memory_kib: p.memory_kib,
        iterations: p.iterations,
        parallelism: p.parallelism,
    };
    let hashing = Arc::new(PasswordHashing::new(params).map_err(|e| anyhow!("password: {e}"))?);
    let threads = if p.threads == 0 {
        Config::cores()
    } else {
        p.threads
    };
    let max_wait = Duration::from_millis(p.max_wait_ms);
    let hash_pool = Arc::new(HashPool::start(
        threads,
        p.queue,
        max_wait,
        metrics.clone(),
    )?);
    let ring: Vec<&[u8]> = std::iter::once(keys.token.as_slice())
        .chain(keys.token_previous.iter().map(Vec::as_slice))
        .collect();
    let tokens = TokenSealer::with_format(&ring, config.token.format)
        .map_err(|e| anyhow!("secrets.token_key: {e}"))?;
    let a = &config.access;
    let lifetime = (a.lifetime_secs * 1000) as i64;
    let access = AccessTokens::new(&keys.access, &a.issuer, &a.audience, lifetime)
        .map_err(|e| anyhow!("secrets.access_keys: {e}"))?;
    let s = &config.session;
    let deps = Arc::new(SessionDeps {
        data: data.tiered.clone(),
        secrets: SecretHasher::new(&keys.session),
        policy: SessionPolicy {
            idle_ms: (s.lifetime_secs * 1000) as i64,
            absolute_ms: (s.absolute_secs * 1000) as i64,
            grace_ms: (s.grace_secs * 1000) as i64,
        },
        tokens,
        token_ttl_ms: (config.token.lifetime_secs * 1000) as i64,
        zone: config.label.zone,
        default_color: config.label.color.clone(),
        gray: config.gray.clone(),
        single_session: config.session.single_session,
        hub: data.hub.clone(),
        clock,
        metrics,
    });
    let a = &config.account;
    let ids = AccountIdCodec::new(&a.id_salt, a.id_min_length)
        .map_err(|e| anyhow!("account.id_salt: {e}"))?;
    let profile = config.label.profile;
    let platforms = Platforms::new(&config.platform, deps.clock.clone())?;
    let platform_sealer =
        Sealer::new(&keys.platform).map_err(|e| anyhow!("secrets.platform_key: {e}"))?;
    Ok(Parts {
        deps,
        access: Arc::new(access),
        creator: data.creator.clone(),
        hash_pool,
        hashing,
        ids,
        profile,
        platforms: Arc::new(platforms),
        platform_sealer,
        admin_keys: AdminKeys::new(&config.admin),
        notices: data.notices.clone(),
    })
}
