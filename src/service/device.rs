//! Guest sign-in by device id: the launch-day path. An existing device is found in the cache
//! (or the store) and signed in without touching the store; a new one is created through the
//! group commit and answered only once its account is durable.

use super::{RequestMeta, Service};
use crate::domain::credentials::DeviceId;
use crate::domain::{Error, Result};
use crate::proto::account::{DeviceLoginRequest, LoginInfo};
use crate::store::NewIdentity;

impl Service {
    pub async fn device_login(
        &self,
        req: DeviceLoginRequest,
        meta: &RequestMeta,
    ) -> Result<LoginInfo> {
        let device = DeviceId::parse(&req.device_id)?;
        super::login::check_requested_color(&req.color)?;
        let data = &self.inner.deps.data;
        let (account, created) = match data.account_by_identity("device", device.as_str()).await? {
            Some(account) => (account, false),
            None => {
                let new = NewIdentity {
                    provider: "device".to_owned(),
                    subject: device.as_str().to_owned(),
                    zone: self.inner.deps.zone,
                    register_ip: meta.ip_text(),
                    now_ms: self.inner.deps.clock.now_ms(),
                };
                let made = self.inner.creator.create(new).await?;
                data.remember_identity("device", device.as_str(), &made.account)
                    .await;
                (made.account, made.created)
            }
        };
        if account.is_banned(self.inner.deps.clock.now_ms()) {
            self.count_login("device", "banned");
            return Err(Error::banned());
        }
        if created {
            tracing::info!(target: "lares::security", event = "register", provider = "device", account = %account.id);
        }
        let ask = super::login::asked(&req.color, &req.client_version);
        let how = super::login::SignIn {
            register: created,
            provider: "device",
            ask: &ask,
        };
        self.sign_in(&account, how, meta).await
    }
}
