//! Sign-in by identity (devices, Apple native and web, Google, Facebook) and linking identities
//! to an account. An identity signs in to the account it belongs to, or creates one through the
//! group commit; `Link` attaches an identity to the signed-in account (a guest upgrades this way
//! and keeps its id) and `Unlink` detaches one, never the last way in.

use prost::Message;

use super::login::{SignIn, asked, check_requested_color};
use super::{RequestMeta, Service};
use crate::actors::session::{Authenticate, TokenAsk};
use crate::domain::credentials::{DeviceId, SessionCredential};
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::{Error, Reason, Result};
use crate::platform::{Identity, Refused, loggable};
use crate::proto::account::{
    AppleLoginCallbackRequest, AppleLoginCallbackResponse, AppleLoginRequest, FacebookLoginRequest,
    GoogleLoginRequest, Identity as PbIdentity, LinkRequest, LinkResponse, LoginInfo, Provider,
    UnlinkRequest,
};
use crate::store::{NewIdentity, StoreError, Unlinked};

/// Longest `state` the Apple web flow round-trips.
const MAX_STATE: usize = 512;
/// Longest subject accepted by `Unlink`.
const MAX_SUBJECT: usize = 255;

fn platform_failed() -> Error {
    Error::new(Reason::PlatformAuthFailed, "platform sign-in failed")
}

fn not_configured(what: &'static str) -> Error {
    Error::new(
        Reason::Unimplemented,
        format!("{what} is not configured on this server"),
    )
}

impl Service {
    /// `PLATFORM_AUTH_FAILED`, with the reason logged and counted.
    fn platform_refused(&self, provider: &'static str, Refused(why): Refused) -> Error {
        self.inner
            .deps
            .metrics
            .security_event("platform_auth_failed");
        self.count_login(provider, "platform_auth_failed");
        tracing::info!(target: "lares::security", event = "platform_auth_failed", provider, reason = %why);
        platform_failed()
    }

    /// The identity a provider vouched for, or `PLATFORM_AUTH_FAILED`.
    fn vouched(
        &self,
        provider: &'static str,
        checked: Result<Identity, Refused>,
    ) -> Result<Identity> {
        checked.map_err(|why| self.platform_refused(provider, why))
    }

    pub async fn apple_login(
        &self,
        req: AppleLoginRequest,
        meta: &RequestMeta,
    ) -> Result<LoginInfo> {
        check_requested_color(&req.color)?;
        let apple = (self.inner.platforms.apple.as_ref())
            .filter(|a| a.native_enabled())
            .ok_or_else(|| not_configured("Sign in with Apple"))?;
        let identity = self.vouched("apple", apple.verify(&req.token, &req.nonce).await)?;
        let ask = asked(&req.color, &req.client_version);
        self.identity_sign_in(identity, &ask, meta).await
    }

    pub async fn google_login(
        &self,
        req: GoogleLoginRequest,
        meta: &RequestMeta,
    ) -> Result<LoginInfo> {
        check_requested_color(&req.color)?;
        let google = (self.inner.platforms.google.as_ref())
            .ok_or_else(|| not_configured("Google sign-in"))?;
        let identity = self.vouched("google", google.verify(&req.token).await)?;
        let ask = asked(&req.color, &req.client_version);
        self.identity_sign_in(identity, &ask, meta).await
    }

    pub async fn facebook_login(
        &self,
        req: FacebookLoginRequest,
        meta: &RequestMeta,
    ) -> Result<LoginInfo> {
        check_requested_color(&req.color)?;
        let facebook = (self.inner.platforms.facebook.as_ref())
            .ok_or_else(|| not_configured("Facebook sign-in"))?;
        let identity = self.vouched("facebook", facebook.verify(&req.token).await)?;
        let ask = asked(&req.color, &req.client_version);
        self.identity_sign_in(identity, &ask, meta).await
    }

