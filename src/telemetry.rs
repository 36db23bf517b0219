//! Metrics (Prometheus text on internal HTTP) and logging. Labels carry routes, methods and
//! outcomes only; never an account id, a credential or a client address.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `http` or `grpc`.
    pub edge: &'static str,
    /// Route pattern or gRPC method; `unmatched` for anything else.
    pub route: String,
    pub method: &'static str,
    /// HTTP status, or the gRPC code name.
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub edge: &'static str,
    pub route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoginLabels {
    pub provider: &'static str,
    /// `ok` or the failure reason.
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub event: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Every metric the service exports, registered once at start.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub logins: Family<LoginLabels, Counter>,
    pub security_events: Family<EventLabels, Counter>,
    pub live_actors: Gauge,
    pub hash_queue: Gauge,
    pub hash_rejected: Counter,
    pub write_behind_depth: Gauge,
    pub write_behind_batch: Histogram,
    pub write_behind_flush: Histogram,
    pub write_behind_shed: Counter,
    pub write_behind_errors: Counter,
    pub write_behind_discarded: Counter,
    pub create_batch: Histogram,
    pub cache_errors: Counter,
    pub cache_degraded: Gauge,
    pub revocations: Counter,
    pub revocation_subscribers: Gauge,
    pub revocation_dropped: Counter,
    pub validations: Family<ReasonLabels, Counter>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// `valid` or the reason a token was refused.
    pub outcome: &'static str,
}

fn size_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 14))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("lares");
        let m = Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            logins: Family::default(),
            security_events: Family::default(),
            live_actors: Gauge::default(),
            hash_queue: Gauge::default(),
            hash_rejected: Counter::default(),
            write_behind_depth: Gauge::default(),
            write_behind_batch: size_histogram(),
            write_behind_flush: latency_histogram(),
            write_behind_shed: Counter::default(),
            write_behind_errors: Counter::default(),
            write_behind_discarded: Counter::default(),
            create_batch: size_histogram(),
            cache_errors: Counter::default(),
            cache_degraded: Gauge::default(),
            revocations: Counter::default(),
            revocation_subscribers: Gauge::default(),
            revocation_dropped: Counter::default(),
            validations: Family::default(),
            registry: Registry::default(),
        };
        m.register_data_path(&mut registry);
        registry.register(
            "requests",
            "Requests by edge, route, method and outcome",
            m.requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Request latency by edge and route",
            m.latency.clone(),
        );
        registry.register(
            "logins",
            "Sign-ins by provider and outcome",
            m.logins.clone(),
        );
        registry.register(
            "security_events",
            "Security events by kind",
            m.security_events.clone(),
        );
        registry.register(
            "session_actors",
            "Live session actors",
            m.live_actors.clone(),
        );
        registry.register(
            "hash_queue_depth",
            "Password hash jobs waiting for a thread",
            m.hash_queue.clone(),
        );
        registry.register(
            "hash_rejected",
            "Password hash jobs refused because the queue was full",
            m.hash_rejected.clone(),
        );
        Metrics { registry, ..m }
    }

    fn register_data_path(&self, r: &mut Registry) {
        r.register(
            "write_behind_depth",
            "Records waiting to be written behind",
            self.write_behind_depth.clone(),
        );
        r.register(
            "write_behind_batch_size",
            "Records per write-behind flush",
            self.write_behind_batch.clone(),
        );
        r.register(
            "write_behind_flush_seconds",
            "Duration of write-behind flushes",
            self.write_behind_flush.clone(),
        );
        r.register(
            "write_behind_shed",
            "Records dropped because the write-behind queue was full",
            self.write_behind_shed.clone(),
        );
        r.register(
            "write_behind_flush_errors",
            "Write-behind flushes that failed and will be retried",
            self.write_behind_errors.clone(),
        );
        r.register(
            "create_batch_size",
            "Accounts per group-committed creation transaction",
            self.create_batch.clone(),
        );
        r.register(
            "cache_errors",
            "Cache commands that failed or timed out",
            self.cache_errors.clone(),
        );
        r.register(
            "cache_degraded",
            "1 while the cache is unreachable and the store serves sessions",
            self.cache_degraded.clone(),
        );
        r.register(
            "revocations",
            "Session revocations published",
            self.revocations.clone(),
        );
        r.register(
            "revocation_subscribers",
            "Live WatchRevocations subscribers",
            self.revocation_subscribers.clone(),
        );
        r.register(
            "revocation_subscribers_dropped",
            "Subscribers dropped for falling behind",
            self.revocation_dropped.clone(),
        );
        r.register(
            "token_validations",
            "Handshake-token validations by outcome",
            self.validations.clone(),
        );
    }

    /// Records one finished request.
    pub fn observe(
        &self,
        edge: &'static str,
        route: &str,
        method: &'static str,
        outcome: String,
        seconds: f64,
    ) {
        let labels = RequestLabels {
            edge,
            route: route.to_owned(),
            method,
            outcome,
        };
        self.requests.get_or_create(&labels).inc();
        let route = RouteLabels {
            edge,
            route: route.to_owned(),
        };
        self.latency.get_or_create(&route).observe(seconds);
    }

    /// Counts a security event (failed login, reuse caught, ...). The caller logs it.
    pub fn security_event(&self, event: &'static str) {
        self.security_events
            .get_or_create(&EventLabels { event })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Installs the global tracing subscriber: `RUST_LOG` if set, else the configured level.
pub fn init_logging(level: &str, json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
