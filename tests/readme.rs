//! The README's curl walkthrough, run as written against a live server.

mod common;

use std::process::Command;

use common::{Backend, TestApp};

/// The shell block that follows the `<!-- walkthrough -->` marker in README.md.
fn walkthrough() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let after = readme.split_once("<!-- walkthrough -->").expect("marker").1;
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
    let script = format!("set -euo pipefail\n{}", walkthrough());
    let base = app.url("");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .args(["-c", &script])
            .env("LARES", base)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "walkthrough failed:\n{stdout}\n{stderr}"
    );
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
