//! The admin API on both internal edges: keys and roles, every account call, the audit trail,
//! bans reaching sign-in, sessions and revocation subscribers; account lookups for game
//! servers; and QA seeding.

mod common;

use std::time::Duration;

use common::{Backend, OPERATOR_KEY, PASSWORD, TestApp, VIEWER_KEY, session_body};
use lares::domain::clock::Clock;
use lares::proto::account::account_service_client::AccountServiceClient;
use lares::proto::account::{GetAccountRequest as LookupOne, GetAccountsRequest};
use lares::proto::account_admin as pb;
use lares::proto::account_admin::account_admin_client::AccountAdminClient;
use lares::proto::validator::WatchRevocationsRequest;
use lares::proto::validator::token_validator_client::TokenValidatorClient;
use reqwest::Method;
use serde_json::{Value, json};
use tonic::transport::Channel;

mod each_store {
    use super::*;
    for_each_store!(a_ban_ends_sessions_and_sign_in);
}
for_each_db!(
    admin_rest_calls_and_the_audit_trail,
    admin_grpc_calls_and_account_lookups,
    seeding_qa_accounts,
);

fn op<T>(message: T) -> tonic::Request<T> {
    authed(message, OPERATOR_KEY)
}

fn authed<T>(message: T, key: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    let value = format!("Bearer {key}").parse().unwrap();
    req.metadata_mut().insert("authorization", value);
    req
}

