//! The gateway's side: token validation (once, on any node, after a Redis restart), the reasons
//! a token is refused, revocations reaching subscribers on other nodes, the single-session
//! policies, release colours, key rotation and access tokens.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE};
use common::node::OwnRedis;
use common::{Backend, TestApp, session_body};
use lares::config::{Config, SingleSession, TokenFormat};
use lares::domain::gray::{AllowRule, GrayRules, VersionRule};
use lares::domain::ids::{AccountId, SessionId};
use lares::domain::session::{RevokeReason, Revoked};
use lares::proto::validator::token_validator_client::TokenValidatorClient;
use lares::proto::validator::{Reason, ValidateRequest, ValidateResponse, WatchRevocationsRequest};
use serde_json::{Value, json};
use tonic::transport::Channel;

for_each_store!(
    a_token_validates_once,
    refused_tokens_change_nothing,
    revoked_sessions_and_expired_tokens_are_refused,
    kick_older_revokes_and_tells_subscribers,
    deny_newer_refuses_a_second_sign_in,
    subscribers_resume_without_gaps,
    access_tokens_verify_against_the_jwks,
);

async fn validator(addr: std::net::SocketAddr) -> TokenValidatorClient<Channel> {
    TokenValidatorClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

async fn validate(client: &mut TokenValidatorClient<Channel>, token: &str) -> ValidateResponse {
    let request = ValidateRequest {
        id: 0,
        token: token.to_owned(),
    };
    client.validate(request).await.unwrap().into_inner()
}

async fn device_login(app: &TestApp, device: &str) -> Value {
    let (status, info) = app
        .post("/accounts/v1/device/login", json!({ "deviceId": device }))
        .await;
    assert_eq!(status, 200, "{info}");
    info
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap()
}

async fn a_token_validates_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let info = device_login(&app, "gate-device-1").await;
    let mut client = validator(app.running().grpc_internal).await;
    let first = validate(&mut client, str_of(&info, "token")).await;
    assert!(first.valid, "{first:?}");
    assert_eq!(first.reason(), Reason::Unspecified);
    assert_eq!(
        (first.zone, first.color.as_str(), first.status),
        (3, "local", 1)
    );
    let sid = str_of(&info, "session").split_once('.').unwrap().0;
    assert_eq!(first.session_id, sid);
    assert_eq!(first.expires.to_string(), str_of(&info, "tokenTimeout"));
    let again = validate(&mut client, str_of(&info, "token")).await;
    assert_eq!((again.valid, again.reason()), (false, Reason::Replayed));

    // Many over one stream, answers matched by id.
    let (_, t1) = app.post("/accounts/v1/token", session_body(&info)).await;
    let next = json!({"accountId": info["accountId"], "session": t1["session"]});
    let (_, t2) = app.post("/accounts/v1/token", next).await;
    let requests = [
        (7, str_of(&t1, "token")),
        (8, str_of(&info, "token")),
        (9, str_of(&t2, "token")),
    ];
    let outbound = futures_util::stream::iter(requests.map(|(id, token)| ValidateRequest {
        id,
        token: token.to_owned(),
    }));
    let mut answers = client.validate_stream(outbound).await.unwrap().into_inner();
    let mut got = std::collections::HashMap::new();
    while let Some(answer) = answers.message().await.unwrap() {
        got.insert(answer.id, answer.reason());
    }
    assert_eq!(got.len(), 3);
    assert_eq!(
        (got[&7], got[&8], got[&9]),
        (Reason::Unspecified, Reason::Replayed, Reason::Unspecified)
    );
    app.stop().await;
}

