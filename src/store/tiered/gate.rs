//! The tiered view of what gateways rely on: handshake-token nonces (registered at issue,
//! consumed once at validation) and sign-in epochs for the single-session policy.
//!
//! A nonce lives where it was registered: in the cache normally, in the store while the cache is
//! away. Consumption tries the cache, then the store, and each is atomic (`GETDEL`, `DELETE ...
//! RETURNING`), so a token is accepted at most once even across nodes. A nonce lost with a
//! restarted Redis is refused rather than accepted twice.

use super::Tiered;
use crate::domain::Result;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{Revocation, RevokeReason};
use crate::store::cache::Taken;
use crate::store::write_behind::Record;

impl Tiered {
    /// Consumes a nonce; answers, the first time only, the family it was issued for and the
    /// account, as the cache (or else the store) has them.
    pub async fn take_nonce(&self, account: AccountId, nonce: &str) -> Result<Option<Taken>> {
        if self.cache_usable().await {
            match self.cache.take_nonce(account, nonce).await {
                Ok(Some(mut taken)) => {
                    if taken.family.is_none() {
                        taken.family = self.session(account, &taken.session).await?;
                    }
                    if taken.account.is_none() {
                        taken.account = self.account(account).await?;
                    }
                    return Ok(Some(taken));
                }
                Ok(None) => {}
                Err(err) => self.cache_failed(&err),
            }
        }
        let now = self.clock.now_ms();
        let Some(session) = self.store.consume_nonce(nonce, account, now).await? else {
            return Ok(None);
        };
        let family = self.session(account, &session).await?;
        let account = self.account(account).await?;
        Ok(Some(Taken {
            session,
            family,
            account,
        }))
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
