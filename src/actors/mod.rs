//! Actors and pools that own state and CPU-heavy work: one session actor per active account on
//! sharded arbiters, and the password-hash pool.

pub mod hasher;
pub mod session;
pub mod shards;
mod steps;

use std::sync::Arc;

use crate::domain::clock::Clock;
use crate::domain::credentials::SecretHasher;
use crate::domain::session::SessionPolicy;
use crate::domain::token::TokenSealer;
use crate::store::tiered::Tiered;
use crate::telemetry::Metrics;

/// What every session actor needs; shared, never mutated.
pub struct SessionDeps {
    pub data: Arc<Tiered>,
    pub secrets: SecretHasher,
    pub policy: SessionPolicy,
    pub tokens: TokenSealer,
    pub token_ttl_ms: i64,
    pub zone: i32,
    /// Token colour for accounts without one of their own.
    pub default_color: String,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
}
