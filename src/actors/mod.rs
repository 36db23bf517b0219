//! Actors and pools that own state and CPU-heavy work: one session actor per active account on
//! sharded arbiters, and the password-hash pool.

pub mod hasher;
pub mod session;
pub mod shards;
mod steps;

use std::sync::Arc;

use crate::config::SingleSession;
use crate::domain::clock::Clock;
use crate::domain::credentials::SecretHasher;
use crate::domain::gray::GrayRules;
use crate::domain::session::SessionPolicy;
use crate::domain::token::TokenSealer;
use crate::store::revocations::Hub;
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
    /// Token colour when no release rule picks another.
    pub default_color: String,
    pub gray: GrayRules,
    pub single_session: SingleSession,
    pub hub: Arc<Hub>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
}
