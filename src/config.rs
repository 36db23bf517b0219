//! The typed configuration: defaults, then the TOML file, then `LARES__<SECTION>__<KEY>`
//! environment variables, validated at start-up with errors that name the key.

use std::net::SocketAddr;
use std::path::Path;

use base64::{Engine, engine::general_purpose::STANDARD};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod secrets;
pub use secrets::Keys;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: Server,
    pub store: Store,
    pub cache: Cache,
    pub write_behind: WriteBehind,
    pub registry: Registry,
    pub label: Label,
    pub secrets: Secrets,
    pub session: Session,
    pub token: Token,
    pub password: Password,
    pub account: Account,
    pub log: Log,
}

/// Listeners and request limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    /// Client API, JSON. Default `0.0.0.0:8001`.
    pub http_external: SocketAddr,
    /// Client API, gRPC. Default `0.0.0.0:9001`.
    pub grpc_external: SocketAddr,
    /// Health, metrics and (later) admin REST. Default `127.0.0.1:8101`.
    pub http_internal: SocketAddr,
    /// Gateway and game-server gRPC. Default `127.0.0.1:9101`.
    pub grpc_internal: SocketAddr,
    /// Largest request body (HTTP) or message (gRPC), bytes. Default 65536.
    pub body_limit: usize,
    /// HTTP worker threads per listener; 0 = one per core. Default 0.
    pub http_workers: usize,
    /// Seconds in-flight requests get to finish on shutdown. Default 10.
    pub shutdown_grace_secs: u64,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            http_external: ([0, 0, 0, 0], 8001).into(),
            grpc_external: ([0, 0, 0, 0], 9001).into(),
            http_internal: ([127, 0, 0, 1], 8101).into(),
            grpc_internal: ([127, 0, 0, 1], 9101).into(),
            body_limit: 64 * 1024,
            http_workers: 0,
            shutdown_grace_secs: 10,
        }
    }
}

/// The durable store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Store {
    /// `sqlite://PATH` or `postgres://...`. Default `sqlite://data/lares.db`.
    pub url: String,
    /// Connection pool size. Default 16.
    pub max_connections: u32,
    /// Milliseconds to wait for a pooled connection before answering 503. Default 3000.
    pub acquire_timeout_ms: u64,
    /// Account creations committed together at most (group commit). Default 500.
    pub create_batch: usize,
    /// Account creations waiting for a commit at most; beyond it requests get 503. Default 10000.
    pub create_queue: usize,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            url: "sqlite://data/lares.db".into(),
            max_connections: 16,
            acquire_timeout_ms: 3000,
            create_batch: 500,
            create_queue: 10_000,
        }
    }
}

/// The hot-state cache: sessions, identity and account lookups.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cache {
    /// `memory` (in-process), `redis://...` or `redis-cluster://...`. Default `memory`.
    pub url: String,
    /// Prefix of every Redis key, so deployments can share a Redis. Default `lares:`.
    pub key_prefix: String,
    /// Redis connections. Default 4.
    pub pool_size: usize,
    /// Milliseconds a Redis command may take before it counts as a failure. Default 250.
    pub command_timeout_ms: u64,
    /// Milliseconds Redis is left alone after a failure before it is tried again. Default 1000.
    pub retry_after_ms: u64,
    /// Sessions the in-process cache holds at most; the oldest written are dropped first (the
    /// store keeps them). Default 1000000.
    pub memory_max_entries: usize,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            url: "memory".into(),
            key_prefix: "lares:".into(),
            pool_size: 4,
            command_timeout_ms: 250,
            retry_after_ms: 1000,
            memory_max_entries: 1_000_000,
        }
    }
}

/// The write-behind queue: last sign-in times and addresses, sign-in events and the durable copy
/// of session state, flushed to the store in coalesced batches.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriteBehind {
    /// Milliseconds between flushes. Default 100.
    pub interval_ms: u64,
    /// Records per flush at most; a full batch flushes at once. Default 1000.
    pub batch: usize,
    /// Records waiting at most; beyond it records are shed and counted. Default 100000.
    pub queue: usize,
    /// Seconds a graceful shutdown waits for the queue to drain. Default 30.
    pub drain_timeout_secs: u64,
}

impl Default for WriteBehind {
    fn default() -> Self {
        WriteBehind {
            interval_ms: 100,
            batch: 1000,
            queue: 100_000,
            drain_timeout_secs: 30,
        }
    }
}

/// Service registry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Registry {
    /// etcd endpoints; empty = no registry. Default empty.
    pub etcd_endpoints: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Dev,
    Test,
    Prod,
}

/// Labels of this deployment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Label {
    /// `dev`, `test` or `prod`. Default `dev`.
    pub profile: Profile,
    /// Release colour stamped into tokens when no rule picks another. Default `local`.
    pub color: String,
    /// Zone number stamped into tokens. Default 1.
    pub zone: i32,
    /// Node name. Default: the host name.
    pub node: String,
}

impl Default for Label {
    fn default() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let node = if host.trim().is_empty() {
            "lares".to_owned()
        } else {
            host.trim().to_owned()
        };
        Label {
            profile: Profile::Dev,
            color: "local".into(),
            zone: 1,
            node,
        }
    }
}