async fn refused_tokens_change_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let info = device_login(&app, "gate-device-2").await;
    let token = str_of(&info, "token").to_owned();
    let mut client = validator(app.running().grpc_internal).await;
    let raw = URL_SAFE.decode(&token).unwrap();
    let mut flipped = raw.clone();
    flipped[20] ^= 0x40;
    let padded_wrong = match token.strip_suffix('=') {
        Some(stripped) => stripped.to_owned(),
        None => format!("{token}="),
    };
    // A token sealed with another key, and one minted for another zone with the right key.
    let other = lares::domain::token::TokenSealer::new(&[[9u8; 32]]).unwrap();
    let claims = lares::domain::token::gate_token(1, "local", 3, i64::MAX / 1000);
    let ours = lares::domain::token::TokenSealer::new(&[common::TOKEN_KEY]).unwrap();
    let other_zone = lares::domain::token::gate_token(1, "local", 4, i64::MAX / 1000);
    let mut wrong_type = claims.clone();
    wrong_type.status = 3;
    let cases = [
        (
            "truncated",
            token[..token.len() / 2].to_owned(),
            Reason::Malformed,
        ),
        ("padded wrong", padded_wrong, Reason::Malformed),
        (
            "re-encoded",
            STANDARD.encode(&raw),
            if STANDARD.encode(&raw) == token {
                Reason::Replayed
            } else {
                Reason::Malformed
            },
        ),
        ("bit-flipped", URL_SAFE.encode(&flipped), Reason::BadKey),
        ("wrong key", other.seal(&claims), Reason::BadKey),
        ("wrong type", ours.seal(&wrong_type), Reason::Malformed),
        ("other zone", ours.seal(&other_zone), Reason::WrongZone),
        (
            "session credential",
            str_of(&info, "session").to_owned(),
            Reason::Malformed,
        ),
        (
            "access token",
            str_of(&info, "accessToken").to_owned(),
            Reason::Malformed,
        ),
        ("garbage", "!!!!".to_owned(), Reason::Malformed),
        ("empty", String::new(), Reason::Malformed),
        ("oversize", "A".repeat(5000), Reason::Malformed),
    ];
    for (case, text, reason) in cases {
        if reason == Reason::Replayed {
            continue;
        }
        let answer = validate(&mut client, &text).await;
        assert_eq!((answer.valid, answer.reason()), (false, reason), "{case}");
    }
    let answer = validate(&mut client, &token).await;
    assert!(answer.valid, "the genuine token was left alone: {answer:?}");

    // An oversize frame on a stream ends it with INVALID_ARGUMENT.
    let huge = ValidateRequest {
        id: 1,
        token: "A".repeat(100_000),
    };
    let stream = client
        .validate_stream(futures_util::stream::iter([huge]))
        .await;
    let status = match stream {
        Ok(response) => response.into_inner().message().await.unwrap_err(),
        Err(status) => status,
    };
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    app.stop().await;
}

async fn revoked_sessions_and_expired_tokens_are_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut client = validator(app.running().grpc_internal).await;
    let ended = device_login(&app, "gate-device-3").await;
    let (status, _) = app.post("/accounts/v1/logout", session_body(&ended)).await;
    assert_eq!(status, 200);
    let answer = validate(&mut client, str_of(&ended, "token")).await;
    assert_eq!(answer.reason(), Reason::SessionRevoked);

    let late = device_login(&app, "gate-device-4").await;
    app.clock.advance_ms(601_000);
    let answer = validate(&mut client, str_of(&late, "token")).await;
    assert_eq!(answer.reason(), Reason::Expired);
    app.stop().await;
}

/// Reads revocations until `want` of them arrived or a second passed.
async fn collect(
    stream: &mut tonic::Streaming<lares::proto::validator::Revocation>,
    want: usize,
) -> Vec<lares::proto::validator::Revocation> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while got.len() < want {
        match tokio::time::timeout_at(deadline, stream.message()).await {
            Ok(Ok(Some(event))) => got.push(event),
            _ => break,
        }
    }
    got
}

