// figment's Jail closures return figment::Error, which is large; that is the crate's API.
#![allow(clippy::result_large_err)]

use figment::Jail;

use super::*;

fn load_in(jail: &mut Jail, toml: Option<&str>) -> Result<Config, ConfigError> {
    let file = toml.map(|text| {
        jail.create_file("lares.toml", text).unwrap();
        jail.directory().join("lares.toml")
    });
    Config::load(file.as_deref())
}

#[test]
fn defaults_are_the_embedded_ones_and_valid() {
    Jail::expect_with(|jail| {
        let c = load_in(jail, None).unwrap();
        assert_eq!(c.server.http_external.to_string(), "0.0.0.0:8001");
        assert_eq!(c.server.grpc_internal.to_string(), "127.0.0.1:9101");
        assert_eq!(c.store.url, "sqlite://data/lares.db");
        assert_eq!(c.cache.url, "memory");
        assert_eq!(c.label.profile, Profile::Dev);
        assert_eq!(c.server.body_limit, 65536);
        Ok(())
    });
}

#[test]
fn file_then_environment_override() {
    Jail::expect_with(|jail| {
        jail.set_env("LARES__SERVER__HTTP_EXTERNAL", "127.0.0.1:18001");
        jail.set_env("LARES__LABEL__ZONE", "7");
        let c = load_in(
            jail,
            Some("[server]\nhttp_external = \"127.0.0.1:1\"\n[label]\ncolor = \"blue\"\n"),
        )
        .unwrap();
        assert_eq!(c.server.http_external.to_string(), "127.0.0.1:18001");
        assert_eq!(c.label.color, "blue");
        assert_eq!(c.label.zone, 7);
        Ok(())
    });
}

