//! Notices end to end, on SQLite and PostgreSQL: admin CRUD over internal REST and gRPC, keys
//! and roles, bad input leaving the store unchanged, the audit trail, and the client list over
//! external HTTP and gRPC (active only, order, at most ten, locale fallback, served from memory);
//! and a change on one node reaching another through Redis.

mod common;

use std::time::Duration;

use common::{Backend, OPERATOR_KEY, TestApp, TestDb, VIEWER_KEY};
use lares::domain::clock::Clock;
use lares::grpc::status::reason_of;
use lares::proto::notice as pb;
use lares::proto::notice::notice_interface_client::NoticeInterfaceClient;
use lares::proto::notice_admin as admin;
use lares::proto::notice_admin::notice_admin_client::NoticeAdminClient;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;
use tonic::Code;
use tonic::transport::Channel;

for_each_db!(
    rest_crud_with_the_operator_key,
    grpc_crud_with_the_operator_key,
    viewers_read_but_do_not_change,
    missing_and_unknown_keys_are_refused,
    unknown_ids_are_not_found,
    bad_input_is_refused_and_nothing_is_written,
    pages_walk_every_notice_once,
    clients_see_active_notices_in_order,
    clients_get_the_best_locale,
    changes_show_in_the_list_at_once,
    the_list_is_served_from_memory,
    other_nodes_changes_arrive_by_reload,
);

const HOUR: i64 = 3_600_000;
const WRONG_KEY: &str = "lra_not-a-key-of-this-service-00000";

fn fields(title: &str, sort: i32, start: i64, end: i64, locale: &str) -> Value {
    json!({
        "title": title,
        "content": format!("About {title}."),
        "sort": sort,
        "start": start,
        "end": end,
        "locale": locale,
    })
}

/// A notice active for the next hours, for every locale.
fn active(app: &TestApp, title: &str) -> Value {
    let now = app.clock.now_ms();
    fields(title, 0, now - 1_000, now + 3 * HOUR, "")
}

fn id_of(notice: &Value) -> i64 {
    notice["id"]
        .as_str()
        .expect("int64 as a JSON string")
        .parse()
        .unwrap()
}

fn ids(notices: &Value) -> Vec<i64> {
    notices
        .as_array()
        .map_or(Vec::new(), |a| a.iter().map(id_of).collect())
}