async fn kick_older_revokes_and_tells_subscribers(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.session.single_session = SingleSession::KickOlder
    })
    .await;
    // With Redis, a second node shares the revocation stream; otherwise the same node.
    let second = app.another_node_if_shared(backend).await;
    let watch_addr = second
        .as_ref()
        .map_or(app.running().grpc_internal, |s| s.grpc_internal);
    let mut watcher = validator(watch_addr).await;
    let mut events = watcher
        .watch_revocations(WatchRevocationsRequest::default())
        .await
        .unwrap()
        .into_inner();

    let first = device_login(&app, "kick-device").await;
    let second_login = device_login(&app, "kick-device").await;
    let mut client = validator(app.running().grpc_internal).await;
    assert_eq!(
        validate(&mut client, str_of(&first, "token"))
            .await
            .reason(),
        Reason::SessionRevoked
    );
    assert!(
        validate(&mut client, str_of(&second_login, "token"))
            .await
            .valid
    );
    let (status, _) = app.post("/accounts/v1/refresh", session_body(&first)).await;
    assert_eq!(status, 401, "the kicked session is over");

    let got = collect(&mut events, 1).await;
    let sid = str_of(&first, "session").split_once('.').unwrap().0;
    assert_eq!(
        got.len(),
        1,
        "the revocation reached the subscriber within a second"
    );
    assert_eq!(
        (got[0].session_id.as_str(), got[0].reason.as_str()),
        (sid, "single_session")
    );
    assert!(got[0].account_id > 0 && !got[0].sequence.is_empty());
    if let Some(second) = second {
        second.shutdown().await;
    }
    app.stop().await;
}

async fn deny_newer_refuses_a_second_sign_in(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.session.single_session = SingleSession::DenyNewer
    })
    .await;
    let first = device_login(&app, "deny-device").await;
    let (status, body) = app
        .post(
            "/accounts/v1/device/login",
            json!({"deviceId": "deny-device"}),
        )
        .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("STATUS_ILLEGAL")),
        "{body}"
    );
    let (status, _) = app.post("/accounts/v1/refresh", session_body(&first)).await;
    assert_eq!(status, 200, "the first session goes on");
    let (status, refreshed) = app.post("/accounts/v1/refresh", session_body(&first)).await;
    assert_eq!(status, 401, "{refreshed}");
    app.stop().await;
}

