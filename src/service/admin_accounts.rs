//! The account admin API and account lookups for game servers. Changes to an account's own
//! fields commit together with their audit record; ending sessions goes through the account's
//! actor, like a logout, so gateways hear of it, and is audited right after.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::json;

use super::Service;
use crate::actors::session::{AccountChanged, Revoke};
use crate::domain::admin::Caller;
use crate::domain::color;
use crate::domain::credentials::check_password;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::RevokeReason;
use crate::domain::{Error, Result};
use crate::proto::account as client;
use crate::proto::account_admin as pb;
use crate::store::admin::{AccountChange, AccountDetail, AccountQuery, AuditQuery, Ban};
use crate::store::{Account, AccountStatus};

/// Page sizes of the admin listings.
const PAGE_DEFAULT: u32 = 50;
const PAGE_MAX: u32 = 500;
/// Most accounts one `GetAccounts` call may name.
const LOOKUP_MAX: usize = 500;
const BAN_REASON_MAX: usize = 500;
/// Longest filter value of a listing (a username prefix, a subject, an actor).
const FILTER_MAX: usize = 512;

impl Service {
    pub async fn admin_list_accounts(
        &self,
        req: pb::ListAccountsRequest,
    ) -> Result<pb::ListAccountsResponse> {
        let limit = page_size(req.page_size)?;
        for (name, value) in [
            ("usernamePrefix", &req.username_prefix),
            ("provider", &req.provider),
            ("subject", &req.subject),
            ("deviceId", &req.device_id),
            ("color", &req.color),
        ] {
            if value.len() > FILTER_MAX {
                return Err(Error::param(format!("{name}: at most 512 bytes")));
            }
        }
        let identity = match (
            req.provider.as_str(),
            req.subject.as_str(),
            req.device_id.as_str(),
        ) {
            ("", "", "") => None,
            ("", "", device) => Some(("device".to_owned(), device.to_owned())),
            (p, s, "") if !p.is_empty() && !s.is_empty() => Some((p.to_owned(), s.to_owned())),
            _ => {
                return Err(Error::param(
                    "provider and subject go together, and not with deviceId",
                ));
            }
        };
        let status = match req.status.as_str() {
            "" => None,
            "active" => Some(AccountStatus::Active),
            "banned" => Some(AccountStatus::Banned),
            _ => return Err(Error::param("status: active or banned")),
        };
        let id = match req.account_id.as_str() {
            "" => None,
            text => Some(self.decode_account(text)?),
        };
        let query = AccountQuery {
            id,
            username_prefix: (!req.username_prefix.is_empty())
                .then(|| req.username_prefix.to_lowercase()),
            identity,
            color: (!req.color.is_empty()).then(|| req.color.clone()),
            status,
            created_from_ms: (req.created_from > 0).then_some(req.created_from),
            created_before_ms: (req.created_before > 0).then_some(req.created_before),
            after: page_after(&req.page_token, "accounts")?.map(AccountId),
            limit: limit + 1,
            now_ms: self.inner.deps.clock.now_ms(),
        };
        let mut found = self.inner.deps.data.store().search_accounts(&query).await?;
        let next = next_token(&mut found, limit, "accounts", |d| d.account.id.0);
        Ok(pb::ListAccountsResponse {
            accounts: found.iter().map(|d| self.admin_view(d)).collect(),
            next_page_token: next,
        })
    }

    pub async fn admin_get_account(&self, req: pb::GetAccountRequest) -> Result<pb::AccountView> {
        let id = self.decode_account(&req.account_id)?;
        let detail = self.detail(id).await?;
        let store = self.inner.deps.data.store();
        let identities = store.identities(id).await?;
        let now = self.inner.deps.clock.now_ms();
        let sessions = self.inner.deps.data.live_sessions(id, now).await?;
        Ok(pb::AccountView {
            account: Some(self.admin_view(&detail)),
            identities: identities
                .into_iter()
                .map(|i| pb::Identity {
                    provider: i.provider,
                    subject: i.subject,
                })
                .collect(),
            sessions: sessions
                .into_iter()
                .map(|s| pb::LiveSession {
                    session_id: s.id,
                    generation: s.generation,
                    created: s.created_ms,
                    expires: s.expires_ms,
                    absolute_expires: s.absolute_ms,
                })
                .collect(),
        })
    }

