//! The `lares` binary: loads the configuration, starts the service, and shuts it down
//! gracefully on SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use lares::app::seed::SeedQa;
use lares::config::{Admin, AdminKey, AdminRole, Config};
use lares::domain::clock::SystemClock;

/// Account and session service for game backends.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file. Default: configs/lares.toml when it exists, else built-in
    /// defaults. Every key can be overridden by LARES__<SECTION>__<KEY>.
    #[arg(long, env = "LARES_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Serve (the default).
    Serve,
    /// Print a new admin key and the `admin.keys` entry that accepts it.
    AdminKey {
        /// Who will hold the key (the audit log's actor).
        #[arg(long)]
        name: String,
        /// viewer or operator.
        #[arg(long, default_value = "viewer")]
        role: AdminRole,
    },
    /// Create (or reset) QA accounts <prefix>1..<prefix><count> with a default colour, in the
    /// configured store. Refused in the prod profile.
    SeedQa {
        #[arg(long, default_value_t = 10)]
        count: u32,
        #[arg(long, default_value = "qa")]
        color: String,
        #[arg(long, default_value = "qa")]
        prefix: String,
        /// Their password; one is generated and printed when not given.
        #[arg(long, env = "LARES_QA_PASSWORD")]
        password: Option<String>,
    },
}

const DEFAULT_CONFIG: &str = "configs/lares.toml";

/// Many small, short-lived allocations cross threads on every request; mimalloc's per-thread
/// heaps take them without the arena locks of the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::AdminKey { name, role }) = &cli.command {
        return admin_key(name, *role);
    }
    let file = cli
        .config
        .or_else(|| Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.is_file()));
    let config = match Config::load(file.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("lares: {err}");
            return ExitCode::from(2);
        }
    };
    lares::telemetry::init_logging(&config.log.level, config.log.json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lares-io")
        .build();
    match runtime {
        Ok(runtime) => match cli.command {
            Some(Command::SeedQa {
                count,
                color,
                prefix,
                password,
            }) => {
                let seed = SeedQa {
                    prefix,
                    count,
                    color,
                    password,
                };
                runtime.block_on(seed_qa(config, seed))
            }
            _ => runtime.block_on(serve(config)),
        },
        Err(err) => {
            eprintln!("lares: cannot start the runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> ExitCode {
    let running = match lares::app::start(&config, Arc::new(SystemClock)).await {
        Ok(running) => running,
        Err(err) => {
            tracing::error!("cannot start: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        http_external = %running.http_external,
        grpc_external = %running.grpc_external,
        http_internal = %running.http_internal,
        grpc_internal = %running.grpc_internal,
        profile = ?config.label.profile,
        store = store_kind(&config.store.url),
        "lares is serving"
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    ExitCode::SUCCESS
}

fn admin_key(name: &str, role: AdminRole) -> ExitCode {
    let key = lares::domain::admin::new_key();
    let entry = AdminKey {
        name: name.to_owned(),
        role,
        sha256: lares::domain::admin::key_hash(&key),
    };
    let check = Admin {
        bootstrap_key: String::new(),
        keys: vec![entry.clone()],
    };
    if let Err(err) = check.validate() {
        eprintln!("lares: {err}");
        return ExitCode::from(2);
    }
    println!("key (give it to {name}; it is not stored anywhere): {key}");
    println!("config entry for configs/lares.toml:");
    println!();
    println!("[[admin.keys]]");
    println!("name = \"{}\"", entry.name);
    println!("role = \"{}\"", entry.role.as_str());
    println!("sha256 = \"{}\"", entry.sha256);
    ExitCode::SUCCESS
}

async fn seed_qa(config: Config, seed: SeedQa) -> ExitCode {
    let now = lares::domain::clock::Clock::now_ms(&SystemClock);
    match lares::app::seed::seed_qa(&config, &seed, now).await {
        Ok(done) => {
            println!(
                "seed-qa: {} created, {} updated ({}1..{}{}), colour {}",
                done.created, done.updated, seed.prefix, seed.prefix, seed.count, seed.color
            );
            if seed.password.is_none() {
                println!("password: {}", done.password);
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("lares: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The store's kind, for the log: URLs may carry passwords.
fn store_kind(url: &str) -> &'static str {
    if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
