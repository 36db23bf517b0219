//! Operations on an existing session: rotation, handshake tokens and logout.

use super::{Service, unix_s};
use crate::actors::session::{Logout, Rotate};
use crate::domain::Result;
use crate::domain::credentials::SessionCredential;
use crate::proto::account::{
    LogoutRequest, LogoutResponse, RefreshRequest, RefreshResponse, TokenRequest, TokenResponse,
};

impl Service {
    /// Rotates the session credential.
    pub async fn refresh(&self, req: RefreshRequest) -> Result<RefreshResponse> {
        let account = self.decode_account(&req.account_id)?;
        let credential = SessionCredential::parse(&req.session)?;
        let issued = self
            .inner
            .shards
            .ask(
                account,
                Rotate {
                    credential,
                    token: None,
                },
            )
            .await?;
        let (access_token, expires) = self.access_token(&req.account_id, &issued)?;
        Ok(RefreshResponse {
            session: issued.credential.expose(),
            session_timeout: unix_s(issued.session_expires_ms),
            access_token,
            access_token_timeout: unix_s(expires),
        })
    }

    /// Issues a handshake token and rotates the session credential.
    pub async fn token(&self, req: TokenRequest) -> Result<TokenResponse> {
        let account = self.decode_account(&req.account_id)?;
        let credential = SessionCredential::parse(&req.session)?;
        super::login::check_requested_color(&req.color)?;
        let issued = self
            .inner
            .shards
            .ask(
                account,
                Rotate {
                    credential,
                    token: Some(super::login::asked(&req.color, &req.client_version)),
                },
            )
            .await?;
        let (token, token_expires) = issued.token.unwrap_or_default();
        Ok(TokenResponse {
            token,
            token_timeout: unix_s(token_expires),
            session: issued.credential.expose(),
            session_timeout: unix_s(issued.session_expires_ms),
            color: issued.color,
        })
    }

    /// Ends the session, or all sessions of the account.
    pub async fn logout(&self, req: LogoutRequest) -> Result<LogoutResponse> {
        let account = self.decode_account(&req.account_id)?;
        let credential = SessionCredential::parse(&req.session)?;
        self.inner
            .shards
            .ask(
                account,
                Logout {
                    credential,
                    all: req.all,
                },
            )
            .await?;
        Ok(LogoutResponse {})
    }
}