    /// Apple's form-post callback of the web flow. Answers where to send the browser:
    /// `lares://<host>/auth?k=<LoginInfo sealed with the platform key>` on success, or
    /// `?e=<reason>` on failure, with `state` appended either way.
    pub async fn apple_login_callback(
        &self,
        req: AppleLoginCallbackRequest,
        meta: &RequestMeta,
    ) -> Result<AppleLoginCallbackResponse> {
        let apple = (self.inner.platforms.apple.as_ref())
            .filter(|a| a.web_enabled())
            .ok_or_else(|| not_configured("The Apple web flow"))?;
        let state_ok = req.state.len() <= MAX_STATE;
        let outcome = if !state_ok {
            Err(Error::param("state: at most 512 bytes"))
        } else if !req.error.is_empty() {
            let why = Refused(format!("Apple reported {}", loggable(&req.error)));
            Err(self.platform_refused("apple", why))
        } else {
            match apple.exchange(&req.code).await {
                Ok(identity) => {
                    let ask = TokenAsk::default();
                    let signed_in = self.identity_sign_in(identity, &ask, meta).await;
                    signed_in.map(|info| LoginInfo {
                        state: req.state.clone(),
                        ..info
                    })
                }
                Err(why) => Err(self.platform_refused("apple", why)),
            }
        };
        let mut location = format!("lares://{}/auth?", apple.return_host());
        match outcome {
            Ok(info) => {
                location.push_str("k=");
                location.push_str(&self.inner.platform_sealer.seal(&info.encode_to_vec()));
            }
            Err(err) => {
                err.log();
                location.push_str("e=");
                location.push_str(err.reason.code());
            }
        }
        if state_ok && !req.state.is_empty() {
            location.push_str("&state=");
            location.extend(percent_encoding::utf8_percent_encode(
                &req.state,
                percent_encoding::NON_ALPHANUMERIC,
            ));
        }
        Ok(AppleLoginCallbackResponse { location })
    }

    /// Signs in the account an identity belongs to, creating it (durably, through the group
    /// commit) when the identity is new.
    pub(super) async fn identity_sign_in(
        &self,
        identity: Identity,
        ask: &TokenAsk,
        meta: &RequestMeta,
    ) -> Result<LoginInfo> {
        let data = &self.inner.deps.data;
        let (provider, subject) = (identity.provider, identity.subject);
        let (account, created) = match data.account_by_identity(provider, &subject).await? {
            Some(account) => (account, false),
            None => {
                let new = NewIdentity {
                    provider: provider.to_owned(),
                    subject: subject.clone(),
                    zone: self.inner.deps.zone,
                    register_ip: meta.ip_text(),
                    now_ms: self.inner.deps.clock.now_ms(),
                };
                let made = self.inner.creator.create(new).await?;
                data.remember_identity(provider, &subject, &made.account)
                    .await;
                (made.account, made.created)
            }
        };
        if account.is_banned(self.inner.deps.clock.now_ms()) {
            self.count_login(provider, "banned");
            return Err(Error::banned());
        }
        if created {
            tracing::info!(target: "lares::security", event = "register", provider, account = %account.id);
        }
        let how = SignIn {
            register: created,
            provider,
            ask,
        };
        self.sign_in(&account, how, meta).await
    }

    /// The account a `Link` or `Unlink` acts for: authenticated by its current session
    /// credential (checked by its actor, changing nothing) or by an access token whose session
    /// is still live.
    async fn authenticated(
        &self,
        account_id: &str,
        session: &str,
        access_token: &str,
    ) -> Result<AccountId> {
        let account = self.decode_account(account_id)?;
        if !session.is_empty() {
            let credential = SessionCredential::parse(session)?;
            self.inner
                .shards
                .ask(account, Authenticate { credential })
                .await?;
            return Ok(account);
        }
        if access_token.is_empty() {
            return Err(Error::param("session or accessToken: one is required"));
        }
        let now = self.inner.deps.clock.now_ms();
        let claims =
            (self.inner.access.verify(access_token, now)).map_err(|_| Error::session_illegal())?;
        if claims.subject != account_id {
            return Err(Error::session_illegal());
        }
        let sid = SessionId::parse(&claims.session).ok_or_else(Error::session_illegal)?;
        let family = self.inner.deps.data.session(account, &sid).await?;
        match family {
            Some(f) if f.revoked.is_none() && f.expires_ms > now && f.absolute_ms > now => {
                Ok(account)
            }
            _ => Err(Error::session_illegal()),
        }
    }

