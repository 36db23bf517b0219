use super::*;

fn tokens(keys: &[String]) -> AccessTokens {
    AccessTokens::new(keys, "lares", "games", 900_000).unwrap()
}

#[test]
fn issued_tokens_verify_with_their_claims() {
    let key = generate_key().unwrap();
    let ring = tokens(&[key]);
    let (token, expires) = ring.issue("acct123", "sess456", 1_000_000).unwrap();
    assert_eq!(expires, 1_900_000);
    let claims = ring.verify(&token, 1_000_500).unwrap();
    assert_eq!(
        (claims.subject.as_str(), claims.session.as_str()),
        ("acct123", "sess456")
    );
    assert!(!claims.id.is_empty());
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (header["typ"].as_str(), header["alg"].as_str()),
        (Some("at+jwt"), Some("ES256"))
    );
    assert!(header["kid"].is_string());
}

#[test]
fn expiry_issuer_and_audience_are_enforced() {
    let key = generate_key().unwrap();
    let ring = tokens(std::slice::from_ref(&key));
    let (token, _) = ring.issue("a", "s", 1_000_000).unwrap();
    assert_eq!(
        ring.verify(&token, 1_000_000 + 900_000 + SKEW_MS),
        Err(AccessError::Expired)
    );
    let other_aud =
        AccessTokens::new(std::slice::from_ref(&key), "lares", "elsewhere", 900_000).unwrap();
    assert_eq!(
        other_aud.verify(&token, 1_000_001),
        Err(AccessError::WrongParty)
    );
    let other_iss = AccessTokens::new(&[key], "someone", "games", 900_000).unwrap();
    assert_eq!(
        other_iss.verify(&token, 1_000_001),
        Err(AccessError::WrongParty)
    );
}

#[test]
fn the_ring_rotates_and_unknown_keys_fail() {
    let (old, new) = (generate_key().unwrap(), generate_key().unwrap());
    let before = tokens(std::slice::from_ref(&old));
    let during = tokens(&[new.clone(), old.clone()]);
    let stranger = tokens(&[generate_key().unwrap()]);
    let (token, _) = before.issue("a", "s", 1).unwrap();
    assert!(
        during.verify(&token, 2).is_ok(),
        "old tokens verify during rotation"
    );
    let (fresh, _) = during.issue("a", "s", 1).unwrap();
    assert!(
        tokens(&[new]).verify(&fresh, 2).is_ok(),
        "the first key signs"
    );
    assert_eq!(stranger.verify(&token, 2), Err(AccessError::BadSignature));
    let jwks: serde_json::Value = serde_json::from_str(during.jwks()).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "no private parts in the JWKS"
    );
}

#[test]
fn other_credentials_do_not_pass_for_access_tokens() {
    let key = generate_key().unwrap();
    let ring = tokens(std::slice::from_ref(&key));
    // A JWT of the same key without the access type (for example an id token).
    let mut payload = JwtPayload::new();
    payload.set_issuer("lares");
    payload.set_audience(vec!["games"]);
    payload.set_expires_at(&(std::time::UNIX_EPOCH + std::time::Duration::from_secs(10_000)));
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    let signer = ES256.signer_from_pem(&key).unwrap();
    let untyped = jwt::encode_with_signer(&payload, &header, &signer).unwrap();
    assert!(matches!(
        ring.verify(&untyped, 1),
        Err(AccessError::NotAccessToken(_))
    ));
    // alg none.
    let mut none = JwsHeader::new();
    none.set_token_type(ACCESS_TYPE);
    let unsecured = jwt::encode_unsecured(&payload, &none).unwrap();
    assert!(matches!(
        ring.verify(&unsecured, 1),
        Err(AccessError::NotAccessToken(_))
    ));
    // A session credential and a handshake token are not JWTs at all.
    for other in [
        "AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
        "c2VhbGVkLXRva2Vu",
        "",
    ] {
        assert!(ring.verify(other, 1).is_err(), "{other}");
    }
}

#[test]
fn bad_keys_are_named() {
    let err = AccessTokens::new(&[generate_key().unwrap(), "not pem".into()], "i", "a", 1)
        .err()
        .unwrap();
    assert!(err.starts_with("key 1"), "{err}");
}
