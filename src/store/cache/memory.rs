//! The in-process cache of the embedded deployment: maps guarded per key, bounded in size.
//! With one node it gives the same answers as Redis gives many.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use super::{Cache, CacheResult, Cas, LOOKUP_TTL_SECS, sequence_key};
use crate::domain::clock::{Clock, Millis};
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{Revocation, Revoked, Session};
use crate::store::Account;

pub struct MemoryCache {
    sessions: DashMap<SessionId, Session>,
    nonces: DashMap<String, (AccountId, SessionId, Millis)>,
    epochs: DashMap<AccountId, i64>,
    log: Mutex<Log>,
    by_account: DashMap<AccountId, HashSet<SessionId>>,
    identities: DashMap<(String, String), (AccountId, Millis)>,
    accounts: DashMap<AccountId, (Account, Millis)>,
    max_entries: usize,
    clock: Arc<dyn Clock>,
}

/// The revocation log of one node: a bounded ring with sequences `<start>-<n>`, where `start`
/// is when the process started, so that sequences of an earlier process sort before.
struct Log {
    events: VecDeque<(u64, Revoked)>,
    next: u64,
    retain: usize,
    start: u64,
}

impl Log {
    fn sequence(&self, n: u64) -> String {
        format!("{}-{n}", self.start)
    }
}

impl MemoryCache {
    pub fn new(max_entries: usize, retain: usize, clock: Arc<dyn Clock>) -> Self {
        MemoryCache {
            sessions: DashMap::new(),
            nonces: DashMap::new(),
            epochs: DashMap::new(),
            log: Mutex::new(Log {
                events: VecDeque::new(),
                next: 1,
                retain,
                start: clock.now_ms().max(0) as u64,
            }),
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

    /// The ids of the account's cached families.
    fn families(&self, account: AccountId) -> Vec<SessionId> {
        let ids = self
            .by_account
            .get(&account)
            .map(|s| s.iter().cloned().collect());
        ids.unwrap_or_default()
    }

    /// Marks revoked the account's live families that `which` selects; answers their ids.
    fn revoke_where(
        &self,
        account: AccountId,
        revocation: Revocation,
        which: impl Fn(&Session) -> bool,
    ) -> Vec<SessionId> {
        let mut revoked = Vec::new();
        for id in self.families(account) {
            if let Some(mut held) = self.sessions.get_mut(&id)
                && held.revoked.is_none()
                && which(&held)
            {
                held.revoked = Some(revocation);
                revoked.push(id);
            }
        }
        revoked
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

    async fn session_ids(&self, account: AccountId) -> CacheResult<Vec<SessionId>> {
        Ok(self.families(account))
    }

    async fn revoke_account(
        &self,
        account: AccountId,
        revocation: Revocation,
    ) -> CacheResult<Vec<SessionId>> {
        Ok(self.revoke_where(account, revocation, |_| true))
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

    async fn forget_identity(&self, provider: &str, subject: &str) -> CacheResult<()> {
        self.identities
            .remove(&(provider.to_owned(), subject.to_owned()));
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

    async fn register_nonce(
        &self,
        account: AccountId,
        nonce: &str,
        session: &SessionId,
        expires_ms: Millis,
        now: Millis,
    ) -> CacheResult<()> {
        if self.nonces.len() >= self.max_entries {
            self.nonces.retain(|_, (_, _, expires)| *expires > now);
            Self::bounded(&self.nonces, self.max_entries);
        }
        self.nonces
            .insert(nonce.to_owned(), (account, session.clone(), expires_ms));
        Ok(())
    }

    async fn consume_nonce(
        &self,
        account: AccountId,
        nonce: &str,
    ) -> CacheResult<Option<SessionId>> {
        let now = self.clock.now_ms();
        let taken = self.nonces.remove(nonce).map(|(_, entry)| entry);
        Ok(taken
            .filter(|(owner, _, expires)| *owner == account && *expires > now)
            .map(|(_, s, _)| s))
    }

    async fn next_epoch(&self, account: AccountId, now: Millis) -> CacheResult<i64> {
        let mut epoch = self.epochs.entry(account).or_insert(0);
        *epoch = (*epoch + 1).max(now);
        Ok(*epoch)
    }

    async fn current_epoch(&self, account: AccountId) -> CacheResult<i64> {
        Ok(self.epochs.get(&account).map(|e| *e).unwrap_or(0))
    }

    async fn revoke_older(
        &self,
        account: AccountId,
        epoch: i64,
        revocation: Revocation,
    ) -> CacheResult<Vec<SessionId>> {
        Ok(self.revoke_where(account, revocation, |s| s.epoch < epoch))
    }

    async fn other_live(
        &self,
        account: AccountId,
        except: &SessionId,
        now: Millis,
    ) -> CacheResult<Vec<SessionId>> {
        let ids = self.families(account);
        let live = ids.into_iter().filter(|id| id != except).filter(|id| {
            self.sessions
                .get(id)
                .is_some_and(|s| s.revoked.is_none() && s.expires_ms > now)
        });
        Ok(live.collect())
    }

    async fn append_revocations(&self, events: &[Revoked]) -> CacheResult<Vec<String>> {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let mut sequences = Vec::with_capacity(events.len());
        for event in events {
            let n = log.next;
            log.next += 1;
            log.events.push_back((n, event.clone()));
            sequences.push(log.sequence(n));
        }
        while log.events.len() > log.retain {
            log.events.pop_front();
        }
        Ok(sequences)
    }

    async fn revocations_after(
        &self,
        after: &str,
        count: usize,
    ) -> CacheResult<Vec<(String, Revoked)>> {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let from = match sequence_key(after) {
            _ if after.is_empty() => 0,
            Some((start, n)) if start == log.start => n,
            Some((start, _)) if start < log.start => 0,
            _ => u64::MAX,
        };
        let newer = log.events.iter().filter(|(n, _)| *n > from).take(count);
        Ok(newer.map(|(n, e)| (log.sequence(*n), e.clone())).collect())
    }

    async fn revocation_bounds(&self) -> CacheResult<Option<(String, String)>> {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let first = log.events.front().map(|(n, _)| log.sequence(*n));
        let last = log.events.back().map(|(n, _)| log.sequence(*n));
        Ok(first.zip(last))
    }

    fn shared(&self) -> bool {
        false
    }
}
