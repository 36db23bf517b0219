//! The data guarantees, demonstrated with several `lares` processes sharing one PostgreSQL and
//! one Redis, killed with SIGKILL or stopped with SIGTERM mid-load. Sizes are small enough for
//! CI; `scripts/storm` runs them larger (`LARES_STORM_SIZE`).

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::node::{Node, OwnRedis, cluster_env, with};
use common::proxy::Proxy;
use common::{Backend, TestDb, clear_redis_prefix, redis_url};
use lares::domain::ids::AccountIdCodec;
use serde_json::{Value, json};
use sqlx::Connection;

fn storm_size() -> usize {
    std::env::var("LARES_STORM_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// These tests run one at a time: each already loads the machine with several processes.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One PostgreSQL database and one Redis key prefix for a test's nodes.
struct Cluster {
    _serial: tokio::sync::MutexGuard<'static, ()>,
    db: TestDb,
    prefix: String,
    env: Vec<(String, String)>,
    http: reqwest::Client,
}

impl Cluster {
    async fn new() -> Cluster {
        let serial = SERIAL.lock().await;
        common::init_logging();
        let db = TestDb::create(Backend::Postgres).await;
        let prefix = format!("lares-test-{}:", hex::encode(rand::random::<[u8; 6]>()));
        let env = cluster_env(db.url(), &redis_url(), &prefix);
        Cluster {
            _serial: serial,
            db,
            prefix,
            env,
            http: client(),
        }
    }

    async fn pg(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(self.db.url()).await.unwrap()
    }

    async fn scalar(&self, sql: &str) -> i64 {
        let mut pg = self.pg().await;
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&mut pg)
            .await
            .unwrap()
    }

    /// Waits until `sql` answers `want`, at most `limit`; answers the last value.
    async fn wait_for(&self, sql: &str, want: i64, limit: Duration) -> i64 {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let got = self.scalar(sql).await;
            if got == want || tokio::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn cleanup(self) {
        self.db.drop_db().await;
        clear_redis_prefix(&self.prefix).await;
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn post(http: &reqwest::Client, base: &str, path: &str, body: Value) -> Option<(u16, Value)> {
    let response = http
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or(Value::Null)))
}

fn codec() -> AccountIdCodec {
    AccountIdCodec::new("lares", 8).unwrap()
}

/// Guarantee 1: a storm of creations across two nodes, one killed mid-storm. Every creation
/// answered 2xx is in PostgreSQL under its device, and no device has two accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn storm_with_a_node_killed_loses_no_acknowledged_account() {
    let c = Cluster::new().await;
    let a = Node::start(&c.env);
    let b = Arc::new(std::sync::Mutex::new(Node::start(&c.env)));
    let bases = [a.http.clone(), b.lock().unwrap().http.clone()];
    let total = storm_size();
    let answered = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(64));

    let killer = {
        let (answered, b) = (answered.clone(), b.clone());
        tokio::task::spawn_blocking(move || {
            while answered.load(Ordering::Relaxed) < total / 4 {
                std::thread::sleep(Duration::from_millis(2));
            }
            b.lock().unwrap().kill();
        })
    };
    let logins = (0..total).map(|i| {
        let (http, gate, answered) = (c.http.clone(), gate.clone(), answered.clone());
        let base = bases[i % 2].clone();
        tokio::spawn(async move {
            let _slot = gate.acquire().await.unwrap();
            let device = format!("storm-device-{i:07}");
            let answer = post(
                &http,
                &base,
                "/accounts/v1/device/login",
                json!({ "deviceId": device }),
            )
            .await;
            answered.fetch_add(1, Ordering::Relaxed);
            (device, answer)
        })
    });
    let started = std::time::Instant::now();
    let results = futures_util::future::join_all(logins).await;
    let elapsed = started.elapsed().as_secs_f64();
    killer.await.unwrap();

    let mut acked: HashMap<String, i64> = HashMap::new();
    let mut unanswered = Vec::new();
    for result in results {
        let (device, answer) = result.unwrap();
        match answer {
            Some((200, body)) => {
                let id = codec().decode(body["accountId"].as_str().unwrap()).unwrap();
                acked.insert(device, id.0);
            }
            Some((status, body)) if status < 500 => panic!("{device}: {status} {body}"),
            _ => unanswered.push(device),
        }
    }
    eprintln!(
        "storm: {total} creations in {elapsed:.2} s ({:.0}/s across two nodes, one killed); \
         {} acknowledged, {} unanswered",
        total as f64 / elapsed,
        acked.len(),
        unanswered.len()
    );
    assert!(!unanswered.is_empty(), "the kill landed mid-storm");
    assert!(
        acked.len() >= total / 2,
        "the surviving node answered its share"
    );
    // Devices whose answer was lost sign in on the survivor: each finds or makes one account.
    for device in &unanswered {
        let answer = post(
            &c.http,
            &a.http,
            "/accounts/v1/device/login",
            json!({ "deviceId": device }),
        )
        .await;
        let (status, body) = answer.expect("the surviving node answers");
        assert_eq!(status, 200, "{body}");
        acked.insert(
            device.clone(),
            codec()
                .decode(body["accountId"].as_str().unwrap())
                .unwrap()
                .0,
        );
    }

    let mut pg = c.pg().await;
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT subject, account_id FROM identities WHERE provider = 'device'")
            .fetch_all(&mut pg)
            .await
            .unwrap();
    let stored: HashMap<String, i64> = rows.into_iter().collect();
    for (device, account) in &acked {
        assert_eq!(
            stored.get(device),
            Some(account),
            "acknowledged account of {device} is stored"
        );
    }
    assert_eq!(stored.len(), total, "every device has exactly one account");
    assert_eq!(
        c.scalar("SELECT COUNT(*) FROM accounts").await,
        total as i64,
        "no orphaned accounts"
    );
    drop(a);
    c.cleanup().await;
}

