//! The steps the session actor runs, one message at a time: pure functions of the shared
//! dependencies and the actor's cached copy, answering a result and the copy to cache.

use super::SessionDeps;
use super::session::{Authenticate, Issued, Logout, Revoke, Rotate};
use crate::config::SingleSession;
use crate::domain::credentials::SessionCredential;
use crate::domain::gray::Ask;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{Revocation, RevokeReason, Revoked, Session, Verdict};
use crate::domain::token::gate_token;
use crate::domain::{Error, Reason, Result};
use crate::proto::gate::AuthToken;
use crate::store::cache::Nonce;

/// The outcome of a step, with the family to cache afterwards (if any).
pub type Step<T> = (Result<T>, Option<Session>);

pub async fn open(deps: &SessionDeps, account: AccountId, color: String) -> Step<Issued> {
    let now = deps.clock.now_ms();
    let (mut session, credential) = Session::open(account, &deps.secrets, &deps.policy, now);
    if deps.single_session == SingleSession::KickOlder {
        session.epoch = match deps.data.next_epoch(account).await {
            Ok(epoch) => epoch,
            Err(err) => return (Err(err), None),
        };
    }
    // The token's nonce is registered with the family, in one step.
    let claims = token_claims(deps, account, &color, now);
    let nonce = Nonce {
        value: &claims.rand,
        expires_ms: claims.timeout * 1000,
    };
    if let Err(err) = deps.data.insert(&session, Some(nonce)).await {
        return (Err(err), None);
    }
    if let Err(err) = single_session(deps, &mut session).await {
        return (Err(err), Some(session));
    }
    let token = (deps.tokens.seal(&claims), now + deps.token_ttl_ms);
    let issued = Issued {
        session_expires_ms: session.expires_ms,
        token: Some(token),
        credential,
        color,
        account_color: None,
    };
    (Ok(issued), Some(session))
}

/// Applies the single-session policy to a family just opened: `kick_older` revokes every older
/// family of the account (and this one, when a newer sign-in overtook it); `deny_newer` revokes
/// this one when another family is live.
async fn single_session(deps: &SessionDeps, session: &mut Session) -> Result<()> {
    let account = session.account;
    match deps.single_session {
        SingleSession::Off => Ok(()),
        SingleSession::KickOlder => {
            let kicked = deps
                .data
                .revoke_older(account, session.epoch, RevokeReason::SingleSession)
                .await?;
            announce(deps, account, kicked, RevokeReason::SingleSession).await;
            if deps.data.current_epoch(account).await? > session.epoch {
                end(deps, session, RevokeReason::SingleSession).await?;
                return Err(Error::new(
                    Reason::StatusIllegal,
                    "a newer sign-in of this account replaced this one",
                ));
            }
            Ok(())
        }
        SingleSession::DenyNewer => {
            if deps.data.other_live(account, &session.id).await?.is_empty() {
                return Ok(());
            }
            end(deps, session, RevokeReason::SingleSession).await?;
            Err(Error::new(
                Reason::StatusIllegal,
                "the account is signed in elsewhere",
            ))
        }
    }
}

/// Revokes one family for good and tells the gateways.
async fn end(deps: &SessionDeps, session: &mut Session, reason: RevokeReason) -> Result<()> {
    let now = deps.clock.now_ms();
    deps.data
        .revoke(session, Revocation { at_ms: now, reason })
        .await?;
    session.revoke(reason, now);
    announce(deps, session.account, vec![session.id.clone()], reason).await;
    Ok(())
}

/// Publishes revocations to `WatchRevocations` subscribers on every node.
async fn announce(
    deps: &SessionDeps,
    account: AccountId,
    ids: Vec<SessionId>,
    reason: RevokeReason,
) {
    let at_ms = deps.clock.now_ms();
    let events = ids.into_iter().map(|session| Revoked {
        account,
        session,
        reason,
        at_ms,
    });
    deps.hub.publish(events.collect()).await;
}

/// The claims of a new handshake token; its nonce must be registered before it is handed out,
/// so that validation can accept it once and name its session.
fn token_claims(deps: &SessionDeps, account: AccountId, color: &str, now: i64) -> AuthToken {
    gate_token(
        account.0,
        color,
        deps.zone,
        (now + deps.token_ttl_ms) / 1000,
    )
}

/// The account's own colour, looked up when the actor does not know it yet.
async fn account_color(
    deps: &SessionDeps,
    account: AccountId,
    known: Option<Option<String>>,
) -> Result<Option<String>> {
    if let Some(known) = known {
        return Ok(known);
    }
    let found = deps.data.account(account).await?;
    Ok(found.ok_or_else(Error::session_illegal)?.default_color)
}

