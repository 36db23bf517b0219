//! Platform sign-in: where each provider is reached and what its tokens must say. A provider
//! with nothing configured is off, and its sign-in answers `UNIMPLEMENTED`.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Profile, invalid};

/// Apple, Google and Facebook sign-in, and the limits shared by them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Platform {
    /// Milliseconds a request to a provider (JWKS, token endpoint, Graph API) may take.
    /// Default 3000.
    pub fetch_timeout_ms: u64,
    /// Clock skew tolerated on `exp`, `iat` and `nbf`, seconds. Default 30.
    pub skew_secs: u64,
    /// A JWKS is fetched again for an unknown `kid` at most this often, seconds. Default 60.
    pub jwks_refetch_secs: u64,
    /// How long a JWKS is used when the provider sends no `max-age`, seconds. Default 3600.
    pub jwks_max_age_secs: u64,
    /// Longest platform token accepted, bytes. Default 8192.
    pub max_token_bytes: usize,
    pub apple: Apple,
    pub google: Google,
    pub facebook: Facebook,
}

impl Default for Platform {
    fn default() -> Self {
        Platform {
            fetch_timeout_ms: 3000,
            skew_secs: 30,
            jwks_refetch_secs: 60,
            jwks_max_age_secs: 3600,
            max_token_bytes: 8192,
            apple: Apple::default(),
            google: Google::default(),
            facebook: Facebook::default(),
        }
    }
}

/// Sign in with Apple. Native sign-in is on when `audiences` is set; the web flow also needs
/// the team id, client id, key id, private key and redirect URI.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Apple {
    /// Default `https://appleid.apple.com/auth/keys`.
    pub jwks_url: String,
    /// Default `https://appleid.apple.com/auth/token`.
    pub token_url: String,
    /// Accepted `aud` values: app bundle ids (native) and the Services ID (web). Default empty.
    pub audiences: Vec<String>,
    /// Apple developer team id, the `iss` of the client secret.
    #[serde(deserialize_with = "super::lenient_text")]
    pub team_id: String,
    /// The Services ID of the web flow, the client secret's `sub`.
    #[serde(deserialize_with = "super::lenient_text")]
    pub client_id: String,
    /// Id of the Sign in with Apple key, the client secret's `kid`.
    #[serde(deserialize_with = "super::lenient_text")]
    pub key_id: String,
    /// That key: ES256, PKCS#8 PEM. Secret.
    pub private_key: String,
    /// The callback URL registered with Apple (this service's `.../apple/login/callback`).
    pub redirect_uri: String,
    /// Host of the app's redirect, `lares://<return_host>/auth?...`. Default `auth`.
    pub return_host: String,
}

impl Default for Apple {
    fn default() -> Self {
        Apple {
            jwks_url: "https://appleid.apple.com/auth/keys".into(),
            token_url: "https://appleid.apple.com/auth/token".into(),
            audiences: Vec::new(),
            team_id: String::new(),
            client_id: String::new(),
            key_id: String::new(),
            private_key: String::new(),
            redirect_uri: String::new(),
            return_host: "auth".into(),
        }
    }
}

impl Apple {
    /// True when the web flow (code exchange) is configured.
    pub fn web_enabled(&self) -> bool {
        !self.client_id.is_empty()
    }
}

impl std::fmt::Debug for Apple {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Apple")
            .field("jwks_url", &self.jwks_url)
            .field("token_url", &self.token_url)
            .field("audiences", &self.audiences)
            .field("team_id", &self.team_id)
            .field("client_id", &self.client_id)
            .field("key_id", &self.key_id)
            .field("private_key", &"<redacted>")
            .field("redirect_uri", &self.redirect_uri)
            .field("return_host", &self.return_host)
            .finish()
    }
}

/// Google sign-in: on when `audiences` is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Google {
    /// Default `https://www.googleapis.com/oauth2/v3/certs`.
    pub jwks_url: String,
    /// Accepted `aud` values: the OAuth client ids of the apps. Default empty.
    pub audiences: Vec<String>,
}

impl Default for Google {
    fn default() -> Self {
        Google {
            jwks_url: "https://www.googleapis.com/oauth2/v3/certs".into(),
            audiences: Vec::new(),
        }
    }
}

