//! The public listener: HTTP/1.1 connections served by hyper under the limits of [`ListenerLimits`].
//!
//! - the request head must arrive within `header_timeout` (hyper's `header_read_timeout`); hyper starts the
//!   same timer while a kept-alive connection waits for its next request, so it is also the idle timeout;
//! - a request body must arrive within `body_timeout` (tower-http `RequestBodyTimeoutLayer`; the handler
//!   answers 408 `request_timeout`);
//! - at most `max_connections` connections are served at once (a semaphore taken before `accept`: further
//!   connections wait in the kernel's backlog and are not read);
//! - at most `max_requests` requests run at once (tower `ConcurrencyLimit` behind `LoadShed`: one more is
//!   answered 503 `overloaded` at once, with `Retry-After`);
//! - around all of these, every request gets its id and its request line ([`crate::request_id`]), so that a
//!   request refused by a limit is logged too.

use crate::ApiError;
use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_http::timeout::RequestBodyTimeoutLayer;

/// The limits of the public listener (`[http]` in the configuration file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Time allowed for a request's head (request line and headers), counted from the connection's start or
    /// from the end of the previous response; a connection that exceeds it is closed.
    pub header_timeout: Duration,
    /// Time allowed for a request's whole body.
    pub body_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Requests handled at once.
    pub max_requests: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_requests: 1024,
        }
    }
}

/// How long graceful shutdown waits for in-flight connections before it drops them.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` under `limits` until `shutdown` completes, then lets in-flight requests finish.
pub(crate) async fn serve_limited(
    listener: TcpListener,
    app: Router,
    limits: ListenerLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limited = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overloaded))
        .load_shed()
        .concurrency_limit(limits.max_requests.max(1))
        .layer(RequestBodyTimeoutLayer::new(limits.body_timeout))
        .service(app);
    let service = tower::service_fn(move |request: axum::extract::Request| {
        crate::request_id::logged(limited.clone(), request)
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone().map_request(
            move |request: axum::http::Request<hyper::body::Incoming>| {
                // The client's address, for the admin console's sign-in throttling.
                let mut request = request.map(axum::body::Body::new);
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            },
        );
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain period were dropped");
    }
    Ok(())
}

/// The answer to a request beyond `max_requests` (and to any other failure of the limiting layers).
async fn overloaded(error: BoxError) -> Response {
    if error.is::<tower::load_shed::error::Overloaded>() {
        let mut response = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the service is handling as many requests as it allows; retry shortly",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        response
    } else {
        ApiError::internal(&error).into_response()
    }
}