async fn subscribers_resume_without_gaps(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut watcher = validator(app.running().grpc_internal).await;
    let mut live = watcher
        .watch_revocations(WatchRevocationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut sessions = Vec::new();
    for i in 0..4 {
        sessions.push(device_login(&app, &format!("resume-device-{i}")).await);
    }
    for info in &sessions {
        let (status, _) = app.post("/accounts/v1/logout", session_body(info)).await;
        assert_eq!(status, 200);
    }
    let seen = collect(&mut live, 4).await;
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|e| e.reason == "logout"));
    let resumed = watcher
        .watch_revocations(WatchRevocationsRequest {
            after: seen[1].sequence.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut resumed = resumed;
    let rest = collect(&mut resumed, 2).await;
    let sequences: Vec<&str> = rest.iter().map(|e| e.sequence.as_str()).collect();
    assert_eq!(
        sequences,
        [seen[2].sequence.as_str(), seen[3].sequence.as_str()]
    );

    let bad = watcher
        .watch_revocations(WatchRevocationsRequest {
            after: "not-a-sequence".into(),
        })
        .await;
    assert_eq!(bad.unwrap_err().code(), tonic::Code::InvalidArgument);
    let old = watcher
        .watch_revocations(WatchRevocationsRequest {
            after: "1-1".into(),
        })
        .await;
    assert_eq!(old.unwrap_err().code(), tonic::Code::OutOfRange);
    app.stop().await;
}

async fn access_tokens_verify_against_the_jwks(backend: Backend) {
    let app = TestApp::start(backend).await;
    let info = device_login(&app, "access-device").await;
    let jwks = app.get(app.internal_url("/.well-known/jwks.json")).await;
    assert!(
        jwks.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("jwk-set")
    );
    let jwks: Value = jwks.json().await.unwrap();
    let jwk = josekit::jwk::Jwk::from_bytes(serde_json::to_vec(&jwks["keys"][0]).unwrap()).unwrap();
    let verifier = josekit::jws::ES256.verifier_from_jwk(&jwk).unwrap();
    let (payload, header) =
        josekit::jwt::decode_with_verifier(str_of(&info, "accessToken"), &verifier).unwrap();
    assert_eq!(header.token_type(), Some("at+jwt"));
    assert_eq!(payload.subject(), Some(str_of(&info, "accountId")));
    let sid = str_of(&info, "session").split_once('.').unwrap().0;
    assert_eq!(payload.claim("sid").and_then(|v| v.as_str()), Some(sid));
    assert_eq!(payload.issuer(), Some("lares"));
    assert!(
        payload.jwt_id().is_some()
            && payload.expires_at().is_some()
            && payload.issued_at().is_some()
    );
    let (status, refreshed) = app.post("/accounts/v1/refresh", session_body(&info)).await;
    assert_eq!(status, 200);
    assert!(
        josekit::jwt::decode_with_verifier(str_of(&refreshed, "accessToken"), &verifier).is_ok()
    );
    assert!(
        josekit::jwt::decode_with_verifier(str_of(&info, "token"), &verifier).is_err(),
        "a handshake token is no access token"
    );
    app.stop().await;
}

/// Many tokens presented at once, each twice, are taken together in shared Redis calls: every
/// token is accepted exactly once and names its own session.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_taken_together_are_each_accepted_once() {
    let app = TestApp::start(Backend::Redis).await;
    let client = validator(app.running().grpc_internal).await;
    let mut issued = Vec::new();
    for i in 0..40 {
        let info = device_login(&app, &format!("batch-gate-device-{i}")).await;
        let session = str_of(&info, "session")
            .split_once('.')
            .unwrap()
            .0
            .to_owned();
        issued.push((session, str_of(&info, "token").to_owned()));
    }
    let calls = issued.iter().chain(issued.iter()).map(|(_, token)| {
        let mut client = client.clone();
        let token = token.clone();
        async move { (token.clone(), validate(&mut client, &token).await) }
    });
    let answers = futures_util::future::join_all(calls).await;
    for (session, token) in &issued {
        let mine: Vec<_> = answers.iter().filter(|(t, _)| t == token).collect();
        assert_eq!(mine.len(), 2);
        let valid: Vec<_> = mine.iter().filter(|(_, a)| a.valid).collect();
        assert_eq!(valid.len(), 1, "{mine:?}");
        assert_eq!(&valid[0].1.session_id, session);
        assert!(mine.iter().any(|(_, a)| a.reason() == Reason::Replayed));
    }
    app.stop().await;
}

/// Two nodes on one PostgreSQL and Redis: one token presented to both at the same moment is
/// accepted exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_presentations_on_two_nodes_accept_once() {
    let app = TestApp::start(Backend::Redis).await;
    let second = app.another_node().await;
    let mut clients = [
        validator(app.running().grpc_internal).await,
        validator(second.grpc_internal).await,
    ];
    let info = device_login(&app, "twin-gate-device").await;
    let mut body = session_body(&info);
    for round in 0..15 {
        let (_, fresh) = app.post("/accounts/v1/token", body.clone()).await;
        body = json!({"accountId": info["accountId"], "session": fresh["session"]});
        let token = str_of(&fresh, "token").to_owned();
        let calls = (0..6).map(|i| {
            let mut client = clients[i % 2].clone();
            let token = token.clone();
            async move { validate(&mut client, &token).await }
        });
        let answers = futures_util::future::join_all(calls).await;
        let valid = answers.iter().filter(|a| a.valid).count();
        assert_eq!(valid, 1, "round {round}: {answers:?}");
        assert!(
            answers
                .iter()
                .all(|a| a.valid || a.reason() == Reason::Replayed)
        );
    }
    let _ = &mut clients;
    second.shutdown().await;
    app.stop().await;
}