/// Facebook sign-in: on when `app_id` and `app_secret` are set.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Facebook {
    /// Graph API base, with its version. Default `https://graph.facebook.com/v19.0`.
    pub graph_url: String,
    #[serde(deserialize_with = "super::lenient_text")]
    pub app_id: String,
    /// Secret.
    pub app_secret: String,
}

impl Default for Facebook {
    fn default() -> Self {
        Facebook {
            graph_url: "https://graph.facebook.com/v19.0".into(),
            app_id: String::new(),
            app_secret: String::new(),
        }
    }
}

impl std::fmt::Debug for Facebook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Facebook")
            .field("graph_url", &self.graph_url)
            .field("app_id", &self.app_id)
            .field("app_secret", &"<redacted>")
            .finish()
    }
}

/// A provider URL: http(s), and https outside `dev` and `test`.
fn check_url(key: &'static str, url: &str, profile: Profile) -> Result<(), ConfigError> {
    let https = url.starts_with("https://");
    if !(https || url.starts_with("http://")) || url.len() < 10 {
        return Err(invalid(key, "must be an http:// or https:// URL"));
    }
    if profile == Profile::Prod && !https {
        return Err(invalid(key, "must be https:// in the prod profile"));
    }
    Ok(())
}

impl Platform {
    pub(super) fn validate(&self, profile: Profile) -> Result<(), ConfigError> {
        if !(100..=60_000).contains(&self.fetch_timeout_ms) {
            return Err(invalid(
                "platform.fetch_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        if self.skew_secs > 600 {
            return Err(invalid("platform.skew_secs", "must be at most 600"));
        }
        if !(1..=86_400).contains(&self.jwks_refetch_secs) {
            return Err(invalid(
                "platform.jwks_refetch_secs",
                "must be between 1 and 86400",
            ));
        }
        if !(60..=604_800).contains(&self.jwks_max_age_secs) {
            return Err(invalid(
                "platform.jwks_max_age_secs",
                "must be between 60 and 604800",
            ));
        }
        if !(1024..=65_536).contains(&self.max_token_bytes) {
            return Err(invalid(
                "platform.max_token_bytes",
                "must be between 1024 and 65536",
            ));
        }
        let a = &self.apple;
        check_url("platform.apple.jwks_url", &a.jwks_url, profile)?;
        check_url("platform.apple.token_url", &a.token_url, profile)?;
        if a.audiences.iter().any(String::is_empty) {
            return Err(invalid(
                "platform.apple.audiences",
                "must not hold empty ids",
            ));
        }
        let web = [
            ("platform.apple.team_id", &a.team_id),
            ("platform.apple.client_id", &a.client_id),
            ("platform.apple.key_id", &a.key_id),
            ("platform.apple.private_key", &a.private_key),
            ("platform.apple.redirect_uri", &a.redirect_uri),
        ];
        if web.iter().any(|(_, v)| !v.is_empty()) {
            if let Some((key, _)) = web.iter().find(|(_, v)| v.is_empty()) {
                return Err(invalid(
                    key,
                    "the Apple web flow needs team_id, client_id, key_id, private_key and redirect_uri",
                ));
            }
            check_url("platform.apple.redirect_uri", &a.redirect_uri, profile)?;
            if crate::platform::apple::signing_key(&a.private_key, &a.key_id).is_err() {
                return Err(invalid(
                    "platform.apple.private_key",
                    "must be an ES256 private key in PKCS#8 PEM",
                ));
            }
        }
        let host_ok = !a.return_host.is_empty()
            && a.return_host.len() <= 253
            && a.return_host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
        if !host_ok {
            return Err(invalid(
                "platform.apple.return_host",
                "must be a host name (letters, digits, `.` and `-`)",
            ));
        }
        let g = &self.google;
        check_url("platform.google.jwks_url", &g.jwks_url, profile)?;
        if g.audiences.iter().any(String::is_empty) {
            return Err(invalid(
                "platform.google.audiences",
                "must not hold empty ids",
            ));
        }
        let f = &self.facebook;
        check_url("platform.facebook.graph_url", &f.graph_url, profile)?;
        if f.app_id.is_empty() != f.app_secret.is_empty() {
            return Err(invalid(
                "platform.facebook",
                "app_id and app_secret are set together",
            ));
        }
        Ok(())
    }
}
