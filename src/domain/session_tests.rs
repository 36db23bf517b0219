use super::*;

const POLICY: SessionPolicy = SessionPolicy {
    idle_ms: 1_000_000,
    absolute_ms: 3_000_000,
    grace_ms: 10_000,
};

fn hasher() -> SecretHasher {
    SecretHasher::new(b"test session key")
}

#[test]
fn current_secret_rotates_and_the_old_one_is_retired() {
    let h = hasher();
    let (mut s, first) = Session::open(AccountId(1), &h, &POLICY, 0);
    assert_eq!(s.check(&h.hash(&first), &POLICY, 5), Verdict::Current);
    let second = s.rotate(&h, &POLICY, 5);
    assert_eq!(s.generation, 1);
    assert_eq!(second.id, first.id);
    assert_eq!(s.check(&h.hash(&second), &POLICY, 6), Verdict::Current);
    assert_eq!(
        s.check(&h.hash(&first), &POLICY, 6),
        Verdict::RetiredInGrace
    );
    assert_eq!(
        s.check(&h.hash(&first), &POLICY, 5 + 10_000),
        Verdict::RetiredInGrace
    );
    assert_eq!(
        s.check(&h.hash(&first), &POLICY, 5 + 10_001),
        Verdict::Reuse
    );
}

#[test]
fn unknown_secret_is_not_reuse() {
    let h = hasher();
    let (s, first) = Session::open(AccountId(1), &h, &POLICY, 0);
    let stranger = SessionCredential::issue(first.id.clone());
    assert_eq!(s.check(&h.hash(&stranger), &POLICY, 1), Verdict::Unknown);
}

#[test]
fn expiry_slides_but_never_past_the_absolute_limit() {
    let h = hasher();
    let (mut s, mut cred) = Session::open(AccountId(1), &h, &POLICY, 0);
    assert_eq!(s.expires_ms, 1_000_000);
    let mut now = 0;
    while now < 2_900_000 {
        now += 900_000;
        assert_eq!(
            s.check(&h.hash(&cred), &POLICY, now.min(2_999_999)),
            Verdict::Current
        );
        cred = s.rotate(&h, &POLICY, now.min(2_999_999));
    }
    assert_eq!(s.expires_ms, 3_000_000);
    assert_eq!(
        s.check(&h.hash(&cred), &POLICY, 3_000_000),
        Verdict::Expired
    );
}

#[test]
fn idle_session_expires() {
    let h = hasher();
    let (s, cred) = Session::open(AccountId(1), &h, &POLICY, 0);
    assert_eq!(s.check(&h.hash(&cred), &POLICY, 999_999), Verdict::Current);
    assert_eq!(
        s.check(&h.hash(&cred), &POLICY, 1_000_000),
        Verdict::Expired
    );
}

#[test]
fn revoked_family_refuses_every_secret() {
    let h = hasher();
    let (mut s, cred) = Session::open(AccountId(1), &h, &POLICY, 0);
    s.revoke(RevokeReason::Logout, 1);
    s.revoke(RevokeReason::Reuse, 2);
    assert_eq!(
        s.revoked,
        Some(Revocation {
            at_ms: 1,
            reason: RevokeReason::Logout
        })
    );
    assert_eq!(s.check(&h.hash(&cred), &POLICY, 3), Verdict::Revoked);
}

#[test]
fn history_is_bounded_and_survives_encoding() {
    let h = hasher();
    let (mut s, _) = Session::open(AccountId(1), &h, &POLICY, 0);
    for t in 1..=(RETIRED_HISTORY as i64 + 5) {
        s.rotate(&h, &POLICY, t);
    }
    assert_eq!(s.retired.len(), RETIRED_HISTORY);
    assert_eq!(s.retired[0].at_ms, RETIRED_HISTORY as i64 + 5);
    let bytes = encode_retired(&s.retired);
    assert_eq!(decode_retired(&bytes), s.retired);
    assert_eq!(decode_retired(&bytes[..45]).len(), 1);
}

#[test]
fn revoke_reasons_round_trip() {
    for r in [
        RevokeReason::Logout,
        RevokeReason::LogoutAll,
        RevokeReason::Reuse,
    ] {
        assert_eq!(RevokeReason::parse(r.as_str()), Some(r));
    }
    assert_eq!(RevokeReason::parse("nope"), None);
}
