//! The test harness: boots the real service on loopback port 0 against a fresh SQLite file or a
//! fresh PostgreSQL database, with a manual clock, and talks to it with real clients.

#![allow(dead_code)]

pub mod node;
pub mod platform;
pub mod proxy;

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::STANDARD};
use lares::app::Running;
use lares::config::{Config, Profile};
use lares::domain::clock::ManualClock;
use lares::proto::account::account_interface_client::AccountInterfaceClient;
use lares::store::Store;
use serde_json::Value;
use sqlx::Connection;
use tonic::transport::Channel;

/// Fixed test keys, so that tokens can be opened by independent code.
pub const TOKEN_KEY: [u8; 32] = *b"lares-test-token-key-32-bytes!!!";
pub const SESSION_KEY: [u8; 32] = *b"lares-test-session-key-32-bytes!";
pub const PLATFORM_KEY: [u8; 16] = *b"lares-platform16";
/// The operator key of every test service (the bootstrap key, acting as `bootstrap`).
pub const OPERATOR_KEY: &str = "lra_test-operator-key-000000000000";
/// A viewer key of every test service, named `ana`.
pub const VIEWER_KEY: &str = "lra_test-viewer-key-0000000000000000";

/// Where a test keeps its data: the store, and the cache in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite with the in-process cache (the embedded default).
    Sqlite,
    /// PostgreSQL with the in-process cache.
    Postgres,
    /// PostgreSQL with Redis: the multi-node deployment.
    Redis,
}

