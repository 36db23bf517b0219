//! The client API end to end: both edges, both stores, real servers on loopback.

mod common;

use common::{Backend, PASSWORD, TestApp, session_body};
use lares::domain::ids::AccountIdCodec;
use lares::domain::token::TokenSealer;
use lares::grpc::status::reason_of;
use lares::proto::account as pb;
use serde_json::json;

for_each_store!(
    http_flow_registers_signs_in_rotates_and_logs_out,
    grpc_flow_matches_http,
    usernames_are_unique_regardless_of_case,
    unknown_user_and_wrong_password_answer_alike,
    retired_credential_fails_and_late_reuse_revokes_the_family,
    logout_all_ends_every_session,
    idle_session_times_out,
    handshake_token_carries_the_account_and_zone,
    restart_keeps_accounts_and_sessions,
    concurrent_presentations_rotate_exactly_once,
);

async fn http_flow_registers_signs_in_rotates_and_logs_out(backend: Backend) {
    let app = TestApp::start(backend).await;
    let reg = app.register("alice").await;
    assert_eq!(reg["register"], true);
    assert!(
        reg["sessionTimeout"].is_string(),
        "int64 as a JSON string: {reg}"
    );
    assert!(reg["token"].as_str().unwrap().len() > 40);

    let (status, login) = app
        .post(
            "/accounts/v1/username/login",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["accountId"], reg["accountId"]);
    assert_eq!(login["register"], false);
    assert_ne!(login["session"], reg["session"]);

    let (status, token) = app.post("/accounts/v1/token", session_body(&login)).await;
    assert_eq!(status, 200, "{token}");
    assert_ne!(
        token["session"], login["session"],
        "Token rotates the session"
    );
    let rotated = json!({"accountId": login["accountId"], "session": token["session"]});
    let (status, refreshed) = app.post("/accounts/v1/refresh", rotated.clone()).await;
    assert_eq!(status, 200, "{refreshed}");

    let current = json!({"account_id": login["accountId"], "session": refreshed["session"]});
    let (status, _) = app.post("/accounts/v1/logout", current.clone()).await;
    assert_eq!(status, 200);
    let (status, body) = app.post("/accounts/v1/refresh", current).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("SESSION_ILLEGAL"))
    );
    let (status, _) = app.post("/accounts/v1/refresh", session_body(&reg)).await;
    assert_eq!(status, 200, "the other session lives on");
    app.stop().await;
}

