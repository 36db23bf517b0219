//! Platform sign-in: checks what Apple, Google and Facebook vouch for and answers the identity,
//! (provider, subject). Apple and Google id tokens are verified against the provider's JWKS
//! (shared cache in `jwks`), Facebook access tokens with the Graph API. Every provider URL comes
//! from config, and every request to a provider has a timeout.

pub mod apple;
mod facebook;
mod google;
mod id_token;
mod jwks;

use std::sync::Arc;
use std::time::Duration;

use crate::config;
use crate::domain::clock::Clock;

pub use self::apple::Apple;
pub use self::facebook::Facebook;
pub use self::google::Google;

/// Largest provider answer read (JWKS documents, token and Graph API answers), bytes.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// A verified platform identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `apple`, `google` or `facebook`.
    pub provider: &'static str,
    pub subject: String,
}

/// Why a platform credential was not accepted: for the log only, never for the client. It never
/// holds the credential itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl Refused {
    fn new(why: impl Into<String>) -> Self {
        Refused(why.into())
    }
}

/// The limits every provider check shares.
#[derive(Debug, Clone, Copy)]
struct Limits {
    skew_ms: i64,
    max_token_bytes: usize,
}

/// The configured providers; one that is not configured is `None`.
pub struct Platforms {
    pub apple: Option<Apple>,
    pub google: Option<Google>,
    pub facebook: Option<Facebook>,
}

impl Platforms {
    /// Builds the providers the config turns on. Fails only on an unusable Apple key (which
    /// config validation already refuses) or an HTTP client that cannot be built.
    pub fn new(config: &config::Platform, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let timeout = Duration::from_millis(config.fetch_timeout_ms);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("lares/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let limits = Limits {
            skew_ms: config.skew_secs as i64 * 1000,
            max_token_bytes: config.max_token_bytes,
        };
        let cache = jwks::Settings {
            http: http.clone(),
            clock: clock.clone(),
            refetch_ms: config.jwks_refetch_secs as i64 * 1000,
            default_max_age_ms: config.jwks_max_age_secs as i64 * 1000,
        };
        let apple = (!config.apple.audiences.is_empty() || config.apple.web_enabled())
            .then(|| Apple::new(&config.apple, &cache, http.clone(), clock.clone(), limits))
            .transpose()?;
        let google = (!config.google.audiences.is_empty())
            .then(|| Google::new(&config.google, &cache, clock.clone(), limits));
        let facebook = (!config.facebook.app_id.is_empty())
            .then(|| Facebook::new(&config.facebook, http, clock, limits));
        Ok(Platforms {
            apple,
            google,
            facebook,
        })
    }
}

/// Reads at most `MAX_ANSWER_BYTES` of an answer.
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, Refused> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(Refused::new("provider answer is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A request that failed on the way; the URL (which may carry a token) is left out.
fn transport(err: reqwest::Error) -> Refused {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    Refused(format!("provider request {kind}: {}", err.without_url()))
}

/// A value from a provider or a client, cut short and reduced to printable ASCII for the log.
pub(crate) fn loggable(text: &str) -> String {
    text.chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}