/// Where Redis is; tests use keys under a prefix of their own.
pub fn redis_url() -> String {
    std::env::var("LARES_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Deletes every Redis key under `prefix`.
pub async fn clear_redis_prefix(prefix: &str) {
    use fred::prelude::*;
    let client = Builder::from_config(Config::from_url(&redis_url()).unwrap())
        .build()
        .unwrap();
    client.init().await.unwrap();
    let mut cursor: String = "0".into();
    loop {
        let (next, keys): (String, Vec<String>) = client
            .custom(
                fred::cmd!("SCAN"),
                vec![
                    cursor.clone(),
                    "MATCH".into(),
                    format!("{prefix}*"),
                    "COUNT".into(),
                    "1000".into(),
                ],
            )
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: i64 = client.del(keys).await.unwrap();
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
    let _ = client.quit().await;
}

/// Where PostgreSQL is; tests create and drop their own databases there.
pub fn pg_admin_url() -> String {
    std::env::var("LARES_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `host:port` of PostgreSQL, from [`pg_admin_url`].
pub fn pg_addr() -> std::net::SocketAddr {
    let url = pg_admin_url();
    let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let host_port = after_scheme
        .rsplit_once('@')
        .map_or(after_scheme, |(_, rest)| rest);
    let host_port = host_port.split('/').next().unwrap();
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port
        .parse()
        .expect("LARES_TEST_PG names a numeric host and port")
}

/// A database of one test's own.
pub enum TestDb {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        name: String,
        url: String,
    },
}

impl TestDb {
    pub async fn create(backend: Backend) -> TestDb {
        match backend {
            Backend::Redis => Box::pin(TestDb::create(Backend::Postgres)).await,
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("lares.db").display());
                TestDb::Sqlite { _dir: dir, url }
            }
            Backend::Postgres => {
                let name = format!("lares_test_{}", hex::encode(rand::random::<[u8; 8]>()));
                let admin = pg_admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("PostgreSQL is reachable");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
                TestDb::Postgres {
                    url: format!("{base}/{name}"),
                    name,
                }
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }

    /// Rows in `table`, read directly from the database.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match self {
            TestDb::Sqlite { url, .. } => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
            TestDb::Postgres { url, .. } => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
        }
    }

    pub async fn drop_db(&self) {
        if let TestDb::Postgres { name, .. } = self {
            let mut conn = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

/// A store opened directly on a database of its own, without the service.
pub struct TestStore {
    pub db: TestDb,
    pub store: Arc<dyn Store>,
}

impl TestStore {
    pub async fn open(backend: Backend) -> TestStore {
        init_logging();
        let db = TestDb::create(backend).await;
        let store = lares::store::open(db.url(), 4, 5_000)
            .await
            .expect("store opens");
        TestStore { db, store }
    }

    pub async fn close(self) {
        self.store.close().await;
        self.db.drop_db().await;
    }
}

/// A configuration for tests: loopback port 0 everywhere, cheap password hashing, test keys.
pub fn test_config(store_url: &str) -> Config {
    let mut c = Config::default();
    let lo = "127.0.0.1:0".parse().unwrap();
    c.server.http_external = lo;
    c.server.grpc_external = lo;
    c.server.http_internal = lo;
    c.server.grpc_internal = lo;
    c.server.http_workers = 2;
    c.server.shutdown_grace_secs = 5;
    c.store.url = store_url.to_owned();
    c.store.max_connections = 4;
    c.label.profile = Profile::Dev;
    c.label.color = "local".into();
    c.label.zone = 3;
    c.secrets.token_key = STANDARD.encode(TOKEN_KEY);
    c.secrets.session_key = STANDARD.encode(SESSION_KEY);
    c.secrets.platform_key = STANDARD.encode(PLATFORM_KEY);
    c.password.memory_kib = 256;
    c.password.iterations = 1;
    c.password.threads = 2;
    c.session.shards = 2;
    c.admin.bootstrap_key = OPERATOR_KEY.into();
    c.admin.keys = vec![lares::config::AdminKey {
        name: "ana".into(),
        role: lares::config::AdminRole::Viewer,
        sha256: lares::domain::admin::key_hash(VIEWER_KEY),
    }];
    c
}

pub struct TestApp {
    pub running: Option<Running>,
    pub db: TestDb,
    pub clock: ManualClock,
    pub config: Config,
    pub http: reqwest::Client,
}

impl TestApp {
    pub async fn start(backend: Backend) -> TestApp {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
        init_logging();
        let db = TestDb::create(backend).await;
        let mut config = test_config(db.url());
        if backend == Backend::Redis {
            config.cache.url = redis_url();
            config.cache.key_prefix =
                format!("lares-test-{}:", hex::encode(rand::random::<[u8; 6]>()));
        }
        tweak(&mut config);
        config.validate().expect("test config is valid");
        let clock = ManualClock::new();
        let running = lares::app::start(&config, Arc::new(clock.clone()))
            .await
            .expect("service starts");
        let http = reqwest::Client::new();
        TestApp {
            running: Some(running),
            db,
            clock,
            config,
            http,
        }
    }

    /// Another node on the same configuration (store, cache, key prefix) and clock.
    pub async fn another_node(&self) -> Running {
        lares::app::start(&self.config, Arc::new(self.clock.clone()))
            .await
            .expect("second node starts")
    }

    /// With Redis, another node; otherwise none (the in-process cache serves one node).
    pub async fn another_node_if_shared(&self, backend: Backend) -> Option<Running> {
        match backend {
            Backend::Redis => Some(self.another_node().await),
            _ => None,
        }
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("running")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running().http_external)
    }

    pub fn internal_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running().http_internal)
    }

    /// POSTs JSON to the external HTTP edge; answers the status and the JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn grpc(&self) -> AccountInterfaceClient<Channel> {
        let url = format!("http://{}", self.running().grpc_external);
        AccountInterfaceClient::connect(url).await.unwrap()
    }

    /// An admin REST call on internal HTTP with `key` (none: no credential); answers the
    /// status and the JSON body (`null` when there is none).
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, self.internal_url(path));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A channel to internal gRPC.
    pub async fn internal_channel(&self) -> Channel {
        let url = format!("http://{}", self.running().grpc_internal);
        Channel::from_shared(url).unwrap().connect().await.unwrap()
    }

    /// Registers `username` with a standard password; answers the LoginInfo JSON.
    pub async fn register(&self, username: &str) -> Value {
        let (status, body) = self
            .post(
                "/accounts/v1/username/register",
                serde_json::json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// GETs a URL (see [`TestApp::url`] and [`TestApp::internal_url`]).
    pub async fn get(&self, url: String) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    /// The internal `/metrics` text.
    pub async fn metrics(&self) -> String {
        let response = self
            .http
            .get(self.internal_url("/metrics"))
            .send()
            .await
            .unwrap();
        response.text().await.unwrap()
    }

    /// Waits until everything written behind so far is in the store.
    pub async fn settle(&self) {
        assert!(
            self.running().flush_write_behind().await,
            "write-behind flushed"
        );
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        self.db.drop_db().await;
        if self.config.cache.url != "memory" {
            clear_redis_prefix(&self.config.cache.key_prefix).await;
        }
    }
}

pub const PASSWORD: &str = "correct horse battery";

/// `accountId` and `session` of a LoginInfo, as a request body.
pub fn session_body(info: &Value) -> Value {
    serde_json::json!({ "accountId": info["accountId"], "session": info["session"] })
}

pub fn init_logging() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Generates one test per backend (SQLite, PostgreSQL, PostgreSQL with Redis) from
/// `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! for_each_store {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Redis).await
                }
            )*
        }
    };
}

/// Generates one test per database (SQLite, PostgreSQL) from `async fn name(backend: Backend)`,
/// for tests of the store alone.
#[macro_export]
macro_rules! for_each_db {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}