    /// Bans the account, then ends all its sessions.
    pub async fn admin_ban(
        &self,
        caller: &Caller,
        req: pb::BanAccountRequest,
    ) -> Result<pb::AdminAccount> {
        let id = self.decode_account(&req.account_id)?;
        let reason = req.reason.trim();
        if reason.is_empty() || reason.chars().count() > BAN_REASON_MAX {
            return Err(Error::param("reason: 1 to 500 characters"));
        }
        let now = self.inner.deps.clock.now_ms();
        if req.until != 0 && req.until <= now {
            return Err(Error::param(
                "until: must be in the future (or 0 for no end)",
            ));
        }
        let ban = Ban {
            reason: reason.to_owned(),
            until_ms: (req.until != 0).then_some(req.until),
        };
        let detail = json!({ "reason": ban.reason, "until": req.until });
        let audit = self.audit_entry(caller, "account.ban", self.target(id), detail);
        self.change(id, AccountChange::Ban(&ban), &audit).await?;
        let ended = self.end_sessions(id, None, RevokeReason::Ban).await?;
        tracing::warn!(
            target: "lares::security", event = "ban", account = %id, actor = %caller.name,
            sessions = ended.len(), "account banned"
        );
        Ok(self.admin_view(&self.detail(id).await?))
    }

    pub async fn admin_unban(
        &self,
        caller: &Caller,
        req: pb::UnbanAccountRequest,
    ) -> Result<pb::AdminAccount> {
        let id = self.decode_account(&req.account_id)?;
        let audit = self.audit_entry(caller, "account.unban", self.target(id), json!({}));
        self.change(id, AccountChange::Unban, &audit).await?;
        tracing::info!(target: "lares::security", event = "unban", account = %id, actor = %caller.name);
        Ok(self.admin_view(&self.detail(id).await?))
    }

    pub async fn admin_logout(
        &self,
        caller: &Caller,
        req: pb::LogoutSessionsRequest,
    ) -> Result<pb::LogoutSessionsResponse> {
        let id = self.decode_account(&req.account_id)?;
        let session = match req.session_id.as_str() {
            "" => None,
            text => Some(
                SessionId::parse(text)
                    .ok_or_else(|| Error::param("sessionId: not a session id"))?,
            ),
        };
        self.detail(id).await?;
        let ended = self.end_sessions(id, session, RevokeReason::Admin).await?;
        let detail = json!({ "sessionId": req.session_id, "ended": ended.len() });
        let audit = self.audit_entry(caller, "account.logout", self.target(id), detail);
        self.audit(&audit).await?;
        Ok(pb::LogoutSessionsResponse {
            session_ids: ended.iter().map(|s| s.as_str().to_owned()).collect(),
        })
    }

    /// Sets a new password (generated when none is given) and ends every session.
    pub async fn admin_reset_password(
        &self,
        caller: &Caller,
        req: pb::ResetPasswordRequest,
    ) -> Result<pb::ResetPasswordResponse> {
        let id = self.decode_account(&req.account_id)?;
        let generated = req.password.is_empty();
        let password = match generated {
            true => crate::domain::random::b64_token::<15>(),
            false => {
                check_password(&req.password)?;
                req.password
            }
        };
        let account = self.detail(id).await?.account;
        if account.username.is_none() {
            return Err(Error::new(
                crate::domain::Reason::StatusIllegal,
                "the account has no username to sign in with a password",
            ));
        }
        let hashing = self.inner.hashing.clone();
        let secret = password.clone();
        let hash = self
            .inner
            .hash_pool
            .run(move || hashing.hash(&secret))
            .await?;
        let hash = hash.map_err(|e| Error::internal(format!("password hashing failed: {e}")))?;
        let detail = json!({ "generated": generated });
        let audit = self.audit_entry(caller, "account.reset_password", self.target(id), detail);
        self.change(id, AccountChange::PasswordHash(&hash), &audit)
            .await?;
        let ended = self
            .end_sessions(id, None, RevokeReason::PasswordReset)
            .await?;
        tracing::info!(
            target: "lares::security", event = "password_reset", account = %id,
            actor = %caller.name, sessions = ended.len()
        );
        Ok(pb::ResetPasswordResponse {
            password: if generated { password } else { String::new() },
            session_ids: ended.iter().map(|s| s.as_str().to_owned()).collect(),
        })
    }