async fn create(app: &TestApp, body: Value) -> Value {
    let (status, created) = app
        .admin(
            Method::POST,
            "/admin/notices",
            Some(OPERATOR_KEY),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created
}

/// The ids a client is shown over HTTP.
async fn listed(app: &TestApp, locale: Option<&str>) -> Vec<i64> {
    let path = match locale {
        Some(locale) => format!("/notices/v1/list?locale={locale}"),
        None => "/notices/v1/list".to_owned(),
    };
    let response = app.get(app.url(&path)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    ids(&body["notices"])
}

/// The notices a client is shown over external gRPC.
async fn grpc_listed(app: &TestApp, locale: &str) -> Vec<pb::Notice> {
    let url = format!("http://{}", app.running().grpc_external);
    let mut client = NoticeInterfaceClient::connect(url).await.unwrap();
    let request = pb::NoticeListRequest {
        locale: locale.into(),
    };
    client
        .notice_list(request)
        .await
        .unwrap()
        .into_inner()
        .notices
}

async fn admin_grpc(app: &TestApp) -> NoticeAdminClient<Channel> {
    NoticeAdminClient::new(app.internal_channel().await)
}

/// `message` with `authorization: Bearer <key>` when a key is given.
fn authed<T>(message: T, key: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(key) = key {
        let value = format!("Bearer {key}").parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    request
}

fn assert_refused(err: &tonic::Status, code: Code, reason: &str) {
    assert_eq!(
        (err.code(), reason_of(err).as_deref()),
        (code, Some(reason)),
        "{err:?}"
    );
}

/// (actor, action, target) of every audit record, oldest first.
async fn audit_rows(db: &TestDb) -> Vec<(String, String, String)> {
    const SQL: &str = "SELECT actor, action, target FROM audit_log ORDER BY id";
    match db {
        TestDb::Sqlite { url, .. } => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_as(SQL).fetch_all(&mut conn).await.unwrap()
        }
        TestDb::Postgres { url, .. } => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_as(SQL).fetch_all(&mut conn).await.unwrap()
        }
    }
}

fn row(actor: &str, action: &str, target: String) -> (String, String, String) {
    (actor.into(), action.into(), target)
}

async fn rest_crud_with_the_operator_key(backend: Backend) {
    let app = TestApp::start(backend).await;
    let now = app.clock.now_ms();
    let (status, created) = app
        .admin(
            Method::POST,
            "/admin/notices",
            Some(OPERATOR_KEY),
            Some(fields("Launch day", 3, now, now + HOUR, "EN-us")),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = id_of(&created);
    assert_eq!(created["locale"], "en-US", "stored in canonical case");
    assert_eq!(created["start"], now.to_string());
    assert_eq!(created["created"], now.to_string());
    assert_eq!(created["sort"], 3);

    let path = format!("/admin/notices/{id}");
    let (status, got) = app
        .admin(Method::GET, &path, Some(OPERATOR_KEY), None)
        .await;
    assert_eq!((status, &got), (200, &created));
    let (status, page) = app
        .admin(Method::GET, "/admin/notices", Some(OPERATOR_KEY), None)
        .await;
    assert_eq!((status, ids(&page["notices"])), (200, vec![id]));
    assert_eq!(page["nextPageToken"], "");

    app.clock.advance_ms(5);
    let change = fields("Launch day, moved", -1, now + HOUR, now + 2 * HOUR, "");
    let (status, updated) = app
        .admin(Method::PUT, &path, Some(OPERATOR_KEY), Some(change))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (&updated["title"], &updated["sort"], &updated["locale"]),
        (&json!("Launch day, moved"), &json!(-1), &json!(""))
    );
    assert_eq!(updated["created"], created["created"]);
    assert_eq!(updated["updated"], (now + 5).to_string());
    let (_, got) = app
        .admin(Method::GET, &path, Some(OPERATOR_KEY), None)
        .await;
    assert_eq!(got, updated);

    let (status, deleted) = app
        .admin(Method::DELETE, &path, Some(OPERATOR_KEY), None)
        .await;
    assert_eq!((status, deleted), (200, json!({})));
    let (status, _) = app
        .admin(Method::GET, &path, Some(OPERATOR_KEY), None)
        .await;
    assert_eq!(status, 404);

    let target = format!("notice:{id}");
    assert_eq!(
        audit_rows(&app.db).await,
        [
            row("bootstrap", "notice.create", target.clone()),
            row("bootstrap", "notice.update", target.clone()),
            row("bootstrap", "notice.delete", target),
        ]
    );
    assert_eq!(app.db.count("notices").await, 0);
    app.stop().await;
}

async fn grpc_crud_with_the_operator_key(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut client = admin_grpc(&app).await;
    let key = Some(OPERATOR_KEY);
    let now = app.clock.now_ms();
    let create = admin::CreateNoticeRequest {
        title: "Maintenance".into(),
        content: "Back at 05:00.\nThanks for waiting.".into(),
        sort: 1,
        start: now,
        end: now + HOUR,
        locale: "zh-hans".into(),
    };
    let created = client.create_notice(authed(create, key)).await.unwrap();
    let created = created.into_inner();
    assert_eq!(
        (created.locale.as_str(), created.end),
        ("zh-Hans", now + HOUR)
    );
    let id = created.id;

    let got = client
        .get_notice(authed(admin::GetNoticeRequest { id }, key))
        .await
        .unwrap();
    assert_eq!(got.into_inner(), created);
    let update = admin::UpdateNoticeRequest {
        id,
        title: "Maintenance, extended".into(),
        content: "Back at 06:00.".into(),
        sort: 2,
        start: now,
        end: now + 2 * HOUR,
        locale: String::new(),
    };
    let updated = client.update_notice(authed(update, key)).await.unwrap();
    let updated = updated.into_inner();
    assert_eq!(
        (updated.title.as_str(), updated.sort),
        ("Maintenance, extended", 2)
    );
    let list = admin::ListNoticesRequest::default();
    let page = client.list_notices(authed(list, key)).await.unwrap();
    assert_eq!(page.into_inner().notices, [updated]);

    let delete = admin::DeleteNoticeRequest { id };
    client.delete_notice(authed(delete, key)).await.unwrap();
    let gone = client
        .get_notice(authed(admin::GetNoticeRequest { id }, key))
        .await
        .unwrap_err();
    assert_refused(&gone, Code::NotFound, "NOT_FOUND");
    let actions: Vec<String> = audit_rows(&app.db).await.into_iter().map(|r| r.1).collect();
    assert_eq!(actions, ["notice.create", "notice.update", "notice.delete"]);
    app.stop().await;
}

async fn viewers_read_but_do_not_change(backend: Backend) {
    let app = TestApp::start(backend).await;
    let notice = create(&app, active(&app, "Read me")).await;
    let path = format!("/admin/notices/{}", id_of(&notice));
    let viewer = Some(VIEWER_KEY);
    let (status, got) = app.admin(Method::GET, &path, viewer, None).await;
    assert_eq!((status, &got), (200, &notice));
    let (status, page) = app.admin(Method::GET, "/admin/notices", viewer, None).await;
    assert_eq!((status, ids(&page["notices"]).len()), (200, 1));

    let body = Some(active(&app, "Changed"));
    for (method, path) in [
        (Method::POST, "/admin/notices"),
        (Method::PUT, path.as_str()),
        (Method::DELETE, path.as_str()),
    ] {
        let (status, err) = app.admin(method, path, viewer, body.clone()).await;
        assert_eq!((status, &err["reason"]), (403, &json!("PERMISSION_DENIED")));
        assert_eq!(err["code"], 403);
    }

    let mut client = admin_grpc(&app).await;
    let id = id_of(&notice);
    let get = client.get_notice(authed(admin::GetNoticeRequest { id }, viewer));
    assert_eq!(get.await.unwrap().into_inner().title, "Read me");
    let create = admin::CreateNoticeRequest::default();
    let err = client
        .create_notice(authed(create, viewer))
        .await
        .unwrap_err();
    assert_refused(&err, Code::PermissionDenied, "PERMISSION_DENIED");
    let delete = admin::DeleteNoticeRequest { id };
    let err = client
        .delete_notice(authed(delete, viewer))
        .await
        .unwrap_err();
    assert_refused(&err, Code::PermissionDenied, "PERMISSION_DENIED");

    assert_eq!(app.db.count("notices").await, 1);
    assert_eq!(
        audit_rows(&app.db).await.len(),
        1,
        "only the operator's create"
    );
    app.stop().await;
}

async fn missing_and_unknown_keys_are_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let notice = create(&app, active(&app, "Keyed")).await;
    let path = format!("/admin/notices/{}", id_of(&notice));
    for key in [None, Some(WRONG_KEY)] {
        for (method, path, body) in [
            (Method::GET, "/admin/notices", None),
            (Method::POST, "/admin/notices", Some(json!({"title": ""}))),
            (Method::GET, path.as_str(), None),
            (Method::PUT, path.as_str(), Some(active(&app, "Changed"))),
            (Method::DELETE, path.as_str(), None),
        ] {
            let (status, err) = app.admin(method.clone(), path, key, body).await;
            assert_eq!(
                (status, &err["reason"]),
                (401, &json!("UNAUTHENTICATED")),
                "{method} {path} {key:?}"
            );
        }
        let mut client = admin_grpc(&app).await;
        let list = admin::ListNoticesRequest::default();
        let err = client.list_notices(authed(list, key)).await.unwrap_err();
        assert_refused(&err, Code::Unauthenticated, "UNAUTHENTICATED");
        let delete = admin::DeleteNoticeRequest { id: id_of(&notice) };
        let err = client.delete_notice(authed(delete, key)).await.unwrap_err();
        assert_refused(&err, Code::Unauthenticated, "UNAUTHENTICATED");
    }
    assert_eq!(app.db.count("notices").await, 1);
    assert_eq!(audit_rows(&app.db).await.len(), 1);
    app.stop().await;
}

