//! Load tests of a Lares deployment, on goose. Point `--host` at the external HTTP listener;
//! the gateway scenario also needs the internal gRPC listener (`LARES_GRPC`, default: the host
//! with port 9101). Pick scenarios with `--scenarios` (hyphens in names are optional: goose
//! knows `launch-storm` as `launchstorm`) and write goose's HTML report with
//! `--report-file report.html`.
//!
//! ```sh
//! cargo run -p lares-loadtest --release -- --host http://127.0.0.1:8001 \
//!     --scenarios launch-storm --users 200 --increase-rate 50 --run-time 60s --report-file storm.html
//! ```
//!
//! Scenarios:
//! - `launch-storm`: new guest accounts (`DeviceLogin` of a fresh device), then a handshake token.
//! - `returning`: device login of an existing account, `Refresh`, `Token`.
//! - `password`: register once, then password logins.
//! - `validate`: the gateway's gRPC `Validate` and `ValidateStream`, with fresh tokens.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use goose::config::GooseConfiguration;
use goose::prelude::*;
use lares::proto::validator::ValidateRequest;
use lares::proto::validator::token_validator_client::TokenValidatorClient;
use serde_json::{Value, json};
use tonic::transport::Channel;

/// Unique per process and user, so that concurrent runs and users never collide.
static SERIAL: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    let run = std::process::id();
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{run}-{n}-{:08x}", rand::random::<u32>())
}

/// What a user holds between transactions.
#[derive(Clone)]
struct Player {
    device: String,
    username: String,
    account_id: String,
    session: String,
    gate: Option<TokenValidatorClient<Channel>>,
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let configuration = if args.iter().any(|a| a == "-h" || a == "--help") {
        GooseConfiguration::parse_args_default_or_exit()
    } else {
        match GooseConfiguration::parse_args_default(&scenario_names_without_hyphens(args)) {
            Ok(configuration) => configuration,
            Err(GooseError::InvalidOption {
                option,
                value,
                detail,
            }) => {
                eprintln!("error: {option} {value}: {detail}");
                std::process::exit(2);
            }
            Err(error) => return Err(error),
        }
    };
    GooseAttack::initialize_with_config(configuration)?
        .register_scenario(
            scenario!("LaunchStorm")
                .register_transaction(transaction!(launch_storm).set_name("new guest + token")),
        )
        .register_scenario(
            scenario!("Returning")
                .register_transaction(transaction!(sign_up_device).set_on_start())
                .register_transaction(
                    transaction!(returning).set_name("device login, refresh, token"),
                ),
        )
        .register_scenario(
            scenario!("Password")
                .register_transaction(transaction!(register).set_on_start())
                .register_transaction(transaction!(password_login).set_name("password login")),
        )
        .register_scenario(
            scenario!("Validate")
                .register_transaction(transaction!(gateway_start).set_on_start())
                .register_transaction(transaction!(validate_unary).set_name("Validate"))
                .register_transaction(transaction!(validate_stream).set_name("ValidateStream")),
        )
        .execute()
        .await?;
    Ok(())
}

/// Goose names scenarios by letters and digits only; accept `launch-storm` for `launchstorm`.
fn scenario_names_without_hyphens(mut args: Vec<String>) -> Vec<String> {
    let mut value_next = false;
    for arg in &mut args {
        if value_next {
            *arg = arg.replace('-', "");
            value_next = false;
        } else if let Some(list) = arg.strip_prefix("--scenarios=") {
            *arg = format!("--scenarios={}", list.replace('-', ""));
        } else {
            value_next = arg == "--scenarios";
        }
    }
    args
}