/// Guarantee 3: one credential presented to two nodes at the same moment rotates exactly once;
/// a retired credential presented after the grace window revokes the family on every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_credential_at_two_nodes_rotates_once() {
    let c = Cluster::new().await;
    let env = with(c.env.clone(), "SESSION__GRACE_SECS", "1");
    let (mut a, mut b) = (Node::start(&env), Node::start(&env));
    let (_, info) = post(
        &c.http,
        &a.http,
        "/accounts/v1/device/login",
        json!({"deviceId": "twin-device"}),
    )
    .await
    .unwrap();
    let account = info["accountId"].clone();
    let mut current = json!({"accountId": account, "session": info["session"]});
    let mut retired = Vec::new();
    for round in 0..25 {
        let calls = [&a.http, &b.http, &a.http, &b.http]
            .map(|base| post(&c.http, base, "/accounts/v1/refresh", current.clone()));
        let answers = futures_util::future::join_all(calls).await;
        let answers: Vec<(u16, Value)> = answers.into_iter().map(Option::unwrap).collect();
        let winners: Vec<&Value> = answers
            .iter()
            .filter(|(s, _)| *s == 200)
            .map(|(_, b)| b)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {answers:?}");
        assert!(
            answers
                .iter()
                .all(|(s, b)| *s == 200 || b["reason"] == "SESSION_ILLEGAL")
        );
        retired.push(current);
        current = json!({"accountId": account, "session": winners[0]["session"]});
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    // A credential retired five rotations ago (a family remembers its last 16).
    let stolen = retired[20].clone();
    let (status, body) = post(&c.http, &b.http, "/accounts/v1/refresh", stolen)
        .await
        .unwrap();
    assert_eq!(status, 401, "reuse is refused: {body}");
    for base in [a.http.clone(), b.http.clone()] {
        let (status, body) = post(&c.http, &base, "/accounts/v1/refresh", current.clone())
            .await
            .unwrap();
        let logs = format!("A:\n{}\nB:\n{}", a.log(), b.log());
        assert_eq!(
            (status, body["reason"].as_str()),
            (401, Some("SESSION_ILLEGAL")),
            "family revoked at {base}: {logs}"
        );
    }
    drop((a, b));
    c.cleanup().await;
}

