//! The `lares` binary as an operator runs it: configuration errors, graceful shutdown on
//! SIGTERM, and logs that never hold a secret.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

fn lares() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lares"));
    cmd.env_remove("RUST_LOG")
        .env("LARES_CONFIG", "/dev/null/none");
    for (key, _) in std::env::vars() {
        if key.starts_with("LARES__") {
            cmd.env_remove(key);
        }
    }
    cmd
}

#[test]
fn a_bad_config_stops_start_up_naming_the_key() {
    let cases = [
        (
            "LARES__SERVER__HTTP_EXTERNAL",
            "not-an-address",
            "server.http_external",
        ),
        ("LARES__STORE__URL", "mysql://nope", "store.url"),
        ("LARES__LABEL__PROFILE", "staging", "label.profile"),
        ("LARES__PASSWORD__ITERATIONS", "0", "password.iterations"),
        ("LARES__SECRETS__TOKEN_KEY", "c2hvcnQ=", "secrets.token_key"),
        ("LARES__SERVER__BODY_LIMT", "1", "server.body_limt"),
    ];
    for (key, value, named) in cases {
        let output = lares()
            .env_remove("LARES_CONFIG")
            .env(key, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!output.status.success(), "{key}={value} must not start");
        assert!(
            stderr.contains(named) || stdout.contains(named),
            "{key}: {stderr}{stdout}"
        );
    }
    let output = lares().output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--config"));
}

#[test]
fn prod_refuses_to_start_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let output = lares()
        .env_remove("LARES_CONFIG")
        .env("LARES__LABEL__PROFILE", "prod")
        .env(
            "LARES__STORE__URL",
            format!("sqlite://{}/x.db", dir.path().display()),
        )
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        text.contains("secrets.token_key") && text.contains("prod"),
        "{text}"
    );
}

/// Starts the binary on port 0 with JSON logs at debug level; answers the child, its log lines
/// and the external HTTP address.
fn start(dir: &std::path::Path) -> (Child, mpsc::Receiver<String>, String) {
    start_with(dir, &[])
}

fn start_with(
    dir: &std::path::Path,
    env: &[(&str, String)],
) -> (Child, mpsc::Receiver<String>, String) {
    let (child, lines, fields) = start_serving(dir, env);
    let addr = fields["http_external"].as_str().unwrap().to_owned();
    (child, lines, addr)
}

/// Starts the binary; answers it, its log lines and the fields of its start-up line.
fn start_serving(
    dir: &std::path::Path,
    env: &[(&str, String)],
) -> (Child, mpsc::Receiver<String>, Value) {
    let mut command = lares();
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .env_remove("LARES_CONFIG")
        .env("LARES__SERVER__HTTP_EXTERNAL", "127.0.0.1:0")
        .env("LARES__SERVER__GRPC_EXTERNAL", "127.0.0.1:0")
        .env("LARES__SERVER__HTTP_INTERNAL", "127.0.0.1:0")
        .env("LARES__SERVER__GRPC_INTERNAL", "127.0.0.1:0")
        .env(
            "LARES__STORE__URL",
            format!("sqlite://{}/lares.db", dir.display()),
        )
        .env("LARES__PASSWORD__MEMORY_KIB", "1024")
        .env("LARES__PASSWORD__ITERATIONS", "1")
        .env("LARES__LOG__JSON", "true")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    match serving_fields(&rx) {
        Some(fields) => (child, rx, fields),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("lares did not start");
        }
    }
}

