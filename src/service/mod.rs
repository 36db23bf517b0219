//! The operations of the client API, shared by both edges: each takes the request message and
//! answers the response message or an [`Error`], so HTTP and gRPC cannot drift apart.

mod admin;
mod admin_accounts;
mod device;
mod gate;
mod login;
mod notices;
mod platform;
mod session;

use std::net::IpAddr;
use std::sync::Arc;

use crate::actors::SessionDeps;
use crate::actors::hasher::HashPool;
use crate::actors::session::Issued;
use crate::actors::shards::Shards;
use crate::config::Profile;
use crate::domain::access::AccessTokens;
use crate::domain::admin::AdminKeys;
use crate::domain::ids::{AccountId, AccountIdCodec};
use crate::domain::password::PasswordHashing;
use crate::domain::token::Sealer;
use crate::domain::{Error, Result};
use crate::platform::Platforms;
use crate::proto::account::{DevPingRequest, DevPingResponse};
use crate::store::creator::Creator;
use crate::store::notice_board::NoticeBoard;

/// Facts about the caller that the edges extract.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<IpAddr>,
}

impl RequestMeta {
    fn ip_text(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}

/// The client API. Cheap to clone; every clone shares the same actors and pools.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    deps: Arc<SessionDeps>,
    access: Arc<AccessTokens>,
    creator: Creator,
    shards: Arc<Shards>,
    hash_pool: Arc<HashPool>,
    hashing: Arc<PasswordHashing>,
    ids: AccountIdCodec,
    profile: Profile,
    platforms: Arc<Platforms>,
    platform_sealer: Sealer,
    admin_keys: AdminKeys,
    notices: Arc<NoticeBoard>,
}

/// Everything a [`Service`] is built from besides its actor shards.
pub struct Parts {
    pub deps: Arc<SessionDeps>,
    pub access: Arc<AccessTokens>,
    pub creator: Creator,
    pub hash_pool: Arc<HashPool>,
    pub hashing: Arc<PasswordHashing>,
    pub ids: AccountIdCodec,
    pub profile: Profile,
    pub platforms: Arc<Platforms>,
    /// Seals the sign-in result of the Apple web flow (the platform key).
    pub platform_sealer: Sealer,
    /// Who may call the admin API.
    pub admin_keys: AdminKeys,
    /// The notices clients are served from.
    pub notices: Arc<NoticeBoard>,
}

/// Longest DevPing message echoed.
const PING_MAX: usize = 256;

impl Service {
    pub fn new(parts: Parts, shards: Arc<Shards>) -> Self {
        let Parts {
            deps,
            access,
            creator,
            hash_pool,
            hashing,
            ids,
            profile,
            platforms,
            platform_sealer,
            admin_keys,
            notices,
        } = parts;
        Service {
            inner: Arc::new(Inner {
                deps,
                access,
                creator,
                shards,
                hash_pool,
                hashing,
                ids,
                profile,
                platforms,
                platform_sealer,
                admin_keys,
                notices,
            }),
        }
    }

    /// Answers when the store does.
    pub async fn ready(&self) -> Result<()> {
        Ok(self.inner.deps.data.store().ping().await?)
    }

    /// Liveness for clients; `NOT_FOUND` outside the `dev` profile.
    pub async fn dev_ping(&self, req: DevPingRequest) -> Result<DevPingResponse> {
        if self.inner.profile != Profile::Dev {
            return Err(Error::not_found("no such route"));
        }
        if req.message.chars().count() > PING_MAX {
            return Err(Error::param("message: at most 256 characters"));
        }
        Ok(DevPingResponse {
            message: req.message,
            time: self.inner.deps.clock.now_ms(),
        })
    }

    /// Stops the session actors; later calls answer `UNAVAILABLE`.
    pub fn stop_actors(&self) {
        self.inner.shards.stop();
    }

    fn decode_account(&self, text: &str) -> Result<AccountId> {
        self.inner
            .ids
            .decode(text)
            .ok_or_else(|| Error::param("accountId: not a valid account id"))
    }

    fn encode_account(&self, id: AccountId) -> String {
        self.inner.ids.encode(id)
    }

    /// An access token for the family just issued, naming the opaque account id.
    fn access_token(&self, account_id: &str, issued: &Issued) -> Result<(String, i64)> {
        let now = self.inner.deps.clock.now_ms();
        let sid = issued.credential.id.as_str();
        let signed = self.inner.access.issue(account_id, sid, now);
        signed.map_err(|e| Error::internal(format!("access token not signed: {e}")))
    }

    /// The JWKS document of the access-token keys.
    pub fn jwks(&self) -> &str {
        self.inner.access.jwks()
    }
}

/// Seconds from milliseconds, for the `*Timeout` fields.
fn unix_s(ms: i64) -> i64 {
    ms.div_euclid(1000)
}
