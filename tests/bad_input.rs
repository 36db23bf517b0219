//! Bad input on both edges: each gets a 4xx (or `INVALID_ARGUMENT`) in the documented shape,
//! and nothing changes in the store.

mod common;

use common::{Backend, PASSWORD, TestApp, session_body};
use lares::grpc::status::reason_of;
use lares::proto::account as pb;
use serde_json::{Value, json};
use tonic::Code;

for_each_store!(
    http_bad_input_is_refused_in_shape_and_changes_nothing,
    grpc_bad_input_is_invalid_argument
);

/// Sends raw bytes with a content type; answers status, headers' Retry-After and JSON body.
async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = app.http.request(method, app.url(path)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A bad request: name, content type, body, expected status and reason.
type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);

fn assert_shape(status: u16, body: &Value, reason: &str, case: &str) {
    assert_eq!(
        body["code"].as_u64(),
        Some(status as u64),
        "{case}: code equals status: {body}"
    );
    assert_eq!(body["reason"].as_str(), Some(reason), "{case}: {body}");
    assert!(body["message"].is_string(), "{case}: {body}");
    assert!(body["metadata"].is_object(), "{case}: {body}");
}

async fn http_bad_input_is_refused_in_shape_and_changes_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let info = app.register("existing").await;
    app.settle().await;
    let (accounts, sessions) = (
        app.db.count("accounts").await,
        app.db.count("sessions").await,
    );
    let json_ct = Some("application/json");
    let register = "/accounts/v1/username/register";
    let secret = "hunter2-never-echo-me";
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let cases: Vec<Case> = vec![
        (
            "malformed json",
            json_ct,
            b"{\"username\":".to_vec(),
            400,
            "PARAM_INVALID",
        ),
        (
            "not json",
            json_ct,
            b"username=a&password=b".to_vec(),
            400,
            "PARAM_INVALID",
        ),
        (
            "json array",
            json_ct,
            b"[1,2,3]".to_vec(),
            400,
            "PARAM_INVALID",
        ),
        (
            "deep nesting",
            json_ct,
            deep.into_bytes(),
            400,
            "PARAM_INVALID",
        ),
        ("empty body", json_ct, Vec::new(), 400, "PARAM_INVALID"),
        (
            "wrong content type",
            Some("text/plain"),
            br#"{"username":"abc","password":"12345678"}"#.to_vec(),
            415,
            "PARAM_INVALID",
        ),
        (
            "no content type",
            None,
            br#"{"username":"abc","password":"12345678"}"#.to_vec(),
            415,
            "PARAM_INVALID",
        ),
        (
            "missing fields",
            json_ct,
            b"{}".to_vec(),
            400,
            "PARAM_INVALID",
        ),
        (
            "missing password",
            json_ct,
            br#"{"username":"newname"}"#.to_vec(),
            400,
            "PARAM_INVALID",
        ),
        (
            "wrong types",
            json_ct,
            format!(r#"{{"username":5,"password":"{secret}"}}"#).into_bytes(),
            400,
            "PARAM_INVALID",
        ),
        (
            "wrong type hides value",
            json_ct,
            format!(r#"{{"username":"okname","password":["{secret}"]}}"#).into_bytes(),
            400,
            "PARAM_INVALID",
        ),
        (
            "overlong username",
            json_ct,
            json!({"username": "u".repeat(33), "password": PASSWORD})
                .to_string()
                .into_bytes(),
            400,
            "PARAM_INVALID",
        ),
        (
            "overlong password",
            json_ct,
            json!({"username": "newname", "password": "p".repeat(129)})
                .to_string()
                .into_bytes(),
            400,
            "PARAM_INVALID",
        ),
        (
            "short password",
            json_ct,
            json!({"username": "newname", "password": "short"})
                .to_string()
                .into_bytes(),
            400,
            "PARAM_INVALID",
        ),
        (
            "bad colour",
            json_ct,
            json!({"username": "newname", "password": PASSWORD, "color": "no spaces"})
                .to_string()
                .into_bytes(),
            400,
            "PARAM_INVALID",
        ),
        (
            "invalid utf-8",
            json_ct,
            b"{\"username\":\"ab\xff\xfe\",\"password\":\"12345678\"}".to_vec(),
            400,
            "PARAM_INVALID",
        ),
        (
            "over the limit",
            json_ct,
            format!(r#"{{"username":"{}"}}"#, "a".repeat(70_000)).into_bytes(),
            413,
            "PARAM_INVALID",
        ),
        (
            "taken",
            json_ct,
            json!({"username": "EXISTING", "password": PASSWORD})
                .to_string()
                .into_bytes(),
            409,
            "CONFLICT",
        ),
    ];
    for (case, ct, body, status, reason) in cases {
        let (got, answer) = raw(&app, reqwest::Method::POST, register, ct, body).await;
        assert_eq!(got, status, "{case}: {answer}");
        assert_shape(got, &answer, reason, case);
        assert!(
            !answer.to_string().contains(secret),
            "{case}: secret echoed: {answer}"
        );
    }

    let sessions_cases = [
        (
            "overlong session",
            json!({"accountId": info["accountId"], "session": "s".repeat(10_000)}),
            401,
            "SESSION_ILLEGAL",
        ),
        (
            "garbage session",
            json!({"accountId": info["accountId"], "session": "a.b"}),
            401,
            "SESSION_ILLEGAL",
        ),
        (
            "bad account id",
            json!({"accountId": "!!", "session": info["session"]}),
            400,
            "PARAM_INVALID",
        ),
        (
            "overlong account id",
            json!({"accountId": "x".repeat(5000), "session": info["session"]}),
            400,
            "PARAM_INVALID",
        ),
        (
            "other account's id",
            json!({"accountId": app.register("other").await["accountId"], "session": info["session"]}),
            401,
            "SESSION_ILLEGAL",
        ),
    ];
    let sessions = sessions + 1;
    for (case, body, status, reason) in sessions_cases {
        for path in [
            "/accounts/v1/refresh",
            "/accounts/v1/token",
            "/accounts/v1/logout",
        ] {
            let (got, answer) = app.post(path, body.clone()).await;
            assert_eq!(got, status, "{case} {path}: {answer}");
            assert_shape(got, &answer, reason, case);
        }
    }
    let mut wrong_type = session_body(&info);
    wrong_type["all"] = json!("yes");
    let (got, answer) = app.post("/accounts/v1/logout", wrong_type).await;
    assert_eq!(got, 400, "a bool given as a string: {answer}");

    let (got, answer) = raw(
        &app,
        reqwest::Method::GET,
        "/no/such/route",
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(got, 404);
    assert_shape(got, &answer, "NOT_FOUND", "unknown route");
    let (got, answer) = raw(
        &app,
        reqwest::Method::PUT,
        register,
        json_ct,
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(got, 405);
    assert_shape(got, &answer, "METHOD_NOT_ALLOWED", "wrong method");
    let (got, answer) = raw(
        &app,
        reqwest::Method::GET,
        "/accounts/v1/dev/ping?message=%FF",
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(got, 400, "{answer}");

    app.settle().await;
    assert_eq!(
        app.db.count("accounts").await,
        accounts + 1,
        "only the `other` account was added"
    );
    assert_eq!(
        app.db.count("sessions").await,
        sessions,
        "no session was added or lost"
    );
    let (status, _) = app.post("/accounts/v1/refresh", session_body(&info)).await;
    assert_eq!(status, 200, "the session survived every bad request");
    app.stop().await;
}

async fn grpc_bad_input_is_invalid_argument(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut client = app.grpc().await;
    let register = |username: String, password: &str| pb::UsernameRegisterRequest {
        username,
        password: password.to_owned(),
        color: String::new(),
        client_version: String::new(),
    };
    let oversize = client
        .username_register(register("a".repeat(70_000), PASSWORD))
        .await
        .unwrap_err();
    assert_eq!(oversize.code(), Code::InvalidArgument, "{oversize:?}");
    assert_eq!(reason_of(&oversize).as_deref(), Some("PARAM_INVALID"));
    let overlong = client
        .username_register(register("a".repeat(33), PASSWORD))
        .await
        .unwrap_err();
    assert_eq!(
        (overlong.code(), reason_of(&overlong).as_deref()),
        (Code::InvalidArgument, Some("PARAM_INVALID"))
    );

    // A message whose string field is not UTF-8 does not decode.
    #[derive(Clone, PartialEq, prost::Message)]
    struct RawRegister {
        #[prost(bytes = "vec", tag = "1")]
        username: Vec<u8>,
    }
    let channel =
        tonic::transport::Channel::from_shared(format!("http://{}", app.running().grpc_external))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path =
        http::uri::PathAndQuery::from_static("/lares.account.v1.AccountInterface/UsernameRegister");
    let codec = tonic_prost::ProstCodec::<RawRegister, pb::LoginInfo>::default();
    let request = tonic::Request::new(RawRegister {
        username: vec![0xff, 0xfe, 0x41],
    });
    let undecodable = grpc.unary(request, path, codec).await.unwrap_err();
    assert_eq!(
        (undecodable.code(), reason_of(&undecodable).as_deref()),
        (Code::InvalidArgument, Some("PARAM_INVALID"))
    );

    let unimplemented = client
        .apple_login(pb::AppleLoginRequest::default())
        .await
        .unwrap_err();
    assert_eq!(unimplemented.code(), Code::Unimplemented);
    assert_eq!(app.db.count("accounts").await, 0);
    app.stop().await;
}
