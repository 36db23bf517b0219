//! The in-process cache of the embedded deployment: maps guarded per key, bounded in size.
//! With one node it gives the same answers as Redis gives many.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use super::{Cache, CacheResult, Cas, LOOKUP_TTL_SECS};
use crate::domain::clock::{Clock, Millis};
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{Revocation, Session};
use crate::store::Account;

pub struct MemoryCache {
    sessions: DashMap<SessionId, Session>,
    by_account: DashMap<AccountId, HashSet<SessionId>>,
    identities: DashMap<(String, String), (AccountId, Millis)>,
    accounts: DashMap<AccountId, (Account, Millis)>,
    max_entries: usize,
    clock: Arc<dyn Clock>,
}

impl MemoryCache {
    pub fn new(max_entries: usize, clock: Arc<dyn Clock>) -> Self {
        MemoryCache {
            sessions: DashMap::new(),
            by_account: DashMap::new(),
            identities: DashMap::new(),
            accounts: DashMap::new(),
            max_entries,
            clock,
        }
    }

    /// Makes room: expired families first, then any, about 1% of the bound at a time.
    fn evict_sessions(&self, now: Millis) {
        if self.sessions.len() < self.max_entries {
            return;
        }
        let quota = (self.max_entries / 100).max(1);
        let mut victims: Vec<(SessionId, AccountId)> = self
            .sessions
            .iter()
            .filter(|e| e.absolute_ms <= now)
            .take(quota)
            .map(|e| (e.key().clone(), e.account))
            .collect();
        if victims.is_empty() {
            let any = self.sessions.iter().take(quota);
            victims = any.map(|e| (e.key().clone(), e.account)).collect();
        }
        for (id, account) in victims {
            self.sessions.remove(&id);
            self.unindex(account, &id);
        }
    }

    fn unindex(&self, account: AccountId, id: &SessionId) {
        if let Entry::Occupied(mut set) = self.by_account.entry(account) {
            set.get_mut().remove(id);
            if set.get().is_empty() {
                set.remove();
            }
        }
    }

    fn bounded<K: std::hash::Hash + Eq + Clone, V>(map: &DashMap<K, V>, max: usize) {
        if map.len() >= max {
            let victims: Vec<K> = map
                .iter()
                .take((max / 100).max(1))
                .map(|e| e.key().clone())
                .collect();
            for key in victims {
                map.remove(&key);
            }
        }
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn ping(&self) -> CacheResult<()> {
        Ok(())
    }

    async fn session(&self, account: AccountId, id: &SessionId) -> CacheResult<Option<Session>> {
        let found = self.sessions.get(id).map(|s| s.clone());
        Ok(found.filter(|s| s.account == account))
    }

    async fn put_session(&self, session: &Session, now: Millis) -> CacheResult<bool> {
        self.evict_sessions(now);
        let written = match self.sessions.entry(session.id.clone()) {
            Entry::Occupied(mut held) if held.get().generation >= session.generation => {
                if held.get().revoked.is_none() && session.revoked.is_some() {
                    held.get_mut().revoked = session.revoked;
                }
                false
            }
            Entry::Occupied(mut held) => {
                let revoked = held.get().revoked.or(session.revoked);
                held.insert(Session {
                    revoked,
                    ..session.clone()
                });
                true
            }
            Entry::Vacant(slot) => {
                slot.insert(session.clone());
                true
            }
        };
        self.by_account
            .entry(session.account)
            .or_default()
            .insert(session.id.clone());
        Ok(written)
    }

    async fn update_session(&self, session: &Session, expected: i64) -> CacheResult<Cas> {
        match self.sessions.entry(session.id.clone()) {
            Entry::Vacant(_) => Ok(Cas::Missing),
            Entry::Occupied(held)
                if held.get().generation > expected || held.get().revoked.is_some() =>
            {
                Ok(Cas::Conflict)
            }
            Entry::Occupied(mut held) => {
                held.insert(session.clone());
                Ok(Cas::Swapped)
            }
        }
    }

    async fn revoke_session(
        &self,
        _: AccountId,
        id: &SessionId,
        revocation: Revocation,
    ) -> CacheResult<()> {
        if let Some(mut held) = self.sessions.get_mut(id) {
            held.revoked.get_or_insert(revocation);
        }
        Ok(())
    }

    async fn revoke_account(
        &self,
        account: AccountId,
        revocation: Revocation,
    ) -> CacheResult<Vec<SessionId>> {
        let ids: Vec<SessionId> = self
            .by_account
            .get(&account)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let mut revoked = Vec::new();
        for id in ids {
            if let Some(mut held) = self.sessions.get_mut(&id)
                && held.revoked.is_none()
            {
                held.revoked = Some(revocation);
                revoked.push(id);
            }
        }
        Ok(revoked)
    }

    async fn identity(&self, provider: &str, subject: &str) -> CacheResult<Option<AccountId>> {
        let key = (provider.to_owned(), subject.to_owned());
        let now = self.clock.now_ms();
        Ok(self.identities.get(&key).filter(|e| e.1 > now).map(|e| e.0))
    }

    async fn put_identity(
        &self,
        provider: &str,
        subject: &str,
        account: AccountId,
    ) -> CacheResult<()> {
        Self::bounded(&self.identities, self.max_entries);
        let expires = self.clock.now_ms() + LOOKUP_TTL_SECS * 1000;
        self.identities.insert(
            (provider.to_owned(), subject.to_owned()),
            (account, expires),
        );
        Ok(())
    }

    async fn account(&self, id: AccountId) -> CacheResult<Option<Account>> {
        let now = self.clock.now_ms();
        Ok(self
            .accounts
            .get(&id)
            .filter(|e| e.1 > now)
            .map(|e| e.0.clone()))
    }

    async fn put_account(&self, account: &Account) -> CacheResult<()> {
        Self::bounded(&self.accounts, self.max_entries);
        let summary = Account {
            username: None,
            password_hash: None,
            ..account.clone()
        };
        let expires = self.clock.now_ms() + LOOKUP_TTL_SECS * 1000;
        self.accounts.insert(account.id, (summary, expires));
        Ok(())
    }

    async fn forget_account(&self, id: AccountId) -> CacheResult<()> {
        self.accounts.remove(&id);
        Ok(())
    }
}
