//! Health, readiness, metrics, the hash pool's bulkhead and profile-gated routes.

mod common;

use common::{Backend, PASSWORD, TestApp};
use lares::config::Profile;
use lares::grpc::status::reason_of;
use lares::proto::account as pb;
use serde_json::json;

for_each_store!(
    health_metrics_and_grpc_health,
    saturated_hash_pool_answers_unavailable_with_retry_after
);

async fn health_metrics_and_grpc_health(backend: Backend) {
    let app = TestApp::start(backend).await;
    for path in ["/health/live", "/health/ready"] {
        let response = app.get(app.internal_url(path)).await;
        assert_eq!(response.status(), 200, "{path}");
    }
    app.register("metered").await;
    app.post(
        "/accounts/v1/username/login",
        json!({"username": "metered", "password": "wrong password"}),
    )
    .await;
    let mut client = app.grpc().await;
    client
        .dev_ping(pb::DevPingRequest {
            message: "hi".into(),
        })
        .await
        .unwrap();

    let response = app.get(app.internal_url("/metrics")).await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics")
    );
    let text = response.text().await.unwrap();
    for expected in [
        r#"lares_requests_total{edge="http",route="/accounts/v1/username/register",method="POST",outcome="200"} 1"#,
        r#"lares_requests_total{edge="http",route="/accounts/v1/username/login",method="POST",outcome="401"} 1"#,
        r#"lares_requests_total{edge="grpc",route="DevPing",method="POST",outcome="OK"} 1"#,
        r#"lares_request_duration_seconds_count{edge="http",route="/accounts/v1/username/register"} 1"#,
        r#"lares_logins_total{provider="username",outcome="ok"} 1"#,
        "lares_session_actors ",
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
    assert!(!text.contains("metered"), "no account names in labels");

    let channel =
        tonic::transport::Channel::from_shared(format!("http://{}", app.running().grpc_internal))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let answer = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        answer.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    app.stop().await;
}

/// One hashing thread, a queue of one, and slow hashes: a burst of logins must be refused at
/// once with 503 and `Retry-After` rather than pile up, on both edges.
async fn saturated_hash_pool_answers_unavailable_with_retry_after(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.password.memory_kib = 32 * 1024;
        c.password.iterations = 8;
        c.password.threads = 1;
        c.password.queue = 1;
    })
    .await;
    app.register("busy").await;
    let body = json!({"username": "busy", "password": PASSWORD});
    let burst = (0..12).map(|_| {
        let request = app
            .http
            .post(app.url("/accounts/v1/username/login"))
            .json(&body);
        async move { request.send().await.unwrap() }
    });
    let responses = futures_util::future::join_all(burst).await;
    let ok = responses.iter().filter(|r| r.status() == 200).count();
    let shed: Vec<_> = responses.iter().filter(|r| r.status() == 503).collect();
    assert!(ok >= 1, "some logins go through");
    assert!(!shed.is_empty(), "a full queue sheds load");
    assert_eq!(ok + shed.len(), 12, "every answer is 200 or 503");
    for response in &shed {
        assert_eq!(response.headers()["retry-after"], "1");
    }

    let mut client = app.grpc().await;
    let calls = (0..12).map(|_| {
        let mut client = client.clone();
        async move {
            let req = pb::UsernameLoginRequest {
                username: "busy".into(),
                password: PASSWORD.into(),
                color: String::new(),
                client_version: String::new(),
            };
            client.username_login(req).await
        }
    });
    let answers = futures_util::future::join_all(calls).await;
    let shed: Vec<_> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(!shed.is_empty(), "gRPC sheds too");
    for status in shed {
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(reason_of(status).as_deref(), Some("UNAVAILABLE"));
        assert_eq!(status.metadata().get("retry-after").unwrap(), "1");
    }
    client
        .dev_ping(pb::DevPingRequest::default())
        .await
        .expect("other calls are unaffected");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_store() {
    let app = TestApp::start(Backend::Postgres).await;
    let ready = app.get(app.internal_url("/health/ready")).await;
    assert_eq!(ready.status(), 200);
    app.db.drop_db().await;
    let ready = app.get(app.internal_url("/health/ready")).await;
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["reason"],
        "UNAVAILABLE"
    );
    let live = app.get(app.internal_url("/health/live")).await;
    assert_eq!(live.status(), 200, "liveness does not depend on the store");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_ping_answers_only_in_the_dev_profile() {
    let app = TestApp::start_with(Backend::Sqlite, |c| c.label.profile = Profile::Test).await;
    let response = app.get(app.url("/accounts/v1/dev/ping?message=hi")).await;
    assert_eq!(response.status(), 404);
    let err = app
        .grpc()
        .await
        .dev_ping(pb::DevPingRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    app.stop().await;

    let app = TestApp::start(Backend::Sqlite).await;
    let response = app
        .get(app.url("/accounts/v1/dev/ping?message=hi+there"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["message"],
        "hi there"
    );
    app.stop().await;
}

/// Reads one gauge or counter value from the metrics text.
async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.metrics().await;
    let line = text
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("{name} missing"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_session_actors_stop_and_come_back_on_demand() {
    let app = TestApp::start_with(Backend::Sqlite, |c| c.session.actor_idle_secs = 1).await;
    let info = app.register("idler").await;
    assert_eq!(metric(&app, "lares_session_actors ").await, 1.0);

    // The actor checks its idleness by the injected clock on a short real-time tick.
    app.clock.advance_ms(2_000);
    let mut stopped = false;
    for _ in 0..100 {
        if metric(&app, "lares_session_actors ").await == 0.0 {
            stopped = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(stopped, "the idle actor stopped");

    let (status, body) = app
        .post("/accounts/v1/refresh", common::session_body(&info))
        .await;
    assert_eq!(
        status, 200,
        "a new actor picks the session up from the store: {body}"
    );
    assert_eq!(metric(&app, "lares_session_actors ").await, 1.0);
    app.stop().await;
}
