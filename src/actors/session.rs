//! The session actor: one per active account. Every change to an account's sessions (opening
//! one, rotating its credential, issuing a handshake token, logging out) is a message to this
//! actor, handled one at a time, so two requests for one account never race. The store is the
//! source of truth; the actor keeps the families it has seen and re-reads one whenever the
//! cached copy disagrees with what is presented or fails a compare-and-set.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use actix::prelude::*;
use dashmap::DashMap;

use super::SessionDeps;
use super::steps::{Step, authenticate, logout, open, revoke, rotate};
use crate::domain::Result;
use crate::domain::credentials::SessionCredential;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{RevokeReason, Session};

/// A credential and handshake token just issued.
#[derive(Debug, Clone)]
pub struct Issued {
    pub credential: SessionCredential,
    pub session_expires_ms: i64,
    /// The sealed token and its expiry, when one was asked for.
    pub token: Option<(String, i64)>,
    /// The colour stamped into the token.
    pub color: String,
    /// The account's own colour, when it was looked up on the way.
    pub account_color: Option<Option<String>>,
}

/// Starts a new session family for the account and issues a handshake token of `color`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Issued>")]
pub struct OpenSession {
    pub color: String,
    /// The account's own colour, for later tokens.
    pub account_color: Option<String>,
}

/// What a client asks of a new handshake token.
#[derive(Debug, Clone, Default)]
pub struct TokenAsk {
    pub requested_color: String,
    pub client_version: String,
}

/// Rotates a session credential; with `token`, also issues a handshake token.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Issued>")]
pub struct Rotate {
    pub credential: SessionCredential,
    pub token: Option<TokenAsk>,
}

/// Checks that the presented credential is the family's current one, changing nothing (a
/// retired credential presented after the grace window still revokes the family).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<()>")]
pub struct Authenticate {
    pub credential: SessionCredential,
}

/// Ends the presented session, or every session of the account.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<()>")]
pub struct Logout {
    pub credential: SessionCredential,
    pub all: bool,
}

/// Ends sessions of the account on an operator's word: one family, or (`session` none) all of
/// them. Answers the ids ended now.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<SessionId>>")]
pub struct Revoke {
    pub session: Option<SessionId>,
    pub reason: RevokeReason,
}

/// The account's own fields changed (such as its colour): read them again when next needed.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<()>")]
pub struct AccountChanged;

/// A running actor as the registry knows it. The registry holds the only lasting address, so
/// removing the entry (the idle sweep does) stops the actor once its last message is answered.
pub struct Entry {
    /// Start sequence number, so a stopping actor never removes its successor.
    pub seq: u64,
    pub addr: Addr<SessionActor>,
    /// When a message was last sent or answered, by the injected clock.
    pub last_active_ms: AtomicI64,
}

impl Entry {
    pub fn touch(&self, now_ms: i64) {
        self.last_active_ms.fetch_max(now_ms, Ordering::Relaxed);
    }

    pub fn last_active(&self) -> i64 {
        self.last_active_ms.load(Ordering::Relaxed)
    }
}

/// Registry from account id to its running actor.
pub type Registry = DashMap<AccountId, Entry>;

pub struct SessionActor {
    account: AccountId,
    seq: u64,
    deps: Arc<SessionDeps>,
    registry: Arc<Registry>,
    /// Families seen lately, most recent first; few per account, so a short list.
    sessions: Vec<Session>,
    /// The account's own colour (none, or one), once known.
    account_color: Option<Option<String>>,
}

impl SessionActor {
    pub fn new(
        account: AccountId,
        seq: u64,
        deps: Arc<SessionDeps>,
        registry: Arc<Registry>,
    ) -> Self {
        SessionActor {
            account,
            seq,
            deps,
            registry,
            sessions: Vec::new(),
            account_color: None,
        }
    }

    fn cached(&self, id: &SessionId) -> Option<Session> {
        self.sessions.iter().find(|s| &s.id == id).cloned()
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Self::Context) {
        self.deps.metrics.live_actors.inc();
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.deps.metrics.live_actors.dec();
        self.registry
            .remove_if(&self.account, |_, entry| entry.seq == self.seq);
    }
}

