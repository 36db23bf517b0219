//! The gateway service on internal gRPC (`lares.gate.v1.TokenValidator`): unary and streamed
//! validation, and the revocation stream. Every stream is bounded: validations in flight per
//! stream, events buffered per subscriber; a subscriber that stops reading is dropped with
//! `RESOURCE_EXHAUSTED` instead of holding memory.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::proto::validator::token_validator_server::TokenValidator;
use crate::proto::validator::{
    Revocation, ValidateRequest, ValidateResponse, WatchRevocationsRequest,
};
use crate::service::Service;
use crate::store::revocations::{Next, ResumeError};
use crate::telemetry::Metrics;

/// Validations of one stream running at once.
const STREAM_CONCURRENCY: usize = 64;

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

pub struct GateGrpc {
    service: Service,
    metrics: Arc<Metrics>,
    subscriber_buffer: usize,
    slow_subscriber: Duration,
}

impl GateGrpc {
    pub fn new(
        service: Service,
        metrics: Arc<Metrics>,
        subscriber_buffer: usize,
        slow_subscriber: Duration,
    ) -> Self {
        GateGrpc {
            service,
            metrics,
            subscriber_buffer,
            slow_subscriber,
        }
    }
}

/// A stream from a channel, then (once the channel closes) the final status, if one was set.
fn with_final<T: Send + 'static>(
    rx: mpsc::Receiver<Result<T, Status>>,
    last: Arc<Mutex<Option<Status>>>,
) -> Boxed<T> {
    let tail =
        futures_util::stream::once(async move { last.lock().ok().and_then(|mut s| s.take()) });
    Box::pin(ReceiverStream::new(rx).chain(tail.filter_map(|s| async move { s.map(Err) })))
}

#[tonic::async_trait]
impl TokenValidator for GateGrpc {
    async fn validate(
        &self,
        req: Request<ValidateRequest>,
    ) -> Result<Response<ValidateResponse>, Status> {
        let req = req.into_inner();
        Ok(Response::new(
            self.service.validate(req.id, &req.token).await,
        ))
    }

    type ValidateStreamStream = Boxed<ValidateResponse>;

    async fn validate_stream(
        &self,
        req: Request<Streaming<ValidateRequest>>,
    ) -> Result<Response<Self::ValidateStreamStream>, Status> {
        let mut requests = req.into_inner();
        let (tx, rx) = mpsc::channel(STREAM_CONCURRENCY * 2);
        let last = Arc::new(Mutex::new(None));
        let (service, ending) = (self.service.clone(), last.clone());
        tokio::spawn(async move {
            let (inner_tx, inner_rx) = mpsc::channel::<ValidateRequest>(STREAM_CONCURRENCY);
            let answers = ReceiverStream::new(inner_rx)
                .map(move |r| {
                    let service = service.clone();
                    async move { service.validate(r.id, &r.token).await }
                })
                .buffer_unordered(STREAM_CONCURRENCY);
            let out = tx.clone();
            let sender = tokio::spawn(answers.for_each(move |answer| {
                let out = out.clone();
                async move {
                    let _ = out.send(Ok(answer)).await;
                }
            }));
            while let Some(next) = requests.next().await {
                match next {
                    Ok(request) => {
                        if inner_tx.send(request).await.is_err() {
                            break;
                        }
                    }
                    Err(status) => {
                        *ending.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some(stream_error(status));
                        break;
                    }
                }
            }
            drop(inner_tx);
            let _ = sender.await;
        });
        Ok(Response::new(with_final(rx, last)))
    }

    type WatchRevocationsStream = Boxed<Revocation>;

    async fn watch_revocations(
        &self,
        req: Request<WatchRevocationsRequest>,
    ) -> Result<Response<Self::WatchRevocationsStream>, Status> {
        let after = req.into_inner().after;
        let mut subscription =
            self.service
                .watch_revocations(&after)
                .await
                .map_err(|err| match err {
                    ResumeError::Malformed(_) => Status::invalid_argument(err.to_string()),
                    ResumeError::TooOld(_) => Status::out_of_range(err.to_string()),
                    ResumeError::Unavailable => Status::unavailable(err.to_string()),
                })?;
        let (tx, rx) = mpsc::channel(self.subscriber_buffer);
        let last = Arc::new(Mutex::new(None));
        let (ending, metrics, slow) = (last.clone(), self.metrics.clone(), self.slow_subscriber);
        metrics.revocation_subscribers.inc();
        tokio::spawn(async move {
            let mut sent = String::new();
            let status = loop {
                let notice = match subscription.next().await {
                    Next::Notice(notice) => notice,
                    Next::Lagged(n) => {
                        break Some(too_slow(&format!("fell {n} events behind"), &sent));
                    }
                    Next::Closed => break Some(Status::unavailable("revocation stream closed")),
                };
                let event = &notice.event;
                let item = Revocation {
                    sequence: notice.sequence.clone(),
                    account_id: event.account.0,
                    session_id: event.session.as_str().to_owned(),
                    reason: event.reason.as_str().to_owned(),
                    at: event.at_ms,
                };
                match tx.send_timeout(Ok(item), slow).await {
                    Ok(()) => sent.clone_from(&notice.sequence),
                    Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                        break Some(too_slow(
                            &format!("did not read for {} ms", slow.as_millis()),
                            &sent,
                        ));
                    }
                    Err(mpsc::error::SendTimeoutError::Closed(_)) => break None,
                }
            };
            if let Some(status) = status {
                if status.code() == tonic::Code::ResourceExhausted {
                    metrics.revocation_dropped.inc();
                    tracing::warn!(
                        message = status.message(),
                        "dropped a slow revocation subscriber"
                    );
                }
                *ending.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
            }
            metrics.revocation_subscribers.dec();
        });
        Ok(Response::new(with_final(rx, last)))
    }
}

fn too_slow(why: &str, last_sent: &str) -> Status {
    Status::resource_exhausted(format!(
        "revocation subscriber too slow ({why}); resume with after = \"{last_sent}\""
    ))
}

/// An error on the request stream: an oversize or undecodable frame is bad input.
fn stream_error(status: Status) -> Status {
    match status.code() {
        tonic::Code::OutOfRange | tonic::Code::Internal => {
            Status::invalid_argument(format!("bad request frame: {}", status.message()))
        }
        _ => status,
    }
}
