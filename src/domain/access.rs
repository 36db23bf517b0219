//! Access tokens for other services: ES256 JWTs with a `kid` from a key ring, verifiable
//! statelessly with the JWKS Lares publishes. Per RFC 9068 and RFC 8725 they are explicitly
//! typed (`typ` = `at+jwt`), and verification insists on that type, the algorithm, a known key,
//! the issuer and the audience, so no other credential passes for one.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use josekit::jwk::{Jwk, JwkSet, alg::ec::EcKeyPair};
use josekit::jws::alg::ecdsa::{EcdsaJwsSigner, EcdsaJwsVerifier};
use josekit::jws::{ES256, JwsHeader};
use josekit::jwt::{self, JwtPayload};
use sha2::{Digest, Sha256};

use super::clock::Millis;

/// The token type of an access token.
pub const ACCESS_TYPE: &str = "at+jwt";
/// Clock skew tolerated on `exp` and `iat`, milliseconds.
const SKEW_MS: i64 = 30_000;

/// Why an access token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("not an access token: {0}")]
    NotAccessToken(&'static str),
    #[error("signature or key not recognised")]
    BadSignature,
    #[error("issuer or audience mismatch")]
    WrongParty,
    #[error("expired")]
    Expired,
}

/// The claims of a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub subject: String,
    pub session: String,
    pub expires_ms: Millis,
    pub id: String,
}

/// One signing key and its verifier.
struct RingKey {
    kid: String,
    signer: EcdsaJwsSigner,
    verifier: EcdsaJwsVerifier,
    public: Jwk,
}

/// The access-token key ring: the first key signs, every key verifies and is published.
pub struct AccessTokens {
    ring: Vec<RingKey>,
    jwks: String,
    issuer: String,
    audience: String,
    lifetime_ms: Millis,
}

/// A new ES256 private key as PKCS#8 PEM.
pub fn generate_key() -> Result<String, String> {
    let pair = ES256.generate_key_pair().map_err(|e| e.to_string())?;
    String::from_utf8(pair.to_pem_private_key()).map_err(|e| e.to_string())
}

/// The RFC 7638 thumbprint of an EC public key: a stable `kid`.
fn thumbprint(jwk: &Jwk) -> String {
    let field = |name: &str| {
        jwk.parameter(name)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let canonical = format!(
        r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
        field("crv"),
        field("x"),
        field("y")
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn ring_key(pem: &str) -> Result<RingKey, String> {
    let pair = EcKeyPair::from_pem(pem.trim(), None)
        .map_err(|_| "not an EC private key in PEM".to_owned())?;
    let mut public = pair.to_jwk_public_key();
    let kid = thumbprint(&public);
    public.set_key_id(&kid);
    public.set_algorithm("ES256");
    public.set_key_use("sig");
    let mut signer = ES256
        .signer_from_pem(pem.trim())
        .map_err(|e| format!("not an ES256 key: {e}"))?;
    signer.set_key_id(&kid);
    let verifier = ES256
        .verifier_from_jwk(&public)
        .map_err(|e| e.to_string())?;
    Ok(RingKey {
        kid,
        signer,
        verifier,
        public,
    })
}

fn millis(t: SystemTime) -> Millis {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

impl AccessTokens {
    /// Builds the ring from PEM keys (the first signs); fails naming the bad key's position.
    pub fn new(
        pems: &[String],
        issuer: &str,
        audience: &str,
        lifetime_ms: Millis,
    ) -> Result<Self, String> {
        if pems.is_empty() {
            return Err("at least one access key is required".into());
        }
        let ring = pems
            .iter()
            .enumerate()
            .map(|(i, pem)| ring_key(pem).map_err(|e| format!("key {i}: {e}")));
        let ring: Vec<RingKey> = ring.collect::<Result<_, _>>()?;
        let mut set = JwkSet::new();
        ring.iter().for_each(|k| set.push_key(k.public.clone()));
        let jwks = set.to_string();
        Ok(AccessTokens {
            ring,
            jwks,
            issuer: issuer.into(),
            audience: audience.into(),
            lifetime_ms,
        })
    }

    /// The JWKS document (public keys only).
    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    /// Signs an access token for `subject` (the opaque account id) and session `sid`; answers it
    /// and its expiry.
    pub fn issue(&self, subject: &str, sid: &str, now: Millis) -> Result<(String, Millis), String> {
        let expires = now + self.lifetime_ms;
        let mut payload = JwtPayload::new();
        payload.set_issuer(&self.issuer);
        payload.set_subject(subject);
        payload.set_audience(vec![self.audience.clone()]);
        payload.set_jwt_id(super::random::b64_token::<16>());
        // Whole seconds: josekit's own date setters write fractions, which some verifiers
        // refuse.
        let claims = [
            ("iat", serde_json::Value::from(now.div_euclid(1000))),
            ("exp", serde_json::Value::from(expires.div_euclid(1000))),
            ("sid", serde_json::Value::from(sid)),
        ];
        for (name, value) in claims {
            payload
                .set_claim(name, Some(value))
                .map_err(|e| e.to_string())?;
        }
        let mut header = JwsHeader::new();
        header.set_token_type(ACCESS_TYPE);
        let token = jwt::encode_with_signer(&payload, &header, &self.ring[0].signer);
        Ok((token.map_err(|e| e.to_string())?, expires))
    }

    /// Verifies an access token: its type, algorithm, key, signature, issuer, audience and
    /// expiry.
    pub fn verify(&self, token: &str, now: Millis) -> Result<AccessClaims, AccessError> {
        let header =
            jwt::decode_header(token).map_err(|_| AccessError::NotAccessToken("no JOSE header"))?;
        if header.claim("typ").and_then(|v| v.as_str()) != Some(ACCESS_TYPE) {
            return Err(AccessError::NotAccessToken("typ is not at+jwt"));
        }
        if header.claim("alg").and_then(|v| v.as_str()) != Some("ES256") {
            return Err(AccessError::NotAccessToken("alg is not ES256"));
        }
        let kid = header
            .claim("kid")
            .and_then(|v| v.as_str())
            .ok_or(AccessError::BadSignature)?;
        let key = self
            .ring
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(AccessError::BadSignature)?;
        let (payload, _) = jwt::decode_with_verifier(token, &key.verifier)
            .map_err(|_| AccessError::BadSignature)?;
        let audience_ok = payload
            .audience()
            .is_some_and(|a| a.contains(&self.audience.as_str()));
        if payload.issuer() != Some(self.issuer.as_str()) || !audience_ok {
            return Err(AccessError::WrongParty);
        }
        let expires_ms = payload
            .expires_at()
            .map(millis)
            .ok_or(AccessError::Expired)?;
        let issued_ms = payload.issued_at().map(millis).unwrap_or(0);
        if now >= expires_ms + SKEW_MS || issued_ms > now + SKEW_MS {
            return Err(AccessError::Expired);
        }
        let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
        Ok(AccessClaims {
            subject: text(payload.subject()),
            session: text(payload.claim("sid").and_then(|v| v.as_str())),
            expires_ms,
            id: text(payload.jwt_id()),
        })
    }
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
