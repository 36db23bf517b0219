//! The README's curl walkthroughs, run as written against a live server.

mod common;

use std::process::Command;

use common::{Backend, TestApp};

/// The shell block that follows `marker` in README.md.
fn block(marker: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let after = readme.split_once(marker).expect("marker").1;
    let block = after.split_once("```sh\n").expect("opening fence").1;
    block
        .split_once("\n```")
        .expect("closing fence")
        .0
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_walkthrough_works_as_written() {
    let app = TestApp::start(Backend::Sqlite).await;
    let stdout = run(block("<!-- walkthrough -->"), vec![("LARES", app.url(""))]).await;
    assert!(stdout.contains(r#""register": true"#), "{stdout}");
    assert!(stdout.contains(r#""tokenTimeout": ""#), "{stdout}");
    assert!(stdout.contains("{}"), "logout answered: {stdout}");
    assert!(
        stdout.trim_end().ends_with('}') && stdout.contains(r#""reason": "SESSION_ILLEGAL""#),
        "{stdout}"
    );
    assert_eq!(app.db.count("accounts").await, 2, "a guest and a player");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_admin_walkthrough_works_as_written() {
    let app = TestApp::start(Backend::Sqlite).await;
    let player = app.register("player_7").await;
    let account = player["accountId"].as_str().unwrap().to_owned();
    let stdout = run(
        block("<!-- admin walkthrough -->"),
        vec![
            ("LARES_ADMIN", app.internal_url("")),
            ("LARES_ADMIN_KEY", common::OPERATOR_KEY.to_owned()),
        ],
    )
    .await;
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "1",
            "banned",
            "active",
            "qa",
            "account.set_color",
            "account.unban",
            "account.ban"
        ],
        "{stdout}"
    );
    let (status, view) = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/accounts/{account}"),
            Some(common::VIEWER_KEY),
            None,
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["account"]["defaultColor"], "qa");
    assert_eq!(view["account"]["status"], "active");
    assert_eq!(
        view["sessions"].as_array().unwrap().len(),
        0,
        "the ban ended the session"
    );
    app.stop().await;
}

/// Runs `script` under `bash -euo pipefail` with `env`; answers its output, failing the test if
/// the script fails.
async fn run(script: String, env: Vec<(&'static str, String)>) -> String {
    let script = format!("set -euo pipefail\n{script}");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .args(["-c", &script])
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "walkthrough failed:\n{stdout}\n{stderr}"
    );
    stdout
}
