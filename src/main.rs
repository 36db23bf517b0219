//! The `lares` binary: loads the configuration, starts the service, and shuts it down
//! gracefully on SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use lares::config::Config;
use lares::domain::clock::SystemClock;

/// Account and session service for game backends.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file. Default: configs/lares.toml when it exists, else built-in
    /// defaults. Every key can be overridden by LARES__<SECTION>__<KEY>.
    #[arg(long, env = "LARES_CONFIG")]
    config: Option<PathBuf>,
}

const DEFAULT_CONFIG: &str = "configs/lares.toml";

/// Many small, short-lived allocations cross threads on every request; mimalloc's per-thread
/// heaps take them without the arena locks of the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Ok(runtime) => runtime.block_on(serve(config)),
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