    pub async fn admin_set_color(
        &self,
        caller: &Caller,
        req: pb::SetDefaultColorRequest,
    ) -> Result<pb::AdminAccount> {
        let id = self.decode_account(&req.account_id)?;
        if !req.color.is_empty() && !color::is_valid(&req.color) {
            return Err(Error::param("color: 1 to 32 of A-Z a-z 0-9 - _, or empty"));
        }
        let color = (!req.color.is_empty()).then_some(req.color.as_str());
        let detail = json!({ "color": req.color });
        let audit = self.audit_entry(caller, "account.set_color", self.target(id), detail);
        self.change(id, AccountChange::DefaultColor(color), &audit)
            .await?;
        self.inner.shards.ask(id, AccountChanged).await?;
        Ok(self.admin_view(&self.detail(id).await?))
    }

    pub async fn admin_login_events(
        &self,
        req: pb::ListLoginEventsRequest,
    ) -> Result<pb::ListLoginEventsResponse> {
        let id = self.decode_account(&req.account_id)?;
        let limit = page_size(req.page_size)?;
        let before = page_after(&req.page_token, "events")?;
        self.detail(id).await?;
        let store = self.inner.deps.data.store();
        let mut events = store.login_events(id, before, limit + 1).await?;
        let next = next_token(&mut events, limit, "events", |e| e.id);
        Ok(pb::ListLoginEventsResponse {
            events: events
                .into_iter()
                .map(|e| pb::LoginEvent {
                    provider: e.provider,
                    ip: e.ip.unwrap_or_default(),
                    at: e.at_ms,
                })
                .collect(),
            next_page_token: next,
        })
    }

    pub async fn admin_audit_log(
        &self,
        req: pb::ListAuditLogRequest,
    ) -> Result<pb::ListAuditLogResponse> {
        let limit = page_size(req.page_size)?;
        for (name, value) in [
            ("actor", &req.actor),
            ("action", &req.action),
            ("target", &req.target),
        ] {
            if value.len() > FILTER_MAX {
                return Err(Error::param(format!("{name}: at most 512 bytes")));
            }
        }
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let query = AuditQuery {
            actor: some(&req.actor),
            action: some(&req.action),
            target: some(&req.target),
            before: page_after(&req.page_token, "audit")?,
            limit: limit + 1,
        };
        let mut records = self.inner.deps.data.store().audit_log(&query).await?;
        let next = next_token(&mut records, limit, "audit", |r| r.id);
        Ok(pb::ListAuditLogResponse {
            records: records
                .into_iter()
                .map(|r| pb::AuditRecord {
                    id: r.id,
                    at: r.entry.at_ms,
                    actor: r.entry.actor,
                    action: r.entry.action,
                    target: r.entry.target,
                    detail: r.entry.detail,
                })
                .collect(),
            next_page_token: next,
        })
    }

