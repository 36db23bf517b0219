//! Facebook sign-in: the client's user access token is checked with the Graph API's
//! `debug_token` under the app's access token (valid, issued to this app, not expired), then the
//! user id is read with the token itself. Every call carries `appsecret_proof`, so a token
//! lifted from another app or client cannot be replayed through us.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::{Identity, Limits, Refused, loggable, read_limited, transport};
use crate::config;
use crate::domain::clock::Clock;

pub struct Facebook {
    graph_url: String,
    app_id: String,
    app_secret: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    limits: Limits,
}

impl Facebook {
    pub(super) fn new(
        config: &config::Facebook,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        Facebook {
            graph_url: config.graph_url.trim_end_matches('/').to_owned(),
            app_id: config.app_id.clone(),
            app_secret: config.app_secret.clone(),
            http,
            clock,
            limits,
        }
    }

    /// `appsecret_proof` for calls made with `token`.
    fn proof(&self, token: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.app_secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(token.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// GETs a Graph API path with `query`; answers the JSON of a 2xx answer.
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, Refused> {
        let response = self
            .http
            .get(format!("{}{path}", self.graph_url))
            .query(query)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = read_limited(response).await?;
        let answer: Value = serde_json::from_slice(&body)
            .map_err(|_| Refused(format!("Graph API {path} answered {status}, not JSON")))?;
        if !status.is_success() {
            let error = &answer["error"];
            let message = error["message"].as_str().unwrap_or("");
            return Err(Refused(format!(
                "Graph API {path} answered {status}: {}",
                loggable(message)
            )));
        }
        Ok(answer)
    }

    /// Verifies a user access token; answers the app-scoped user id.
    pub async fn verify(&self, token: &str) -> Result<Identity, Refused> {
        if token.is_empty() || token.len() > self.limits.max_token_bytes {
            return Err(Refused::new("access token is empty or too long"));
        }
        if !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Refused::new("access token is malformed"));
        }
        let app_token = format!("{}|{}", self.app_id, self.app_secret);
        let app_proof = self.proof(&app_token);
        let debug = self
            .get(
                "/debug_token",
                &[
                    ("input_token", token),
                    ("access_token", &app_token),
                    ("appsecret_proof", &app_proof),
                ],
            )
            .await?;
        let data = &debug["data"];
        if data["is_valid"].as_bool() != Some(true) {
            return Err(Refused::new("debug_token: the token is not valid"));
        }
        let app_id = id_text(&data["app_id"]);
        if app_id != self.app_id {
            return Err(Refused(format!(
                "debug_token: the token belongs to app {}",
                loggable(&app_id)
            )));
        }
        let expires_s = data["expires_at"].as_i64().unwrap_or(0);
        if expires_s != 0 && expires_s * 1000 + self.limits.skew_ms < self.clock.now_ms() {
            return Err(Refused::new("debug_token: the token has expired"));
        }
        let user = id_text(&data["user_id"]);
        if user.is_empty() {
            return Err(Refused::new("debug_token: the token names no user"));
        }
        let proof = self.proof(token);
        let me = self
            .get(
                "/me",
                &[
                    ("fields", "id"),
                    ("access_token", token),
                    ("appsecret_proof", &proof),
                ],
            )
            .await?;
        if id_text(&me["id"]) != user {
            return Err(Refused::new("/me names another user than debug_token"));
        }
        Ok(Identity {
            provider: "facebook",
            subject: user,
        })
    }
}

/// An id the Graph API may send as a string or a number.
fn id_text(value: &Value) -> String {
    match value {
        Value::String(s) if s.len() <= 64 => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}
