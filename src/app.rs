//! Assembly: binds the four listeners, opens the store, starts the hash pool, the actor shards
//! (on an actix system thread), the HTTP servers (actix-web) and the gRPC servers (tonic, on the
//! caller's tokio runtime), and takes them down again in order.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use anyhow::{Context, anyhow};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::actors::shards::Shards;
use crate::config::Config;
use crate::domain::clock::Clock;
use crate::grpc::{self, GrpcParts};
use crate::http::{self, HttpParts, body::Limits};
use crate::service::{Parts, Service};
use crate::store::cache::Cache;
use crate::store::notice_board::Refresher;
use crate::store::revocations::Hub;
use crate::store::write_behind::{Drain, WriteBehind};
use crate::store::{self, Store};
use crate::telemetry::Metrics;

pub mod seed;
mod wiring;

/// A running service and the addresses it listens on.
pub struct Running {
    pub http_external: SocketAddr,
    pub grpc_external: SocketAddr,
    pub http_internal: SocketAddr,
    pub grpc_internal: SocketAddr,
    http: Vec<ServerHandle>,
    grpc: Vec<JoinHandle<()>>,
    stop_grpc: watch::Sender<bool>,
    actix: Option<std::thread::JoinHandle<()>>,
    store: Arc<dyn Store>,
    cache: Arc<dyn Cache>,
    hub: Arc<Hub>,
    write_behind: WriteBehind,
    drain: Option<Drain>,
    drain_deadline: Duration,
    notices: Option<Refresher>,
    grace: Duration,
}

struct Listeners {
    http_external: TcpListener,
    grpc_external: TcpListener,
    http_internal: TcpListener,
    grpc_internal: TcpListener,
}

