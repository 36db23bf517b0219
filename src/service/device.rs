//! Guest sign-in by device id: the launch-day path. An existing device is found in the cache
//! (or the store) and signed in without touching the store; a new one is created through the
//! group commit and answered only once its account is durable.

use super::{RequestMeta, Service};
use crate::domain::Result;
use crate::domain::credentials::DeviceId;
use crate::platform::Identity;
use crate::proto::account::{DeviceLoginRequest, LoginInfo};

impl Service {
    pub async fn device_login(
        &self,
        req: DeviceLoginRequest,
        meta: &RequestMeta,
    ) -> Result<LoginInfo> {
        let device = DeviceId::parse(&req.device_id)?;
        super::login::check_requested_color(&req.color)?;
        let identity = Identity {
            provider: "device",
            subject: device.as_str().to_owned(),
        };
        let ask = super::login::asked(&req.color, &req.client_version);
        self.identity_sign_in(identity, &ask, meta).await
    }
}
