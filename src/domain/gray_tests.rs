use super::*;

fn ask(account: i64) -> Ask<'static> {
    Ask {
        account: AccountId(account),
        account_color: None,
        requested: "",
        client_version: "",
    }
}

fn rules() -> GrayRules {
    GrayRules {
        allow: vec![AllowRule {
            color: "qa".into(),
            accounts: vec![7, 8],
        }],
        percent: vec![PercentRule {
            color: "green".into(),
            percent: 10,
        }],
        version: vec![VersionRule {
            color: "next".into(),
            min: "2.0".into(),
            max: "2.9.99".into(),
        }],
        requestable: vec!["canary".into()],
        salt: "test".into(),
    }
}

#[test]
fn rules_apply_in_the_documented_order() {
    let r = rules();
    let outside = (1..1000)
        .find(|&a| r.bucket(AccountId(a)) >= 10 && a != 7 && a != 8)
        .unwrap();
    let inside = (1..1000)
        .find(|&a| r.bucket(AccountId(a)) < 10 && a != 7 && a != 8)
        .unwrap();
    // Allow-list beats the account's own colour.
    let pinned = Ask {
        account_color: Some("mine"),
        ..ask(7)
    };
    assert_eq!(r.pick(pinned, "blue"), "qa");
    // The account's own colour beats shares, versions and requests.
    let own = Ask {
        account_color: Some("mine"),
        requested: "canary",
        client_version: "2.1",
        ..ask(inside)
    };
    assert_eq!(r.pick(own, "blue"), "mine");
    // A share beats versions and requests.
    let shared = Ask {
        requested: "canary",
        client_version: "2.1",
        ..ask(inside)
    };
    assert_eq!(r.pick(shared, "blue"), "green");
    // Versions beat requests.
    let versioned = Ask {
        requested: "canary",
        client_version: "2.1.5",
        ..ask(outside)
    };
    assert_eq!(r.pick(versioned, "blue"), "next");
    // A requestable colour is honoured, another one is not.
    let requested = Ask {
        requested: "canary",
        client_version: "3.0",
        ..ask(outside)
    };
    assert_eq!(r.pick(requested, "blue"), "canary");
    let refused = Ask {
        requested: "gold",
        ..ask(outside)
    };
    assert_eq!(r.pick(refused, "blue"), "blue");
}

#[test]
fn shares_are_stable_and_about_right() {
    let r = rules();
    let first: Vec<u32> = (1..200).map(|a| r.bucket(AccountId(a))).collect();
    let again: Vec<u32> = (1..200).map(|a| r.bucket(AccountId(a))).collect();
    assert_eq!(first, again);
    let green = (1..10_001)
        .filter(|&a| r.pick(ask(a), "blue") == "green")
        .count();
    assert!(
        (800..1200).contains(&green),
        "about 10% of accounts: {green}"
    );
    let other_salt = GrayRules {
        salt: "other".into(),
        ..rules()
    };
    assert_ne!(
        first,
        (1..200)
            .map(|a| other_salt.bucket(AccountId(a)))
            .collect::<Vec<_>>()
    );
}

#[test]
fn versions_compare_by_number() {
    assert!(parse_version("2.10") > parse_version("2.9"));
    assert_eq!(parse_version("2.0.0"), parse_version("2"));
    assert_eq!(parse_version("v1.2"), Some(vec![1, 2]));
    for bad in ["", "x.1", "1..2", "1.-2"] {
        assert_eq!(parse_version(bad), None, "{bad}");
    }
}

#[test]
fn bad_rules_are_refused() {
    let mut r = rules();
    r.percent.push(PercentRule {
        color: "red".into(),
        percent: 95,
    });
    assert_eq!(r.validate().unwrap_err().0, "gray.percent");
    let mut r = rules();
    r.version[0].min = "3.0".into();
    assert_eq!(r.validate().unwrap_err().0, "gray.version");
    let mut r = rules();
    r.requestable.push("bad colour".into());
    assert!(r.validate().is_err());
    assert!(rules().validate().is_ok());
}
