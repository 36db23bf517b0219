//! The steps the session actor runs, one message at a time: pure functions of the shared
//! dependencies and the actor's cached copy, answering a result and the copy to cache.

use super::SessionDeps;
use super::session::{Issued, Logout, Rotate};
use crate::domain::color;
use crate::domain::credentials::SessionCredential;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{Revocation, RevokeReason, Session, Verdict};
use crate::domain::token::gate_token;
use crate::domain::{Error, Result};

/// The outcome of a step, with the family to cache afterwards (if any).
pub type Step<T> = (Result<T>, Option<Session>);

pub async fn open(deps: &SessionDeps, account: AccountId, color: String) -> Step<Issued> {
    let now = deps.clock.now_ms();
    let (session, credential) = Session::open(account, &deps.secrets, &deps.policy, now);
    if let Err(err) = deps.data.insert(&session).await {
        return (Err(err), None);
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
    let found = deps.data.account(account).await?;
    let found = found.ok_or_else(Error::session_illegal)?;
    Ok(color::pick(
        found.default_color.as_deref(),
        &deps.default_color,
    ))
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
        match deps.data.update(&session, expected).await {
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
                (Ok(()), None)
            }
            Err(err) => (Err(err), None),
        };
    }
    let revocation = Revocation {
        at_ms: now,
        reason: RevokeReason::Logout,
    };
    match deps.data.revoke(&session, revocation).await {
        Ok(()) => {
            session.revoke(RevokeReason::Logout, now);
            (Ok(()), Some(session))
        }
        Err(err) => (Err(err), None),
    }
}

/// Answers a credential that is not current; revokes the family when it was reused.
async fn refuse<T>(deps: &SessionDeps, mut session: Session, verdict: Verdict) -> Step<T> {
    let (account, id): (AccountId, SessionId) = (session.account, session.id.clone());
    match verdict {
        Verdict::Expired => return (Err(Error::session_timeout()), Some(session)),
        Verdict::Reuse => {
            let now = deps.clock.now_ms();
            let revocation = Revocation {
                at_ms: now,
                reason: RevokeReason::Reuse,
            };
            if let Err(err) = deps.data.revoke(&session, revocation).await {
                return (Err(err), None);
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
                verdict = ?verdict, generation = session.generation
            );
        }
    }
    (Err(Error::session_illegal()), Some(session))
}
