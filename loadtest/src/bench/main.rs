//! `lares-bench`: measures Lares beside its ceilings, in one run, with one client and one
//! concurrency, and writes the table as Markdown and JSON. `scripts/bench` starts everything
//! this needs; see the README.
//!
//! ```sh
//! lares-bench ceiling-http --listen 127.0.0.1:18080   # an empty actix-web JSON handler
//! lares-bench ceiling-grpc --listen 127.0.0.1:19090   # an empty tonic unary RPC
//! lares-bench run --lares-pid PID --pg postgres://... --out bench/
//! ```

mod ceilings;
mod drive;
mod lares;
mod report;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use self::lares::{Grpc, Http};
use self::report::{Report, Row};

#[derive(Debug, Parser)]
#[command(about = "Benchmark Lares against its ceilings")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the empty actix-web JSON handler (POST /echo).
    CeilingHttp {
        #[arg(long, default_value = "127.0.0.1:18080")]
        listen: SocketAddr,
        /// Worker threads; 0 = one per core, as Lares.
        #[arg(long, default_value_t = 0)]
        workers: usize,
    },
    /// Serve the empty tonic unary RPC.
    CeilingGrpc {
        #[arg(long, default_value = "127.0.0.1:19090")]
        listen: SocketAddr,
    },
    /// Run every measurement and write the report.
    Run(Box<Run>),
}

#[derive(Debug, Clone, clap::Args)]
struct Run {
    #[arg(long, default_value = "http://127.0.0.1:8001")]
    http: String,
    #[arg(long, default_value = "http://127.0.0.1:9101")]
    grpc: String,
    #[arg(long, default_value = "http://127.0.0.1:8101")]
    internal: String,
    #[arg(long, default_value = "http://127.0.0.1:18080")]
    ceiling_http: String,
    #[arg(long, default_value = "http://127.0.0.1:19090")]
    ceiling_grpc: String,
    /// PostgreSQL for the raw-insert ceiling (a scratch table is made and dropped).
    #[arg(long)]
    pg: String,
    /// The Lares process, for its resident memory.
    #[arg(long)]
    lares_pid: u32,
    /// Seconds per timed measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Requests in flight, for Lares and ceilings alike.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// gRPC connections the requests share.
    #[arg(long, default_value_t = 4)]
    grpc_connections: usize,
    /// Fresh tokens per validation measurement.
    #[arg(long, default_value_t = 20_000)]
    tokens: usize,
    /// Live session actors to measure memory with.
    #[arg(long, default_value_t = 200_000)]
    actors: usize,
    /// Argon2id cost, as configured in Lares.
    #[arg(long, default_value_t = 19_456)]
    memory_kib: u32,
    #[arg(long, default_value_t = 2)]
    iterations: u32,
    #[arg(long, default_value_t = 1)]
    parallelism: u32,
    /// Where the report goes (`bench.md`, `bench.json`).
    #[arg(long, default_value = "bench")]
    out: PathBuf,
    /// Measure only these parts (comma-separated); all of them by default.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Part>,
}

/// The parts of a run, for `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Validate,
    Returning,
    Refresh,
    Creation,
    Password,
    Bulkhead,
    Memory,
}