async fn unknown_ids_are_not_found(backend: Backend) {
    let app = TestApp::start(backend).await;
    let key = Some(OPERATOR_KEY);
    let body = Some(active(&app, "Nowhere"));
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let (status, err) = app
            .admin(method.clone(), "/admin/notices/999", key, body.clone())
            .await;
        assert_eq!(
            (status, &err["reason"]),
            (404, &json!("NOT_FOUND")),
            "{method}"
        );
        for bad in ["0", "-3", "abc", "99999999999999999999"] {
            let path = format!("/admin/notices/{bad}");
            let (status, err) = app.admin(method.clone(), &path, key, body.clone()).await;
            assert_eq!(
                (status, &err["reason"]),
                (400, &json!("PARAM_INVALID")),
                "{path}"
            );
        }
    }
    let (status, _) = app
        .admin(Method::PATCH, "/admin/notices/1", key, None)
        .await;
    assert_eq!(status, 405);

    let mut client = admin_grpc(&app).await;
    let get = admin::GetNoticeRequest { id: 999 };
    let err = client.get_notice(authed(get, key)).await.unwrap_err();
    assert_refused(&err, Code::NotFound, "NOT_FOUND");
    let now = app.clock.now_ms();
    let update = admin::UpdateNoticeRequest {
        id: 999,
        title: "t".into(),
        content: "c".into(),
        start: now,
        end: now + HOUR,
        ..Default::default()
    };
    let err = client.update_notice(authed(update, key)).await.unwrap_err();
    assert_refused(&err, Code::NotFound, "NOT_FOUND");
    let delete = admin::DeleteNoticeRequest { id: 999 };
    let err = client.delete_notice(authed(delete, key)).await.unwrap_err();
    assert_refused(&err, Code::NotFound, "NOT_FOUND");
    assert_eq!(audit_rows(&app.db).await.len(), 0);
    app.stop().await;
}