fn bind(key: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener =
        TcpListener::bind(addr).with_context(|| format!("{key}: cannot listen on {addr}"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

impl Listeners {
    fn bind(config: &Config) -> anyhow::Result<Self> {
        let s = &config.server;
        Ok(Listeners {
            http_external: bind("server.http_external", s.http_external)?,
            grpc_external: bind("server.grpc_external", s.grpc_external)?,
            http_internal: bind("server.http_internal", s.http_internal)?,
            grpc_internal: bind("server.grpc_internal", s.grpc_internal)?,
        })
    }
}

/// Starts everything. Must be awaited on a multi-threaded tokio runtime, which then carries
/// the gRPC servers and the store's connections.
pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    let (keys, warnings) = config.keys()?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    if config.admin.keys.is_empty() && config.admin.bootstrap_key.is_empty() {
        tracing::warn!(
            "no admin keys are configured (admin.keys, LARES__ADMIN__BOOTSTRAP_KEY): every admin \
             call will be refused"
        );
    }
    let listeners = Listeners::bind(config)?;
    let s = &config.store;
    let store = store::open(&s.url, s.max_connections, s.acquire_timeout_ms)
        .await
        .context("store.url: cannot open the store")?;
    let metrics = Arc::new(Metrics::new());
    if config.cache.url == "memory" && !config.store.url.starts_with("sqlite:") {
        tracing::warn!(
            "cache.url is `memory`: sessions are cached in this process only, so several nodes \
             on one store must share Redis instead"
        );
    }
    let data = wiring::open_data(config, store.clone(), clock.clone(), metrics.clone()).await?;
    let parts = wiring::service_parts(config, &keys, &data, clock, metrics.clone())?;
    let addrs = [
        listeners.http_external.local_addr()?,
        listeners.grpc_external.local_addr()?,
        listeners.http_internal.local_addr()?,
        listeners.grpc_internal.local_addr()?,
    ];
    let grpc_external = tokio::net::TcpListener::from_std(listeners.grpc_external.try_clone()?)?;
    let grpc_internal = tokio::net::TcpListener::from_std(listeners.grpc_internal.try_clone()?)?;
    let (service, http, actix) = start_actix(config, parts, metrics.clone(), listeners).await?;

    let (stop_grpc, stopped) = watch::channel(false);
    let grpc_parts = GrpcParts {
        service,
        metrics: metrics.clone(),
        message_limit: config.server.body_limit,
        subscriber_buffer: config.revocations.subscriber_buffer,
        slow_subscriber: Duration::from_millis(config.revocations.slow_subscriber_ms),
    };
    let external = grpc::serve_external(grpc_parts.clone(), grpc_external, wait(stopped.clone()));
    let internal = grpc::serve_internal(grpc_parts, grpc_internal, wait(stopped));
    let grpc = vec![
        spawn_server("grpc_external", external),
        spawn_server("grpc_internal", internal),
    ];
    let reload = Duration::from_millis(config.notices.reload_ms);
    let notices = data.notices.clone().start(reload);
    Ok(Running {
        http_external: addrs[0],
        grpc_external: addrs[1],
        http_internal: addrs[2],
        grpc_internal: addrs[3],
        http,
        grpc,
        stop_grpc,
        actix: Some(actix),
        store,
        cache: data.cache,
        hub: data.hub.clone(),
        write_behind: data.tiered.write_behind().clone(),
        drain: Some(data.drain),
        drain_deadline: Duration::from_secs(config.write_behind.drain_timeout_secs),
        notices: Some(notices),
        grace: Duration::from_secs(config.server.shutdown_grace_secs),
    })
}

type ActixStarted = (Service, Vec<ServerHandle>, std::thread::JoinHandle<()>);

/// Runs the actor shards and the two HTTP servers on a dedicated actix system thread.
async fn start_actix(
    config: &Config,
    parts: Parts,
    metrics: Arc<Metrics>,
    listeners: Listeners,
) -> anyhow::Result<ActixStarted> {
    let cores = Config::cores();
    let s = config.session.clone();
    let shard_count = if s.shards == 0 { cores } else { s.shards };
    let workers = if config.server.http_workers == 0 {
        cores
    } else {
        config.server.http_workers
    };
    let limits = Limits {
        body: config.server.body_limit,
    };
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let (ready_tx, ready_rx) = oneshot::channel::<anyhow::Result<(Service, Vec<ServerHandle>)>>();

    let thread = std::thread::Builder::new()
        .name("lares-actix".into())
        .spawn(move || {
            let system = actix_rt::System::new();
            system.block_on(async move {
                let idle = Duration::from_secs(s.actor_idle_secs);
                let timeout = Duration::from_millis(s.actor_timeout_ms);
                let shards = Arc::new(Shards::start(
                    shard_count,
                    parts.deps.clone(),
                    idle,
                    timeout,
                ));
                let service = Service::new(parts, shards);
                let parts = HttpParts {
                    service: service.clone(),
                    metrics,
                    limits,
                    workers,
                    shutdown_grace: grace,
                };
                let servers = http::external(parts.clone(), listeners.http_external)
                    .and_then(|ext| Ok((ext, http::internal(parts, listeners.http_internal)?)));
                let (external, internal) = match servers {
                    Ok(pair) => pair,
                    Err(err) => {
                        let _ = ready_tx.send(Err(anyhow!("cannot start the HTTP servers: {err}")));
                        service.stop_actors();
                        return;
                    }
                };
                let handles = vec![external.handle(), internal.handle()];
                let _ = ready_tx.send(Ok((service.clone(), handles)));
                let (a, b) = futures_util::future::join(external, internal).await;
                for err in [a.err(), b.err()].into_iter().flatten() {
                    tracing::error!(error = %err, "HTTP server failed");
                }
                service.stop_actors();
            });
        })?;
    let (service, handles) = ready_rx
        .await
        .map_err(|_| anyhow!("the actix thread died at start"))??;
    Ok((service, handles, thread))
}

fn spawn_server<F>(name: &'static str, server: F) -> JoinHandle<()>
where
    F: std::future::Future<Output = Result<(), tonic::transport::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(err) = server.await {
            tracing::error!(server = name, error = %err, "gRPC server failed");
        }
    })
}

async fn wait(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

impl Running {
    /// The revocation hub, for embedding: what is published here reaches every subscriber.
    pub fn revocations(&self) -> Arc<Hub> {
        self.hub.clone()
    }

    /// Writes everything the write-behind queue holds now; answers whether it all went.
    pub async fn flush_write_behind(&self) -> bool {
        self.write_behind.flush().await
    }

    /// Stops accepting, lets in-flight requests finish within the grace period, stops the
    /// actors and the notice reloads, and closes the store. A drain that overruns the grace
    /// period is logged.
    pub async fn shutdown(mut self) {
        let _ = self.stop_grpc.send(true);
        let http = futures_util::future::join_all(self.http.iter().map(|h| h.stop(true)));
        let grpc = futures_util::future::join_all(self.grpc.drain(..));
        let drained = futures_util::future::join(http, grpc);
        if tokio::time::timeout(self.grace + Duration::from_secs(1), drained)
            .await
            .is_err()
        {
            tracing::warn!(
                grace_secs = self.grace.as_secs(),
                "shutdown overran its grace period"
            );
        }
        if let Some(actix) = self.actix.take() {
            let _ = tokio::task::spawn_blocking(move || actix.join()).await;
        }
        if let Some(notices) = self.notices.take() {
            notices.stop().await;
        }
        if let Some(drain) = self.drain.take() {
            drain.drain(self.drain_deadline).await;
        }
        self.cache.close().await;
        self.store.close().await;
        tracing::info!("stopped");
    }
}
