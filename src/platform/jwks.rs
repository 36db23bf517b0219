//! A provider's signing keys (JWKS), cached by `kid`. The set is used for as long as the
//! provider's `Cache-Control: max-age` says (a configured default without one), then fetched
//! again; a `kid` the set does not know causes a fetch at most once per `refetch` period;
//! callers that miss together share one fetch; and while the provider cannot be reached, the
//! keys already held keep verifying.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use josekit::jwk::Jwk;
use josekit::jws::RS256;
use josekit::jws::alg::rsassa::RsassaJwsVerifier;
use reqwest::header::CACHE_CONTROL;

use super::{Refused, loggable, read_limited, transport};
use crate::domain::clock::{Clock, Millis};

/// Longest a JWKS is used without asking again, whatever the provider says.
const MAX_AGE_CAP_MS: i64 = 7 * 24 * 3600 * 1000;

/// What every JWKS cache is built with.
#[derive(Clone)]
pub struct Settings {
    pub http: reqwest::Client,
    pub clock: Arc<dyn Clock>,
    pub refetch_ms: Millis,
    pub default_max_age_ms: Millis,
}

#[derive(Default)]
struct KeySet {
    keys: HashMap<String, Arc<RsassaJwsVerifier>>,
    /// Until when the keys are fresh.
    fresh_until_ms: Millis,
    /// When a fetch last started, successful or not.
    last_attempt_ms: Option<Millis>,
}

/// The JWKS of one provider.
pub struct Jwks {
    url: String,
    settings: Settings,
    state: RwLock<KeySet>,
    /// Held while fetching, so that concurrent misses wait for one fetch.
    fetching: tokio::sync::Mutex<()>,
}

impl Jwks {
    pub fn new(url: &str, settings: &Settings) -> Self {
        Jwks {
            url: url.to_owned(),
            settings: settings.clone(),
            state: RwLock::new(KeySet::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&KeySet) -> T) -> T {
        match self.state.read() {
            Ok(state) => f(&state),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write(&self, f: impl FnOnce(&mut KeySet)) {
        match self.state.write() {
            Ok(mut state) => f(&mut state),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// The verifier of key `kid`.
    pub async fn verifier(&self, kid: &str) -> Result<Arc<RsassaJwsVerifier>, Refused> {
        let asked_ms = self.settings.clock.now_ms();
        let (known, fresh) = self.read(|s| (s.keys.get(kid).cloned(), asked_ms < s.fresh_until_ms));
        if let (Some(key), true) = (&known, fresh) {
            return Ok(key.clone());
        }
        let _flight = self.fetching.lock().await;
        let now = self.settings.clock.now_ms();
        let (known, fresh, last) = self.read(|s| {
            (
                s.keys.get(kid).cloned(),
                now < s.fresh_until_ms,
                s.last_attempt_ms,
            )
        });
        let fetched_meanwhile = last.is_some_and(|at| at >= asked_ms);
        let may_fetch = last.is_none_or(|at| now - at >= self.settings.refetch_ms);
        if let (Some(key), true) = (&known, fresh) {
            return Ok(key.clone());
        }
        if fetched_meanwhile || !may_fetch {
            return known.ok_or_else(|| Refused(format!("unknown key id {}", loggable(kid))));
        }
        self.write(|s| s.last_attempt_ms = Some(now));
        match self.fetch().await {
            Ok((keys, max_age_ms)) => {
                let found = keys.get(kid).cloned();
                self.write(|s| {
                    s.keys = keys;
                    s.fresh_until_ms = now + max_age_ms;
                });
                found.ok_or_else(|| Refused(format!("unknown key id {}", loggable(kid))))
            }
            Err(why) => {
                tracing::warn!(url = %self.url, reason = %why, "JWKS not refreshed; the keys held are used");
                known.ok_or(why)
            }
        }
    }

    /// Fetches and parses the set; answers its RS256 keys by id and how long they stay fresh.
    async fn fetch(&self) -> Result<(HashMap<String, Arc<RsassaJwsVerifier>>, Millis), Refused> {
        let response = self
            .settings
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(Refused(format!("JWKS answered {status}")));
        }
        let max_age_ms = response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age_ms)
            .unwrap_or(self.settings.default_max_age_ms)
            .clamp(self.settings.refetch_ms, MAX_AGE_CAP_MS);
        let body = read_limited(response).await?;
        let keys = parse(&body)?;
        Ok((keys, max_age_ms))
    }
}

/// `max-age` of a `Cache-Control` value, in milliseconds.
fn max_age_ms(value: &str) -> Option<Millis> {
    value.split(',').find_map(|part| {
        let (name, secs) = part.trim().split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        let secs: i64 = secs.trim().trim_matches('"').parse().ok()?;
        Some(secs.max(0).saturating_mul(1000))
    })
}

/// The RS256 signing keys of a JWKS document; other keys are skipped. A document that is not a
/// JWKS, or holds no usable key, is refused.
fn parse(body: &[u8]) -> Result<HashMap<String, Arc<RsassaJwsVerifier>>, Refused> {
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| Refused::new("JWKS is not JSON"))?;
    let entries = doc
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or_else(|| Refused::new("JWKS has no keys array"))?;
    let mut keys = HashMap::new();
    for entry in entries {
        let Some(map) = entry.as_object() else {
            continue;
        };
        let text = |name: &str| map.get(name).and_then(|v| v.as_str());
        let usable = text("kty") == Some("RSA")
            && text("alg").is_none_or(|alg| alg == "RS256")
            && text("use").is_none_or(|u| u == "sig");
        let Some(kid) = text("kid").filter(|_| usable) else {
            continue;
        };
        let verifier = Jwk::from_map(map.clone())
            .and_then(|jwk| RS256.verifier_from_jwk(&jwk))
            .ok();
        if let Some(verifier) = verifier {
            keys.insert(kid.to_owned(), Arc::new(verifier));
        }
    }
    if keys.is_empty() {
        return Err(Refused::new("JWKS holds no RS256 signing key"));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age_ms("public, max-age=21600, must-revalidate"),
            Some(21_600_000)
        );
        assert_eq!(max_age_ms("MAX-AGE=5"), Some(5_000));
        assert_eq!(max_age_ms("no-cache"), None);
        assert_eq!(max_age_ms("max-age=-3"), Some(0));
        assert_eq!(max_age_ms("max-age=soon"), None);
    }

    #[test]
    fn documents_without_usable_keys_are_refused() {
        assert!(parse(b"not json {").is_err());
        assert!(parse(br#"{"nokeys": []}"#).is_err());
        assert!(parse(br#"{"keys": [{"kty": "EC", "kid": "a"}]}"#).is_err());
        assert!(
            parse(br#"{"keys": [{"kty": "RSA", "kid": "a", "n": "x", "e": "AQAB"}]}"#).is_err()
        );
    }
}
