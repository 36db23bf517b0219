//! Guest sign-in by device id, group-committed creation and the write-behind queue.

mod common;

use common::{Backend, TestApp, session_body};
use lares::proto::account as pb;
use serde_json::{Value, json};

for_each_store!(
    first_device_login_creates_and_later_ones_find,
    concurrent_logins_of_one_device_make_one_account,
    a_storm_of_new_devices_is_group_committed,
    sign_ins_are_written_behind,
    device_ids_are_validated,
);

async fn device_login(app: &TestApp, device: &str) -> (u16, Value) {
    app.post("/accounts/v1/device/login", json!({ "deviceId": device }))
        .await
}

async fn first_device_login_creates_and_later_ones_find(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, first) = device_login(&app, "device-0001").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["register"], true);
    let (status, again) = device_login(&app, "device-0001").await;
    assert_eq!(status, 200);
    assert_eq!(again["register"], false);
    assert_eq!(again["accountId"], first["accountId"]);
    assert_ne!(
        again["session"], first["session"],
        "every sign-in opens its own session"
    );

    let mut client = app.grpc().await;
    let over_grpc = client
        .device_login(pb::DeviceLoginRequest {
            device_id: "device-0001".into(),
            color: String::new(),
            client_version: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(over_grpc.account_id, first["accountId"].as_str().unwrap());
    assert!(!over_grpc.register);
    let (status, token) = app.post("/accounts/v1/token", session_body(&first)).await;
    assert_eq!(status, 200, "{token}");
    let (_, other) = device_login(&app, "device-0002").await;
    assert_ne!(other["accountId"], first["accountId"]);
    app.settle().await;
    assert_eq!(app.db.count("accounts").await, 2);
    assert_eq!(app.db.count("identities").await, 2);
    app.stop().await;
}

async fn concurrent_logins_of_one_device_make_one_account(backend: Backend) {
    let app = TestApp::start(backend).await;
    let logins = (0..24).map(|_| device_login(&app, "shared-device-1"));
    let answers = futures_util::future::join_all(logins).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{:?}",
        answers.iter().find(|a| a.0 != 200)
    );
    let first = &answers[0].1["accountId"];
    assert!(answers.iter().all(|(_, body)| &body["accountId"] == first));
    let created = answers
        .iter()
        .filter(|(_, body)| body["register"] == true)
        .count();
    assert_eq!(
        created, 1,
        "exactly one answer says the account was created"
    );
    assert_eq!(app.db.count("accounts").await, 1);
    assert_eq!(app.db.count("identities").await, 1);
    app.stop().await;
}

async fn a_storm_of_new_devices_is_group_committed(backend: Backend) {
    let app = TestApp::start(backend).await;
    let devices: Vec<String> = (0..300).map(|i| format!("storm-device-{i:05}")).collect();
    let logins = devices.iter().map(|d| device_login(&app, d));
    let answers = futures_util::future::join_all(logins).await;
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s != 200)
        .map(|(_, b)| b)
        .collect();
    assert!(
        refused.is_empty(),
        "{} refused, first: {:?}",
        refused.len(),
        refused.first()
    );
    assert!(answers.iter().all(|(_, b)| b["register"] == true));
    let ids: std::collections::HashSet<&str> = answers
        .iter()
        .map(|(_, b)| b["accountId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 300, "one account per device");
    assert_eq!(
        app.db.count("accounts").await,
        300,
        "every acknowledged account is stored"
    );

    let metrics = app.metrics().await;
    let value = |name: &str| -> f64 {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let (batches, rows) = (
        value("lares_create_batch_size_count"),
        value("lares_create_batch_size_sum"),
    );
    assert_eq!(rows, 300.0);
    assert!(
        batches < 300.0,
        "creations shared transactions: {batches} batches for 300 accounts"
    );
    app.stop().await;
}

async fn sign_ins_are_written_behind(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, info) = device_login(&app, "writer-device").await;
    device_login(&app, "writer-device").await;
    app.register("writer_user").await;
    app.settle().await;
    assert_eq!(
        app.db.count("login_events").await,
        3,
        "one event per sign-in"
    );
    assert_eq!(
        app.db.count("sessions").await,
        3,
        "every session has its durable copy"
    );
    let stamped = app
        .db
        .count("accounts WHERE last_login_at IS NOT NULL")
        .await;
    assert_eq!(stamped, 2, "both accounts carry their last sign-in");

    let (status, _) = app.post("/accounts/v1/refresh", session_body(&info)).await;
    assert_eq!(status, 200);
    let metrics = app.metrics().await;
    for name in [
        "lares_write_behind_depth ",
        "lares_write_behind_batch_size_count",
        "lares_write_behind_flush_seconds_count",
        "lares_write_behind_shed_total",
        "lares_write_behind_flush_errors_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from\n{metrics}");
    }
    app.stop().await;
}

async fn device_ids_are_validated(backend: Backend) {
    let app = TestApp::start(backend).await;
    for bad in [
        json!({}),
        json!({"deviceId": "short"}),
        json!({"deviceId": "x".repeat(129)}),
        json!({"deviceId": "has spaces in it"}),
        json!({"deviceId": 12345678}),
    ] {
        let (status, body) = app.post("/accounts/v1/device/login", bad.clone()).await;
        assert_eq!(
            (status, body["reason"].as_str()),
            (400, Some("PARAM_INVALID")),
            "{bad}"
        );
    }
    assert_eq!(app.db.count("accounts").await, 0);
    app.stop().await;
}