async fn admin_client(app: &TestApp) -> AccountAdminClient<Channel> {
    AccountAdminClient::new(app.internal_channel().await)
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

async fn audit_actions(app: &TestApp, target: &str) -> Vec<(String, String)> {
    let path = format!("/admin/audit?target={target}&pageSize=500");
    let (status, body) = app.admin(Method::GET, &path, Some(VIEWER_KEY), None).await;
    assert_eq!(status, 200, "{body}");
    body["records"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                str_of(r, "actor").to_owned(),
                str_of(r, "action").to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_roles_are_checked_on_both_edges() {
    let app = TestApp::start(Backend::Sqlite).await;
    let user = app.register("keyed_user").await;
    let id = str_of(&user, "accountId").to_owned();
    let ban = json!({ "reason": "cheating" });
    let path = format!("/admin/accounts/{id}/ban");

    // REST: no key, a wrong key, a malformed header, then a viewer on an operator call.
    let (status, body) = app
        .admin(Method::POST, &path, None, Some(ban.clone()))
        .await;
    assert_eq!((status, str_of(&body, "reason")), (401, "UNAUTHENTICATED"));
    let (status, body) = app
        .admin(Method::POST, &path, Some("lra_wrong"), Some(ban.clone()))
        .await;
    assert_eq!((status, str_of(&body, "reason")), (401, "UNAUTHENTICATED"));
    assert!(
        !body.to_string().contains("lra_wrong"),
        "the key is not echoed"
    );
    let res = app
        .http
        .post(app.internal_url(&path))
        .header("authorization", format!("Basic {OPERATOR_KEY}"))
        .json(&ban)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let (status, body) = app
        .admin(Method::POST, &path, Some(VIEWER_KEY), Some(ban.clone()))
        .await;
    assert_eq!(
        (status, str_of(&body, "reason")),
        (403, "PERMISSION_DENIED")
    );
    // Authentication comes before the body is read.
    let (status, _) = app
        .admin(Method::POST, &path, None, Some(json!("not an object")))
        .await;
    assert_eq!(status, 401);
    // The viewer may read.
    let (status, body) = app
        .admin(
            Method::GET,
            &format!("/admin/accounts/{id}"),
            Some(VIEWER_KEY),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["account"]["status"], "active", "nothing was banned");

    // gRPC: the same answers.
    let mut client = admin_client(&app).await;
    let request = || pb::BanAccountRequest {
        account_id: id.clone(),
        reason: "cheating".into(),
        until: 0,
    };
    let err = client.ban_account(request()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let err = client
        .ban_account(authed(request(), "lra_wrong"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let err = client
        .ban_account(authed(request(), VIEWER_KEY))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let listed = client
        .list_accounts(authed(pb::ListAccountsRequest::default(), VIEWER_KEY))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.accounts.len(), 1);
    assert_eq!(listed.accounts[0].status, "active");

    assert!(
        audit_actions(&app, &format!("account:{id}"))
            .await
            .is_empty()
    );
    let metrics = app.metrics().await;
    let denied = metrics
        .lines()
        .find(|l| l.contains("admin_denied"))
        .expect("denials are counted");
    let count: f64 = denied.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 7.0, "{denied}");
    // The external edge has no admin routes at all.
    let res = app
        .http
        .get(app.url("/admin/accounts"))
        .bearer_auth(OPERATOR_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    app.stop().await;
}

async fn a_ban_ends_sessions_and_sign_in(backend: Backend) {
    let app = TestApp::start(backend).await;
    // With Redis, a second node watches the revocation stream; otherwise the same node.
    let second = app.another_node_if_shared(backend).await;
    let watch_addr = second
        .as_ref()
        .map_or(app.running().grpc_internal, |s| s.grpc_internal);
    let mut watcher = TokenValidatorClient::connect(format!("http://{watch_addr}"))
        .await
        .unwrap();
    let mut events = watcher
        .watch_revocations(WatchRevocationsRequest::default())
        .await
        .unwrap()
        .into_inner();

    let user = app.register("banned_user").await;
    let (status, device) = app
        .post(
            "/accounts/v1/device/login",
            json!({ "deviceId": "ban-device-1" }),
        )
        .await;
    assert_eq!(status, 200);
    let id = str_of(&user, "accountId").to_owned();
    let path = format!("/admin/accounts/{id}/ban");

    // A ban that ended in the past, or without a reason, changes nothing.
    let past = app.clock.now_ms() - 1000;
    let (status, body) = app
        .admin(
            Method::POST,
            &path,
            Some(OPERATOR_KEY),
            Some(json!({ "reason": "x", "until": past })),
        )
        .await;
    assert_eq!((status, str_of(&body, "reason")), (400, "PARAM_INVALID"));
    let (status, _) = app
        .admin(
            Method::POST,
            &path,
            Some(OPERATOR_KEY),
            Some(json!({ "reason": " " })),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .admin(
            Method::POST,
            "/admin/accounts/AAAAAAAAAAAA/ban",
            Some(OPERATOR_KEY),
            Some(json!({ "reason": "x" })),
        )
        .await;
    assert!(status == 404 || status == 400, "{status}");
    let user = app.post("/accounts/v1/refresh", session_body(&user)).await;
    assert_eq!(user.0, 200, "the session is still live");
    let user_session = json!({ "accountId": id, "session": user.1["session"] });
    let (status, issued) = app.post("/accounts/v1/token", user_session.clone()).await;
    assert_eq!(status, 200, "{issued}");
    let user_session = json!({ "accountId": id, "session": issued["session"] });
    let live = || async {
        let view_path = format!("/admin/accounts/{id}");
        let (status, view) = app
            .admin(Method::GET, &view_path, Some(VIEWER_KEY), None)
            .await;
        assert_eq!(status, 200, "{view}");
        view["sessions"].as_array().unwrap().len()
    };
    assert_eq!(live().await, 1, "the live session, read from the cache");

    let until = app.clock.now_ms() + 3_600_000;
    let (status, body) = app
        .admin(
            Method::POST,
            &path,
            Some(OPERATOR_KEY),
            Some(json!({ "reason": "cheating", "until": until })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "banned");
    assert_eq!(body["banReason"], "cheating");
    assert_eq!(
        body["bannedUntil"]
            .as_str()
            .map(|s| s.parse::<i64>().unwrap()),
        Some(until)
    );

    // The session is over, the gateways heard of it, and sign-in is refused.
    let (status, _) = app.post("/accounts/v1/refresh", user_session).await;
    assert_eq!(status, 401);
    assert_eq!(live().await, 0, "no live session is listed");
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while got.is_empty() {
        match tokio::time::timeout_at(deadline, events.message()).await {
            Ok(Ok(Some(event))) => got.push(event),
            _ => break,
        }
    }
    assert_eq!(got.len(), 1, "the ban reached the revocation subscriber");
    assert_eq!(got[0].reason, "ban");
    // A handshake token issued before the ban no longer validates.
    let mut gate = TokenValidatorClient::connect(format!("http://{}", app.running().grpc_internal))
        .await
        .unwrap();
    let request = lares::proto::validator::ValidateRequest {
        id: 1,
        token: str_of(&issued, "token").to_owned(),
    };
    let answer = gate.validate(request).await.unwrap().into_inner();
    assert!(!answer.valid);
    let (status, body) = app
        .post(
            "/accounts/v1/username/login",
            json!({ "username": "banned_user", "password": PASSWORD }),
        )
        .await;
    assert_eq!((status, str_of(&body, "reason")), (403, "ACCOUNT_BANNED"));
    // Another account is untouched.
    let (status, _) = app
        .post("/accounts/v1/refresh", session_body(&device))
        .await;
    assert_eq!(status, 200);

    // Searching by status finds it; lifting the ban lets it sign in again.
    let (_, banned) = app
        .admin(
            Method::GET,
            "/admin/accounts?status=banned",
            Some(VIEWER_KEY),
            None,
        )
        .await;
    let ids: Vec<&str> = banned["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| str_of(a, "accountId"))
        .collect();
    assert_eq!(ids, vec![id.as_str()]);
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/admin/accounts/{id}/unban"),
            Some(OPERATOR_KEY),
            None,
        )
        .await;
    assert_eq!((status, str_of(&body, "status")), (200, "active"));
    let (status, _) = app
        .post(
            "/accounts/v1/username/login",
            json!({ "username": "banned_user", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        audit_actions(&app, &format!("account:{id}")).await,
        vec![
            ("bootstrap".to_owned(), "account.unban".to_owned()),
            ("bootstrap".to_owned(), "account.ban".to_owned()),
        ]
    );
    if let Some(second) = second {
        second.shutdown().await;
    }
    app.stop().await;
}

async fn admin_rest_calls_and_the_audit_trail(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.write_behind.interval_ms = 60_000).await;
    let alice = app.register("alice_qa").await;
    app.register("alpha_1").await;
    let (_, guest) = app
        .post(
            "/accounts/v1/device/login",
            json!({ "deviceId": "rest-device-9" }),
        )
        .await;
    let mut guests = Vec::new();
    for n in 0..4 {
        let (status, g) = app
            .post(
                "/accounts/v1/device/login",
                json!({ "deviceId": format!("rest-page-device-{n}") }),
            )
            .await;
        assert_eq!(status, 200);
        guests.push(str_of(&g, "accountId").to_owned());
    }
    app.settle().await;
    let alice_id = str_of(&alice, "accountId").to_owned();
    let key = Some(OPERATOR_KEY);

    // Search filters.
    let list = |query: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .admin(
                    Method::GET,
                    &format!("/admin/accounts?{query}"),
                    Some(VIEWER_KEY),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{query}: {body}");
            body
        }
    };
    let names = |body: &Value| -> Vec<String> {
        body["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["username"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(
        names(&list("usernamePrefix=AL").await),
        vec!["alice_qa", "alpha_1"]
    );
    assert_eq!(names(&list("usernamePrefix=alp").await), vec!["alpha_1"]);
    assert!(
        names(&list("usernamePrefix=al%25").await).is_empty(),
        "% is not a wildcard"
    );
    let by_device = list("deviceId=rest-device-9").await;
    assert_eq!(by_device["accounts"][0]["accountId"], guest["accountId"]);
    let by_identity = list("provider=device&subject=rest-device-9").await;
    assert_eq!(by_identity["accounts"][0]["accountId"], guest["accountId"]);
    let one = app
        .admin(
            Method::GET,
            &format!("/admin/accounts?accountId={alice_id}"),
            key,
            None,
        )
        .await
        .1;
    assert_eq!(names(&one), vec!["alice_qa"]);
    let created_later = format!("/admin/accounts?createdFrom={}", app.clock.now_ms() + 1);
    let (_, none) = app.admin(Method::GET, &created_later, key, None).await;
    assert!(none["accounts"].as_array().unwrap().is_empty());

    // Pagination visits every account once, in order.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let path = format!("/admin/accounts?pageSize=2&pageToken={token}");
        let (status, page) = app.admin(Method::GET, &path, key, None).await;
        assert_eq!(status, 200, "{page}");
        let accounts = page["accounts"].as_array().unwrap();
        assert!(accounts.len() <= 2);
        seen.extend(accounts.iter().map(|a| str_of(a, "id").to_owned()));
        token = page["nextPageToken"].as_str().unwrap_or("").to_owned();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 7);
    let mut sorted = seen.clone();
    sorted.sort_by_key(|id| id.parse::<i64>().unwrap());
    sorted.dedup();
    assert_eq!(sorted, seen);

    // Bad listings.
    for query in [
        "pageSize=501",
        "pageSize=-1",
        "pageToken=garbage",
        "status=asleep",
        "provider=device",
        "accountId=%%%",
        "createdFrom=yesterday",
    ] {
        let (status, body) = app
            .admin(Method::GET, &format!("/admin/accounts?{query}"), key, None)
            .await;
        assert_eq!(
            (status, str_of(&body, "reason")),
            (400, "PARAM_INVALID"),
            "{query}"
        );
    }

    // One account, with its identities and live sessions.
    let (status, view) = app
        .admin(
            Method::GET,
            &format!("/admin/accounts/{}", guest["accountId"].as_str().unwrap()),
            key,
            None,
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["identities"][0]["provider"], "device");
    assert_eq!(view["identities"][0]["subject"], "rest-device-9");
    assert_eq!(view["sessions"].as_array().unwrap().len(), 1);
    let sid = str_of(&guest, "session").split_once('.').unwrap().0;
    assert_eq!(view["sessions"][0]["sessionId"], sid);
    assert!(
        !view.to_string().contains(str_of(&guest, "session")),
        "no secrets"
    );

    // A session opened a moment ago is listed before it is written behind (the flush interval
    // is a minute here), and one just ended is not, whatever the store's copy says.
    let (status, again) = app
        .post(
            "/accounts/v1/device/login",
            json!({ "deviceId": "rest-device-9" }),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    let (status, _) = app.post("/accounts/v1/logout", session_body(&guest)).await;
    assert_eq!(status, 200);
    let view_path = format!("/admin/accounts/{}", str_of(&guest, "accountId"));
    let (_, view) = app.admin(Method::GET, &view_path, key, None).await;
    let listed: Vec<&str> = view["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap())
        .collect();
    let again_sid = str_of(&again, "session").split_once('.').unwrap().0;
    assert_eq!(listed, [again_sid], "{view}");

    // Ending one session, then all.
    let second = app
        .post(
            "/accounts/v1/username/login",
            json!({ "username": "alice_qa", "password": PASSWORD }),
        )
        .await
        .1;
    let alice_sid = str_of(&alice, "session")
        .split_once('.')
        .unwrap()
        .0
        .to_owned();
    let logout = format!("/admin/accounts/{alice_id}/logout");
    let (status, body) = app
        .admin(
            Method::POST,
            &logout,
            key,
            Some(json!({ "sessionId": alice_sid })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sessionIds"], json!([alice_sid]));
    assert_eq!(
        app.post("/accounts/v1/refresh", session_body(&alice))
            .await
            .0,
        401
    );
    assert_eq!(
        app.post("/accounts/v1/refresh", session_body(&second))
            .await
            .0,
        200
    );
    let (status, _) = app
        .admin(
            Method::POST,
            &logout,
            key,
            Some(json!({ "sessionId": "nosuchsession" })),
        )
        .await;
    assert!(status == 400 || status == 404, "{status}");
    let (status, body) = app.admin(Method::POST, &logout, key, Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sessionIds"].as_array().unwrap().len(), 1);

    // A new password, generated, works; the old one does not.
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/admin/accounts/{alice_id}/password"),
            key,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let generated = str_of(&body, "password").to_owned();
    assert!(generated.len() >= 16);
    let login = |password: String| {
        let app = &app;
        async move {
            app.post(
                "/accounts/v1/username/login",
                json!({ "username": "alice_qa", "password": password }),
            )
            .await
            .0
        }
    };
    assert_eq!(login(PASSWORD.to_owned()).await, 401);
    assert_eq!(login(generated.clone()).await, 200);
    let (status, _) = app
        .admin(
            Method::POST,
            &format!("/admin/accounts/{alice_id}/password"),
            key,
            Some(json!({ "password": "short" })),
        )
        .await;
    assert_eq!(status, 400);
    let guest_id = str_of(&guest, "accountId");
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/admin/accounts/{guest_id}/password"),
            key,
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, str_of(&body, "reason")),
        (403, "STATUS_ILLEGAL"),
        "guests have no username"
    );

    // The default colour reaches the next token.
    let color = format!("/admin/accounts/{alice_id}/color");
    let (status, body) = app
        .admin(Method::PUT, &color, key, Some(json!({ "color": "blue-2" })))
        .await;
    assert_eq!(
        (status, str_of(&body, "defaultColor")),
        (200, "blue-2"),
        "{body}"
    );
    let (status, _) = app
        .admin(
            Method::PUT,
            &color,
            key,
            Some(json!({ "color": "not a colour" })),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .admin(Method::POST, &color, key, Some(json!({ "color": "x" })))
        .await;
    assert_eq!(status, 405);
    let signed_in = app
        .post(
            "/accounts/v1/username/login",
            json!({ "username": "alice_qa", "password": generated }),
        )
        .await;
    assert_eq!(signed_in.0, 200);
    assert_eq!(signed_in.1["color"], "blue-2");
    let (_, blues) = app
        .admin(Method::GET, "/admin/accounts?color=blue-2", key, None)
        .await;
    assert_eq!(names(&blues), vec!["alice_qa"]);

    // Sign-in events, newest first, paged.
    app.settle().await;
    let events = format!("/admin/accounts/{alice_id}/login-events?pageSize=2");
    let (status, page) = app
        .admin(Method::GET, &events, Some(VIEWER_KEY), None)
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    assert_eq!(page["events"][0]["provider"], "username");
    assert!(!page["nextPageToken"].as_str().unwrap_or("").is_empty());

    // Unknown accounts.
    let unknown = lares::domain::ids::AccountIdCodec::new(
        &app.config.account.id_salt,
        app.config.account.id_min_length,
    )
    .unwrap()
    .encode(lares::domain::ids::AccountId(999_999));
    for (method, path, body) in [
        (Method::GET, format!("/admin/accounts/{unknown}"), None),
        (
            Method::POST,
            format!("/admin/accounts/{unknown}/ban"),
            Some(json!({ "reason": "x" })),
        ),
        (
            Method::POST,
            format!("/admin/accounts/{unknown}/unban"),
            None,
        ),
        (
            Method::PUT,
            format!("/admin/accounts/{unknown}/color"),
            Some(json!({ "color": "red" })),
        ),
        (
            Method::GET,
            format!("/admin/accounts/{unknown}/login-events"),
            None,
        ),
    ] {
        let (status, body) = app.admin(method, &path, key, body).await;
        assert_eq!(
            (status, str_of(&body, "reason")),
            (404, "NOT_FOUND"),
            "{path}"
        );
    }

    // The audit trail names who did what, newest first, and pages.
    let actions: Vec<String> = audit_actions(&app, &format!("account:{alice_id}"))
        .await
        .into_iter()
        .map(|(actor, action)| {
            assert_eq!(actor, "bootstrap");
            action
        })
        .collect();
    assert_eq!(
        actions,
        [
            "account.set_color",
            "account.reset_password",
            "account.logout",
            "account.logout",
        ]
    );
    let (_, page) = app
        .admin(
            Method::GET,
            "/admin/audit?pageSize=1&action=account.logout",
            key,
            None,
        )
        .await;
    let first = page["records"][0].clone();
    assert!(str_of(&first, "detail").contains("sessionId"));
    let next = str_of(&page, "nextPageToken");
    let (_, page) = app
        .admin(
            Method::GET,
            &format!("/admin/audit?pageSize=1&action=account.logout&pageToken={next}"),
            key,
            None,
        )
        .await;
    assert_ne!(page["records"][0]["id"], first["id"]);
    let (_, all) = app
        .admin(Method::GET, "/admin/audit?pageSize=100", key, None)
        .await;
    assert!(
        !all.to_string().contains(&generated),
        "no passwords in the audit log"
    );
    app.stop().await;
}

async fn admin_grpc_calls_and_account_lookups(backend: Backend) {
    let app = TestApp::start(backend).await;
    let bob = app.register("bob_grpc").await;
    let bob_id = str_of(&bob, "accountId").to_owned();
    let mut admin = admin_client(&app).await;

    let listed = admin
        .list_accounts(op(pb::ListAccountsRequest {
            username_prefix: "BOB".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.accounts.len(), 1);
    let number = listed.accounts[0].id;
    let view = admin
        .get_account(op(pb::GetAccountRequest {
            account_id: bob_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(view.account.unwrap().username, "bob_grpc");

    let err = admin
        .ban_account(op(pb::BanAccountRequest {
            account_id: bob_id.clone(),
            reason: "r".repeat(501),
            until: 0,
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let banned = admin
        .ban_account(op(pb::BanAccountRequest {
            account_id: bob_id.clone(),
            reason: "spam".into(),
            until: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((banned.status.as_str(), banned.banned_until), ("banned", 0));
    assert_eq!(
        app.post("/accounts/v1/refresh", session_body(&bob)).await.0,
        401
    );

    // Game servers look accounts up by number.
    let mut lookup = AccountServiceClient::new(app.internal_channel().await);
    let record = lookup
        .get_account(LookupOne { id: number })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (record.account_id.as_str(), record.status.as_str()),
        (bob_id.as_str(), "banned")
    );
    let err = lookup
        .get_account(LookupOne { id: 987_654 })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let many = lookup
        .get_accounts(GetAccountsRequest {
            ids: vec![number, 987_654],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(many.accounts.len(), 1);
    let err = lookup
        .get_accounts(GetAccountsRequest { ids: vec![1; 501] })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    let unbanned = admin
        .unban_account(op(pb::UnbanAccountRequest {
            account_id: bob_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unbanned.status, "active");
    let bob = app
        .post(
            "/accounts/v1/username/login",
            json!({ "username": "bob_grpc", "password": PASSWORD }),
        )
        .await
        .1;
    let colored = admin
        .set_default_color(op(pb::SetDefaultColorRequest {
            account_id: bob_id.clone(),
            color: "green".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(colored.default_color, "green");
    let (status, token) = app.post("/accounts/v1/token", session_body(&bob)).await;
    assert_eq!(
        (status, token["color"].as_str()),
        (200, Some("green")),
        "{token}"
    );
    let ended = admin
        .logout_sessions(op(pb::LogoutSessionsRequest {
            account_id: bob_id.clone(),
            session_id: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ended.session_ids.len(), 1);
    let reset = admin
        .reset_password(op(pb::ResetPasswordRequest {
            account_id: bob_id.clone(),
            password: "bob's new password".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(reset.password.is_empty(), "a given password is not echoed");
    app.settle().await;
    let events = admin
        .list_login_events(authed(
            pb::ListLoginEventsRequest {
                account_id: bob_id.clone(),
                ..Default::default()
            },
            VIEWER_KEY,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(events.events.len(), 2);
    let audit = admin
        .list_audit_log(authed(
            pb::ListAuditLogRequest {
                target: format!("account:{bob_id}"),
                ..Default::default()
            },
            VIEWER_KEY,
        ))
        .await
        .unwrap()
        .into_inner();
    let actions: Vec<&str> = audit.records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "account.reset_password",
            "account.logout",
            "account.set_color",
            "account.unban",
            "account.ban",
        ]
    );
    assert!(audit.records.iter().all(|r| r.actor == "bootstrap"));
    assert!(
        !audit
            .records
            .iter()
            .any(|r| r.detail.contains("new password"))
    );
    let err = admin
        .list_audit_log(authed(
            pb::ListAuditLogRequest {
                page_token: "bm90LWEtdG9rZW4".into(),
                ..Default::default()
            },
            VIEWER_KEY,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    app.stop().await;
}

async fn seeding_qa_accounts(backend: Backend) {
    use lares::app::seed::{SeedQa, seed_qa};
    let app = TestApp::start(backend).await;
    let seed = SeedQa {
        prefix: "qa".into(),
        count: 3,
        color: "qa".into(),
        password: Some("qa password 123".into()),
    };
    let done = seed_qa(&app.config, &seed, app.clock.now_ms())
        .await
        .unwrap();
    assert_eq!((done.created, done.updated), (3, 0));
    let again = seed_qa(&app.config, &seed, app.clock.now_ms())
        .await
        .unwrap();
    assert_eq!((again.created, again.updated), (0, 3));
    let (status, info) = app
        .post(
            "/accounts/v1/username/login",
            json!({ "username": "qa2", "password": "qa password 123" }),
        )
        .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["color"], "qa");
    let (_, listed) = app
        .admin(
            Method::GET,
            "/admin/accounts?color=qa",
            Some(VIEWER_KEY),
            None,
        )
        .await;
    assert_eq!(listed["accounts"].as_array().unwrap().len(), 3);
    let mut prod = app.config.clone();
    prod.label.profile = lares::config::Profile::Prod;
    assert!(seed_qa(&prod, &seed, 0).await.is_err());
    let bad = SeedQa {
        count: 0,
        ..seed.clone()
    };
    assert!(seed_qa(&app.config, &bad, 0).await.is_err());
    app.stop().await;
}