#[test]
fn bad_values_name_their_key() {
    Jail::expect_with(|jail| {
        jail.set_env("LARES__SERVER__GRPC_EXTERNAL", "not-an-address");
        let err = load_in(jail, None).unwrap_err().to_string();
        assert!(err.contains("server.grpc_external"), "{err}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        let err = load_in(jail, Some("[store]\nurl = \"mysql://x\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("store.url"), "{err}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        let err = load_in(jail, Some("[server]\nbody_limt = 5\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("body_limt"), "{err}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("LARES__SESSION__ABSOLUTE_SECS", "61");
        jail.set_env("LARES__SESSION__LIFETIME_SECS", "120");
        let err = load_in(jail, None).unwrap_err().to_string();
        assert!(err.contains("session.absolute_secs"), "{err}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("LARES__NOTICES__RELOAD_MS", "10");
        let err = load_in(jail, None).unwrap_err().to_string();
        assert!(err.contains("notices.reload_ms"), "{err}");
        Ok(())
    });
}

#[test]
fn a_missing_file_is_an_error() {
    let err = Config::load(Some(Path::new("/nonexistent/lares.toml"))).unwrap_err();
    assert!(err.to_string().contains("--config"));
}

#[test]
fn dev_generates_missing_keys_and_prod_refuses_them() {
    let mut config = Config::default();
    let (keys, warnings) = config.keys().unwrap();
    assert_eq!(
        (keys.token.len(), keys.session.len(), keys.platform.len()),
        (32, 32, 32)
    );
    assert_eq!(
        warnings.len(),
        4,
        "token, session, platform and access keys: {warnings:?}"
    );
    assert_eq!(keys.access.len(), 1);
    config.label.profile = Profile::Prod;
    let err = config.keys().unwrap_err().to_string();
    assert!(err.contains("secrets.token_key"), "{err}");
}

#[test]
fn prod_refuses_samples_and_every_profile_refuses_wrong_sizes() {
    let mut config = Config::default();
    config.label.profile = Profile::Prod;
    config.secrets.token_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into();
    config.secrets.session_key = STANDARD.encode([9u8; 32]);
    config.secrets.platform_key = STANDARD.encode([8u8; 16]);
    config.secrets.access_keys = vec![crate::domain::access::generate_key().unwrap()];
    assert!(config.keys().unwrap_err().to_string().contains("sample"));
    config.secrets.token_key = STANDARD.encode([7u8; 24]);
    let (keys, warnings) = config.keys().unwrap();
    assert_eq!(keys.token, vec![7u8; 24]);
    assert!(warnings.is_empty());
    config.label.profile = Profile::Dev;
    config.secrets.session_key = STANDARD.encode([9u8; 31]);
    let err = config.keys().unwrap_err().to_string();
    assert!(
        err.contains("secrets.session_key") && err.contains("31 bytes"),
        "{err}"
    );
    config.secrets.session_key = "%%%".into();
    assert!(config.keys().unwrap_err().to_string().contains("base64"));
}

#[test]
fn previous_token_keys_must_be_key_sized() {
    let mut config = Config::default();
    config.secrets.token_keys_previous =
        vec![STANDARD.encode([1u8; 16]), STANDARD.encode([2u8; 32])];
    assert_eq!(config.keys().unwrap().0.token_previous.len(), 2);
    config
        .secrets
        .token_keys_previous
        .push(STANDARD.encode([3u8; 20]));
    let err = config.keys().unwrap_err().to_string();
    assert!(
        err.contains("secrets.token_keys_previous") && err.contains("20 bytes"),
        "{err}"
    );
}

#[test]
fn release_rules_are_validated_by_key() {
    Jail::expect_with(|jail| {
        let rules = "[[gray.percent]]\ncolor = \"green\"\npercent = 70\n[[gray.percent]]\ncolor = \"red\"\npercent = 40\n";
        let err = load_in(jail, Some(rules)).unwrap_err().to_string();
        assert!(err.contains("gray.percent"), "{err}");
        let rules = "[gray]\nrequestable = [\"canary\"]\n[[gray.allow]]\ncolor = \"qa\"\naccounts = [1, 2]\n";
        let c = load_in(jail, Some(rules)).unwrap();
        assert_eq!(c.gray.allow[0].accounts, vec![1, 2]);
        jail.set_env("LARES__SESSION__SINGLE_SESSION", "kick_older");
        jail.set_env("LARES__TOKEN__FORMAT", "jwe");
        let c = load_in(jail, None).unwrap();
        assert_eq!(c.session.single_session, SingleSession::KickOlder);
        assert_eq!(c.token.format, TokenFormat::Jwe);
        Ok(())
    });
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let mut config = Config::default();
    config.secrets.session_key = "c3VwZXItc2VjcmV0".into();
    assert!(!format!("{config:?}").contains("c3VwZXItc2VjcmV0"));
}

#[test]
fn the_shipped_config_file_documents_every_key() {
    let shipped = include_str!("../../configs/lares.toml");
    let defaults = figment::value::Value::serialize(Config::default()).unwrap();
    let figment::value::Value::Dict(_, sections) = defaults else {
        panic!("a table")
    };
    for (section, keys) in sections {
        assert!(
            shipped.contains(&format!("[{section}]")),
            "[{section}] is missing"
        );
        let figment::value::Value::Dict(_, keys) = keys else {
            panic!("{section} is a table")
        };
        for (key, value) in keys {
            if let figment::value::Value::Dict(_, nested) = value {
                assert!(
                    shipped.contains(&format!("[{section}.{key}]")),
                    "[{section}.{key}] is missing"
                );
                for inner in nested.keys() {
                    let documented = shipped.lines().any(|l| {
                        l.trim_start_matches("# ")
                            .starts_with(&format!("{inner} ="))
                    });
                    assert!(
                        documented,
                        "{section}.{key}.{inner} is not in configs/lares.toml"
                    );
                }
                continue;
            }
            let documented = shipped
                .lines()
                .any(|l| l.trim_start_matches("# ").starts_with(&format!("{key} =")));
            assert!(documented, "{section}.{key} is not in configs/lares.toml");
        }
    }
}

#[test]
fn the_shipped_config_file_holds_the_defaults() {
    Jail::expect_with(|_| {
        let shipped = Config::load(Some(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/configs/lares.toml"
        ))))
        .unwrap();
        let as_toml = |c: &Config| {
            let mut value = figment::value::Value::serialize(c).unwrap();
            if let figment::value::Value::Dict(_, dict) = &mut value
                && let Some(figment::value::Value::Dict(_, label)) = dict.get_mut("label")
            {
                label.remove("node");
            }
            format!("{value:?}")
        };
        assert_eq!(as_toml(&shipped), as_toml(&Config::default()));
        Ok(())
    });
}

#[test]
fn numeric_text_from_the_environment_stays_text() {
    Jail::expect_with(|jail| {
        jail.set_env("LARES__PLATFORM__FACEBOOK__APP_ID", "1122334455");
        jail.set_env("LARES__PLATFORM__FACEBOOK__APP_SECRET", "s3cret");
        jail.set_env("LARES__ACCOUNT__ID_SALT", "12345");
        jail.set_env(
            "LARES__PLATFORM__GOOGLE__AUDIENCES",
            "[\"1-abc.apps.googleusercontent.com\"]",
        );
        let c = load_in(jail, None).unwrap();
        assert_eq!(c.platform.facebook.app_id, "1122334455");
        assert_eq!(c.account.id_salt, "12345");
        assert_eq!(
            c.platform.google.audiences,
            ["1-abc.apps.googleusercontent.com"]
        );
        Ok(())
    });
}

#[test]
fn platform_settings_are_validated_by_key() {
    let mut config = Config::default();
    config.platform.facebook.app_id = "1".into();
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("platform.facebook"), "{err}");

    let mut config = Config::default();
    config.platform.apple.team_id = "TEAM".into();
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("platform.apple.client_id"), "{err}");

    let mut config = Config::default();
    config.platform.apple.team_id = "TEAM".into();
    config.platform.apple.client_id = "web".into();
    config.platform.apple.key_id = "KEY".into();
    config.platform.apple.redirect_uri = "https://example.com/cb".into();
    config.platform.apple.private_key = "not a key".into();
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("platform.apple.private_key"), "{err}");
    assert!(!err.contains("not a key"), "the key is not echoed: {err}");

    let mut config = Config::default();
    config.label.profile = Profile::Prod;
    config.platform.google.jwks_url = "http://keys.example.com".into();
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("platform.google.jwks_url"), "{err}");

    let mut config = Config::default();
    config.platform.apple.private_key = "-----BEGIN PRIVATE KEY-----".into();
    assert!(!format!("{config:?}").contains("BEGIN PRIVATE KEY"));
}

