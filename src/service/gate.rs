//! What the gateway asks: is this handshake token good (once), and which sessions ended.

use super::Service;
use crate::domain::ids::AccountId;
use crate::domain::token::TokenError;
use crate::proto::gate::OnlineStatus;
use crate::proto::validator::{Reason, ValidateResponse};
use crate::store::revocations::{ResumeError, Subscription};
use crate::telemetry::ReasonLabels;

impl Service {
    /// Validates a handshake token: sealed by a key of the ring, of this zone, not expired, not
    /// seen before (its nonce is consumed here, atomically, on whichever node), of a live
    /// session of an account that is not banned. A refused token changes nothing, except that
    /// a replay is logged as a security event.
    pub async fn validate(&self, id: u64, token: &str) -> ValidateResponse {
        let answer = self.judge_token(token).await;
        let outcome = match answer.reason() {
            Reason::Unspecified => "valid",
            Reason::Expired => "expired",
            Reason::Malformed => "malformed",
            Reason::BadKey => "bad_key",
            Reason::Replayed => "replayed",
            Reason::SessionRevoked => "session_revoked",
            Reason::AccountBanned => "account_banned",
            Reason::WrongZone => "wrong_zone",
        };
        self.inner
            .deps
            .metrics
            .validations
            .get_or_create(&ReasonLabels { outcome })
            .inc();
        ValidateResponse { id, ..answer }
    }

    async fn judge_token(&self, token: &str) -> ValidateResponse {
        let deps = &self.inner.deps;
        let refuse = |reason: Reason| ValidateResponse {
            reason: reason as i32,
            ..Default::default()
        };
        let claims = match deps.tokens.open(token) {
            Ok(claims) => claims,
            Err(TokenError::Malformed) => return refuse(Reason::Malformed),
            Err(TokenError::BadKey) => return refuse(Reason::BadKey),
        };
        if claims.status != OnlineStatus::Gate as i32
            || claims.unencrypted
            || claims.rand.is_empty()
        {
            return refuse(Reason::Malformed);
        }
        if claims.timeout.saturating_mul(1000) <= deps.clock.now_ms() {
            return refuse(Reason::Expired);
        }
        if claims.location != deps.zone {
            return refuse(Reason::WrongZone);
        }
        let account = AccountId(claims.account_id);
        let taken = match deps.data.take_nonce(account, &claims.rand).await {
            Ok(Some(taken)) => taken,
            Ok(None) => {
                deps.metrics.security_event("token_replayed");
                tracing::info!(target: "lares::security", event = "token_replayed", %account);
                return refuse(Reason::Replayed);
            }
            Err(err) => {
                err.log();
                return refuse(Reason::Replayed);
            }
        };
        let now = deps.clock.now_ms();
        let live = taken
            .family
            .as_ref()
            .is_some_and(|s| s.revoked.is_none() && now < s.expires_ms);
        if !live {
            return refuse(Reason::SessionRevoked);
        }
        if taken.account.as_ref().is_some_and(|a| a.is_banned(now)) {
            return refuse(Reason::AccountBanned);
        }
        let session_id = taken.session;
        ValidateResponse {
            id: 0,
            valid: true,
            reason: Reason::Unspecified as i32,
            account_id: claims.account_id,
            color: claims.color,
            zone: claims.location,
            status: claims.status,
            server_id: claims.server_id,
            session_id: session_id.as_str().to_owned(),
            expires: claims.timeout,
        }
    }

    /// Subscribes to revocations, behind `after` when given.
    pub async fn watch_revocations(&self, after: &str) -> Result<Subscription, ResumeError> {
        self.inner.deps.hub.subscribe(after).await
    }
}
