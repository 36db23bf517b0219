//! OpenID Connect id tokens (Apple, Google): an RS256 JWS whose key is in the provider's JWKS,
//! with the issuer, an accepted audience, a time window and a subject. Everything else (`alg`
//! none, HMAC algorithms, unknown keys, malformed segments) is refused before any claim is read.

use josekit::jwt;
use serde_json::Value;

use super::jwks::Jwks;
use super::{Limits, Refused, loggable};
use crate::domain::clock::Millis;

/// What a token must say.
pub struct Rules<'a> {
    pub issuers: &'a [&'a str],
    pub audiences: &'a [String],
    pub limits: Limits,
    pub now_ms: Millis,
}

/// The claims a sign-in needs from a verified token.
#[derive(Debug, Clone)]
pub struct Claims {
    pub subject: String,
    pub nonce: Option<String>,
}

/// Longest subject accepted.
const MAX_SUBJECT: usize = 255;

/// A compact JWS: three base64url segments.
fn well_formed(token: &str) -> bool {
    let segments: Vec<&str> = token.split('.').collect();
    segments.len() == 3
        && segments[..2].iter().all(|s| !s.is_empty())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A numeric date claim, in milliseconds; refused when present but not a sane number.
fn date_ms(claims: &Value, name: &str) -> Result<Option<Millis>, Refused> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let secs = n
                .as_f64()
                .filter(|s| s.is_finite() && (0.0..1e11).contains(s));
            secs.map(|s| Some((s * 1000.0) as Millis))
                .ok_or_else(|| Refused(format!("claim {name} is out of range")))
        }
        Some(_) => Err(Refused(format!("claim {name} is not a number"))),
    }
}

pub async fn verify(token: &str, jwks: &Jwks, rules: &Rules<'_>) -> Result<Claims, Refused> {
    if token.len() > rules.limits.max_token_bytes {
        return Err(Refused::new("token is too long"));
    }
    if !well_formed(token) {
        return Err(Refused::new("token is not a compact JWS"));
    }
    let header =
        jwt::decode_header(token).map_err(|_| Refused::new("token header is unreadable"))?;
    let alg = header.claim("alg").and_then(Value::as_str).unwrap_or("");
    if alg != "RS256" {
        return Err(Refused(format!(
            "algorithm {} is not accepted",
            loggable(alg)
        )));
    }
    let kid = header
        .claim("kid")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty() && k.len() <= 256)
        .ok_or_else(|| Refused::new("token names no key"))?;
    let verifier = jwks.verifier(kid).await?;
    let (payload, _) = jwt::decode_with_verifier(token, verifier.as_ref())
        .map_err(|_| Refused::new("signature does not verify"))?;
    let claims = Value::Object(payload.claims_set().clone());

    let issuer = payload.issuer().unwrap_or("");
    if !rules.issuers.contains(&issuer) {
        return Err(Refused(format!(
            "issuer {} is not accepted",
            loggable(issuer)
        )));
    }
    let audiences = payload.audience().unwrap_or_default();
    if !audiences
        .iter()
        .any(|aud| rules.audiences.iter().any(|ok| ok == aud))
    {
        let shown = audiences.first().map(|a| loggable(a)).unwrap_or_default();
        return Err(Refused(format!("audience {shown} is not accepted")));
    }
    let skew = rules.limits.skew_ms;
    let now = rules.now_ms;
    let expires = date_ms(&claims, "exp")?.ok_or_else(|| Refused::new("token has no expiry"))?;
    if expires + skew < now {
        return Err(Refused::new("token has expired"));
    }
    for name in ["iat", "nbf"] {
        if date_ms(&claims, name)?.is_some_and(|at| at > now + skew) {
            return Err(Refused(format!("token is not valid yet ({name})")));
        }
    }
    let subject = payload
        .subject()
        .filter(|s| !s.is_empty() && s.len() <= MAX_SUBJECT && s.chars().all(|c| !c.is_control()))
        .ok_or_else(|| Refused::new("token has no usable subject"))?
        .to_owned();
    let nonce = claims
        .get("nonce")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Claims { subject, nonce })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_compact_jws_is_well_formed() {
        assert!(well_formed("eyJh.eyJz.c2ln"));
        assert!(well_formed("eyJh.eyJz."));
        assert!(!well_formed("eyJh.eyJz"));
        assert!(!well_formed("a.b.c.d.e"));
        assert!(!well_formed(".eyJz.c2ln"));
        assert!(!well_formed("eyJh.eyJz.c2ln=="));
        assert!(!well_formed("eyJh.ey Jz.c2ln"));
    }

    #[test]
    fn date_claims_must_be_sane_numbers() {
        let claims =
            serde_json::json!({"exp": 1_700_000_000, "iat": -5, "nbf": "soon", "big": 1e300});
        assert_eq!(date_ms(&claims, "exp").unwrap(), Some(1_700_000_000_000));
        assert!(date_ms(&claims, "iat").is_err());
        assert!(date_ms(&claims, "nbf").is_err());
        assert!(date_ms(&claims, "big").is_err());
        assert_eq!(date_ms(&claims, "absent").unwrap(), None);
    }
}
