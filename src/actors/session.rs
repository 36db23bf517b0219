//! The session actor: one per active account. Every change to an account's sessions (opening
//! one, rotating its credential, issuing a handshake token, logging out) is a message to this
//! actor, handled one at a time, so two requests for one account never race. The store is the
//! source of truth; the actor keeps the families it has seen and re-reads one whenever the
//! cached copy disagrees with what is presented or fails a compare-and-set.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use dashmap::DashMap;

use super::SessionDeps;
use crate::domain::color;
use crate::domain::credentials::SessionCredential;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{RevokeReason, Session, Verdict};
use crate::domain::token::gate_token;
use crate::domain::{Error, Result};

/// A credential and handshake token just issued.
#[derive(Debug, Clone)]
pub struct Issued {
    pub credential: SessionCredential,
    pub session_expires_ms: i64,
    /// The sealed token and its expiry, when one was asked for.
    pub token: Option<(String, i64)>,
    /// The colour stamped into the token.
    pub color: String,
}

/// Starts a new session family for the account and issues a handshake token of `color`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Issued>")]
pub struct OpenSession {
    pub color: String,
}

/// Rotates a session credential; with `issue_token`, also issues a handshake token.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Issued>")]
pub struct Rotate {
    pub credential: SessionCredential,
    pub issue_token: bool,
}

/// Ends the presented session, or every session of the account.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<()>")]
pub struct Logout {
    pub credential: SessionCredential,
    pub all: bool,
}

/// Registry entries: the actor's start sequence number and address.
pub type Registry = DashMap<AccountId, (u64, Addr<SessionActor>)>;

pub struct SessionActor {
    account: AccountId,
    seq: u64,
    deps: Arc<SessionDeps>,
    registry: Arc<Registry>,
    sessions: HashMap<SessionId, Session>,
    /// The account's token colour, once known.
    color: Option<String>,
    /// When the last message arrived, by the injected clock.
    last_active_ms: i64,
    idle: Duration,
}

impl SessionActor {
    pub fn new(
        account: AccountId,
        seq: u64,
        deps: Arc<SessionDeps>,
        registry: Arc<Registry>,
        idle: Duration,
    ) -> Self {
        let last_active_ms = deps.clock.now_ms();
        let sessions = HashMap::new();
        SessionActor {
            account,
            seq,
            deps,
            registry,
            sessions,
            color: None,
            last_active_ms,
            idle,
        }
    }

