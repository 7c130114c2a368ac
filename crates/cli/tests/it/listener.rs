//! The public listener's limits, tried from outside with raw TCP sockets: a head that never completes, an
//! idle keep-alive connection, a body that never arrives, and the bounds on connections and requests.

use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far longer than any limit set in these tests: only a listener without the limit reaches it.
const PATIENCE: Duration = Duration::from_secs(20);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.url.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection (or `PATIENCE` runs out: then `None`); returns what came.
async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(String::from_utf8_lossy(&received).into_owned()),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Reads one whole response (head and a `Content-Length` body) within `wait`; `None` if none came.
async fn read_response(stream: &mut TcpStream, wait: Duration) -> Option<(u16, String)> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                return Some((status, body.to_owned()));
            }
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) | Ok(Ok(0) | Err(_)) => return None,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Sends a request head announcing a 100-byte body, and 10 bytes of it: the request stays in flight.
async fn start_slow_body(app: &TestApp) -> TcpStream {
    let mut stream = connect(app).await;
    stream
        .write_all(
            b"POST /events/aem HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"id\":\"slo",
        )
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn a_head_that_never_completes_and_an_idle_connection_are_closed() {
    let app = TestApp::spawn_with_http("header_timeout_seconds = 1").await;

    let mut half = connect(&app).await;
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let started = Instant::now();
    let said = read_until_closed(&mut half).await;
    assert!(
        said.is_some(),
        "a connection with half a head was still open after {PATIENCE:?}"
    );
    assert!(
        !said.unwrap_or_default().contains("200 OK"),
        "half a request is never served"
    );
    assert!(started.elapsed() < PATIENCE);

    // A kept-alive connection is served, then closed once it has been idle for the timeout.
    let mut idle = connect(&app).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let (status, _) = read_response(&mut idle, PATIENCE).await.unwrap();
    assert_eq!(status, 200);
    assert!(
        read_until_closed(&mut idle).await.is_some(),
        "an idle keep-alive connection was still open after {PATIENCE:?}"
    );

    // The service still serves whole requests.
    assert_eq!(app.health().await["status"], "ok");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408() {
    let app = TestApp::spawn_with_http("body_timeout_seconds = 1").await;
    let mut slow = start_slow_body(&app).await;
    let (status, body) = read_response(&mut slow, PATIENCE)
        .await
        .expect("no answer to a body that never arrived");
    assert_eq!(status, 408, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "request_timeout", "{body}");
    assert_eq!(
        app.sync_health().await["events"]["stored"],
        0,
        "nothing of it is stored"
    );
}

#[tokio::test]
async fn requests_beyond_the_limit_are_answered_503_while_the_limit_is_held() {
    let app = TestApp::spawn_with_http("max_requests = 1\nbody_timeout_seconds = 60").await;
    let mut held = start_slow_body(&app).await;
    // Once the held request is in flight, the next one is shed at once. (A poll that overtakes it may make
    // the held request the one shed: then it is sent again.)
    let deadline = Instant::now() + PATIENCE;
    let body = loop {
        let reply = app
            .http
            .get(format!("{}/healthz", app.url))
            .send()
            .await
            .unwrap();
        if reply.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert!(reply.headers().contains_key("retry-after"));
            break reply.json::<Value>().await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "a second request was served while the only slot was held"
        );
        if let Some((status, _)) = read_response(&mut held, Duration::from_millis(10)).await {
            assert_eq!(status, 503, "the held request can only have been shed");
            held = start_slow_body(&app).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["code"], "overloaded", "{body}");

    // The slot comes back when the held request ends.
    drop(held);
    let deadline = Instant::now() + PATIENCE;
    while app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap()
        .status()
        != StatusCode::OK
    {
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn connections_beyond_the_limit_are_not_served_until_one_closes() {
    // Idle connections (the emulator's pooled one) are closed after a second; the two held ones are not idle:
    // each has a request in flight whose body never comes.
    let app = TestApp::spawn_with_http(
        "max_connections = 2\nheader_timeout_seconds = 1\nbody_timeout_seconds = 60",
    )
    .await;
    let first = start_slow_body(&app).await;
    let _second = start_slow_body(&app).await;
    let mut third = connect(&app).await;
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        read_response(&mut third, Duration::from_secs(3)).await,
        None,
        "a third connection was served while two held the limit"
    );
    // One held connection goes away: the waiting one is served.
    drop(first);
    let (status, body) = read_response(&mut third, PATIENCE)
        .await
        .expect("the waiting connection was never served");
    assert_eq!(status, 200, "{body}");
}