impl Handler<OpenSession> for SessionActor {
    type Result = AtomicResponse<Self, Result<Issued>>;

    fn handle(&mut self, msg: OpenSession, _ctx: &mut Self::Context) -> Self::Result {
        self.account_color = Some(msg.account_color.clone());
        let (deps, account) = (self.deps.clone(), self.account);
        let work = async move { open(&deps, account, msg.color).await };
        AtomicResponse::new(Box::pin(work.into_actor(self).map(cache_result)))
    }
}

impl Handler<Rotate> for SessionActor {
    type Result = AtomicResponse<Self, Result<Issued>>;

    fn handle(&mut self, msg: Rotate, _ctx: &mut Self::Context) -> Self::Result {
        let cached = self.cached(&msg.credential.id);
        let (deps, account) = (self.deps.clone(), self.account);
        let known = self.account_color.clone();
        let work = async move { rotate(&deps, account, cached, known, msg).await };
        AtomicResponse::new(Box::pin(work.into_actor(self).map(|step, act, ctx| {
            if let Ok(Issued {
                account_color: Some(own),
                ..
            }) = &step.0
            {
                act.account_color = Some(own.clone());
            }
            cache_result(step, act, ctx)
        })))
    }
}

impl Handler<Logout> for SessionActor {
    type Result = AtomicResponse<Self, Result<()>>;

    fn handle(&mut self, msg: Logout, _ctx: &mut Self::Context) -> Self::Result {
        let cached = self.cached(&msg.credential.id);
        let (deps, account, all) = (self.deps.clone(), self.account, msg.all);
        let work = async move { logout(&deps, account, cached, msg).await };
        AtomicResponse::new(Box::pin(work.into_actor(self).map(
            move |step, act, ctx| {
                if all && step.0.is_ok() {
                    act.sessions.clear();
                }
                cache_result(step, act, ctx)
            },
        )))
    }
}

impl Handler<Authenticate> for SessionActor {
    type Result = AtomicResponse<Self, Result<()>>;

    fn handle(&mut self, msg: Authenticate, _ctx: &mut Self::Context) -> Self::Result {
        let cached = self.cached(&msg.credential.id);
        let (deps, account) = (self.deps.clone(), self.account);
        let work = async move { authenticate(&deps, account, cached, msg).await };
        AtomicResponse::new(Box::pin(work.into_actor(self).map(cache_result)))
    }
}

impl Handler<Revoke> for SessionActor {
    type Result = AtomicResponse<Self, Result<Vec<SessionId>>>;

    fn handle(&mut self, msg: Revoke, _ctx: &mut Self::Context) -> Self::Result {
        let cached = msg.session.as_ref().and_then(|id| self.cached(id));
        let (deps, account, all) = (self.deps.clone(), self.account, msg.session.is_none());
        let work = async move { revoke(&deps, account, cached, msg).await };
        AtomicResponse::new(Box::pin(work.into_actor(self).map(
            move |step, act, ctx| {
                if all && step.0.is_ok() {
                    act.sessions.clear();
                }
                cache_result(step, act, ctx)
            },
        )))
    }
}

impl Handler<AccountChanged> for SessionActor {
    type Result = Result<()>;

    fn handle(&mut self, _: AccountChanged, _ctx: &mut Self::Context) -> Self::Result {
        self.account_color = None;
        Ok(())
    }
}

/// Families an actor keeps in memory; beyond it the oldest is forgotten (the store has them all).
const MAX_CACHED_FAMILIES: usize = 8;

/// Caches the family a step returned, then hands back its result.
fn cache_result<T>(
    step: Step<T>,
    act: &mut SessionActor,
    _: &mut Context<SessionActor>,
) -> Result<T> {
    let (result, session) = step;
    if let Some(session) = session {
        act.sessions.retain(|s| s.id != session.id);
        if act.sessions.len() >= MAX_CACHED_FAMILIES {
            act.sessions.pop();
        }
        if act.sessions.capacity() == 0 {
            act.sessions.reserve_exact(1);
        }
        act.sessions.insert(0, session);
    }
    result
}
