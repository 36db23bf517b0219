//! `lares` processes for the guarantee tests: started from the built binary with environment
//! configuration on loopback port 0, killed with SIGKILL or stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::Value;

pub struct Node {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    pub http: String,
    pub grpc: String,
    pub internal: String,
}

/// The environment every node of a test shares: one store, one Redis prefix, one set of keys.
pub fn cluster_env(store_url: &str, cache_url: &str, prefix: &str) -> Vec<(String, String)> {
    let keys = [
        ("STORE__URL", store_url.to_owned()),
        ("STORE__ACQUIRE_TIMEOUT_MS", "1000".to_owned()),
        ("CACHE__URL", cache_url.to_owned()),
        ("CACHE__KEY_PREFIX", prefix.to_owned()),
        ("SECRETS__TOKEN_KEY", STANDARD.encode(super::TOKEN_KEY)),
        ("SECRETS__SESSION_KEY", STANDARD.encode(super::SESSION_KEY)),
        (
            "SECRETS__PLATFORM_KEY",
            STANDARD.encode(super::PLATFORM_KEY),
        ),
        ("PASSWORD__MEMORY_KIB", "256".to_owned()),
        ("PASSWORD__ITERATIONS", "1".to_owned()),
        ("SERVER__HTTP_WORKERS", "2".to_owned()),
        ("SESSION__SHARDS", "2".to_owned()),
        ("LABEL__ZONE", "3".to_owned()),
        ("SERVER__HTTP_EXTERNAL", "127.0.0.1:0".to_owned()),
        ("SERVER__GRPC_EXTERNAL", "127.0.0.1:0".to_owned()),
        ("SERVER__HTTP_INTERNAL", "127.0.0.1:0".to_owned()),
        ("SERVER__GRPC_INTERNAL", "127.0.0.1:0".to_owned()),
    ];
    keys.into_iter()
        .map(|(k, v)| (format!("LARES__{k}"), v))
        .collect()
}

/// `env` with one key set or replaced.
pub fn with(mut env: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    let key = format!("LARES__{key}");
    env.retain(|(k, _)| *k != key);
    env.push((key, value.to_owned()));
    env
}

impl Node {
    /// Starts a node and waits until it serves.
    pub fn start(env: &[(String, String)]) -> Node {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lares"));
        for (key, _) in std::env::vars() {
            if key.starts_with("LARES__") {
                cmd.env_remove(key);
            }
        }
        cmd.env_remove("LARES_CONFIG")
            .env("LARES__LOG__JSON", "true")
            .env("RUST_LOG", "info");
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lares starts");
        let (tx, lines) = mpsc::channel();
        let streams: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for stream in streams {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let mut log = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let serving = loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break None;
            };
            let Ok(line) = lines.recv_timeout(left) else {
                break None;
            };
            log.push(line.clone());
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if entry["fields"]["message"] == "lares is serving" {
                break Some(entry["fields"].clone());
            }
        };
        let Some(fields) = serving else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("lares did not start:\n{}", log.join("\n"));
        };
        let addr = |name: &str| format!("http://{}", fields[name].as_str().unwrap());
        Node {
            http: addr("http_external"),
            grpc: addr("grpc_external"),
            internal: addr("http_internal"),
            child,
            lines,
            log,
        }
    }

    /// SIGKILL: the process gets no chance to flush anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("lares did not exit after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the node has logged so far.
    pub fn log(&mut self) -> String {
        self.log.extend(self.lines.try_iter());
        self.log.join("\n")
    }

    /// One metric's value from the node's `/metrics`.
    pub async fn metric(&self, http: &reqwest::Client, name: &str) -> f64 {
        let text = http
            .get(format!("{}/metrics", self.internal))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let line = text.lines().find(|l| l.starts_with(name));
        line.and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Redis server of the test's own, on a spare port, keeping nothing on disk.
pub struct OwnRedis {
    child: Option<Child>,
    pub port: u16,
}

impl OwnRedis {
    pub fn start() -> OwnRedis {
        let mut redis = OwnRedis {
            child: None,
            port: free_port(),
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port, empty.
    pub fn restart(&mut self) {
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server at once.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
