//! Platform sign-in against local fake issuers that speak Apple's, Google's and Facebook's
//! protocols and sign with test keys: each provider's success, every bad token, JWKS caching
//! and rotation, the Apple web flow, linking, unlinking, guest upgrade and conflicts.

mod common;

use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::platform::{
    APPLE_BUNDLE_ID, APPLE_CLIENT_ID, APPLE_KEY_ID, APPLE_REDIRECT_URI, APPLE_TEAM_ID,
    FACEBOOK_APP_ID, FACEBOOK_APP_SECRET, FakeIssuers, GOOGLE_CLIENT_ID, JwksMode, Provider,
    Signing,
};
use common::{Backend, PLATFORM_KEY, TestApp, session_body};
use lares::proto::account::{AppleLoginCallbackRequest, GoogleLoginRequest, LoginInfo};
use prost::Message;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

for_each_store!(
    apple_google_and_facebook_sign_in_create_once,
    guests_upgrade_and_identities_link_and_unlink,
);

/// Starts Lares with every provider pointed at `fakes`.
async fn app_with(backend: Backend, fakes: &FakeIssuers) -> TestApp {
    let (apple_jwks, apple_token) = (fakes.apple_jwks_url(), fakes.apple_token_url());
    let (google_jwks, graph) = (fakes.google_jwks_url(), fakes.facebook_graph_url());
    let key = fakes.apple_private_key_pem();
    TestApp::start_with(backend, move |c| {
        let p = &mut c.platform;
        p.fetch_timeout_ms = 500;
        p.apple.jwks_url = apple_jwks;
        p.apple.token_url = apple_token;
        p.apple.audiences = vec![APPLE_BUNDLE_ID.into(), APPLE_CLIENT_ID.into()];
        p.apple.team_id = APPLE_TEAM_ID.into();
        p.apple.client_id = APPLE_CLIENT_ID.into();
        p.apple.key_id = APPLE_KEY_ID.into();
        p.apple.private_key = key;
        p.apple.redirect_uri = APPLE_REDIRECT_URI.into();
        p.apple.return_host = "game.example".into();
        p.google.jwks_url = google_jwks;
        p.google.audiences = vec![GOOGLE_CLIENT_ID.into()];
        p.facebook.graph_url = graph;
        p.facebook.app_id = FACEBOOK_APP_ID.into();
        p.facebook.app_secret = FACEBOOK_APP_SECRET.into();
    })
    .await
}

fn now_s(app: &TestApp) -> i64 {
    use lares::domain::clock::Clock;
    app.clock.now_ms() / 1000
}

fn hex_sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

async fn apple(app: &TestApp, token: &str, nonce: &str) -> (u16, Value) {
    app.post(
        "/accounts/v1/apple/login",
        json!({ "token": token, "nonce": nonce }),
    )
    .await
}

async fn google(app: &TestApp, token: &str) -> (u16, Value) {
    app.post("/accounts/v1/google/login", json!({ "token": token }))
        .await
}

async fn facebook(app: &TestApp, token: &str) -> (u16, Value) {
    app.post("/accounts/v1/fb/login", json!({ "token": token }))
        .await
}

fn google_token(fakes: &FakeIssuers, app: &TestApp, sub: &str) -> String {
    let claims = FakeIssuers::google_claims(sub, GOOGLE_CLIENT_ID, now_s(app));
    fakes.id_token(Provider::Google, &claims, Signing::Current)
}

fn assert_platform_refused(status: u16, body: &Value, case: &str) {
    assert_eq!(
        (status, text(body, "reason")),
        (401, "PLATFORM_AUTH_FAILED"),
        "{case}: {body}"
    );
}

