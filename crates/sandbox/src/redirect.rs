//! A redirect to another origin, and what arrives there: [`RedirectTrap`] answers every request with
//! `307 Temporary Redirect` to the same path on a second server (another port on `127.0.0.1`, hence another
//! origin), which records each request that reaches it (method, path, whether it carried `Authorization` or
//! `X-Api-Key`, its body) and answers `200 {}`. A client that keeps its credentials to their origin sends
//! nothing to the second server.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// One request that reached the other origin.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Whether an `Authorization` header arrived.
    pub authorization: bool,
    /// Whether an `X-Api-Key` header arrived.
    pub api_key: bool,
    pub body: Vec<u8>,
}

/// The redirecting server and the recording one behind it.
#[derive(Clone)]
pub struct RedirectTrap {
    url: String,
    elsewhere: String,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
}

impl RedirectTrap {
    /// Starts both servers on free ports of `127.0.0.1`.
    pub async fn start() -> std::io::Result<Self> {
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let (elsewhere, recorder) = bind().await?;
        let recording = Router::new().fallback(record).with_state(arrivals.clone());
        tokio::spawn(async move {
            let _ = axum::serve(recorder, recording).await;
        });
        let (url, redirector) = bind().await?;
        let redirecting = Router::new()
            .fallback(redirect)
            .with_state(elsewhere.clone());
        tokio::spawn(async move {
            let _ = axum::serve(redirector, redirecting).await;
        });
        Ok(Self {
            url,
            elsewhere,
            arrivals,
        })
    }

    /// The redirecting origin (`http://127.0.0.1:<port>`): every path answers 307 to the other origin.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The other origin, which records what reaches it.
    pub fn elsewhere(&self) -> &str {
        &self.elsewhere
    }

    /// Every request that reached the other origin, in order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn bind() -> std::io::Result<(String, tokio::net::TcpListener)> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    Ok((format!("http://{}", listener.local_addr()?), listener))
}

async fn redirect(State(elsewhere): State<String>, uri: Uri) -> Response {
    let target = format!(
        "{elsewhere}{}",
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response()
}

async fn record(
    State(arrivals): State<Arc<Mutex<Vec<Arrival>>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    arrivals
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Arrival {
            method: method.to_string(),
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            authorization: headers.contains_key(header::AUTHORIZATION),
            api_key: headers.contains_key("x-api-key"),
            body: body.to_vec(),
        });
    ([(header::CONTENT_TYPE, "application/json")], "{}").into_response()
}
