//! The ceilings Lares is measured against, served by this binary on the same machine: an empty
//! actix-web JSON handler, and an empty tonic unary RPC (the `Validate` of the gateway service,
//! answering at once), plus raw PostgreSQL inserts and raw Argon2id hashing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use actix_web::{App, HttpServer, web};
use argon2::password_hash::PasswordHasher;
use argon2::{Algorithm, Argon2, Params, Version};
use lares::proto::validator::token_validator_server::{TokenValidator, TokenValidatorServer};
use lares::proto::validator::{
    Revocation, ValidateRequest, ValidateResponse, WatchRevocationsRequest,
};
use serde_json::Value;
use sqlx::Connection;
use tonic::{Request, Response, Status, Streaming};

use super::drive::{self, Measured};

/// An actix-web server with one handler that parses a JSON body and answers JSON.
pub fn serve_http(listen: SocketAddr, workers: usize) -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| App::new().route("/echo", web::post().to(echo)))
            .workers(workers)
            .bind(listen)?
            .run()
            .await
    })
}

async fn echo(body: web::Json<Value>) -> web::Json<Value> {
    web::Json(serde_json::json!({ "ok": true, "seen": body.0.as_object().map_or(0, |o| o.len()) }))
}

struct Empty;

type Stream<T> = std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl TokenValidator for Empty {
    async fn validate(
        &self,
        req: Request<ValidateRequest>,
    ) -> Result<Response<ValidateResponse>, Status> {
        Ok(Response::new(ValidateResponse {
            id: req.into_inner().id,
            valid: true,
            ..Default::default()
        }))
    }

    type ValidateStreamStream = Stream<ValidateResponse>;

    async fn validate_stream(
        &self,
        _: Request<Streaming<ValidateRequest>>,
    ) -> Result<Response<Self::ValidateStreamStream>, Status> {
        Err(Status::unimplemented("the ceiling is unary"))
    }

    type WatchRevocationsStream = Stream<Revocation>;

    async fn watch_revocations(
        &self,
        _: Request<WatchRevocationsRequest>,
    ) -> Result<Response<Self::WatchRevocationsStream>, Status> {
        Err(Status::unimplemented("the ceiling is unary"))
    }
}

/// A tonic server whose unary `Validate` does nothing.
pub async fn serve_grpc(listen: SocketAddr) -> anyhow::Result<()> {
    // Configured as Lares configures its gRPC listeners.
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .max_concurrent_streams(1024)
        .add_service(TokenValidatorServer::new(Empty))
        .serve_with_incoming(incoming)
        .await?;
    Ok(())
}

/// Raw multi-row inserts of account-like rows into a scratch table, `batch` rows per statement,
/// `workers` statements at a time, for `duration`; answers rows per second.
pub async fn postgres_inserts(
    url: &str,
    batch: usize,
    workers: usize,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS bench_ceiling; \
         CREATE TABLE bench_ceiling (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
         zone INTEGER NOT NULL, subject TEXT NOT NULL UNIQUE, created_at TIMESTAMPTZ NOT NULL, ip TEXT)",
    )
    .execute(&mut conn)
    .await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(workers as u32)
        .connect(url)
        .await?;
    let serial = drive::counter();
    let measured = drive::for_duration(workers, duration, move |_, _| {
        let (pool, serial) = (pool.clone(), serial.clone());
        async move {
            let base = drive::next(&serial) * batch;
            let subjects: Vec<String> = (base..base + batch)
                .map(|i| format!("ceiling-device-{i}"))
                .collect();
            let inserted = sqlx::query(
                "INSERT INTO bench_ceiling (zone, subject, created_at, ip) \
                 SELECT 1, s, now(), '127.0.0.1' FROM unnest($1::text[]) AS u(s)",
            )
            .bind(&subjects)
            .execute(&pool)
            .await;
            if inserted.is_ok() { batch as u64 } else { 0 }
        }
    })
    .await;
    sqlx::raw_sql("DROP TABLE IF EXISTS bench_ceiling")
        .execute(&mut conn)
        .await?;
    Ok(measured)
}

/// Raw Argon2id hashes per second on `threads` threads with the given cost.
pub fn argon2_rate(
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    threads: usize,
    duration: Duration,
) -> Measured {
    let params =
        Params::new(memory_kib, iterations, parallelism, None).expect("valid Argon2 parameters");
    let started = Instant::now();
    let counts: Vec<(u64, Vec<u64>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let params = params.clone();
                scope.spawn(move || {
                    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                    let (mut n, mut samples) = (0u64, Vec::new());
                    while started.elapsed() < duration {
                        let begun = Instant::now();
                        if argon2.hash_password(b"benchmark password").is_ok() {
                            n += 1;
                            samples.push(begun.elapsed().as_micros() as u64);
                        }
                    }
                    (n, samples)
                })
            })
            .collect();
        workers.into_iter().filter_map(|w| w.join().ok()).collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let mut samples: Vec<u64> = counts.iter().flat_map(|(_, s)| s.iter().copied()).collect();
    samples.sort_unstable();
    let at = |q: f64| {
        samples
            .get(((samples.len() as f64 * q) as usize).min(samples.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let ok = counts.iter().map(|(n, _)| n).sum();
    Measured {
        ok,
        failed: 0,
        seconds,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
    }
}