/// A token accepted before Redis restarts empty is not accepted again after, on either node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_restart_does_not_reopen_tokens() {
    let mut redis = OwnRedis::start();
    let url = redis.url();
    let app = TestApp::start_with(Backend::Redis, |c| {
        c.cache.url = url;
        c.cache.retry_after_ms = 100;
    })
    .await;
    let second = app.another_node().await;
    let mut nodes = [
        validator(app.running().grpc_internal).await,
        validator(second.grpc_internal).await,
    ];
    let used = device_login(&app, "restart-device-1").await;
    let unused = device_login(&app, "restart-device-2").await;
    assert!(validate(&mut nodes[1], str_of(&used, "token")).await.valid);
    redis.stop();
    redis.restart();
    for node in &mut nodes {
        let mut replay = Reason::Unspecified;
        for _ in 0..50 {
            replay = validate(node, str_of(&used, "token")).await.reason();
            if replay == Reason::Replayed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(replay, Reason::Replayed, "never accepted twice");
        // Registrations lost with Redis fail closed.
        assert_eq!(
            validate(node, str_of(&unused, "token")).await.reason(),
            Reason::Replayed
        );
    }
    // Once both nodes use Redis again, new tokens validate on either.
    for internal in [app.running().http_internal, second.http_internal] {
        let mut back = false;
        for _ in 0..100 {
            let text = app
                .http
                .get(format!("http://{internal}/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if text.lines().any(|l| l == "lares_cache_degraded 0") {
                back = true;
                break;
            }
            // A request lets the node notice that Redis is back.
            validate(&mut nodes[0], "probe").await;
            validate(&mut nodes[1], "probe").await;
            device_login(&app, "restart-probe-device").await;
            let url = format!("http://{}/accounts/v1/device/login", second.http_external);
            app.http
                .post(url)
                .json(&json!({"deviceId": "restart-probe-device"}))
                .send()
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(back, "node {internal} uses Redis again");
    }
    let fresh = device_login(&app, "restart-device-3").await;
    let answer = validate(&mut nodes[1], str_of(&fresh, "token")).await;
    assert!(answer.valid, "new tokens work: {answer:?}");
    assert_eq!(
        validate(&mut nodes[0], str_of(&fresh, "token"))
            .await
            .reason(),
        Reason::Replayed
    );
    second.shutdown().await;
    app.stop().await;
}

/// The release rules pick the documented colours; a token keeps the colour it was issued with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_rules_pick_colours() {
    let rules = GrayRules {
        allow: vec![AllowRule {
            color: "qa".into(),
            accounts: vec![1],
        }],
        version: vec![VersionRule {
            color: "next".into(),
            min: "2.0".into(),
            max: "2.99".into(),
        }],
        requestable: vec!["canary".into()],
        ..GrayRules::default()
    };
    // Redis keeps the issued tokens' nonces across the restart below.
    let mut app = TestApp::start_with(Backend::Redis, |c| c.gray = rules.clone()).await;
    let mut client = validator(app.running().grpc_internal).await;
    let pinned = device_login(&app, "color-device-1").await; // account 1
    assert_eq!(str_of(&pinned, "color"), "qa");
    let (_, versioned) = app
        .post(
            "/accounts/v1/device/login",
            json!({"deviceId": "color-device-2", "clientVersion": "2.4.1", "color": "canary"}),
        )
        .await;
    assert_eq!(str_of(&versioned, "color"), "next");
    let (_, requested) = app
        .post(
            "/accounts/v1/device/login",
            json!({"deviceId": "color-device-3", "clientVersion": "1.0", "color": "canary"}),
        )
        .await;
    assert_eq!(str_of(&requested, "color"), "canary");
    let (_, refused) = app
        .post(
            "/accounts/v1/device/login",
            json!({"deviceId": "color-device-4", "color": "gold"}),
        )
        .await;
    assert_eq!(str_of(&refused, "color"), "local");
    let mut ask = session_body(&requested);
    ask["color"] = json!("canary");
    ask["clientVersion"] = json!("2.0");
    let (_, token) = app.post("/accounts/v1/token", ask).await;
    assert_eq!(
        str_of(&token, "color"),
        "next",
        "Token applies the rules too"
    );
    assert_eq!(
        validate(&mut client, str_of(&requested, "token"))
            .await
            .color,
        "canary"
    );

    // New rules change new tokens only.
    let kept = device_login(&app, "color-device-5").await;
    app.running.take().unwrap().shutdown().await;
    let mut config: Config = app.config.clone();
    config.gray = GrayRules::default();
    app.running = Some(
        lares::app::start(&config, Arc::new(app.clock.clone()))
            .await
            .unwrap(),
    );
    let mut client = validator(app.running().grpc_internal).await;
    let again = device_login(&app, "color-device-1").await;
    assert_eq!(str_of(&again, "color"), "local", "the allow-list is gone");
    assert_eq!(
        validate(&mut client, str_of(&pinned, "token")).await.color,
        "qa",
        "issued tokens keep theirs"
    );
    assert!(validate(&mut client, str_of(&kept, "token")).await.valid);
    app.stop().await;
}

/// Rotating the token key: a node with the ring [new, old] accepts tokens sealed with the old
/// key and seals with the new one; the JWE form is accepted alongside.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_keys_rotate_without_a_flag_day() {
    let app = TestApp::start(Backend::Redis).await;
    let before = device_login(&app, "rotate-device-1").await;
    let new_key = [5u8; 32];
    let mut rotated = app.config.clone();
    rotated.secrets.token_key = STANDARD.encode(new_key);
    rotated.secrets.token_keys_previous = vec![STANDARD.encode(common::TOKEN_KEY)];
    rotated.token.format = TokenFormat::Jwe;
    let second = lares::app::start(&rotated, Arc::new(app.clock.clone()))
        .await
        .unwrap();
    let mut old_node = validator(app.running().grpc_internal).await;
    let mut new_node = validator(second.grpc_internal).await;
    assert!(
        validate(&mut new_node, str_of(&before, "token"))
            .await
            .valid,
        "old-key tokens validate during rotation"
    );

    let url = format!("http://{}/accounts/v1/device/login", second.http_external);
    let after: Value = app
        .http
        .post(url)
        .json(&json!({"deviceId": "rotate-device-2"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        str_of(&after, "token").split('.').count(),
        5,
        "sealed as a JWE"
    );
    let opened = lares::domain::token::TokenSealer::new(&[new_key])
        .unwrap()
        .open(str_of(&after, "token"));
    assert!(opened.is_ok(), "sealed with the new key");
    assert_eq!(
        validate(&mut old_node, str_of(&after, "token"))
            .await
            .reason(),
        Reason::BadKey,
        "a node without the new key refuses it"
    );
    assert!(validate(&mut new_node, str_of(&after, "token")).await.valid);
    second.shutdown().await;
    app.stop().await;
}

/// A subscriber that stops reading is dropped with RESOURCE_EXHAUSTED and holds no more than
/// its bounded buffers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_is_dropped() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.revocations.subscriber_buffer = 16;
        c.revocations.slow_subscriber_ms = 300;
    })
    .await;
    let mut watcher = validator(app.running().grpc_internal).await;
    let mut stream = watcher
        .watch_revocations(WatchRevocationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let hub = app.running().revocations();
    let events: Vec<Revoked> = (0..2_000)
        .map(|i| Revoked {
            account: AccountId(i),
            session: SessionId::random(),
            reason: RevokeReason::Ban,
            at_ms: i,
        })
        .collect();
    for chunk in events.chunks(100) {
        for _ in 0..5 {
            hub.publish(chunk.to_vec()).await;
        }
    }
    let metrics = || async {
        let text = app.metrics().await;
        text.lines()
            .find(|l| l.starts_with("lares_revocation_subscribers_dropped_total"))
            .map(str::to_owned)
    };
    let mut dropped = None;
    for _ in 0..50 {
        dropped = metrics().await;
        if dropped.as_deref().is_some_and(|l| !l.ends_with(" 0")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        dropped.as_deref().is_some_and(|l| l.ends_with(" 1")),
        "{dropped:?}"
    );
    let mut received = 0;
    let status = loop {
        match stream.message().await {
            Ok(Some(_)) => received += 1,
            Ok(None) => panic!("the stream ended without a status after {received} events"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("resume with after"),
        "{}",
        status.message()
    );
    assert!(received < 10_000);
    app.stop().await;
}
