//! The typed configuration: defaults, then the TOML file, then `LARES__<SECTION>__<KEY>`
//! environment variables, validated at start-up with errors that name the key.

use std::path::Path;

use base64::{Engine, engine::general_purpose::STANDARD};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod admin;
mod platform;
mod secrets;
mod sections;
pub use admin::{Admin, AdminKey, AdminRole, BOOTSTRAP_NAME};
pub use platform::{Apple, Facebook, Google, Platform};
pub use secrets::Keys;
pub use sections::*;

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
    pub access: Access,
    pub revocations: Revocations,
    pub gray: crate::domain::gray::GrayRules,
    pub platform: Platform,
    pub admin: Admin,
    pub notices: Notices,
}

/// Reads a text value that the environment may have spelled as a number or a boolean
/// (`LARES__PLATFORM__FACEBOOK__APP_ID=1122334455` arrives as an integer).
pub(crate) fn lenient_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Spelled {
        Text(String),
        Int(i128),
        Float(f64),
        Bool(bool),
    }
    Ok(match Spelled::deserialize(d)? {
        Spelled::Text(s) => s,
        Spelled::Int(n) => n.to_string(),
        Spelled::Float(f) => f.to_string(),
        Spelled::Bool(b) => b.to_string(),
    })
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
        self.validate_gateway()?;
        self.platform.validate(self.label.profile)?;
        if !(100..=3_600_000).contains(&self.notices.reload_ms) {
            return Err(invalid(
                "notices.reload_ms",
                "must be between 100 and 3600000",
            ));
        }
        self.admin.validate()
    }

    fn validate_gateway(&self) -> Result<(), ConfigError> {
        if let Err((key, message)) = self.gray.validate() {
            return Err(invalid(key, message));
        }
        let r = &self.revocations;
        if !(16..=10_000_000).contains(&r.retain) {
            return Err(invalid(
                "revocations.retain",
                "must be between 16 and 10000000",
            ));
        }
        if !(16..=1_000_000).contains(&r.subscriber_buffer) {
            return Err(invalid(
                "revocations.subscriber_buffer",
                "must be between 16 and 1000000",
            ));
        }
        if r.slow_subscriber_ms == 0 {
            return Err(invalid(
                "revocations.slow_subscriber_ms",
                "must be at least 1",
            ));
        }
        if !(60..=86_400).contains(&self.access.lifetime_secs) {
            return Err(invalid(
                "access.lifetime_secs",
                "must be between 60 and 86400",
            ));
        }
        if self.access.issuer.is_empty() || self.access.audience.is_empty() {
            return Err(invalid("access", "issuer and audience must not be empty"));
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
