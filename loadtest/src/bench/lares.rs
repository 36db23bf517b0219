//! The Lares paths under measurement, each driven by the same client and concurrency as its
//! ceiling.

use std::sync::Arc;
use std::time::Duration;

use lares::proto::validator::ValidateRequest;
use lares::proto::validator::token_validator_client::TokenValidatorClient;
use serde_json::{Value, json};
use tonic::transport::Channel;

use super::drive::{self, Measured};

/// An HTTP client for one base URL.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    base: Arc<str>,
}

impl Http {
    pub fn new(base: &str, connections: usize) -> Http {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        Http {
            client,
            base: base.trim_end_matches('/').into(),
        }
    }

    /// POSTs JSON; answers the body of a 2xx answer.
    pub async fn post(&self, path: &str, body: &Value) -> Option<Value> {
        let response = match self
            .client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => {
                debug(&format!("{path}: {error}"));
                return None;
            }
        };
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            debug(&format!("{path}: {status} {text}"));
            return None;
        }
        response.json().await.ok()
    }

    pub async fn get_text(&self, path: &str) -> Option<String> {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()
    }
}

/// With `BENCH_DEBUG` set, says why a request failed.
fn debug(what: &str) {
    if std::env::var_os("BENCH_DEBUG").is_some() {
        eprintln!("   ! {what}");
    }
}

/// Several gRPC connections, used in turn, so that one HTTP/2 connection is not the limit.
#[derive(Clone)]
pub struct Grpc {
    channels: Vec<TokenValidatorClient<Channel>>,
}

impl Grpc {
    pub async fn connect(url: &str, connections: usize) -> anyhow::Result<Grpc> {
        let mut channels = Vec::with_capacity(connections);
        for _ in 0..connections {
            channels.push(TokenValidatorClient::connect(url.to_owned()).await?);
        }
        Ok(Grpc { channels })
    }

    pub fn client(&self, n: usize) -> TokenValidatorClient<Channel> {
        self.channels[n % self.channels.len()].clone()
    }
}

/// A signed-in device: its id, account and current session credential.
#[derive(Debug, Clone)]
pub struct Player {
    pub device: String,
    pub account_id: String,
    pub session: String,
}

pub fn device_name(run: &str, n: usize) -> String {
    format!("bench-{run}-{n:09}")
}

pub async fn sign_in(http: &Http, device: &str) -> Option<Player> {
    let info = http
        .post("/accounts/v1/device/login", &json!({ "deviceId": device }))
        .await?;
    Some(Player {
        device: device.to_owned(),
        account_id: info["accountId"].as_str()?.to_owned(),
        session: info["session"].as_str()?.to_owned(),
    })
}

/// Creates `count` guest accounts on `workers` workers; answers them signed in.
pub async fn create_players(http: &Http, run: &str, count: usize, workers: usize) -> Vec<Player> {
    let made = Arc::new(tokio::sync::Mutex::new(Vec::with_capacity(count)));
    let (http, run2, sink) = (http.clone(), run.to_owned(), made.clone());
    drive::over_items(workers, (0..count).collect(), move |_, n| {
        let (http, run, sink) = (http.clone(), run2.clone(), sink.clone());
        async move {
            match sign_in(&http, &device_name(&run, n)).await {
                Some(player) => {
                    sink.lock().await.push(player);
                    true
                }
                None => false,
            }
        }
    })
    .await;
    Arc::try_unwrap(made)
        .map(|m| m.into_inner())
        .unwrap_or_default()
}

/// Rotates a player's session with `Token`; answers the handshake token.
pub async fn token(http: &Http, player: &mut Player) -> Option<String> {
    let body = json!({ "accountId": player.account_id, "session": player.session });
    let answer = http.post("/accounts/v1/token", &body).await?;
    player.session = answer["session"].as_str()?.to_owned();
    Some(answer["token"].as_str()?.to_owned())
}