/// Guarantee 5, crash: after SIGKILL, everything written behind more than one flush window
/// before the kill is in PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_loses_nothing_older_than_a_flush_window() {
    let c = Cluster::new().await;
    let mut node = Node::start(&with(c.env.clone(), "WRITE_BEHIND__INTERVAL_MS", "100"));
    let count = 200;
    for i in 0..count {
        let device = format!("crash-device-{i:04}");
        let (status, info) = post(
            &c.http,
            &node.http,
            "/accounts/v1/device/login",
            json!({ "deviceId": device }),
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
        let (status, _) = post(
            &c.http,
            &node.http,
            "/accounts/v1/refresh",
            json!({"accountId": info["accountId"], "session": info["session"]}),
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
    }
    // Ten flush windows later, then no chance to flush anything more.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    node.kill();
    assert_eq!(c.scalar("SELECT COUNT(*) FROM login_events").await, count);
    assert_eq!(
        c.scalar("SELECT COUNT(*) FROM accounts WHERE last_login_at IS NOT NULL")
            .await,
        count
    );
    assert_eq!(
        c.scalar("SELECT COUNT(*) FROM sessions WHERE generation = 1")
            .await,
        count,
        "rotations are durable"
    );
    c.cleanup().await;
}

/// Guarantee 5, graceful: SIGTERM under load loses nothing that was answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_loses_nothing() {
    let c = Cluster::new().await;
    let node = Arc::new(std::sync::Mutex::new(Node::start(&c.env)));
    let base = node.lock().unwrap().http.clone();
    let (logins, refreshes) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let workers = (0..16).map(|w| {
        let (http, base, logins, refreshes) = (
            c.http.clone(),
            base.clone(),
            logins.clone(),
            refreshes.clone(),
        );
        tokio::spawn(async move {
            for i in 0.. {
                let device = format!("term-{w:02}-{i:06}");
                let Some((200, info)) = post(
                    &http,
                    &base,
                    "/accounts/v1/device/login",
                    json!({ "deviceId": device }),
                )
                .await
                else {
                    break;
                };
                logins.fetch_add(1, Ordering::Relaxed);
                let body = json!({"accountId": info["accountId"], "session": info["session"]});
                let Some((200, _)) = post(&http, &base, "/accounts/v1/refresh", body).await else {
                    break;
                };
                refreshes.fetch_add(1, Ordering::Relaxed);
            }
        })
    });
    let workers: Vec<_> = workers.collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stopped = tokio::task::spawn_blocking(move || node.lock().unwrap().terminate());
    futures_util::future::join_all(workers).await;
    let status = stopped.await.unwrap();
    assert_eq!(status.code(), Some(0), "graceful exit");
    let (logins, refreshes) = (
        logins.load(Ordering::Relaxed) as i64,
        refreshes.load(Ordering::Relaxed) as i64,
    );
    assert!(logins > 50, "the load ran: {logins} sign-ins");
    assert_eq!(
        c.scalar("SELECT COUNT(*) FROM login_events").await,
        logins,
        "every answered sign-in"
    );
    assert_eq!(
        c.scalar("SELECT COUNT(*) FROM sessions").await,
        logins,
        "every family"
    );
    assert_eq!(
        c.scalar("SELECT COALESCE(SUM(generation), 0)::int8 FROM sessions")
            .await,
        refreshes,
        "every answered rotation"
    );
    c.cleanup().await;
}

