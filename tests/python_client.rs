//! Proof of the wire formats by code that shares nothing with Lares: a Python client compiled
//! from `proto/` runs the whole flow over gRPC and opens handshake tokens with the
//! `cryptography` package (tests/python/lares_client.py). `scripts/test` prepares the Python
//! environment; elsewhere set `LARES_PYTHON` to an interpreter with tests/python/requirements.txt.

mod common;

use std::path::PathBuf;
use std::process::Command;

use base64::{Engine, engine::general_purpose::STANDARD};
use common::{Backend, TestApp};
use lares::domain::ids::AccountIdCodec;

fn python() -> PathBuf {
    if let Ok(path) = std::env::var("LARES_PYTHON") {
        return PathBuf::from(path);
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let venv = PathBuf::from(home).join(".cache/lares/pyenv/bin/python");
    assert!(
        venv.exists(),
        "no Python environment: run scripts/test, or set LARES_PYTHON to a python with tests/python/requirements.txt"
    );
    venv
}

for_each_store!(python_grpc_client_runs_the_flow_and_opens_tokens);

async fn python_grpc_client_runs_the_flow_and_opens_tokens(backend: Backend) {
    let app = TestApp::start(backend).await;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let grpc = app.running().grpc_external.to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(root.join("tests/python/lares_client.py"))
            .args(["--grpc", &grpc, "--proto-dir"])
            .arg(root.join("proto"))
            .args(["--token-key", &STANDARD.encode(common::TOKEN_KEY)])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "python client failed:\n{stderr}");
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let codec = AccountIdCodec::new(
        &app.config.account.id_salt,
        app.config.account.id_min_length,
    )
    .unwrap();
    let account = codec.decode(seen["account_id"].as_str().unwrap()).unwrap();
    assert_eq!(seen["token_account_id"].as_i64(), Some(account.0));
    assert_eq!(seen["zone"], 3);
    assert_eq!(seen["color"], "local");
    assert_eq!(seen["timeout"].as_i64(), seen["token_timeout"].as_i64());
    assert!(seen["timeout"].as_i64().unwrap() > 1_700_000_000);
    app.stop().await;
}