/// Reads log lines until the start-up line; answers its fields (the listening addresses).
fn serving_fields(lines: &mpsc::Receiver<String>) -> Option<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        let line = lines.recv_timeout(left).ok()?;
        let Ok(entry) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if entry["fields"]["message"] == "lares is serving" {
            return Some(entry["fields"].clone());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_logs_never_hold_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, lines, addr) = start(dir.path());
    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://{addr}{path}");
    let password = "Sup3r-Secret-Passphrase";
    let post = |path: &'static str, body: Value| http.post(url(path)).json(&body).send();

    let info: Value = post(
        "/accounts/v1/username/register",
        json!({"username": "loggy", "password": password}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    post(
        "/accounts/v1/username/login",
        json!({"username": "loggy", "password": "Wrong-Secret-Passphrase"}),
    )
    .await
    .unwrap();
    post(
        "/accounts/v1/username/login",
        json!({"username": "loggy", "password": [password]}),
    )
    .await
    .unwrap();
    post(
        "/accounts/v1/username/register",
        json!({"username": 7, "password": password}),
    )
    .await
    .unwrap();
    let token: Value = post(
        "/accounts/v1/token",
        json!({"accountId": info["accountId"], "session": info["session"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    post(
        "/accounts/v1/refresh",
        json!({"accountId": info["accountId"], "session": info["session"]}),
    )
    .await
    .unwrap();

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = wait_with_timeout(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "graceful exit");
    let log: Vec<String> = lines.try_iter().collect();
    let log = log.join("\n");
    assert!(
        log.contains("shutting down") && log.contains("stopped"),
        "{log}"
    );
    assert!(log.contains("login_failed"), "security events are logged");

    let session = info["session"].as_str().unwrap();
    let secret_part = session.split_once('.').unwrap().1;
    let new_secret = token["session"]
        .as_str()
        .unwrap()
        .split_once('.')
        .unwrap()
        .1;
    for secret in [
        password,
        "Wrong-Secret-Passphrase",
        secret_part,
        new_secret,
        info["token"].as_str().unwrap(),
        token["token"].as_str().unwrap(),
    ] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("lares did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A refused platform credential is logged with its reason, and neither the credential nor a
/// provider secret reaches the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_refusals_are_logged_with_a_reason_and_no_secret() {
    use common::platform::{
        FACEBOOK_APP_ID, FACEBOOK_APP_SECRET, FakeIssuers, GOOGLE_CLIENT_ID, Provider, Signing,
    };
    let fakes = FakeIssuers::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("LARES__PLATFORM__GOOGLE__JWKS_URL", fakes.google_jwks_url()),
        (
            "LARES__PLATFORM__GOOGLE__AUDIENCES",
            format!("[\"{GOOGLE_CLIENT_ID}\"]"),
        ),
        (
            "LARES__PLATFORM__FACEBOOK__GRAPH_URL",
            fakes.facebook_graph_url(),
        ),
        (
            "LARES__PLATFORM__FACEBOOK__APP_ID",
            FACEBOOK_APP_ID.to_owned(),
        ),
        (
            "LARES__PLATFORM__FACEBOOK__APP_SECRET",
            FACEBOOK_APP_SECRET.to_owned(),
        ),
    ];
    let (mut child, lines, addr) = start_with(dir.path(), &env);
    let http = reqwest::Client::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = FakeIssuers::google_claims("log-sub", GOOGLE_CLIENT_ID, now);
    let forged = fakes.id_token(Provider::Google, &claims, Signing::UnknownKey);
    let foreign = fakes.facebook_token("log-fb", "9999999999", true, now + 3600);
    for (path, token) in [
        ("/accounts/v1/google/login", &forged),
        ("/accounts/v1/fb/login", &foreign),
    ] {
        let response = http
            .post(format!("http://{addr}{path}"))
            .json(&json!({ "token": token }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_with_timeout(&mut child, Duration::from_secs(30));
    let log = lines.try_iter().collect::<Vec<_>>().join("\n");
    let refusals: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["fields"]["event"] == "platform_auth_failed")
        .collect();
    let reasons: Vec<&str> = refusals
        .iter()
        .map(|e| e["fields"]["reason"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(reasons.len(), 2, "{log}");
    assert!(reasons[0].contains("unknown key id"), "{reasons:?}");
    assert!(
        reasons[1].contains("another app") || reasons[1].contains("belongs to app"),
        "{reasons:?}"
    );
    for secret in [forged.as_str(), foreign.as_str(), FACEBOOK_APP_SECRET] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}

#[test]
fn admin_key_prints_a_key_and_the_entry_that_accepts_it() {
    let output = lares()
        .args(["admin-key", "--name", "ops.team", "--role", "operator"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let key = stdout
        .lines()
        .find_map(|l| l.split_once("): ").map(|(_, k)| k.trim().to_owned()))
        .expect("the key is printed");
    let hash = lares::domain::admin::key_hash(&key);
    assert!(stdout.contains(&format!("sha256 = \"{hash}\"")), "{stdout}");
    assert!(stdout.contains("role = \"operator\"") && stdout.contains("name = \"ops.team\""));
    let bad = lares()
        .args(["admin-key", "--name", "two words"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_admin_calls_are_security_events_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = "bootstrap-key-from-the-environment-0001";
    let env = [("LARES__ADMIN__BOOTSTRAP_KEY", key.to_owned())];
    let (mut child, lines, fields) = start_serving(dir.path(), &env);
    let internal = fields["http_internal"].as_str().unwrap();
    let http = reqwest::Client::new();
    let url = format!("http://{internal}/admin/accounts");
    let wrong = "lra_a-wrong-key-that-must-not-be-logged";
    let denied = http.get(&url).bearer_auth(wrong).send().await.unwrap();
    assert_eq!(denied.status().as_u16(), 401);
    let allowed = http.get(&url).bearer_auth(key).send().await.unwrap();
    assert_eq!(allowed.status().as_u16(), 200);
    let mut log = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !log.contains("admin_denied") && std::time::Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            log.push_str(&line);
            log.push('\n');
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    log.extend(lines.try_iter().map(|l| l + "\n"));
    assert!(log.contains("admin_denied"), "{log}");
    assert!(
        !log.contains(wrong) && !log.contains(key),
        "a key reached the log"
    );
}