/// Keys, each standard base64. Missing keys are generated per start in `dev` and `test` (with
/// a warning); `prod` refuses to start without them.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Secrets {
    /// AES-GCM key shared with the gateway: 16, 24 or 32 bytes.
    pub token_key: String,
    /// Key of the session-secret hash: at least 32 bytes.
    pub session_key: String,
    /// AES-GCM key that seals sign-in results in redirects: 16, 24 or 32 bytes.
    pub platform_key: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { <redacted> }")
    }
}

/// Session lifetimes and the session actors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Session {
    /// Sliding lifetime of a session credential, seconds. Default 1296000 (15 days).
    pub lifetime_secs: u64,
    /// Absolute lifetime of a session family, seconds. Default 5184000 (60 days).
    pub absolute_secs: u64,
    /// Seconds a retired credential may come back without revoking its family. Default 10.
    pub grace_secs: u64,
    /// Seconds an idle session actor lives before it stops. Default 300.
    pub actor_idle_secs: u64,
    /// Actor shards (arbiter threads); 0 = one per core. Default 0.
    pub shards: usize,
    /// Milliseconds to wait for an actor's answer before answering 503. Default 5000.
    pub actor_timeout_ms: u64,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            lifetime_secs: 15 * 86_400,
            absolute_secs: 60 * 86_400,
            grace_secs: 10,
            actor_idle_secs: 300,
            shards: 0,
            actor_timeout_ms: 5000,
        }
    }
}

/// Handshake tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Token {
    /// Lifetime of a handshake token, seconds. Default 600.
    pub lifetime_secs: u64,
}

impl Default for Token {
    fn default() -> Self {
        Token { lifetime_secs: 600 }
    }
}

/// Password hashing (Argon2id) and its pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Password {
    /// Memory cost, KiB. Default 19456 (19 MiB).
    pub memory_kib: u32,
    /// Passes. Default 2.
    pub iterations: u32,
    /// Lanes. Default 1.
    pub parallelism: u32,
    /// Hashing threads; 0 = one per core. Default 0.
    pub threads: usize,
    /// Hash jobs that may wait for a thread; beyond it requests get 503. Default 64.
    pub queue: usize,
    /// Milliseconds a job may wait before it is dropped with 503. Default 5000.
    pub max_wait_ms: u64,
}

impl Default for Password {
    fn default() -> Self {
        Password {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            threads: 0,
            queue: 64,
            max_wait_ms: 5000,
        }
    }
}

/// Account ids as clients see them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Account {
    /// Salt of the opaque account ids; changing it changes every id clients hold. Default `lares`.
    pub id_salt: String,
    /// Minimum length of an opaque account id. Default 8.
    pub id_min_length: usize,
}

impl Default for Account {
    fn default() -> Self {
        Account {
            id_salt: "lares".into(),
            id_min_length: 8,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    /// A tracing filter such as `info` or `lares=debug,info`; `RUST_LOG` wins. Default `info`.
    pub level: String,
    /// JSON lines instead of text. Default false.
    pub json: bool,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".into(),
            json: false,
        }
    }
}

/// A configuration that cannot be used, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config: {0}")]
    Load(String),
    #[error("config: {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

