//! One HTTP exchange written and read by hand, for what a client library will not send: a head that
//! announces a body and never sends it.

use crate::harness::TestApp;

/// Sends `request` (a whole HTTP/1.1 request head, maybe with part of a body) on a raw connection and returns
/// the answer's status and JSON body, or `None` if nothing complete came within 20 s.
pub(crate) async fn raw_exchange(app: &TestApp, request: &str) -> Option<(u16, serde_json::Value)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.url.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n")
            && let Ok(json) = serde_json::from_str(body)
        {
            return Some((head.split(' ').nth(1)?.parse().ok()?, json));
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) | Ok(Ok(0) | Err(_)) => return None,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}