async fn apple_google_and_facebook_sign_in_create_once(backend: Backend) {
    let fakes = FakeIssuers::start().await;
    let app = app_with(backend, &fakes).await;

    // Apple, native: the bundle id is an accepted audience; the raw nonce is checked.
    let raw_nonce = "client-raw-nonce-1";
    let mut claims = FakeIssuers::apple_claims("apple.sub.1", APPLE_BUNDLE_ID, now_s(&app));
    claims["nonce"] = json!(hex_sha256(raw_nonce));
    let token = fakes.id_token(Provider::Apple, &claims, Signing::Current);
    let (status, first) = apple(&app, &token, raw_nonce).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["register"], true);
    let (status, again) = apple(&app, &token, "").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (again["register"].as_bool(), text(&again, "accountId")),
        (Some(false), text(&first, "accountId"))
    );
    let (status, body) = apple(&app, &token, "another-raw-nonce").await;
    assert_platform_refused(status, &body, "nonce mismatch");

    // Google: both issuer spellings.
    let (status, g1) = google(&app, &google_token(&fakes, &app, "google-sub-1")).await;
    assert_eq!(
        (status, g1["register"].as_bool()),
        (200, Some(true)),
        "{g1}"
    );
    let mut claims = FakeIssuers::google_claims("google-sub-1", GOOGLE_CLIENT_ID, now_s(&app));
    claims["iss"] = json!("accounts.google.com");
    let token = fakes.id_token(Provider::Google, &claims, Signing::Current);
    let (status, g2) = google(&app, &token).await;
    assert_eq!(status, 200, "{g2}");
    assert_eq!(text(&g2, "accountId"), text(&g1, "accountId"));
    assert_ne!(text(&g1, "accountId"), text(&first, "accountId"));

    // Facebook: a valid token of our app, then one of another app, an invalid and an expired one.
    let later = now_s(&app) + 3600;
    let token = fakes.facebook_token("fb-user-1", FACEBOOK_APP_ID, true, later);
    let (status, f1) = facebook(&app, &token).await;
    assert_eq!(
        (status, f1["register"].as_bool()),
        (200, Some(true)),
        "{f1}"
    );
    let (status, f2) = facebook(&app, &token).await;
    assert_eq!(
        (status, text(&f2, "accountId")),
        (200, text(&f1, "accountId"))
    );
    let foreign = fakes.facebook_token("fb-user-2", "9999999999", true, later);
    let (status, body) = facebook(&app, &foreign).await;
    assert_platform_refused(status, &body, "another app's token");
    let invalid = fakes.facebook_token("fb-user-2", FACEBOOK_APP_ID, false, later);
    let (status, body) = facebook(&app, &invalid).await;
    assert_platform_refused(status, &body, "invalid token");
    let expired = fakes.facebook_token("fb-user-2", FACEBOOK_APP_ID, true, now_s(&app) - 600);
    let (status, body) = facebook(&app, &expired).await;
    assert_platform_refused(status, &body, "expired token");
    let (status, body) = facebook(&app, "never-issued-token").await;
    assert_platform_refused(status, &body, "unknown token");
    assert_eq!(
        fakes.facebook_bad_proofs(),
        0,
        "every call carried a right proof"
    );

    // The sessions work like any other.
    let (status, body) = app.post("/accounts/v1/refresh", session_body(&f1)).await;
    assert_eq!(status, 200, "{body}");

    // gRPC answers the same operation.
    let mut grpc = app.grpc().await;
    let answer = grpc
        .google_login(GoogleLoginRequest {
            token: google_token(&fakes, &app, "google-sub-1"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.account_id, text(&g1, "accountId"));
    assert!(!answer.register);
    app.stop().await;
}

/// Every malformed, misdirected or forged token answers 401 and creates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_platform_tokens_are_refused_and_create_nothing() {
    let fakes = FakeIssuers::start().await;
    let app = app_with(Backend::Sqlite, &fakes).await;
    let now = now_s(&app);
    let sub = "victim-sub";
    let good = FakeIssuers::google_claims(sub, GOOGLE_CLIENT_ID, now);
    let with = |patch: Value| {
        let mut claims = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    let signed = |claims: &Value, how| fakes.id_token(Provider::Google, claims, how);
    let current = fakes.id_token(Provider::Google, &good, Signing::Current);
    let mut cases: Vec<(&str, String)> = vec![
        ("alg none", signed(&good, Signing::AlgNone)),
        (
            "HS256 keyed with the public key",
            signed(&good, Signing::Hs256WithPublicKey),
        ),
        ("unknown kid", signed(&good, Signing::UnknownKey)),
        ("bad signature", signed(&good, Signing::Tampered)),
        (
            "wrong issuer",
            signed(
                &with(json!({"iss": "https://evil.example"})),
                Signing::Current,
            ),
        ),
        (
            "wrong audience",
            signed(&with(json!({"aud": "someone-else"})), Signing::Current),
        ),
        (
            "expired",
            signed(&with(json!({"exp": now - 120})), Signing::Current),
        ),
        (
            "not yet valid (iat)",
            signed(&with(json!({"iat": now + 600})), Signing::Current),
        ),
        (
            "not yet valid (nbf)",
            signed(&with(json!({"nbf": now + 600})), Signing::Current),
        ),
        (
            "exp not a number",
            signed(&with(json!({"exp": "tomorrow"})), Signing::Current),
        ),
        (
            "exp absurd",
            signed(&with(json!({"exp": 1e300})), Signing::Current),
        ),
        (
            "no subject",
            signed(&with(json!({"sub": ""})), Signing::Current),
        ),
        (
            "two segments",
            current.rsplit_once('.').unwrap().0.to_owned(),
        ),
        ("five segments", format!("{current}.a.b")),
        ("not base64", "eyJ!.eyJ$.sig".to_owned()),
        (
            "garbage header",
            "bm90IGpzb24.eyJzdWIiOiJ4In0.c2ln".to_owned(),
        ),
        ("empty", String::new()),
        ("oversize", format!("{}.{}.sig", "a".repeat(9000), "b")),
    ];
    cases.push(("apple token at google", {
        let claims = FakeIssuers::apple_claims(sub, APPLE_BUNDLE_ID, now);
        fakes.id_token(Provider::Apple, &claims, Signing::Current)
    }));
    for (case, token) in &cases {
        let (status, body) = google(&app, token).await;
        assert_platform_refused(status, &body, case);
        assert!(!body.to_string().contains(token.as_str()) || token.is_empty());
    }
    // Apple: a nonce the client sent but the token lacks.
    let claims = FakeIssuers::apple_claims(sub, APPLE_BUNDLE_ID, now);
    let token = fakes.id_token(Provider::Apple, &claims, Signing::Current);
    let (status, body) = apple(&app, &token, "raw-nonce").await;
    assert_platform_refused(status, &body, "nonce missing from the token");
    let metrics = app.metrics().await;
    let refused = cases.len() + 1;
    assert!(
        metrics.contains(&format!(
            r#"lares_security_events_total{{event="platform_auth_failed"}} {refused}"#
        )),
        "{metrics}"
    );
    // Nothing was created: the first good sign-in of that subject registers.
    let (status, body) = google(&app, &current).await;
    assert_eq!(
        (status, body["register"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    app.stop().await;
}

/// A new signing key is picked up once; unknown kids refetch at most once a minute; max-age
/// is honoured; concurrent misses share one fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_is_cached_rotated_and_refetched_sparingly() {
    let fakes = FakeIssuers::start().await;
    fakes.set_jwks_max_age(Provider::Google, Some(600));
    let app = app_with(Backend::Sqlite, &fakes).await;

    // Ten sign-ins at once before any key is known: one fetch.
    let tokens: Vec<String> = (0..10)
        .map(|i| google_token(&fakes, &app, &format!("jwks-sub-{i}")))
        .collect();
    let calls = tokens.iter().map(|t| google(&app, t));
    for (status, body) in futures_util::future::join_all(calls).await {
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(fakes.jwks_fetches(Provider::Google), 1);

    // Rotation: the new kid is fetched once (the last fetch being a minute old), then served
    // from the cache.
    fakes.rotate_key(Provider::Google);
    app.clock.advance_ms(61_000);
    let (status, body) = google(&app, &google_token(&fakes, &app, "jwks-sub-a")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = google(&app, &google_token(&fakes, &app, "jwks-sub-b")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fakes.jwks_fetches(Provider::Google), 2);

    // Unknown kids within the minute do not fetch again.
    let claims = FakeIssuers::google_claims("jwks-sub-c", GOOGLE_CLIENT_ID, now_s(&app));
    for _ in 0..3 {
        let forged = fakes.id_token(Provider::Google, &claims, Signing::UnknownKey);
        let (status, body) = google(&app, &forged).await;
        assert_platform_refused(status, &body, "unknown kid");
    }
    assert_eq!(fakes.jwks_fetches(Provider::Google), 2);
    app.clock.advance_ms(61_000);
    let forged = fakes.id_token(Provider::Google, &claims, Signing::UnknownKey);
    let (status, body) = google(&app, &forged).await;
    assert_platform_refused(status, &body, "unknown kid after a minute");
    assert_eq!(fakes.jwks_fetches(Provider::Google), 3);

    // max-age: within it a known kid is not refetched; past it, it is.
    let (status, _) = google(&app, &google_token(&fakes, &app, "jwks-sub-d")).await;
    assert_eq!((status, fakes.jwks_fetches(Provider::Google)), (200, 3));
    app.clock.advance_ms(601_000);
    let (status, _) = google(&app, &google_token(&fakes, &app, "jwks-sub-e")).await;
    assert_eq!((status, fakes.jwks_fetches(Provider::Google)), (200, 4));
    app.stop().await;
}

/// While the JWKS endpoint hangs, fails or answers garbage, the keys held keep verifying;
/// without keys held, sign-in is refused within the fetch timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_jwks_keeps_the_cached_keys() {
    let fakes = FakeIssuers::start().await;
    fakes.set_jwks_max_age(Provider::Google, Some(120));
    let app = app_with(Backend::Sqlite, &fakes).await;
    let (status, _) = google(&app, &google_token(&fakes, &app, "outage-sub")).await;
    assert_eq!(status, 200);
    for mode in [JwksMode::Hang, JwksMode::Garbage, JwksMode::ServerError] {
        fakes.set_jwks_mode(Provider::Google, mode);
        app.clock.advance_ms(200_000);
        let started = std::time::Instant::now();
        let (status, body) = google(&app, &google_token(&fakes, &app, "outage-sub")).await;
        assert_eq!(status, 200, "{mode:?}: {body}");
        assert!(started.elapsed() < Duration::from_secs(3), "{mode:?}");
    }
    // Apple's keys were never fetched: a hanging endpoint refuses within the timeout.
    fakes.set_jwks_mode(Provider::Apple, JwksMode::Hang);
    let claims = FakeIssuers::apple_claims("apple-outage", APPLE_BUNDLE_ID, now_s(&app));
    let token = fakes.id_token(Provider::Apple, &claims, Signing::Current);
    let started = std::time::Instant::now();
    let (status, body) = apple(&app, &token, "").await;
    assert_platform_refused(status, &body, "hanging JWKS");
    assert!(started.elapsed() < Duration::from_secs(3));
    fakes.set_jwks_mode(Provider::Apple, JwksMode::Garbage);
    app.clock.advance_ms(61_000);
    let (status, body) = apple(&app, &token, "").await;
    assert_platform_refused(status, &body, "garbage JWKS");
    app.stop().await;
}

/// Opens the sealed LoginInfo of a redirect as the app does: AES-GCM under the platform key,
/// 12-byte nonce first, URL-safe base64 without padding.
fn open_login_info(k: &str) -> LoginInfo {
    let bytes = URL_SAFE_NO_PAD.decode(k).expect("base64url");
    let (nonce, sealed) = bytes.split_at(12);
    let cipher = Aes128Gcm::new_from_slice(&PLATFORM_KEY).unwrap();
    let plain = cipher
        .decrypt(Nonce::from_slice(nonce), sealed)
        .expect("sealed with the platform key");
    LoginInfo::decode(plain.as_slice()).expect("a LoginInfo")
}

/// The query of a `lares://game.example/auth?...` location, decoded.
fn redirect_query(location: &str) -> std::collections::HashMap<String, String> {
    let query = location
        .strip_prefix("lares://game.example/auth?")
        .unwrap_or_else(|| panic!("unexpected location {location}"));
    query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            let v = percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .unwrap();
            (k.to_owned(), v.into_owned())
        })
        .collect()
}

async fn callback(app: &TestApp, form: &[(&str, &str)]) -> (u16, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .post(app.url("/accounts/v1/apple/login/callback"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apple_web_flow_redirects_with_a_sealed_login() {
    let fakes = FakeIssuers::start().await;
    let app = app_with(Backend::Sqlite, &fakes).await;
    let claims = FakeIssuers::apple_claims("apple-web-sub", APPLE_CLIENT_ID, now_s(&app));
    let code = fakes.apple_code(&claims);
    let state = "st/8 x&y=z";
    let (status, location) = callback(&app, &[("code", &code), ("state", state)]).await;
    assert_eq!(status, 303, "{location}");
    let query = redirect_query(&location);
    assert_eq!(query.get("state").map(String::as_str), Some(state));
    let info = open_login_info(&query["k"]);
    assert!(info.register);
    assert_eq!(info.state, state);
    let (status, body) = app
        .post(
            "/accounts/v1/refresh",
            json!({"accountId": info.account_id, "session": info.session}),
        )
        .await;
    assert_eq!(status, 200, "the session works: {body}");

    // The client secret Lares sent: ES256 from the team for the Services ID, one hour.
    let secrets = fakes.apple_exchanges();
    assert_eq!(secrets.len(), 1);
    let secret = &secrets[0];
    assert_eq!(
        (secret["iss"].as_str(), secret["sub"].as_str()),
        (Some(APPLE_TEAM_ID), Some(APPLE_CLIENT_ID))
    );
    assert_eq!(secret["aud"], json!("https://appleid.apple.com"));
    let lifetime = secret["exp"].as_i64().unwrap() - secret["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 3600);

    // A used code, an error from Apple, and a code for the wrong audience fail to the app.
    for form in [
        vec![("code", code.as_str()), ("state", "s2")],
        vec![("error", "user_cancelled_authorize"), ("state", "s2")],
        vec![("code", "never-issued"), ("state", "s2")],
    ] {
        let (status, location) = callback(&app, &form).await;
        assert_eq!(status, 303);
        let query = redirect_query(&location);
        assert_eq!(
            query.get("e").map(String::as_str),
            Some("PLATFORM_AUTH_FAILED")
        );
        assert_eq!(query.get("state").map(String::as_str), Some("s2"));
        assert!(!query.contains_key("k"));
    }
    let native = FakeIssuers::apple_claims("apple-web-sub-2", APPLE_BUNDLE_ID, now_s(&app));
    let code = fakes.apple_code(&native);
    let (_, location) = callback(&app, &[("code", &code)]).await;
    assert_eq!(
        redirect_query(&location).get("e").map(String::as_str),
        Some("PLATFORM_AUTH_FAILED"),
        "the web flow accepts only the Services ID as audience"
    );

    // Not a form: the documented error shape, not a redirect.
    let (status, body) = app
        .post("/accounts/v1/apple/login/callback", json!({"code": "x"}))
        .await;
    assert_eq!((status, text(&body, "reason")), (415, "PARAM_INVALID"));

    // gRPC answers the location.
    let claims = FakeIssuers::apple_claims("apple-web-sub", APPLE_CLIENT_ID, now_s(&app));
    let code = fakes.apple_code(&claims);
    let mut grpc = app.grpc().await;
    let answer = grpc
        .apple_login_callback(AppleLoginCallbackRequest {
            code,
            state: "g".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let info = open_login_info(&redirect_query(&answer.location)["k"]);
    assert!(!info.register, "the same Apple user signs in again");
    app.stop().await;
}

async fn link(app: &TestApp, body: Value) -> (u16, Value) {
    app.post("/accounts/v1/link", body).await
}

async fn unlink(app: &TestApp, body: Value) -> (u16, Value) {
    app.post("/accounts/v1/unlink", body).await
}

fn identities(answer: &Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = answer["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                text(i, "provider").to_owned(),
                text(i, "subject").to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

async fn guests_upgrade_and_identities_link_and_unlink(backend: Backend) {
    let fakes = FakeIssuers::start().await;
    let app = app_with(backend, &fakes).await;
    let (status, guest) = app
        .post(
            "/accounts/v1/device/login",
            json!({"deviceId": "upgrade-device-1"}),
        )
        .await;
    assert_eq!(status, 200, "{guest}");
    let account_id = text(&guest, "accountId").to_owned();

    // The guest upgrades to Google with its session: same account afterwards.
    let google_sub = "upgrade-google-sub";
    let mut body = session_body(&guest);
    body["provider"] = json!("PROVIDER_GOOGLE");
    body["token"] = json!(google_token(&fakes, &app, google_sub));
    let (status, linked) = link(&app, body.clone()).await;
    assert_eq!(status, 200, "{linked}");
    assert_eq!(
        identities(&linked),
        vec![
            ("PROVIDER_DEVICE".to_owned(), "upgrade-device-1".to_owned()),
            ("PROVIDER_GOOGLE".to_owned(), google_sub.to_owned()),
        ]
    );
    assert_ne!(
        linked["hasPassword"],
        json!(true),
        "a guest has no password"
    );
    let (status, via_google) = google(&app, &google_token(&fakes, &app, google_sub)).await;
    assert_eq!(status, 200, "{via_google}");
    assert_eq!(text(&via_google, "accountId"), account_id);
    assert_eq!(via_google["register"], false);

    // Linking the same identity again is harmless.
    let (status, again) = link(&app, body).await;
    assert_eq!((status, identities(&again).len()), (200, 2), "{again}");

    // Apple, authenticated by an access token instead of the session.
    let claims = FakeIssuers::apple_claims("upgrade-apple-sub", APPLE_BUNDLE_ID, now_s(&app));
    let apple_token = fakes.id_token(Provider::Apple, &claims, Signing::Current);
    let by_access = json!({
        "accountId": account_id,
        "accessToken": via_google["accessToken"],
        "provider": "PROVIDER_APPLE",
        "token": apple_token,
    });
    let (status, linked) = link(&app, by_access).await;
    assert_eq!((status, identities(&linked).len()), (200, 3), "{linked}");

    // An identity on another account: 409, nothing changes.
    let (status, other) = google(&app, &google_token(&fakes, &app, "someone-else")).await;
    assert_eq!(status, 200);
    let mut body = session_body(&guest);
    body["session"] = via_google["session"].clone();
    body["provider"] = json!("PROVIDER_GOOGLE");
    body["token"] = json!(google_token(&fakes, &app, "someone-else"));
    let (status, refused) = link(&app, body).await;
    assert_eq!(
        (status, text(&refused, "reason")),
        (409, "CONFLICT"),
        "{refused}"
    );
    let mut body = session_body(&other);
    body["provider"] = json!("PROVIDER_DEVICE");
    body["deviceId"] = json!("upgrade-device-1");
    let (status, refused) = link(&app, body).await;
    assert_eq!(
        (status, text(&refused, "reason")),
        (409, "CONFLICT"),
        "{refused}"
    );

    // A bad platform token, a stale session and no credential at all.
    let mut body = session_body(&via_google);
    body["provider"] = json!("PROVIDER_GOOGLE");
    body["token"] = json!("not-a-jwt");
    let (status, refused) = link(&app, body).await;
    assert_platform_refused(status, &refused, "link with a bad token");
    let (status, refreshed) = app.post("/accounts/v1/refresh", session_body(&guest)).await;
    assert_eq!(status, 200, "{refreshed}");
    let mut body = session_body(&guest);
    body["provider"] = json!("PROVIDER_DEVICE");
    body["deviceId"] = json!("upgrade-device-2");
    let (status, refused) = link(&app, body.clone()).await;
    assert_eq!(
        (status, text(&refused, "reason")),
        (401, "SESSION_ILLEGAL"),
        "a retired credential does not authenticate: {refused}"
    );
    body.as_object_mut().unwrap().remove("session");
    let (status, refused) = link(&app, body).await;
    assert_eq!(
        (status, text(&refused, "reason")),
        (400, "PARAM_INVALID"),
        "{refused}"
    );

    // Unlink: the device goes, then Google; Apple is the last way in and stays.
    let current = session_body(&via_google);
    let mut body = current.clone();
    body["provider"] = json!("PROVIDER_DEVICE");
    body["subject"] = json!("upgrade-device-1");
    let (status, left) = unlink(&app, body.clone()).await;
    assert_eq!((status, identities(&left).len()), (200, 2), "{left}");
    let (status, refused) = unlink(&app, body).await;
    assert_eq!(
        (status, text(&refused, "reason")),
        (404, "NOT_FOUND"),
        "{refused}"
    );
    let mut body = current.clone();
    body["provider"] = json!("PROVIDER_GOOGLE");
    let (status, left) = unlink(&app, body).await;
    assert_eq!(
        (status, identities(&left)),
        (
            200,
            vec![("PROVIDER_APPLE".to_owned(), "upgrade-apple-sub".to_owned())]
        ),
        "{left}"
    );
    let mut body = current.clone();
    body["provider"] = json!("PROVIDER_APPLE");
    let (status, refused) = unlink(&app, body).await;
    assert_eq!(
        (status, text(&refused, "reason")),
        (409, "CONFLICT"),
        "{refused}"
    );

    // The unlinked device and Google identity no longer lead to the account.
    let (status, fresh) = app
        .post(
            "/accounts/v1/device/login",
            json!({"deviceId": "upgrade-device-1"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(fresh["register"], true);
    assert_ne!(text(&fresh, "accountId"), account_id);
    let (status, fresh) = google(&app, &google_token(&fakes, &app, google_sub)).await;
    assert_eq!((status, fresh["register"].as_bool()), (200, Some(true)));
    app.stop().await;
}

/// A provider with nothing configured answers `UNIMPLEMENTED`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_without_config_are_off() {
    let app = TestApp::start(Backend::Sqlite).await;
    for path in [
        "/accounts/v1/apple/login",
        "/accounts/v1/google/login",
        "/accounts/v1/fb/login",
    ] {
        let (status, body) = app.post(path, json!({"token": "x"})).await;
        assert_eq!(
            (status, text(&body, "reason")),
            (501, "UNIMPLEMENTED"),
            "{path}: {body}"
        );
    }
    app.stop().await;
}
