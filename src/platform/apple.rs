//! Sign in with Apple. Native apps send the id token they got from Apple; it is verified against
//! Apple's JWKS for one of the configured audiences, and, when the client sends the raw nonce
//! it gave Apple, the token's `nonce` must be its SHA-256 in hex. The web flow receives an
//! authorization code on a form-post callback and exchanges it at Apple's token endpoint with a
//! client secret (an ES256 JWT signed with the team's key), then verifies the id token it gets.

use std::sync::Arc;

use josekit::jws::alg::ecdsa::EcdsaJwsSigner;
use josekit::jws::{ES256, JwsHeader};
use josekit::jwt::{self, JwtPayload};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::id_token::{self, Rules};
use super::jwks::{Jwks, Settings};
use super::{Identity, Limits, Refused, loggable, read_limited, transport};
use crate::config;
use crate::domain::clock::{Clock, Millis};

pub const ISSUER: &str = "https://appleid.apple.com";
/// Lifetime of a client secret; Apple allows up to six months, one hour is plenty per call.
const CLIENT_SECRET_SECS: i64 = 3600;
/// Longest authorization code accepted.
const MAX_CODE: usize = 512;

/// The signer of client secrets: the team's ES256 key with its key id.
pub fn signing_key(pem: &str, key_id: &str) -> Result<EcdsaJwsSigner, String> {
    let mut signer = ES256
        .signer_from_pem(pem.trim())
        .map_err(|_| "not an ES256 private key in PEM".to_owned())?;
    signer.set_key_id(key_id);
    Ok(signer)
}

/// What the web flow needs besides the id-token checks.
struct Web {
    token_url: String,
    team_id: String,
    client_id: String,
    redirect_uri: String,
    signer: EcdsaJwsSigner,
    /// Only the Services ID is an acceptable audience for tokens of the web flow.
    audiences: Vec<String>,
}

pub struct Apple {
    jwks: Jwks,
    audiences: Vec<String>,
    web: Option<Web>,
    return_host: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    limits: Limits,
}

impl Apple {
    pub(super) fn new(
        config: &config::Apple,
        cache: &Settings,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> anyhow::Result<Self> {
        let web = if config.web_enabled() {
            let signer = signing_key(&config.private_key, &config.key_id)
                .map_err(|e| anyhow::anyhow!("platform.apple.private_key: {e}"))?;
            Some(Web {
                token_url: config.token_url.clone(),
                team_id: config.team_id.clone(),
                client_id: config.client_id.clone(),
                redirect_uri: config.redirect_uri.clone(),
                signer,
                audiences: vec![config.client_id.clone()],
            })
        } else {
            None
        };
        Ok(Apple {
            jwks: Jwks::new(&config.jwks_url, cache),
            audiences: config.audiences.clone(),
            web,
            return_host: config.return_host.clone(),
            http,
            clock,
            limits,
        })
    }

    /// Host of the app's redirect after the web flow.
    pub fn return_host(&self) -> &str {
        &self.return_host
    }

    /// True when native sign-in is configured (some audience is accepted).
    pub fn native_enabled(&self) -> bool {
        !self.audiences.is_empty()
    }

    /// True when the web flow is configured.
    pub fn web_enabled(&self) -> bool {
        self.web.is_some()
    }

    fn rules<'a>(&self, audiences: &'a [String], issuers: &'a [&'a str]) -> Rules<'a> {
        Rules {
            issuers,
            audiences,
            limits: self.limits,
            now_ms: self.clock.now_ms(),
        }
    }

    /// Verifies an id token from a native app; `raw_nonce`, when not empty, must be the nonce
    /// whose SHA-256 hex the token carries.
    pub async fn verify(&self, token: &str, raw_nonce: &str) -> Result<Identity, Refused> {
        let claims =
            id_token::verify(token, &self.jwks, &self.rules(&self.audiences, &[ISSUER])).await?;
        if !raw_nonce.is_empty() {
            let expected = hex_sha256(raw_nonce);
            if claims.nonce.as_deref() != Some(expected.as_str()) {
                return Err(Refused::new("nonce does not match"));
            }
        }
        Ok(Identity {
            provider: "apple",
            subject: claims.subject,
        })
    }

    /// The web flow: exchanges an authorization code and verifies the id token Apple answers.
    pub async fn exchange(&self, code: &str) -> Result<Identity, Refused> {
        let web = self
            .web
            .as_ref()
            .ok_or_else(|| Refused::new("the Apple web flow is not configured"))?;
        if code.is_empty() || code.len() > MAX_CODE || !code.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Refused::new("authorization code is malformed"));
        }
        let secret = client_secret(web, self.clock.now_ms())?;
        let form = [
            ("client_id", web.client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("code", code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", web.redirect_uri.as_str()),
        ];
        let response = self
            .http
            .post(&web.token_url)
            .form(&form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = read_limited(response).await?;
        let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !status.is_success() {
            let error = answer.get("error").and_then(Value::as_str).unwrap_or("");
            return Err(Refused(format!(
                "token endpoint answered {status} {}",
                loggable(error)
            )));
        }
        let id_token = answer
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| Refused::new("token endpoint answered no id token"))?;
        let rules = self.rules(&web.audiences, &[ISSUER]);
        let claims = id_token::verify(id_token, &self.jwks, &rules).await?;
        Ok(Identity {
            provider: "apple",
            subject: claims.subject,
        })
    }
}

/// The client secret of a code exchange: an ES256 JWT from the team for the Services ID.
fn client_secret(web: &Web, now_ms: Millis) -> Result<String, Refused> {
    // Integer dates: josekit's own setters write fractional seconds.
    let now_s = now_ms.max(0) / 1000;
    let claims = serde_json::json!({
        "iss": web.team_id,
        "sub": web.client_id,
        "aud": ISSUER,
        "iat": now_s,
        "exp": now_s + CLIENT_SECRET_SECS,
    });
    let Value::Object(claims) = claims else {
        return Err(Refused::new("client secret claims are not an object"));
    };
    let payload = JwtPayload::from_map(claims)
        .map_err(|_| Refused::new("client secret claims are invalid"))?;
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    jwt::encode_with_signer(&payload, &header, &web.signer)
        .map_err(|_| Refused::new("client secret could not be signed"))
}

fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_digest_is_lowercase_hex_sha256() {
        assert_eq!(
            hex_sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