    /// One account for game servers, by internal number.
    pub async fn account_record(
        &self,
        req: client::GetAccountRequest,
    ) -> Result<client::AccountRecord> {
        let found = self.account_records(&[req.id]).await?;
        found
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found("no such account"))
    }

    /// Accounts for game servers, by internal number; unknown ones are left out.
    pub async fn account_records(&self, ids: &[i64]) -> Result<Vec<client::AccountRecord>> {
        if ids.len() > LOOKUP_MAX {
            return Err(Error::param("ids: at most 500 per call"));
        }
        let ids: Vec<AccountId> = ids.iter().map(|&id| AccountId(id)).collect();
        let found = self.inner.deps.data.store().account_details(&ids).await?;
        let now = self.inner.deps.clock.now_ms();
        Ok(found
            .into_iter()
            .map(|d| {
                let a = d.account;
                client::AccountRecord {
                    id: a.id.0,
                    account_id: self.encode_account(a.id),
                    zone: a.zone,
                    status: status_text(&a, now).to_owned(),
                    username: a.username.unwrap_or_default(),
                    default_color: a.default_color.unwrap_or_default(),
                    banned_until: a.banned_until_ms.unwrap_or_default(),
                    created: a.created_ms,
                }
            })
            .collect())
    }

    async fn detail(&self, id: AccountId) -> Result<AccountDetail> {
        let found = self.inner.deps.data.store().account_details(&[id]).await?;
        found
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found("no such account"))
    }

    /// Applies a change with its audit record, then refreshes the cached copy of the account
    /// that sign-ins and validation read.
    async fn change(
        &self,
        id: AccountId,
        change: AccountChange<'_>,
        audit: &crate::store::admin::AuditEntry,
    ) -> Result<Account> {
        let store = self.inner.deps.data.store();
        let account = store
            .change_account(id, change, audit)
            .await?
            .ok_or_else(|| Error::not_found("no such account"))?;
        self.inner.deps.data.remember_account(&account).await;
        tracing::info!(
            target: "lares::audit", actor = %audit.actor, action = %audit.action,
            target_id = %audit.target, "admin action"
        );
        Ok(account)
    }

    /// Ends one session or all of them through the account's actor.
    async fn end_sessions(
        &self,
        id: AccountId,
        session: Option<SessionId>,
        reason: RevokeReason,
    ) -> Result<Vec<SessionId>> {
        self.inner.shards.ask(id, Revoke { session, reason }).await
    }

    fn target(&self, id: AccountId) -> String {
        format!("account:{}", self.encode_account(id))
    }

    fn admin_view(&self, d: &AccountDetail) -> pb::AdminAccount {
        let a = &d.account;
        let now = self.inner.deps.clock.now_ms();
        let banned = a.is_banned(now);
        pb::AdminAccount {
            account_id: self.encode_account(a.id),
            id: a.id.0,
            zone: a.zone,
            username: a.username.clone().unwrap_or_default(),
            has_password: d.has_password,
            default_color: a.default_color.clone().unwrap_or_default(),
            status: status_text(a, now).to_owned(),
            ban_reason: if banned {
                d.ban_reason.clone().unwrap_or_default()
            } else {
                String::new()
            },
            banned_until: if banned {
                a.banned_until_ms.unwrap_or_default()
            } else {
                0
            },
            created: a.created_ms,
            updated: d.updated_ms,
            register_ip: d.register_ip.clone().unwrap_or_default(),
            last_login_ip: d.last_login_ip.clone().unwrap_or_default(),
            last_login: d.last_login_ms.unwrap_or_default(),
        }
    }
}

fn status_text(a: &Account, now: i64) -> &'static str {
    if a.is_banned(now) { "banned" } else { "active" }
}

/// The page size asked for: 0 means the default.
fn page_size(asked: u32) -> Result<u32> {
    match asked {
        0 => Ok(PAGE_DEFAULT),
        1..=PAGE_MAX => Ok(asked),
        _ => Err(Error::param("pageSize: 1 to 500")),
    }
}

/// The position a page token names: the last id of the page before, for listing `kind`.
fn page_after(token: &str, kind: &str) -> Result<Option<i64>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || Error::param("pageToken: not a token of this listing");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (named, id) = text.split_once(':').ok_or_else(bad)?;
    let id: i64 = id.parse().map_err(|_| bad())?;
    (named == kind && id > 0)
        .then_some(Some(id))
        .ok_or_else(bad)
}

/// Trims a page read with one extra row to `limit`; answers the next page's token, empty when
/// this page is the last.
fn next_token<T>(rows: &mut Vec<T>, limit: u32, kind: &str, id: impl Fn(&T) -> i64) -> String {
    if rows.len() <= limit as usize {
        return String::new();
    }
    rows.truncate(limit as usize);
    rows.last()
        .map(|last| URL_SAFE_NO_PAD.encode(format!("{kind}:{}", id(last))))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_belong_to_their_listing() {
        let mut rows = vec![5_i64, 9, 12];
        let token = next_token(&mut rows, 2, "accounts", |r| *r);
        assert_eq!(rows, vec![5, 9]);
        assert_eq!(page_after(&token, "accounts").unwrap(), Some(9));
        assert!(page_after(&token, "audit").is_err());
        for bad in ["x", "!!", "YWNjb3VudHM6LTE", "YWNjb3VudHM6YQ"] {
            assert!(page_after(bad, "accounts").is_err(), "{bad}");
        }
        let mut last = vec![1_i64];
        assert_eq!(next_token(&mut last, 2, "accounts", |r| *r), "");
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(0).unwrap(), PAGE_DEFAULT);
        assert_eq!(page_size(500).unwrap(), 500);
        assert!(page_size(501).is_err());
    }
}