    fn touch(&mut self) {
        self.last_active_ms = self.deps.clock.now_ms();
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.deps.metrics.live_actors.inc();
        let tick = (self.idle / 2).clamp(Duration::from_millis(100), Duration::from_secs(30));
        ctx.run_interval(tick, |act, ctx| {
            let idle_ms = act.deps.clock.now_ms() - act.last_active_ms;
            if idle_ms >= act.idle.as_millis() as i64 {
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.deps.metrics.live_actors.dec();
        self.registry
            .remove_if(&self.account, |_, (seq, _)| *seq == self.seq);
    }
}

/// The outcome of a step, with the family to cache afterwards (if any).
type Step<T> = (Result<T>, Option<Session>);

impl Handler<OpenSession> for SessionActor {
    type Result = AtomicResponse<Self, Result<Issued>>;

    fn handle(&mut self, msg: OpenSession, _ctx: &mut Self::Context) -> Self::Result {
        self.touch();
        self.color = Some(msg.color.clone());
        let (deps, account) = (self.deps.clone(), self.account);
        let work = async move { open(&deps, account, msg.color).await };
        AtomicResponse::new(Box::pin(work.into_actor(self).map(cache_result)))
    }
}

impl Handler<Rotate> for SessionActor {
    type Result = AtomicResponse<Self, Result<Issued>>;

    fn handle(&mut self, msg: Rotate, _ctx: &mut Self::Context) -> Self::Result {
        self.touch();
        let cached = self.sessions.get(&msg.credential.id).cloned();
        let (deps, account, color) = (self.deps.clone(), self.account, self.color.clone());
        let work = async move { rotate(&deps, account, cached, color, msg).await };
        AtomicResponse::new(Box::pin(work.into_actor(self).map(|step, act, ctx| {
            if let Ok(issued) = &step.0
                && !issued.color.is_empty()
            {
                act.color = Some(issued.color.clone());
            }
            cache_result(step, act, ctx)
        })))
    }
}

impl Handler<Logout> for SessionActor {
    type Result = AtomicResponse<Self, Result<()>>;

    fn handle(&mut self, msg: Logout, _ctx: &mut Self::Context) -> Self::Result {
        self.touch();
        let cached = self.sessions.get(&msg.credential.id).cloned();
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

/// Families an actor keeps in memory; beyond it one is forgotten (the store has them all).
const MAX_CACHED_FAMILIES: usize = 32;

/// Caches the family a step returned, then hands back its result.
fn cache_result<T>(
    step: Step<T>,
    act: &mut SessionActor,
    _: &mut Context<SessionActor>,
) -> Result<T> {
    let (result, session) = step;
    if let Some(session) = session {
        let full = act.sessions.len() >= MAX_CACHED_FAMILIES;
        if full
            && !act.sessions.contains_key(&session.id)
            && let Some(id) = act.sessions.keys().next().cloned()
        {
            act.sessions.remove(&id);
        }
        act.sessions.insert(session.id.clone(), session);
    }
    result
}

async fn open(deps: &SessionDeps, account: AccountId, color: String) -> Step<Issued> {
    let now = deps.clock.now_ms();
    let (session, credential) = Session::open(account, &deps.secrets, &deps.policy, now);
    if let Err(err) = deps.store.insert_session(&session).await {
        return (Err(err.into()), None);
    }
    let issued = Issued {
        session_expires_ms: session.expires_ms,
        token: Some(seal_token(deps, account, &color, now)),
        credential,
        color,
    };
    (Ok(issued), Some(session))
}

fn seal_token(deps: &SessionDeps, account: AccountId, color: &str, now: i64) -> (String, i64) {
    let expires_ms = now + deps.token_ttl_ms;
    let claims = gate_token(account.0, color, deps.zone, expires_ms / 1000);
    (deps.tokens.seal(&claims), expires_ms)
}

/// The colour of the account's tokens: its own colour, else the deployment's default.
async fn account_color(deps: &SessionDeps, account: AccountId) -> Result<String> {
    let found = deps.store.account(account).await?;
    let found = found.ok_or_else(Error::session_illegal)?;
    Ok(color::pick(
        found.default_color.as_deref(),
        &deps.default_color,
    ))
}

/// The family as stored, if it belongs to `account`.
async fn load(deps: &SessionDeps, account: AccountId, id: &SessionId) -> Result<Session> {
    match deps.store.session(id).await? {
        Some(session) if session.account == account => Ok(session),
        _ => Err(Error::session_illegal()),
    }
}

/// Checks the presented credential against the cached family, and against the stored one when
/// the cache does not say `Current` (another node may have rotated it).
async fn verdict(
    deps: &SessionDeps,
    account: AccountId,
    cached: Option<Session>,
    credential: &SessionCredential,
) -> Result<(Session, Verdict)> {
    let presented = deps.secrets.hash(credential);
    let now = deps.clock.now_ms();
    if let Some(session) = cached {
        let verdict = session.check(&presented, &deps.policy, now);
        if verdict == Verdict::Current {
            return Ok((session, verdict));
        }
    }
    let session = load(deps, account, &credential.id).await?;
    let verdict = session.check(&presented, &deps.policy, now);
    Ok((session, verdict))
}

async fn rotate(
    deps: &SessionDeps,
    account: AccountId,
    mut cached: Option<Session>,
    color: Option<String>,
    msg: Rotate,
) -> Step<Issued> {
    // Only a token needs the colour; a plain refresh does not read the account.
    let color = match (msg.issue_token, color) {
        (false, known) => known.unwrap_or_default(),
        (true, Some(known)) => known,
        (true, None) => match account_color(deps, account).await {
            Ok(color) => color,
            Err(err) => return (Err(err), None),
        },
    };
    // A failed compare-and-set means another node changed the family: judge again from the store.
    for _ in 0..2 {
        let (mut session, verdict) =
            match verdict(deps, account, cached.take(), &msg.credential).await {
                Ok(found) => found,
                Err(err) => return (Err(err), None),
            };
        if verdict != Verdict::Current {
            return refuse(deps, session, verdict).await;
        }
        let now = deps.clock.now_ms();
        let expected = session.generation;
        let credential = session.rotate(&deps.secrets, &deps.policy, now);
        match deps.store.update_session(&session, expected).await {
            Ok(true) => {
                let token = msg
                    .issue_token
                    .then(|| seal_token(deps, account, &color, now));
                let expires = session.expires_ms;
                let issued = Issued {
                    credential,
                    session_expires_ms: expires,
                    token,
                    color,
                };
                return (Ok(issued), Some(session));
            }
            Ok(false) => continue,
            Err(err) => return (Err(err.into()), None),
        }
    }
    (
        Err(Error::unavailable(1, "session changed concurrently twice")),
        None,
    )
}

async fn logout(
    deps: &SessionDeps,
    account: AccountId,
    cached: Option<Session>,
    msg: Logout,
) -> Step<()> {
    let (mut session, verdict) = match verdict(deps, account, cached, &msg.credential).await {
        Ok(found) => found,
        Err(err) => return (Err(err), None),
    };
    // A client that lost a rotation answer may still log out with the credential it has.
    if !matches!(verdict, Verdict::Current | Verdict::RetiredInGrace) {
        return refuse(deps, session, verdict).await;
    }
    let now = deps.clock.now_ms();
    if msg.all {
        let revoked = deps
            .store
            .revoke_account_sessions(account, RevokeReason::LogoutAll, now)
            .await;
        return match revoked {
            Ok(ids) => {
                tracing::info!(target: "lares::security", event = "logout_all", %account, sessions = ids.len());
                (Ok(()), None)
            }
            Err(err) => (Err(err.into()), None),
        };
    }
    match deps
        .store
        .revoke_session(&session.id, RevokeReason::Logout, now)
        .await
    {
        Ok(_) => {
            session.revoke(RevokeReason::Logout, now);
            (Ok(()), Some(session))
        }
        Err(err) => (Err(err.into()), None),
    }
}

/// Answers a credential that is not current; revokes the family when it was reused.
async fn refuse<T>(deps: &SessionDeps, mut session: Session, verdict: Verdict) -> Step<T> {
    let (account, id) = (session.account, session.id.clone());
    match verdict {
        Verdict::Expired => return (Err(Error::session_timeout()), Some(session)),
        Verdict::Reuse => {
            let now = deps.clock.now_ms();
            if let Err(err) = deps
                .store
                .revoke_session(&id, RevokeReason::Reuse, now)
                .await
            {
                return (Err(err.into()), None);
            }
            session.revoke(RevokeReason::Reuse, now);
            deps.metrics.security_event("session_reuse");
            tracing::warn!(
                target: "lares::security", event = "session_reuse", %account, session = %id,
                "retired session credential presented after the grace window; family revoked"
            );
        }
        Verdict::RetiredInGrace | Verdict::Unknown | Verdict::Revoked | Verdict::Current => {
            deps.metrics.security_event("session_refused");
            tracing::info!(
                target: "lares::security", event = "session_refused", %account, session = %id,
                verdict = ?verdict
            );
        }
    }
    (Err(Error::session_illegal()), Some(session))
}
