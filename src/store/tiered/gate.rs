//! The tiered view of what gateways rely on: handshake-token nonces (registered at issue,
//! consumed once at validation) and sign-in epochs for the single-session policy.
//!
//! A nonce lives where it was registered: in the cache normally, in the store while the cache is
//! away. Consumption tries the cache, then the store, and each is atomic (`GETDEL`, `DELETE ...
//! RETURNING`), so a token is accepted at most once even across nodes. A nonce lost with a
//! restarted Redis is refused rather than accepted twice.

use super::Tiered;
use crate::domain::Result;
use crate::domain::clock::Millis;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{Revocation, RevokeReason};
use crate::store::write_behind::Record;

impl Tiered {
    /// Registers the nonce of a token issued for family `session`, until `expires_ms`.
    pub async fn register_nonce(
        &self,
        account: AccountId,
        nonce: &str,
        session: &SessionId,
        expires_ms: Millis,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        if self.cache_usable().await {
            match self
                .cache
                .register_nonce(account, nonce, session, expires_ms, now)
                .await
            {
                Ok(()) => return Ok(()),
                Err(err) => self.cache_failed(&err),
            }
        }
        Ok(self
            .store
            .register_nonce(nonce, account, session, expires_ms)
            .await?)
    }

    /// Consumes a nonce; answers its family the first time, `None` ever after.
    pub async fn consume_nonce(
        &self,
        account: AccountId,
        nonce: &str,
    ) -> Result<Option<SessionId>> {
        if self.cache_usable().await {
            match self.cache.consume_nonce(account, nonce).await {
                Ok(Some(session)) => return Ok(Some(session)),
                Ok(None) => {}
                Err(err) => self.cache_failed(&err),
            }
        }
        Ok(self
            .store
            .consume_nonce(nonce, account, self.clock.now_ms())
            .await?)
    }

    /// The account's next sign-in epoch.
    pub async fn next_epoch(&self, account: AccountId) -> Result<i64> {
        let now = self.clock.now_ms();
        if self.cache_usable().await {
            match self.cache.next_epoch(account, now).await {
                Ok(epoch) => return Ok(epoch),
                Err(err) => self.cache_failed(&err),
            }
        }
        Ok(self.store.next_epoch(account, now).await?)
    }

    /// The account's latest sign-in epoch as the cache knows it (0 without the cache).
    pub async fn current_epoch(&self, account: AccountId) -> Result<i64> {
        if self.cache_usable().await {
            match self.cache.current_epoch(account).await {
                Ok(epoch) => return Ok(epoch),
                Err(err) => self.cache_failed(&err),
            }
        }
        Ok(0)
    }

    /// Revokes every family of the account signed in before `epoch`; answers their ids.
    pub async fn revoke_older(
        &self,
        account: AccountId,
        epoch: i64,
        reason: RevokeReason,
    ) -> Result<Vec<SessionId>> {
        let now = self.clock.now_ms();
        let revocation = Revocation { at_ms: now, reason };
        let mut ids = std::collections::HashSet::new();
        if self.cache_usable().await {
            match self.cache.revoke_older(account, epoch, revocation).await {
                Ok(cached) => ids.extend(cached),
                Err(err) => self.cache_failed(&err),
            }
        }
        for id in &ids {
            self.write_behind
                .push(Record::Revoked(id.clone(), revocation));
        }
        match self.store.revoke_older(account, epoch, reason, now).await {
            Ok(stored) => {
                stored.iter().for_each(|id| self.mark_dirty(account, id));
                ids.extend(stored);
            }
            Err(err) if ids.is_empty() => return Err(err.into()),
            Err(err) => {
                tracing::warn!(error = %err, "store missed a single-session revocation; it is queued")
            }
        }
        Ok(ids.into_iter().collect())
    }

    /// The account's live families other than `except`, as the cache and the store know them.
    pub async fn other_live(
        &self,
        account: AccountId,
        except: &SessionId,
    ) -> Result<Vec<SessionId>> {
        let now = self.clock.now_ms();
        let mut ids = std::collections::HashSet::new();
        if self.cache_usable().await {
            match self.cache.other_live(account, except, now).await {
                Ok(cached) => ids.extend(cached),
                Err(err) => self.cache_failed(&err),
            }
        }
        match self.store.other_live(account, except, now).await {
            Ok(stored) => ids.extend(stored),
            Err(err) if ids.is_empty() => return Err(err.into()),
            Err(_) => {}
        }
        Ok(ids.into_iter().collect())
    }
}