async fn grpc_flow_matches_http(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut client = app.grpc().await;
    let reg = client
        .username_register(pb::UsernameRegisterRequest {
            username: "Grace".into(),
            password: PASSWORD.into(),
            color: String::new(),
            client_version: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(reg.register);
    let login = client
        .username_login(pb::UsernameLoginRequest {
            username: "grace".into(),
            password: PASSWORD.into(),
            color: String::new(),
            client_version: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(login.account_id, reg.account_id);
    let token = client
        .token(pb::TokenRequest {
            account_id: login.account_id.clone(),
            session: login.session.clone(),
            color: String::new(),
            client_version: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(token.color, "local");
    let refreshed = client
        .refresh(pb::RefreshRequest {
            account_id: login.account_id.clone(),
            session: token.session.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    client
        .logout(pb::LogoutRequest {
            account_id: login.account_id.clone(),
            session: refreshed.session.clone(),
            all: false,
        })
        .await
        .unwrap();
    let err = client
        .refresh(pb::RefreshRequest {
            account_id: login.account_id.clone(),
            session: refreshed.session,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert_eq!(reason_of(&err).as_deref(), Some("SESSION_ILLEGAL"));

    let (status, body) = app
        .post(
            "/accounts/v1/username/register",
            json!({"username": "GRACE", "password": PASSWORD}),
        )
        .await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("CONFLICT")));
    let err = client
        .username_register(pb::UsernameRegisterRequest {
            username: "grace".into(),
            password: PASSWORD.into(),
            color: String::new(),
            client_version: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason_of(&err).as_deref()),
        (tonic::Code::AlreadyExists, Some("CONFLICT"))
    );
    app.stop().await;
}

async fn usernames_are_unique_regardless_of_case(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.register("MixedCase").await;
    for taken in ["mixedcase", "MIXEDCASE", "MixedCase"] {
        let (status, body) = app
            .post(
                "/accounts/v1/username/register",
                json!({"username": taken, "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            (status, body["reason"].as_str()),
            (409, Some("CONFLICT")),
            "{taken}"
        );
    }
    assert_eq!(app.db.count("accounts").await, 1);
    app.stop().await;
}

async fn unknown_user_and_wrong_password_answer_alike(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.register("known").await;
    let (s1, wrong) = app
        .post(
            "/accounts/v1/username/login",
            json!({"username": "known", "password": "not the password"}),
        )
        .await;
    let (s2, unknown) = app
        .post(
            "/accounts/v1/username/login",
            json!({"username": "unknown", "password": "not the password"}),
        )
        .await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["reason"], "AUTH_FAILED");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"lares_security_events_total{event="login_failed"} 2"#),
        "{metrics}"
    );
    app.stop().await;
}

async fn retired_credential_fails_and_late_reuse_revokes_the_family(backend: Backend) {
    let app = TestApp::start(backend).await;
    let info = app.register("rotator").await;
    let first = session_body(&info);
    let (status, second) = app.post("/accounts/v1/refresh", first.clone()).await;
    assert_eq!(status, 200);
    let second = json!({"accountId": info["accountId"], "session": second["session"]});

    // Within the grace window the retired credential fails, and the family lives on.
    let (status, body) = app.post("/accounts/v1/refresh", first.clone()).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("SESSION_ILLEGAL"))
    );
    let (status, third) = app.post("/accounts/v1/refresh", second.clone()).await;
    assert_eq!(status, 200, "{third}");
    let third = json!({"accountId": info["accountId"], "session": third["session"]});

    // After the grace window, presenting a retired credential revokes the whole family.
    app.clock.advance_ms(11_000);
    let (status, _) = app.post("/accounts/v1/refresh", first).await;
    assert_eq!(status, 401);
    let (status, body) = app.post("/accounts/v1/refresh", third).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("SESSION_ILLEGAL")),
        "family revoked"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"lares_security_events_total{event="session_reuse"} 1"#),
        "{metrics}"
    );
    app.stop().await;
}

async fn logout_all_ends_every_session(backend: Backend) {
    let app = TestApp::start(backend).await;
    let a = app.register("many").await;
    let (_, b) = app
        .post(
            "/accounts/v1/username/login",
            json!({"username": "many", "password": PASSWORD}),
        )
        .await;
    let other = app.register("bystander").await;
    let mut all = session_body(&b);
    all["all"] = json!(true);
    let (status, _) = app.post("/accounts/v1/logout", all).await;
    assert_eq!(status, 200);
    for info in [&a, &b] {
        let (status, _) = app.post("/accounts/v1/refresh", session_body(info)).await;
        assert_eq!(status, 401);
    }
    let (status, _) = app.post("/accounts/v1/refresh", session_body(&other)).await;
    assert_eq!(status, 200, "another account is untouched");
    app.stop().await;
}

async fn idle_session_times_out(backend: Backend) {
    let app = TestApp::start(backend).await;
    let info = app.register("sleeper").await;
    app.clock.advance_ms(15 * 86_400 * 1000);
    let (status, body) = app.post("/accounts/v1/refresh", session_body(&info)).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("SESSION_TIMEOUT"))
    );
    app.stop().await;
}

async fn handshake_token_carries_the_account_and_zone(backend: Backend) {
    let app = TestApp::start(backend).await;
    let info = app.register("gamer").await;
    let sealer = TokenSealer::new(&[common::TOKEN_KEY]).unwrap();
    let token = sealer.open(info["token"].as_str().unwrap()).unwrap();
    let codec = AccountIdCodec::new(
        &app.config.account.id_salt,
        app.config.account.id_min_length,
    )
    .unwrap();
    let account = codec.decode(info["accountId"].as_str().unwrap()).unwrap();
    assert_eq!(token.account_id, account.0);
    assert_eq!(token.location, 3);
    assert_eq!(token.color, "local");
    assert_eq!(token.status, 1);
    assert_eq!(
        token.timeout.to_string(),
        info["tokenTimeout"].as_str().unwrap()
    );
    let (_, other) = app.post("/accounts/v1/token", session_body(&info)).await;
    let second = sealer.open(other["token"].as_str().unwrap()).unwrap();
    assert_ne!(second.rand, token.rand, "every token has its own nonce");
    app.stop().await;
}

async fn restart_keeps_accounts_and_sessions(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let info = app.register("durable").await;
    app.running.take().unwrap().shutdown().await;
    let clock = std::sync::Arc::new(app.clock.clone());
    app.running = Some(lares::app::start(&app.config, clock).await.unwrap());
    let (status, body) = app.post("/accounts/v1/refresh", session_body(&info)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app
        .post(
            "/accounts/v1/username/login",
            json!({"username": "durable", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200);
    app.stop().await;
}

/// Many simultaneous presentations of one credential: the account's actor takes them one at a
/// time, so exactly one rotates it; the others are refused and the family lives on.
async fn concurrent_presentations_rotate_exactly_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let info = app.register("racer").await;
    let mut body = session_body(&info);
    for round in 0..5 {
        let calls = (0..16).map(|i| {
            let path = if i % 2 == 0 {
                "/accounts/v1/refresh"
            } else {
                "/accounts/v1/token"
            };
            app.post(path, body.clone())
        });
        let answers = futures_util::future::join_all(calls).await;
        let winners: Vec<_> = answers
            .iter()
            .filter(|(status, _)| *status == 200)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {answers:?}");
        let refused = answers
            .iter()
            .filter(|(_, b)| b["reason"] == "SESSION_ILLEGAL")
            .count();
        assert_eq!(refused, 15, "round {round}");
        body = json!({"accountId": info["accountId"], "session": winners[0].1["session"]});
    }
    let (status, refreshed) = app.post("/accounts/v1/refresh", body).await;
    assert_eq!(
        status, 200,
        "the last winner's credential works: {refreshed}"
    );
    app.stop().await;
}

/// Two service instances sharing PostgreSQL and Redis see the same credential at the same
/// moment: the compare-and-set on the family's generation lets exactly one rotation through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_rotate_exactly_once() {
    let app = TestApp::start(Backend::Redis).await;
    let clock = std::sync::Arc::new(app.clock.clone());
    let second = lares::app::start(&app.config, clock).await.unwrap();
    let nodes = [app.url(""), format!("http://{}", second.http_external)];
    let info = app.register("twonode").await;
    let mut body = session_body(&info);
    for round in 0..10 {
        let calls = (0..8).map(|i| {
            let url = format!("{}/accounts/v1/refresh", nodes[i % 2]);
            let request = app.http.post(url).json(&body);
            async move {
                let response = request.send().await.unwrap();
                (
                    response.status().as_u16(),
                    response.json::<serde_json::Value>().await.unwrap(),
                )
            }
        });
        let answers = futures_util::future::join_all(calls).await;
        let winners: Vec<_> = answers
            .iter()
            .filter(|(status, _)| *status == 200)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {answers:?}");
        body = json!({"accountId": info["accountId"], "session": winners[0].1["session"]});
    }
    // Reuse after the grace window revokes the family on both nodes.
    app.clock.advance_ms(11_000);
    let (status, _) = app.post("/accounts/v1/refresh", session_body(&info)).await;
    assert_eq!(status, 401);
    for node in &nodes {
        let response = app
            .http
            .post(format!("{node}/accounts/v1/refresh"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "revoked on {node}");
    }
    second.shutdown().await;
    app.stop().await;
}