/// Guarantee 6, Redis: stopped during load, requests keep succeeding through the store; once it
/// is back (empty), they succeed through it again, with no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losing_redis_degrades_and_recovers() {
    let c = Cluster::new().await;
    let mut redis = OwnRedis::start();
    let env = with(c.env.clone(), "CACHE__URL", &redis.url());
    let env = with(env, "CACHE__RETRY_AFTER_MS", "300");
    let nodes = [Node::start(&env), Node::start(&env)];
    let bases: Vec<String> = nodes.iter().map(|n| n.http.clone()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (done, failures) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(std::sync::Mutex::new(Vec::new())),
    );
    let trace = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let clients = (0..12).map(|k| {
        let (http, bases, stop, done, failures) = (
            c.http.clone(),
            bases.clone(),
            stop.clone(),
            done.clone(),
            failures.clone(),
        );
        let trace = trace.clone();
        tokio::spawn(async move {
            let device = format!("steady-device-{k:03}");
            let (_, info) = post(
                &http,
                &bases[k % 2],
                "/accounts/v1/device/login",
                json!({ "deviceId": device }),
            )
            .await
            .unwrap();
            let mut body = json!({"accountId": info["accountId"], "session": info["session"]});
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let path = if round % 3 == 0 {
                    "/accounts/v1/token"
                } else {
                    "/accounts/v1/refresh"
                };
                match post(&http, &bases[(k + round) % 2], path, body.clone()).await {
                    Some((200, answer)) => {
                        let node = (k + round) % 2;
                        let secret = answer["session"].as_str().unwrap_or("").to_owned();
                        trace.lock().unwrap().push(format!(
                            "client {k} round {round} node {node} ok {}",
                            &secret[..30.min(secret.len())]
                        ));
                        body["session"] = answer["session"].clone()
                    }
                    other => {
                        let node = (k + round) % 2;
                        let tail: Vec<String> = trace
                            .lock()
                            .unwrap()
                            .iter()
                            .filter(|l| l.starts_with(&format!("client {k} ")))
                            .rev()
                            .take(6)
                            .cloned()
                            .collect();
                        failures.lock().unwrap().push(format!(
                            "client {k} round {round} node {node} {path}: {other:?} after {tail:?}"
                        ));
                        return;
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    });
    let clients: Vec<_> = clients.collect();
    tokio::time::sleep(Duration::from_millis(600)).await;
    redis.stop();
    let before = done.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = done.load(Ordering::Relaxed) - before;
    redis.restart();
    let http = client();
    for node in &nodes {
        let mut back = false;
        for _ in 0..200 {
            if node.metric(&http, "lares_cache_degraded ").await == 0.0 {
                back = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(back, "the node uses Redis again");
        assert!(
            node.metric(&http, "lares_cache_errors_total").await > 0.0,
            "the outage was noticed"
        );
    }
    let after_start = done.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::Relaxed);
    futures_util::future::join_all(clients).await;
    let failures = failures.lock().unwrap().clone();
    let mut nodes = nodes;
    let logs: Vec<String> = nodes.iter_mut().map(|n| n.log()).collect();
    let logs: Vec<&str> = logs
        .iter()
        .flat_map(|l| l.lines())
        .filter(|l| l.contains("\"lares::"))
        .collect();
    let logs = logs.join("\n");
    assert!(failures.is_empty(), "requests failed: {failures:?}\n{logs}");
    assert!(
        during > 20,
        "requests went on without Redis: {during}\n{logs}"
    );
    assert!(
        done.load(Ordering::Relaxed) > after_start + 20,
        "and with it once back"
    );
    let keys = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "DBSIZE"])
        .output()
        .unwrap();
    let keys: i64 = String::from_utf8_lossy(&keys.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(keys > 0, "sessions are cached in Redis again");
    drop(nodes);
    c.cleanup().await;
}

/// Guarantee 6, PostgreSQL: cut off, creations answer 503 and existing players keep signing in
/// from Redis; once it is back, everything acknowledged meanwhile reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losing_postgres_stops_creations_only() {
    let c = Cluster::new().await;
    let target = common::pg_addr();
    let proxy = Proxy::open(target).await;
    let via_proxy =
        c.db.url()
            .replace(&target.to_string(), &format!("127.0.0.1:{}", proxy.port));
    assert_ne!(
        via_proxy,
        c.db.url(),
        "the store URL goes through the proxy"
    );
    let node = Node::start(&with(c.env.clone(), "STORE__URL", &via_proxy));
    let devices: Vec<String> = (0..5).map(|i| format!("known-device-{i}")).collect();
    for device in &devices {
        let (status, _) = post(
            &c.http,
            &node.http,
            "/accounts/v1/device/login",
            json!({ "deviceId": device }),
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
    }
    assert_eq!(
        c.wait_for(
            "SELECT COUNT(*) FROM login_events",
            5,
            Duration::from_secs(10)
        )
        .await,
        5
    );

    proxy.cut();
    let (status, body) = post(
        &c.http,
        &node.http,
        "/accounts/v1/device/login",
        json!({"deviceId": "brand-new-device"}),
    )
    .await
    .unwrap();
    assert_eq!(
        (status, body["reason"].as_str()),
        (503, Some("UNAVAILABLE")),
        "creation needs the store"
    );
    let ready = c
        .http
        .get(format!("{}/health/ready", node.internal))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    for device in &devices {
        let (status, info) = post(
            &c.http,
            &node.http,
            "/accounts/v1/device/login",
            json!({ "deviceId": device }),
        )
        .await
        .unwrap();
        assert_eq!(
            status, 200,
            "a known device signs in without the store: {info}"
        );
        let body = json!({"accountId": info["accountId"], "session": info["session"]});
        let (status, rotated) = post(&c.http, &node.http, "/accounts/v1/refresh", body)
            .await
            .unwrap();
        assert_eq!(status, 200, "{rotated}");
        let body = json!({"accountId": info["accountId"], "session": rotated["session"]});
        let (status, token) = post(&c.http, &node.http, "/accounts/v1/token", body)
            .await
            .unwrap();
        assert_eq!(status, 200, "{token}");
    }

    proxy.restore().await;
    let limit = Duration::from_secs(20);
    assert_eq!(
        c.wait_for("SELECT COUNT(*) FROM login_events", 10, limit)
            .await,
        10,
        "queued sign-ins arrive"
    );
    let sql = "SELECT COALESCE(SUM(generation), 0)::int8 FROM sessions";
    assert_eq!(
        c.wait_for(sql, 10, limit).await,
        10,
        "queued rotations arrive"
    );
    let (status, _) = post(
        &c.http,
        &node.http,
        "/accounts/v1/device/login",
        json!({"deviceId": "brand-new-device"}),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "creations work again");
    drop(node);
    c.cleanup().await;
}
