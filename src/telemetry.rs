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
            registry: Registry::default(),
        };
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
        .with_target(true);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
