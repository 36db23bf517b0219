//! Google sign-in: an id token from Google's JWKS, issued by `accounts.google.com` for one of
//! the configured OAuth client ids.

use std::sync::Arc;

use super::id_token::{self, Rules};
use super::jwks::{Jwks, Settings};
use super::{Identity, Limits, Refused};
use crate::config;
use crate::domain::clock::Clock;

const ISSUERS: [&str; 2] = ["accounts.google.com", "https://accounts.google.com"];

pub struct Google {
    jwks: Jwks,
    audiences: Vec<String>,
    clock: Arc<dyn Clock>,
    limits: Limits,
}

impl Google {
    pub(super) fn new(
        config: &config::Google,
        cache: &Settings,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        Google {
            jwks: Jwks::new(&config.jwks_url, cache),
            audiences: config.audiences.clone(),
            clock,
            limits,
        }
    }

    /// Verifies a Google id token.
    pub async fn verify(&self, token: &str) -> Result<Identity, Refused> {
        let rules = Rules {
            issuers: &ISSUERS,
            audiences: &self.audiences,
            limits: self.limits,
            now_ms: self.clock.now_ms(),
        };
        let claims = id_token::verify(token, &self.jwks, &rules).await?;
        Ok(Identity {
            provider: "google",
            subject: claims.subject,
        })
    }
}