impl Config {
    /// Loads defaults, then `file` if given (it must exist), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(invalid(
                    "--config",
                    format!("{} is not a file", file.display()),
                ));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("LARES__").split("__"));
        let config: Config = figment.extract().map_err(describe)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value that has a range or a form.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        if !(1024..=16 * 1024 * 1024).contains(&s.body_limit) {
            return Err(invalid(
                "server.body_limit",
                "must be between 1024 and 16777216 bytes",
            ));
        }
        let store = &self.store.url;
        if !(store.starts_with("sqlite:")
            || store.starts_with("postgres://")
            || store.starts_with("postgresql://"))
        {
            return Err(invalid(
                "store.url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if self.store.max_connections == 0 {
            return Err(invalid("store.max_connections", "must be at least 1"));
        }
        self.validate_cache()?;
        if !self.registry.etcd_endpoints.is_empty() {
            return Err(invalid(
                "registry.etcd_endpoints",
                "the registry is not supported by this version; leave it empty",
            ));
        }
        self.validate_labels()?;
        self.validate_lifetimes()?;
        self.validate_password()?;
        if self.account.id_salt.is_empty() {
            return Err(invalid("account.id_salt", "must not be empty"));
        }
        if !(4..=20).contains(&self.account.id_min_length) {
            return Err(invalid("account.id_min_length", "must be between 4 and 20"));
        }
        if self
            .log
            .level
            .parse::<tracing_subscriber::EnvFilter>()
            .is_err()
        {
            return Err(invalid("log.level", "is not a valid tracing filter"));
        }
        Ok(())
    }

    fn validate_cache(&self) -> Result<(), ConfigError> {
        let c = &self.cache;
        let schemes = ["redis://", "rediss://", "redis-cluster://"];
        if c.url != "memory" && !schemes.iter().any(|s| c.url.starts_with(s)) {
            return Err(invalid(
                "cache.url",
                "must be `memory`, redis://..., rediss://... or redis-cluster://...",
            ));
        }
        if !(1..=64).contains(&c.pool_size) {
            return Err(invalid("cache.pool_size", "must be between 1 and 64"));
        }
        if !(1..=60_000).contains(&c.command_timeout_ms) {
            return Err(invalid(
                "cache.command_timeout_ms",
                "must be between 1 and 60000",
            ));
        }
        if c.key_prefix.len() > 64 || c.key_prefix.contains(['{', '}']) {
            return Err(invalid(
                "cache.key_prefix",
                "at most 64 characters, without braces",
            ));
        }
        if c.memory_max_entries == 0 {
            return Err(invalid("cache.memory_max_entries", "must be at least 1"));
        }
        let w = &self.write_behind;
        if !(1..=60_000).contains(&w.interval_ms) {
            return Err(invalid(
                "write_behind.interval_ms",
                "must be between 1 and 60000",
            ));
        }
        if !(1..=100_000).contains(&w.batch) {
            return Err(invalid(
                "write_behind.batch",
                "must be between 1 and 100000",
            ));
        }
        if w.queue < w.batch {
            return Err(invalid(
                "write_behind.queue",
                "must not be less than write_behind.batch",
            ));
        }
        let s = &self.store;
        if !(1..=10_000).contains(&s.create_batch) {
            return Err(invalid("store.create_batch", "must be between 1 and 10000"));
        }
        if s.create_queue < s.create_batch {
            return Err(invalid(
                "store.create_queue",
                "must not be less than store.create_batch",
            ));
        }
        Ok(())
    }

    fn validate_labels(&self) -> Result<(), ConfigError> {
        if !crate::domain::color::is_valid(&self.label.color) {
            return Err(invalid(
                "label.color",
                "must be 1 to 32 of ASCII letters, digits, '-' and '_'",
            ));
        }
        if self.label.zone < 0 {
            return Err(invalid("label.zone", "must not be negative"));
        }
        if self.label.node.is_empty() || self.label.node.len() > 64 {
            return Err(invalid("label.node", "must be 1 to 64 characters"));
        }
        Ok(())
    }

    fn validate_lifetimes(&self) -> Result<(), ConfigError> {
        let s = &self.session;
        if s.lifetime_secs < 60 {
            return Err(invalid("session.lifetime_secs", "must be at least 60"));
        }
        if s.absolute_secs < s.lifetime_secs {
            return Err(invalid(
                "session.absolute_secs",
                "must not be less than session.lifetime_secs",
            ));
        }
        if s.grace_secs > 300 {
            return Err(invalid("session.grace_secs", "must be at most 300"));
        }
        if s.actor_idle_secs == 0 {
            return Err(invalid("session.actor_idle_secs", "must be at least 1"));
        }
        if s.actor_timeout_ms == 0 {
            return Err(invalid("session.actor_timeout_ms", "must be at least 1"));
        }
        if !(10..=86_400).contains(&self.token.lifetime_secs) {
            return Err(invalid(
                "token.lifetime_secs",
                "must be between 10 and 86400",
            ));
        }
        Ok(())
    }

    fn validate_password(&self) -> Result<(), ConfigError> {
        let p = &self.password;
        if p.memory_kib < 8 * p.parallelism.max(1) || p.memory_kib > 4 * 1024 * 1024 {
            return Err(invalid(
                "password.memory_kib",
                "must be between 8 x parallelism and 4194304",
            ));
        }
        if !(1..=100).contains(&p.iterations) {
            return Err(invalid("password.iterations", "must be between 1 and 100"));
        }
        if !(1..=16).contains(&p.parallelism) {
            return Err(invalid("password.parallelism", "must be between 1 and 16"));
        }
        if p.queue == 0 {
            return Err(invalid("password.queue", "must be at least 1"));
        }
        if p.max_wait_ms == 0 {
            return Err(invalid("password.max_wait_ms", "must be at least 1"));
        }
        Ok(())
    }

    /// Number of cores, for the settings where 0 means one per core.
    pub fn cores() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    }

    /// Decodes the keys; see [`Keys::resolve`].
    pub fn keys(&self) -> Result<(Keys, Vec<String>), ConfigError> {
        Keys::resolve(&self.secrets, self.label.profile)
    }
}

/// Names each failing key in its documented form, `section.key`, with where it came from.
fn describe(errors: figment::Error) -> ConfigError {
    let lines = errors.into_iter().map(|e| {
        let key = e.path.join(".").to_ascii_lowercase();
        let source = e
            .metadata
            .as_ref()
            .map(|m| m.name.to_string())
            .unwrap_or_default();
        let key = if key.is_empty() {
            "(top level)".to_owned()
        } else {
            key
        };
        format!("{key}: {} ({source})", e.kind)
    });
    ConfigError::Load(lines.collect::<Vec<_>>().join("; "))
}

fn decode_key(key: &'static str, text: &str) -> Result<Vec<u8>, ConfigError> {
    STANDARD
        .decode(text.trim())
        .map_err(|_| invalid(key, "must be standard base64"))
}

#[cfg(test)]
mod tests;