    /// Attaches an identity to the signed-in account.
    pub async fn link(&self, req: LinkRequest) -> Result<LinkResponse> {
        let account = self
            .authenticated(&req.account_id, &req.session, &req.access_token)
            .await?;
        let platforms = &self.inner.platforms;
        let identity = match req.provider() {
            Provider::Device => Identity {
                provider: "device",
                subject: DeviceId::parse(&req.device_id)?.as_str().to_owned(),
            },
            Provider::Apple => {
                let apple = (platforms.apple.as_ref())
                    .filter(|a| a.native_enabled())
                    .ok_or_else(|| not_configured("Sign in with Apple"))?;
                self.vouched("apple", apple.verify(&req.token, &req.nonce).await)?
            }
            Provider::Google => {
                let google =
                    (platforms.google.as_ref()).ok_or_else(|| not_configured("Google sign-in"))?;
                self.vouched("google", google.verify(&req.token).await)?
            }
            Provider::Facebook => {
                let facebook = (platforms.facebook.as_ref())
                    .ok_or_else(|| not_configured("Facebook sign-in"))?;
                self.vouched("facebook", facebook.verify(&req.token).await)?
            }
            Provider::Unspecified => return Err(Error::param("provider: required")),
        };
        let now = self.inner.deps.clock.now_ms();
        let store = self.inner.deps.data.store();
        match store
            .link_identity(account, identity.provider, &identity.subject, now)
            .await
        {
            Ok(attached) => {
                if attached {
                    tracing::info!(target: "lares::security", event = "link", provider = identity.provider, %account);
                }
            }
            Err(StoreError::Conflict) => {
                return Err(Error::conflict(
                    "this identity already belongs to another account",
                ));
            }
            Err(err) => return Err(err.into()),
        }
        self.identities_of(account).await
    }

    /// Detaches an identity from the signed-in account, unless it is the last way in.
    pub async fn unlink(&self, req: UnlinkRequest) -> Result<LinkResponse> {
        let account = self
            .authenticated(&req.account_id, &req.session, &req.access_token)
            .await?;
        let provider = match req.provider() {
            Provider::Device => "device",
            Provider::Apple => "apple",
            Provider::Google => "google",
            Provider::Facebook => "facebook",
            Provider::Unspecified => return Err(Error::param("provider: required")),
        };
        let subject = match (provider, req.subject.as_str()) {
            ("device", subject) => Some(DeviceId::parse(subject)?.as_str().to_owned()),
            (_, "") => None,
            (_, subject) if subject.len() > MAX_SUBJECT => {
                return Err(Error::param("subject: at most 255 bytes"));
            }
            (_, subject) => Some(subject.to_owned()),
        };
        let data = &self.inner.deps.data;
        let unlinked = data
            .store()
            .unlink_identity(account, provider, subject.as_deref())
            .await?;
        match unlinked {
            Unlinked::Removed(subjects) => {
                for subject in &subjects {
                    data.forget_identity(provider, subject).await;
                }
                tracing::info!(target: "lares::security", event = "unlink", provider, %account, identities = subjects.len());
            }
            Unlinked::NotLinked => {
                return Err(Error::not_found("the account has no such identity"));
            }
            Unlinked::LastWayIn => {
                return Err(Error::conflict(
                    "the last way into the account cannot be unlinked",
                ));
            }
        }
        self.identities_of(account).await
    }

    /// The account's identities and whether it has a password.
    async fn identities_of(&self, account: AccountId) -> Result<LinkResponse> {
        let store = self.inner.deps.data.store();
        let records = store.identities(account).await?;
        let found = store.account(account).await?;
        let has_password = found.is_some_and(|a| a.password_hash.is_some());
        let identities = records
            .into_iter()
            .map(|r| PbIdentity {
                provider: match r.provider.as_str() {
                    "device" => Provider::Device,
                    "apple" => Provider::Apple,
                    "google" => Provider::Google,
                    "facebook" => Provider::Facebook,
                    _ => Provider::Unspecified,
                } as i32,
                subject: r.subject,
            })
            .collect();
        Ok(LinkResponse {
            identities,
            has_password,
        })
    }
}
