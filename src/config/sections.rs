//! The sections of the configuration, each with its documented defaults.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

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
    #[serde(deserialize_with = "super::lenient_text")]
    pub color: String,
    /// Zone number stamped into tokens. Default 1.
    pub zone: i32,
    /// Node name. Default: the host name.
    #[serde(deserialize_with = "super::lenient_text")]
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
    /// AES-GCM key shared with the gateway: 16, 24 or 32 bytes. Seals new tokens.
    pub token_key: String,
    /// Earlier token keys, still accepted when opening tokens (key rotation). Default empty.
    pub token_keys_previous: Vec<String>,
    /// ES256 private keys (PKCS#8 PEM) for access tokens; the first signs, all are published in
    /// the JWKS. Default: one generated per start in `dev` and `test`.
    pub access_keys: Vec<String>,
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
    /// `off`, `kick_older` (a sign-in ends every older session of the account) or `deny_newer`
    /// (a sign-in is refused while another session is live). Default `off`.
    pub single_session: SingleSession,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SingleSession {
    #[default]
    Off,
    KickOlder,
    DenyNewer,
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
            single_session: SingleSession::Off,
        }
    }
}

/// Handshake tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Token {
    /// Lifetime of a handshake token, seconds. Default 600.
    pub lifetime_secs: u64,
    /// `gate` (the gateway's sealed AuthToken) or `jwe` (the same claims as a compact JWE,
    /// `dir` + `A256GCM`, which needs a 32-byte token key). Both forms are accepted by
    /// validation either way. Default `gate`.
    pub format: TokenFormat,
}

pub use crate::domain::token::TokenFormat;

/// Access tokens (ES256 JWTs for other services).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Access {
    /// `iss` claim. Default `lares`.
    pub issuer: String,
    /// `aud` claim. Default `lares`.
    pub audience: String,
    /// Lifetime, seconds. Default 900.
    pub lifetime_secs: u64,
}

impl Default for Access {
    fn default() -> Self {
        Access {
            issuer: "lares".into(),
            audience: "lares".into(),
            lifetime_secs: 900,
        }
    }
}

/// The stream of session revocations for gateways.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Revocations {
    /// Events kept for subscribers that resume. Default 100000.
    pub retain: usize,
    /// Events a subscriber may have in flight. Default 1024.
    pub subscriber_buffer: usize,
    /// Milliseconds a subscriber may take to accept the next event before it is dropped.
    /// Default 10000.
    pub slow_subscriber_ms: u64,
}

impl Default for Revocations {
    fn default() -> Self {
        Revocations {
            retain: 100_000,
            subscriber_buffer: 1024,
            slow_subscriber_ms: 10_000,
        }
    }
}

/// The notices clients are served from memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Notices {
    /// Milliseconds between reloads of the notices from the store whatever Redis says (a node's
    /// own changes show at once, other nodes' within a second through Redis). 100 to 3600000.
    /// Default 5000.
    pub reload_ms: u64,
}

impl Default for Notices {
    fn default() -> Self {
        Notices { reload_ms: 5000 }
    }
}

impl Default for Token {
    fn default() -> Self {
        Token {
            lifetime_secs: 600,
            format: TokenFormat::Gate,
        }
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
    #[serde(deserialize_with = "super::lenient_text")]
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