/// `count` fresh handshake tokens, spread over the players.
pub async fn fresh_tokens(
    http: &Http,
    players: &[Player],
    count: usize,
    workers: usize,
) -> Vec<String> {
    let per = count.div_ceil(players.len().max(1));
    let shares: Vec<Player> = players.to_vec();
    let made = Arc::new(tokio::sync::Mutex::new(Vec::with_capacity(count)));
    let (http, sink) = (http.clone(), made.clone());
    drive::over_items(
        workers.min(shares.len()).max(1),
        shares,
        move |_, player: Player| {
            let (http, sink) = (http.clone(), sink.clone());
            async move {
                // Earlier measurements rotated this session: sign in anew.
                let Some(mut player) = sign_in(&http, &player.device).await else {
                    return false;
                };
                let mut mine = Vec::with_capacity(per);
                for _ in 0..per {
                    if let Some(token) = token(&http, &mut player).await {
                        mine.push(token);
                    }
                }
                sink.lock().await.extend(mine);
                true
            }
        },
    )
    .await;
    let mut tokens = Arc::try_unwrap(made)
        .map(|m| m.into_inner())
        .unwrap_or_default();
    tokens.truncate(count);
    tokens
}

/// Unary `Validate` of every token once.
pub async fn validate_unary(grpc: &Grpc, tokens: Vec<String>, workers: usize) -> Measured {
    let grpc = grpc.clone();
    drive::over_items(workers, tokens, move |worker, token| {
        let mut client = grpc.client(worker);
        async move {
            let answer = client.validate(ValidateRequest { id: 0, token }).await;
            answer.is_ok_and(|a| a.get_ref().valid)
        }
    })
    .await
}

/// `ValidateStream`: `streams` streams, each sending its share of the tokens and reading the
/// answers; every answer is one sample, timed from its request.
pub async fn validate_stream(grpc: &Grpc, tokens: Vec<String>, streams: usize) -> Measured {
    let chunk = tokens.len().div_ceil(streams.max(1)).max(1);
    let shares: Vec<Vec<String>> = tokens.chunks(chunk).map(|c| c.to_vec()).collect();
    let grpc = grpc.clone();
    let started = std::time::Instant::now();
    let mut hist =
        hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    let (mut ok, mut failed) = (0u64, 0u64);
    let tasks: Vec<_> = shares
        .into_iter()
        .enumerate()
        .map(|(n, share)| {
            let mut client = grpc.client(n);
            tokio::spawn(async move {
                let sent: Arc<std::sync::Mutex<Vec<std::time::Instant>>> = Arc::default();
                let stamps = sent.clone();
                let outbound = futures_util::stream::iter(share.into_iter().enumerate().map(
                    move |(i, token)| {
                        stamps.lock().unwrap().push(std::time::Instant::now());
                        ValidateRequest {
                            id: i as u64,
                            token,
                        }
                    },
                ));
                let mut samples = Vec::new();
                let mut bad = 0u64;
                if let Ok(answers) = client.validate_stream(outbound).await {
                    let mut answers = answers.into_inner();
                    while let Ok(Some(answer)) = answers.message().await {
                        let sent_at = sent.lock().unwrap().get(answer.id as usize).copied();
                        match (answer.valid, sent_at) {
                            (true, Some(at)) => {
                                samples.push(at.elapsed().as_micros().max(1) as u64)
                            }
                            _ => bad += 1,
                        }
                    }
                }
                (samples, bad)
            })
        })
        .collect();
    for task in tasks {
        if let Ok((samples, bad)) = task.await {
            ok += samples.len() as u64;
            failed += bad;
            for sample in samples {
                let _ = hist.record(sample);
            }
        }
    }
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Measured {
        ok,
        failed,
        seconds: started.elapsed().as_secs_f64(),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
    }
}

/// The empty-RPC ceiling: unary calls that do nothing, for `duration`.
pub async fn grpc_ceiling(grpc: &Grpc, workers: usize, duration: Duration) -> Measured {
    let grpc = grpc.clone();
    drive::for_duration(workers, duration, move |worker, _| {
        let mut client = grpc.client(worker);
        async move {
            let answer = client
                .validate(ValidateRequest {
                    id: 1,
                    token: "x".into(),
                })
                .await;
            u64::from(answer.is_ok())
        }
    })
    .await
}

/// The empty-handler ceiling: JSON POSTs answered at once, for `duration`.
pub async fn http_ceiling(http: &Http, workers: usize, duration: Duration) -> Measured {
    let http = http.clone();
    drive::for_duration(workers, duration, move |_, n| {
        let http = http.clone();
        async move {
            u64::from(
                http.post("/echo", &json!({ "deviceId": format!("echo-{n}") }))
                    .await
                    .is_some(),
            )
        }
    })
    .await
}