/// POSTs JSON and answers the parsed body; a failed request fails the transaction.
async fn post(
    user: &mut GooseUser,
    path: &str,
    body: &Value,
) -> Result<Value, Box<TransactionError>> {
    let goose = user.post_json(path, body).await?;
    match goose.response {
        Ok(response) if response.status().is_success() => {
            Ok(response.json().await.unwrap_or(Value::Null))
        }
        _ => Err(Box::new(TransactionError::RequestFailed {
            raw_request: Box::new(goose.request),
        })),
    }
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

async fn launch_storm(user: &mut GooseUser) -> TransactionResult {
    let info = post(
        user,
        "/accounts/v1/device/login",
        &json!({ "deviceId": unique("storm") }),
    )
    .await?;
    let body = json!({ "accountId": info["accountId"], "session": info["session"] });
    post(user, "/accounts/v1/token", &body).await?;
    Ok(())
}

async fn sign_up_device(user: &mut GooseUser) -> TransactionResult {
    let device = unique("returning");
    let info = post(
        user,
        "/accounts/v1/device/login",
        &json!({ "deviceId": device }),
    )
    .await?;
    let player = Player {
        device,
        username: String::new(),
        account_id: text(&info, "accountId"),
        session: text(&info, "session"),
        gate: None,
    };
    user.set_session_data(player);
    Ok(())
}

async fn returning(user: &mut GooseUser) -> TransactionResult {
    let device = user.get_session_data_unchecked::<Player>().device.clone();
    let info = post(
        user,
        "/accounts/v1/device/login",
        &json!({ "deviceId": device }),
    )
    .await?;
    let body = json!({ "accountId": info["accountId"], "session": info["session"] });
    let refreshed = post(user, "/accounts/v1/refresh", &body).await?;
    let body = json!({ "accountId": info["accountId"], "session": refreshed["session"] });
    post(user, "/accounts/v1/token", &body).await?;
    Ok(())
}

const PASSWORD: &str = "load test password";

async fn register(user: &mut GooseUser) -> TransactionResult {
    let username = unique("u")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(32)
        .collect::<String>();
    post(
        user,
        "/accounts/v1/username/register",
        &json!({ "username": username, "password": PASSWORD }),
    )
    .await?;
    let player = Player {
        device: String::new(),
        username,
        account_id: String::new(),
        session: String::new(),
        gate: None,
    };
    user.set_session_data(player);
    Ok(())
}

async fn password_login(user: &mut GooseUser) -> TransactionResult {
    let username = user.get_session_data_unchecked::<Player>().username.clone();
    post(
        user,
        "/accounts/v1/username/login",
        &json!({ "username": username, "password": PASSWORD }),
    )
    .await?;
    Ok(())
}

/// The internal gRPC address: `LARES_GRPC`, else the host with port 9101.
fn grpc_address(user: &GooseUser) -> String {
    if let Ok(address) = std::env::var("LARES_GRPC") {
        return address;
    }
    let mut base = user.base_url.clone();
    let _ = base.set_port(Some(9101));
    base.as_str().trim_end_matches('/').to_owned()
}

async fn gateway_start(user: &mut GooseUser) -> TransactionResult {
    let info = post(
        user,
        "/accounts/v1/device/login",
        &json!({ "deviceId": unique("gate") }),
    )
    .await?;
    let address = grpc_address(user);
    let gate = TokenValidatorClient::connect(address).await.ok();
    let player = Player {
        device: String::new(),
        username: String::new(),
        account_id: text(&info, "accountId"),
        session: text(&info, "session"),
        gate,
    };
    user.set_session_data(player);
    Ok(())
}

/// A fresh handshake token (the session rotates with it).
async fn fresh_token(user: &mut GooseUser) -> Result<String, Box<TransactionError>> {
    let player = user.get_session_data_unchecked::<Player>();
    let body = json!({ "accountId": player.account_id, "session": player.session });
    let answer = post(user, "/accounts/v1/token", &body).await?;
    user.get_session_data_unchecked_mut::<Player>().session = text(&answer, "session");
    Ok(text(&answer, "token"))
}

async fn validate_unary(user: &mut GooseUser) -> TransactionResult {
    let token = fresh_token(user).await?;
    let Some(mut gate) = user.get_session_data_unchecked::<Player>().gate.clone() else {
        return user
            .record_custom_request(
                "gRPC",
                "Validate",
                0,
                false,
                None,
                Some("no gRPC connection"),
            )
            .await;
    };
    let started = Instant::now();
    let answer = gate.validate(ValidateRequest { id: 1, token }).await;
    let elapsed = started.elapsed();
    let valid = answer.as_ref().map(|a| a.get_ref().valid).unwrap_or(false);
    let error = (!valid).then_some("refused");
    user.record_custom_request_duration("gRPC", "Validate", elapsed, valid, Some(200), error)
        .await
}

async fn validate_stream(user: &mut GooseUser) -> TransactionResult {
    let mut tokens = Vec::with_capacity(10);
    for _ in 0..10 {
        tokens.push(fresh_token(user).await?);
    }
    let Some(mut gate) = user.get_session_data_unchecked::<Player>().gate.clone() else {
        return user
            .record_custom_request(
                "gRPC",
                "ValidateStream",
                0,
                false,
                None,
                Some("no gRPC connection"),
            )
            .await;
    };
    let requests: Vec<ValidateRequest> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, token)| ValidateRequest {
            id: i as u64,
            token,
        })
        .collect();
    let started = Instant::now();
    let mut valid = 0;
    if let Ok(answers) = gate
        .validate_stream(futures_util::stream::iter(requests))
        .await
    {
        let mut answers = answers.into_inner();
        while let Ok(Some(answer)) = answers.message().await {
            valid += usize::from(answer.valid);
        }
    }
    let elapsed = started.elapsed();
    let error = (valid != 10).then_some("refused");
    user.record_custom_request_duration(
        "gRPC",
        "ValidateStream x10",
        elapsed,
        valid == 10,
        Some(200),
        error,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::scenario_names_without_hyphens;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn hyphenated_scenario_names_reach_goose_without_hyphens() {
        let args = strings(&[
            "--host",
            "http://a-b",
            "--scenarios",
            "launch-storm,validate",
        ]);
        assert_eq!(
            scenario_names_without_hyphens(args),
            strings(&[
                "--host",
                "http://a-b",
                "--scenarios",
                "launchstorm,validate"
            ])
        );
        let args = strings(&["--scenarios=launch-storm", "--run-time", "1m"]);
        assert_eq!(
            scenario_names_without_hyphens(args),
            strings(&["--scenarios=launchstorm", "--run-time", "1m"])
        );
    }
}