impl Run {
    fn wants(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::CeilingHttp { listen, workers } => {
            let workers = if workers == 0 { cores() } else { workers };
            Ok(ceilings::serve_http(listen, workers)?)
        }
        Command::CeilingGrpc { listen } => runtime()?.block_on(ceilings::serve_grpc(listen)),
        Command::Run(run) => runtime()?.block_on(measure(*run)),
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn say(what: &str) {
    eprintln!("== {what}");
}

async fn measure(run: Run) -> anyhow::Result<()> {
    let c = run.concurrency;
    let duration = Duration::from_secs(run.seconds);
    let http = Http::new(&run.http, c);
    let internal = Http::new(&run.internal, 2);
    let grpc = Grpc::connect(&run.grpc, run.grpc_connections).await?;
    let tag = format!("{:x}", rand::random::<u32>());
    let mut report = Report::new(&run, cores());
    let players = if [
        Part::Validate,
        Part::Returning,
        Part::Refresh,
        Part::Bulkhead,
    ]
    .iter()
    .any(|&p| run.wants(p))
    {
        say("preparing players");
        lares::create_players(&http, &format!("{tag}p"), 1000, c).await
    } else {
        Vec::new()
    };

    if run.wants(Part::Validate) {
        say("ceiling: empty tonic unary RPC");
        let ceiling_grpc = Grpc::connect(&run.ceiling_grpc, run.grpc_connections).await?;
        let empty_rpc = lares::grpc_ceiling(&ceiling_grpc, c, duration).await;
        let tokens = lares::fresh_tokens(&http, &players, run.tokens, c).await;
        say("Validate (unary)");
        let unary = lares::validate_unary(&grpc, tokens, c).await;
        report.push(Row::new(
            "Validate (unary)",
            &unary,
            "empty tonic unary RPC",
            &empty_rpc,
            0.6,
        ));
        let tokens = lares::fresh_tokens(&http, &players, run.tokens, c).await;
        say("ValidateStream");
        let stream = lares::validate_stream(&grpc, tokens, run.grpc_connections).await;
        report.push(Row::new(
            "ValidateStream",
            &stream,
            "empty tonic unary RPC",
            &empty_rpc,
            2.0,
        ));
    }

    if run.wants(Part::Returning) || run.wants(Part::Refresh) {
        say("ceiling: empty actix-web JSON handler");
        let ceiling_http = Http::new(&run.ceiling_http, c);
        let empty_http = lares::http_ceiling(&ceiling_http, c, duration).await;
        if run.wants(Part::Returning) {
            say("DeviceLogin (existing) + Token");
            let returning = lares::device_login_and_token(&http, &players, c, duration).await;
            report.push(Row::new(
                "DeviceLogin (existing) + Token",
                &returning,
                "empty actix-web JSON handler",
                &empty_http,
                0.4,
            ));
        }
        if run.wants(Part::Refresh) {
            say("Refresh");
            let refresh = lares::refreshes(&http, players.clone(), c, duration).await;
            report.push(Row::new(
                "Refresh",
                &refresh,
                "empty actix-web JSON handler",
                &empty_http,
                0.5,
            ));
        }
    }

    if run.wants(Part::Creation) {
        say("ceiling: raw multi-row INSERT into PostgreSQL (500 rows, 2 at a time)");
        let inserts = ceilings::postgres_inserts(&run.pg, 500, 2, duration).await?;
        say("DeviceLogin (creating, durable)");
        let created = lares::creations(&http, &format!("{tag}c"), c, duration).await;
        report.push(Row::new(
            "DeviceLogin (creating, durable)",
            &created,
            "raw multi-row INSERT (rows/s)",
            &inserts,
            0.5,
        ));
    }

    let users = if run.wants(Part::Password) || run.wants(Part::Bulkhead) {
        lares::register_users(&http, &tag, 64, 4).await
    } else {
        Vec::new()
    };
    if run.wants(Part::Password) {
        say("ceiling: raw Argon2id on every core");
        let hashes = ceilings::argon2_rate(
            run.memory_kib,
            run.iterations,
            run.parallelism,
            cores(),
            duration,
        );
        say("UsernameLogin");
        let logins = lares::password_logins(&http, &users, c, duration).await;
        report.push(Row::new(
            "UsernameLogin",
            &logins,
            "raw Argon2id hashes/s, all cores",
            &hashes,
            0.9,
        ));
    }

    if run.wants(Part::Bulkhead) {
        say("bulkhead: Validate while UsernameLogin saturates the hash pool");
        let tokens = lares::fresh_tokens(&http, &players, run.tokens / 4, c).await;
        let saturate = lares::password_logins(&http, &users, c * 2, duration);
        let validate = lares::validate_unary(&grpc, tokens, 4);
        let (saturated, during) = tokio::join!(saturate, validate);
        report.bulkhead(&during, &saturated);
    }

    if run.wants(Part::Memory) {
        say(&format!("memory: {} live session actors", run.actors));
        let before_rss = lares::resident_bytes(run.lares_pid);
        let before_actors = lares::metric(&internal, "lares_session_actors ").await;
        let made = lares::create_players(&http, &format!("{tag}m"), run.actors, c).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after_rss = lares::resident_bytes(run.lares_pid);
        let after_actors = lares::metric(&internal, "lares_session_actors ").await;
        report.memory(
            before_rss,
            after_rss,
            before_actors,
            after_actors,
            made.len(),
        );
    }

    report.write(&run.out)?;
    print!("{}", report.markdown());
    Ok(())
}