async fn bad_input_is_refused_and_nothing_is_written(backend: Backend) {
    let app = TestApp::start(backend).await;
    let key = Some(OPERATOR_KEY);
    let now = app.clock.now_ms();
    let good = fields("Fine", 0, now, now + HOUR, "");
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    for (body, expect) in [
        (with("title", json!("")), "title:"),
        (with("title", json!("   ")), "title:"),
        (with("title", json!("x".repeat(201))), "title:"),
        (with("content", json!("")), "content:"),
        (with("content", json!("x".repeat(20_001))), "content:"),
        (with("end", json!(now - 1)), "end:"),
        (with("end", json!(now)), "end:"),
        (with("start", json!(-5)), "start, end:"),
        (with("locale", json!("not a locale")), "locale:"),
        (with("start", json!("soon")), "request body"),
        (with("sort", json!(1_i64 << 40)), "request body"),
    ] {
        let (status, err) = app
            .admin(Method::POST, "/admin/notices", key, Some(body.clone()))
            .await;
        assert_eq!(
            (status, &err["reason"]),
            (400, &json!("PARAM_INVALID")),
            "{body}"
        );
        let message = err["message"].as_str().unwrap();
        assert!(message.starts_with(expect), "{message}");
    }
    for query in [
        "pageSize=101",
        "pageSize=-1",
        "pageSize=ten",
        "pageToken=not-a-token!",
        "pageToken=AAAA",
        "locale=en%20US",
    ] {
        let path = format!("/admin/notices?{query}");
        let (status, err) = app.admin(Method::GET, &path, key, None).await;
        assert_eq!(
            (status, &err["reason"]),
            (400, &json!("PARAM_INVALID")),
            "{query}"
        );
    }
    let response = app.get(app.url("/notices/v1/list?locale=%00")).await;
    assert_eq!(response.status(), 400);

    let mut client = admin_grpc(&app).await;
    let create = admin::CreateNoticeRequest {
        title: "Upside down".into(),
        content: "c".into(),
        start: now + HOUR,
        end: now,
        ..Default::default()
    };
    let err = client.create_notice(authed(create, key)).await.unwrap_err();
    assert_refused(&err, Code::InvalidArgument, "PARAM_INVALID");
    let list = admin::ListNoticesRequest {
        page_size: 500,
        ..Default::default()
    };
    let err = client.list_notices(authed(list, key)).await.unwrap_err();
    assert_refused(&err, Code::InvalidArgument, "PARAM_INVALID");
    let get = admin::GetNoticeRequest { id: 0 };
    let err = client.get_notice(authed(get, key)).await.unwrap_err();
    assert_refused(&err, Code::InvalidArgument, "PARAM_INVALID");

    assert_eq!(app.db.count("notices").await, 0);
    assert_eq!(app.db.count("audit_log").await, 0);
    app.stop().await;
}