/// `DeviceLogin` of an existing device, then `Token`: two requests per round.
pub async fn device_login_and_token(
    http: &Http,
    players: &[Player],
    workers: usize,
    duration: Duration,
) -> Measured {
    let (http, players) = (http.clone(), Arc::new(players.to_vec()));
    drive::for_duration(workers, duration, move |worker, n| {
        let (http, players) = (http.clone(), players.clone());
        async move {
            let device = &players[(worker + n as usize * workers) % players.len()].device;
            let Some(mut player) = sign_in(&http, device).await else {
                return 0;
            };
            if token(&http, &mut player).await.is_some() {
                2
            } else {
                0
            }
        }
    })
    .await
}

/// `DeviceLogin` of new devices: each answer is an account durable in PostgreSQL.
pub async fn creations(http: &Http, run: &str, workers: usize, duration: Duration) -> Measured {
    let (http, serial, run) = (http.clone(), drive::counter(), run.to_owned());
    drive::for_duration(workers, duration, move |_, _| {
        let (http, serial, run) = (http.clone(), serial.clone(), run.clone());
        async move {
            u64::from(
                sign_in(&http, &device_name(&run, drive::next(&serial)))
                    .await
                    .is_some(),
            )
        }
    })
    .await
}

/// `Refresh`: each worker rotates its own players' sessions.
pub async fn refreshes(
    http: &Http,
    players: Vec<Player>,
    workers: usize,
    duration: Duration,
) -> Measured {
    // Earlier measurements rotated these sessions: sign in anew.
    let mut fresh = Vec::with_capacity(players.len());
    for player in &players {
        if let Some(signed) = sign_in(http, &player.device).await {
            fresh.push(signed);
        }
    }
    let players = fresh;
    let pools: Vec<Arc<tokio::sync::Mutex<Vec<Player>>>> = (0..workers)
        .map(|w| {
            Arc::new(tokio::sync::Mutex::new(
                players.iter().skip(w).step_by(workers).cloned().collect(),
            ))
        })
        .collect();
    let (http, pools) = (http.clone(), Arc::new(pools));
    drive::for_duration(workers, duration, move |worker, n| {
        let (http, pools) = (http.clone(), pools.clone());
        async move {
            let mut pool = pools[worker].lock().await;
            if pool.is_empty() {
                return 0;
            }
            let slot = n as usize % pool.len();
            let player = &mut pool[slot];
            let body = json!({ "accountId": player.account_id, "session": player.session });
            match http
                .post("/accounts/v1/refresh", &body)
                .await
                .and_then(|a| a["session"].as_str().map(str::to_owned))
            {
                Some(session) => {
                    player.session = session;
                    1
                }
                None => 0,
            }
        }
    })
    .await
}

pub const PASSWORD: &str = "benchmark password";

/// Registers `count` username accounts.
pub async fn register_users(http: &Http, run: &str, count: usize, workers: usize) -> Vec<String> {
    let names: Vec<String> = (0..count)
        .map(|n| format!("b{}u{n}", &run[..run.len().min(12)]))
        .collect();
    let http2 = http.clone();
    drive::over_items(workers, names.clone(), move |_, name| {
        let http = http2.clone();
        async move {
            let body = json!({ "username": name, "password": PASSWORD });
            http.post("/accounts/v1/username/register", &body)
                .await
                .is_some()
        }
    })
    .await;
    names
}

/// `UsernameLogin` of the given users; answers the measurement and the share refused with 503.
pub async fn password_logins(
    http: &Http,
    users: &[String],
    workers: usize,
    duration: Duration,
) -> Measured {
    let (http, users) = (http.clone(), Arc::new(users.to_vec()));
    drive::for_duration(workers, duration, move |worker, n| {
        let (http, users) = (http.clone(), users.clone());
        async move {
            let name = &users[(worker + n as usize * 7) % users.len()];
            let body = json!({ "username": name, "password": PASSWORD });
            u64::from(
                http.post("/accounts/v1/username/login", &body)
                    .await
                    .is_some(),
            )
        }
    })
    .await
}

/// One metric's value from the internal `/metrics`.
pub async fn metric(internal: &Http, name: &str) -> Option<f64> {
    let text = internal.get_text("/metrics").await?;
    let line = text.lines().find(|l| l.starts_with(name))?;
    line.rsplit(' ').next()?.parse().ok()
}

/// Resident memory of a process, bytes.
pub fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