/// Judges the presented credential against the actor's copy, then the tiered copy, then the
/// freshest of cache and store: each later look happens only when the earlier copy does not
/// say `Current`, because another node (or the store, while the cache was away) may have
/// rotated the family.
async fn verdict(
    deps: &SessionDeps,
    account: AccountId,
    cached: Option<Session>,
    credential: &SessionCredential,
) -> Result<(Session, Verdict)> {
    let presented = deps.secrets.hash(credential);
    let now = deps.clock.now_ms();
    let judge = |session: Session| {
        let verdict = session.check(&presented, &deps.policy, now);
        (session, verdict)
    };
    if let Some(found) = cached.map(judge).filter(|(_, v)| *v == Verdict::Current) {
        return Ok(found);
    }
    let id = &credential.id;
    let tiered = deps.data.session(account, id).await?.map(judge);
    if let Some(found) = tiered.filter(|(_, v)| *v == Verdict::Current) {
        return Ok(found);
    }
    let fresh = deps.data.fresh_session(account, id).await?;
    let judged = fresh.session.map(judge);
    // Without the cache, a credential newer than the store's copy may still be on its way
    // there from another node's write-behind queue: give it that long, once.
    if matches!(judged, Some((_, Verdict::Unknown))) && !fresh.complete {
        deps.data.settle().await;
        let again = deps.data.fresh_session(account, id).await?;
        return again.session.map(judge).ok_or_else(Error::session_illegal);
    }
    judged.ok_or_else(Error::session_illegal)
}

pub async fn rotate(
    deps: &SessionDeps,
    account: AccountId,
    mut cached: Option<Session>,
    known_color: Option<Option<String>>,
    msg: Rotate,
) -> Step<Issued> {
    // Only a token needs the colour; a plain refresh does not read the account.
    let (color, account_color) = match &msg.token {
        None => (String::new(), None),
        Some(ask) => match account_color(deps, account, known_color).await {
            Ok(own) => {
                let question = Ask {
                    account,
                    account_color: own.as_deref(),
                    requested: &ask.requested_color,
                    client_version: &ask.client_version,
                };
                (deps.gray.pick(question, &deps.default_color), Some(own))
            }
            Err(err) => return (Err(err), None),
        },
    };
    // A failed compare-and-set means another writer changed the family: judge again.
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
        let claims = msg
            .token
            .is_some()
            .then(|| token_claims(deps, account, &color, now));
        let nonce = claims.as_ref().map(|c| Nonce {
            value: &c.rand,
            expires_ms: c.timeout * 1000,
        });
        match deps.data.update(&session, expected, nonce).await {
            Ok(true) => {
                let token = claims.map(|c| (deps.tokens.seal(&c), now + deps.token_ttl_ms));
                let expires = session.expires_ms;
                let issued = Issued {
                    credential,
                    session_expires_ms: expires,
                    token,
                    color,
                    account_color,
                };
                return (Ok(issued), Some(session));
            }
            Ok(false) => continue,
            Err(err) => return (Err(err), None),
        }
    }
    (
        Err(Error::unavailable(1, "session changed concurrently twice")),
        None,
    )
}

pub async fn logout(
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
        return match deps
            .data
            .revoke_account(account, RevokeReason::LogoutAll, now)
            .await
        {
            Ok(ids) => {
                tracing::info!(target: "lares::security", event = "logout_all", %account, sessions = ids.len());
                announce(deps, account, ids, RevokeReason::LogoutAll).await;
                (Ok(()), None)
            }
            Err(err) => (Err(err), None),
        };
    }
    match end(deps, &mut session, RevokeReason::Logout).await {
        Ok(()) => (Ok(()), Some(session)),
        Err(err) => (Err(err), None),
    }
}

/// Ends one family (answering `NOT_FOUND` when the account has no such family) or all of them,
/// and tells the gateways.
pub async fn revoke(
    deps: &SessionDeps,
    account: AccountId,
    cached: Option<Session>,
    msg: Revoke,
) -> Step<Vec<SessionId>> {
    let Some(id) = msg.session else {
        let now = deps.clock.now_ms();
        return match deps.data.revoke_account(account, msg.reason, now).await {
            Ok(ids) => {
                announce(deps, account, ids.clone(), msg.reason).await;
                (Ok(ids), None)
            }
            Err(err) => (Err(err), None),
        };
    };
    let found = match cached {
        Some(session) => Some(session),
        None => match deps.data.session(account, &id).await {
            Ok(found) => found,
            Err(err) => return (Err(err), None),
        },
    };
    let Some(mut session) = found.filter(|s| s.account == account) else {
        return (
            Err(Error::not_found("the account has no such session")),
            None,
        );
    };
    if session.revoked.is_some() {
        return (Ok(Vec::new()), Some(session));
    }
    match end(deps, &mut session, msg.reason).await {
        Ok(()) => (Ok(vec![id]), Some(session)),
        Err(err) => (Err(err), None),
    }
}

pub async fn authenticate(
    deps: &SessionDeps,
    account: AccountId,
    cached: Option<Session>,
    msg: Authenticate,
) -> Step<()> {
    match verdict(deps, account, cached, &msg.credential).await {
        Ok((session, Verdict::Current)) => (Ok(()), Some(session)),
        Ok((session, verdict)) => refuse(deps, session, verdict).await,
        Err(err) => (Err(err), None),
    }
}

/// Answers a credential that is not current; revokes the family when it was reused.
async fn refuse<T>(deps: &SessionDeps, mut session: Session, verdict: Verdict) -> Step<T> {
    let (account, id): (AccountId, SessionId) = (session.account, session.id.clone());
    match verdict {
        Verdict::Expired => return (Err(Error::session_timeout()), Some(session)),
        Verdict::Reuse => {
            if let Err(err) = end(deps, &mut session, RevokeReason::Reuse).await {
                return (Err(err), None);
            }
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
                verdict = ?verdict, generation = session.generation
            );
        }
    }
    (Err(Error::session_illegal()), Some(session))
}