async fn pages_walk_every_notice_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut all = Vec::new();
    for i in 0..23 {
        let mut body = active(&app, &format!("Notice {i}"));
        body["locale"] = json!(if i % 4 == 0 { "en" } else { "" });
        all.push(id_of(&create(&app, body).await));
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let path = format!("/admin/notices?pageSize=7&pageToken={token}");
        let (status, page) = app.admin(Method::GET, &path, Some(VIEWER_KEY), None).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids(&page["notices"]));
        pages += 1;
        token = page["nextPageToken"].as_str().unwrap().to_owned();
        if token.is_empty() {
            break;
        }
    }
    all.reverse();
    assert_eq!(seen, all, "newest first, each once");
    assert_eq!(pages, 4);

    let (_, page) = app
        .admin(
            Method::GET,
            "/admin/notices?locale=EN",
            Some(VIEWER_KEY),
            None,
        )
        .await;
    assert_eq!(ids(&page["notices"]).len(), 6);
    let (_, page) = app
        .admin(
            Method::GET,
            "/admin/notices?locale=",
            Some(VIEWER_KEY),
            None,
        )
        .await;
    assert_eq!(
        ids(&page["notices"]).len(),
        17,
        "empty: the notices of every locale"
    );
    let (_, page) = app
        .admin(Method::GET, "/admin/notices", Some(VIEWER_KEY), None)
        .await;
    assert_eq!(ids(&page["notices"]).len(), 20, "default page size");

    let mut client = admin_grpc(&app).await;
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let list = admin::ListNoticesRequest {
            page_size: 10,
            page_token,
            locale: None,
        };
        let page = client.list_notices(authed(list, Some(VIEWER_KEY))).await;
        let page = page.unwrap().into_inner();
        seen.extend(page.notices.iter().map(|n| n.id));
        page_token = page.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, all);
    app.stop().await;
}

async fn clients_see_active_notices_in_order(backend: Backend) {
    let app = TestApp::start(backend).await;
    let now = app.clock.now_ms();
    let end = now + 3 * HOUR;
    create(&app, fields("Ended", 100, now - 2 * HOUR, now - HOUR, "")).await;
    let soon = create(&app, fields("Soon", 50, now + HOUR, end, "")).await;
    let a = create(&app, fields("A", 5, now - 5_000, end, "")).await;
    let b = create(&app, fields("B", 5, now - 1_000, end, "")).await;
    let mut rest = Vec::new();
    for i in 0..10 {
        rest.push(id_of(
            &create(&app, fields(&format!("R{i}"), 0, now - 2_000, end, "")).await,
        ));
    }
    let mut expect = vec![id_of(&b), id_of(&a)];
    expect.extend(rest.iter().rev().take(8));
    assert_eq!(
        listed(&app, None).await,
        expect,
        "sort, then newest start, then id"
    );
    let over_grpc: Vec<i64> = grpc_listed(&app, "").await.iter().map(|n| n.id).collect();
    assert_eq!(over_grpc, expect);
    let first = &grpc_listed(&app, "").await[0];
    assert_eq!(
        (first.title.as_str(), first.content.as_str()),
        ("B", "About B.")
    );

    app.clock.advance_ms(HOUR);
    let listed_now = listed(&app, None).await;
    assert_eq!(listed_now.len(), 10);
    assert_eq!(
        listed_now[0],
        id_of(&soon),
        "started: shown first without a reload"
    );
    app.clock.advance_ms(3 * HOUR);
    assert_eq!(listed(&app, None).await, Vec::<i64>::new(), "all ended");
    app.stop().await;
}

async fn clients_get_the_best_locale(backend: Backend) {
    let app = TestApp::start(backend).await;
    let now = app.clock.now_ms();
    let every = id_of(&create(&app, fields("Every", 0, now, now + HOUR, "")).await);
    let en = id_of(&create(&app, fields("English", 0, now, now + HOUR, "en")).await);
    let us = id_of(&create(&app, fields("American", 0, now, now + HOUR, "en-US")).await);
    let hans = id_of(&create(&app, fields("Simplified", 0, now, now + HOUR, "zh-Hans")).await);
    for (asked, expect) in [
        (Some("en-US"), us),
        (Some("en-us"), us),
        (Some("en_US"), us),
        (Some("en-GB"), en),
        (Some("en"), en),
        (Some("zh-Hans-CN"), hans),
        (Some("zh-Hant"), every),
        (Some("fr"), every),
        (Some(""), every),
        (None, every),
    ] {
        assert_eq!(listed(&app, asked).await, [expect], "{asked:?}");
    }
    let over_grpc = grpc_listed(&app, "en-GB").await;
    assert_eq!(over_grpc.iter().map(|n| n.id).collect::<Vec<_>>(), [en]);
    assert_eq!(over_grpc[0].locale, "en");
    let url = format!("http://{}", app.running().grpc_external);
    let mut client = NoticeInterfaceClient::connect(url).await.unwrap();
    let bad = pb::NoticeListRequest {
        locale: "english please".into(),
    };
    let err = client.notice_list(bad).await.unwrap_err();
    assert_refused(&err, Code::InvalidArgument, "PARAM_INVALID");
    app.stop().await;
}

