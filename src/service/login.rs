//! Username registration and password sign-in.

use super::{RequestMeta, Service, unix_s};
use crate::actors::session::{Issued, OpenSession, TokenAsk};
use crate::domain::credentials::{Username, check_password};
use crate::domain::gray::Ask;
use crate::domain::ids::AccountId;
use crate::domain::password::Verified;
use crate::domain::{Error, Result};
use crate::proto::account::{LoginInfo, UsernameLoginRequest, UsernameRegisterRequest};
use crate::store::write_behind::Record;
use crate::store::{Account, LastLogin, LoginEvent, NewAccount, StoreError};

impl Service {
    /// Creates an account with a username and password, then signs it in.
    pub async fn username_register(
        &self,
        req: UsernameRegisterRequest,
        meta: &RequestMeta,
    ) -> Result<LoginInfo> {
        let username = Username::parse(&req.username)?;
        check_password(&req.password)?;
        check_requested_color(&req.color)?;
        let hashing = self.inner.hashing.clone();
        let password = req.password;
        let hash = self
            .inner
            .hash_pool
            .run(move || hashing.hash(&password))
            .await?;
        let hash = hash.map_err(|e| Error::internal(format!("password hashing failed: {e}")))?;
        let now = self.inner.deps.clock.now_ms();
        let ip = meta.ip_text();
        let new = NewAccount {
            zone: self.inner.deps.zone,
            username: username.as_str(),
            username_key: &username.key(),
            password_hash: &hash,
            register_ip: ip.as_deref(),
            now_ms: now,
        };
        let account = match self.inner.deps.data.store().create_account(&new).await {
            Ok(account) => account,
            Err(StoreError::Conflict) => return Err(Error::conflict("username is taken")),
            Err(err) => return Err(err.into()),
        };
        tracing::info!(target: "lares::security", event = "register", account = %account.id);
        let how = SignIn {
            register: true,
            provider: "username",
            ask: &asked(&req.color, &req.client_version),
        };
        self.sign_in(&account, how, meta).await
    }

    /// Signs in with a username and password. An unknown user and a wrong password answer the
    /// same `AUTH_FAILED` after the same hashing work.
    pub async fn username_login(
        &self,
        req: UsernameLoginRequest,
        meta: &RequestMeta,
    ) -> Result<LoginInfo> {
        let username = Username::parse(&req.username)?;
        check_password(&req.password)?;
        check_requested_color(&req.color)?;
        let store = self.inner.deps.data.store();
        let account = store.account_by_username(&username.key()).await?;
        let stored = account.as_ref().and_then(|a| a.password_hash.clone());
        let hashing = self.inner.hashing.clone();
        let password = req.password.clone();
        let verified = self
            .inner
            .hash_pool
            .run(move || hashing.verify(&password, stored.as_deref()))
            .await?;
        let (account, needs_rehash) = match (account, verified) {
            (Some(account), Verified::Match { needs_rehash }) => (account, needs_rehash),
            (account, _) => {
                self.inner.deps.metrics.security_event("login_failed");
                let known = account.map(|a| a.id.to_string()).unwrap_or_default();
                tracing::info!(target: "lares::security", event = "login_failed", account = %known);
                self.count_login("username", "auth_failed");
                return Err(Error::auth_failed());
            }
        };
        if account.is_banned(self.inner.deps.clock.now_ms()) {
            self.count_login("username", "banned");
            return Err(Error::banned());
        }
        if needs_rehash {
            self.rehash(&account, req.password);
        }
        let how = SignIn {
            register: false,
            provider: "username",
            ask: &asked(&req.color, &req.client_version),
        };
        self.sign_in(&account, how, meta).await
    }

    /// Opens a session for a verified account and answers its `LoginInfo`: the colour by the
    /// release rules, a handshake token and an access token.
    pub(super) async fn sign_in(
        &self,
        account: &Account,
        how: SignIn<'_>,
        meta: &RequestMeta,
    ) -> Result<LoginInfo> {
        let deps = &self.inner.deps;
        let ask = Ask {
            account: account.id,
            account_color: account.default_color.as_deref(),
            requested: how.ask.requested_color.as_str(),
            client_version: how.ask.client_version.as_str(),
        };
        let color = deps.gray.pick(ask, &deps.default_color);
        let open = OpenSession {
            color,
            account_color: account.default_color.clone(),
        };
        let issued: Issued = self.inner.shards.ask(account.id, open).await?;
        self.record_sign_in(account.id, meta, how.provider);
        self.count_login(how.provider, "ok");
        let account_id = self.encode_account(account.id);
        let (access_token, access_expires) = self.access_token(&account_id, &issued)?;
        let (token, token_expires) = issued.token.unwrap_or_default();
        Ok(LoginInfo {
            account_id,
            register: how.register,
            session: issued.credential.expose(),
            session_timeout: unix_s(issued.session_expires_ms),
            token,
            token_timeout: unix_s(token_expires),
            state: String::new(),
            color: issued.color,
            access_token,
            access_token_timeout: unix_s(access_expires),
        })
    }

    /// Queues the sign-in time, address and event behind the answer.
    fn record_sign_in(&self, account: AccountId, meta: &RequestMeta, provider: &'static str) {
        let deps = &self.inner.deps;
        let at_ms = deps.clock.now_ms();
        let ip = meta.ip_text();
        let queue = deps.data.write_behind();
        queue.push(Record::Login(LastLogin {
            account,
            ip: ip.clone(),
            at_ms,
        }));
        queue.push(Record::Event(LoginEvent {
            account,
            provider,
            ip,
            at_ms,
        }));
    }

    pub(super) fn count_login(&self, provider: &'static str, outcome: &'static str) {
        let labels = crate::telemetry::LoginLabels { provider, outcome };
        self.inner.deps.metrics.logins.get_or_create(&labels).inc();
    }

    /// Re-hashes a password stored with weaker parameters, in the background.
    fn rehash(&self, account: &Account, password: String) {
        let service = self.clone();
        let id = account.id;
        tokio::spawn(async move {
            let hashing = service.inner.hashing.clone();
            let Ok(Ok(hash)) = service
                .inner
                .hash_pool
                .run(move || hashing.hash(&password))
                .await
            else {
                return;
            };
            let now = service.inner.deps.clock.now_ms();
            if let Err(err) = service
                .inner
                .deps
                .data
                .store()
                .set_password_hash(id, &hash, now)
                .await
            {
                tracing::warn!(account = %id, error = %err, "could not store the re-hashed password");
            }
        });
    }
}

/// How a sign-in came about.
pub(super) struct SignIn<'a> {
    pub register: bool,
    pub provider: &'static str,
    pub ask: &'a TokenAsk,
}

/// What the client asked of its token.
pub(super) fn asked(color: &str, client_version: &str) -> TokenAsk {
    TokenAsk {
        requested_color: color.to_owned(),
        client_version: client_version.to_owned(),
    }
}

/// A requested colour must be well-formed; the release rules decide whether it is honoured.
pub(super) fn check_requested_color(requested: &str) -> Result<()> {
    if requested.is_empty() || crate::domain::color::is_valid(requested) {
        Ok(())
    } else {
        Err(Error::param(
            "color: 1 to 32 of ASCII letters, digits, '-' and '_'",
        ))
    }
}