#[test]
fn admin_keys_are_validated_and_the_bootstrap_key_is_redacted() {
    Jail::expect_with(|jail| {
        let key = "b".repeat(32);
        jail.set_env("LARES__ADMIN__BOOTSTRAP_KEY", &key);
        let c = load_in(jail, None).unwrap();
        assert_eq!(c.admin.bootstrap_key, key);
        assert!(!format!("{c:?}").contains(&key), "redacted in Debug");
        jail.set_env("LARES__ADMIN__BOOTSTRAP_KEY", "short");
        let err = load_in(jail, None).unwrap_err().to_string();
        assert!(err.contains("admin.bootstrap_key"), "{err}");
        jail.set_env("LARES__ADMIN__BOOTSTRAP_KEY", "");
        let hash = "ab".repeat(32);
        let good =
            format!("[[admin.keys]]\nname = \"ana\"\nrole = \"viewer\"\nsha256 = \"{hash}\"\n");
        let c = load_in(jail, Some(&good)).unwrap();
        assert_eq!(c.admin.keys[0].role, AdminRole::Viewer);
        for bad in [
            good.replace(&hash, "AB"),
            good.replace("viewer", "root"),
            good.replace("ana", "bootstrap"),
            good.replace("ana", "a b"),
            format!("{good}{good}"),
        ] {
            let err = load_in(jail, Some(&bad)).unwrap_err().to_string();
            assert!(err.contains("admin"), "{bad}: {err}");
        }
        Ok(())
    });
}