async fn changes_show_in_the_list_at_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let created = create(&app, active(&app, "First")).await;
    let id = id_of(&created);
    assert_eq!(listed(&app, None).await, [id]);

    let mut client = admin_grpc(&app).await;
    let now = app.clock.now_ms();
    let update = admin::UpdateNoticeRequest {
        id,
        title: "First, edited".into(),
        content: "New text.".into(),
        sort: 0,
        start: now - 1_000,
        end: now + HOUR,
        locale: String::new(),
    };
    let key = Some(OPERATOR_KEY);
    client
        .update_notice(authed(update.clone(), key))
        .await
        .unwrap();
    let shown = grpc_listed(&app, "").await;
    assert_eq!(shown[0].title, "First, edited");

    let ended = admin::UpdateNoticeRequest { end: now, ..update };
    client.update_notice(authed(ended, key)).await.unwrap();
    assert_eq!(
        listed(&app, None).await,
        Vec::<i64>::new(),
        "ended by the update"
    );

    let second = id_of(&create(&app, active(&app, "Second")).await);
    assert_eq!(listed(&app, None).await, [second]);
    let path = format!("/admin/notices/{second}");
    let (status, _) = app.admin(Method::DELETE, &path, key, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed(&app, None).await, Vec::<i64>::new(), "deleted");
    app.stop().await;
}

/// A change made behind this node's back (as another node would make it), in the database.
async fn change_behind_its_back(db: &TestDb, now: i64) {
    match db {
        TestDb::Sqlite { url, .. } => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query("DELETE FROM notices")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO notices (title, content, sort, start_at, end_at, locale, \
                 created_at, updated_at) VALUES ('Elsewhere', 'x', 0, ?1, ?2, '', ?1, ?1)",
            )
            .bind(now - 1_000)
            .bind(now + HOUR)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        TestDb::Postgres { url, .. } => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query("DELETE FROM notices")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO notices (title, content, sort, start_at, end_at, locale, \
                 created_at, updated_at) VALUES ('Elsewhere', 'x', 0, lares_ts($1), \
                 lares_ts($2), '', lares_ts($1), lares_ts($1))",
            )
            .bind(now - 1_000)
            .bind(now + HOUR)
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }
}

/// With the periodic reload an hour away, the list never looks at the store.
async fn the_list_is_served_from_memory(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.notices.reload_ms = 3_600_000).await;
    let id = id_of(&create(&app, active(&app, "Cached")).await);
    change_behind_its_back(&app.db, app.clock.now_ms()).await;
    for _ in 0..50 {
        assert_eq!(listed(&app, None).await, [id], "answered from memory");
    }
    assert_eq!(grpc_listed(&app, "").await[0].title, "Cached");
    app.stop().await;
}

/// Changes made by other nodes arrive with the periodic reload.
async fn other_nodes_changes_arrive_by_reload(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.notices.reload_ms = 200).await;
    create(&app, active(&app, "Replaced")).await;
    change_behind_its_back(&app.db, app.clock.now_ms()).await;
    let mut titles = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        titles = grpc_listed(&app, "")
            .await
            .into_iter()
            .map(|n| n.title)
            .collect();
        if titles != ["Replaced"] {
            break;
        }
    }
    assert_eq!(titles, ["Elsewhere"], "reloaded within seconds");
    app.stop().await;
}

/// Two nodes sharing PostgreSQL and Redis, the periodic reload an hour away: a change made
/// through one node shows on the other within a few probes of the shared version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_other_nodes_through_redis() {
    let app = TestApp::start_with(Backend::Redis, |c| c.notices.reload_ms = 3_600_000).await;
    let other = app.another_node().await;
    let list_on_other = || async {
        let url = format!("http://{}/notices/v1/list", other.http_external);
        let body: Value = app
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids(&body["notices"])
    };
    assert_eq!(list_on_other().await, Vec::<i64>::new());

    let id = id_of(&create(&app, active(&app, "Everywhere")).await);
    let mut seen = Vec::new();
    for _ in 0..50 {
        seen = list_on_other().await;
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, [id], "the other node reloaded on the change");

    let (status, _) = app
        .admin(
            Method::DELETE,
            &format!("/admin/notices/{id}"),
            Some(OPERATOR_KEY),
            None,
        )
        .await;
    assert_eq!(status, 200);
    for _ in 0..50 {
        seen = list_on_other().await;
        if seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen.is_empty(),
        "the deletion reached the other node: {seen:?}"
    );
    other.shutdown().await;
    app.stop().await;
}
