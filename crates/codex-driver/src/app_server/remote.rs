//! Connecting to an app-server that is already running with `--listen ws://IP:PORT` or
//! `--listen unix://PATH` (one JSON-RPC message per WebSocket text frame).

use super::approvals::Approvals;
use super::builder::AppServer;
use super::client::AppServerClient;
use super::rpc::Rpc;
use crate::error::{Error, Result};
use futures_util::{SinkExt, StreamExt};
use std::path::Path;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

impl AppServer {
    /// Connects to `ws://IP:PORT` (optionally with a bearer token: the capability token or a
    /// signed JWT, per the server's `--ws-auth`), then performs the handshake. Shutting the
    /// client down closes the connection, not the server.
    pub async fn connect_ws(
        self,
        url: &str,
        bearer_token: Option<&str>,
    ) -> Result<AppServerClient> {
        let request = request(url, bearer_token)?;
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| connect_err(url, e))?;
        self.attach(ws).await
    }

    /// Connects to the unix socket of `--listen unix://PATH`.
    pub async fn connect_unix(
        self,
        path: &Path,
        bearer_token: Option<&str>,
    ) -> Result<AppServerClient> {
        let stream = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|e| Error::Io {
                context: format!("connecting to {}", path.display()),
                source: e,
            })?;
        let request = request("ws://localhost/", bearer_token)?;
        let (ws, _) = tokio_tungstenite::client_async(request, stream)
            .await
            .map_err(|e| connect_err(&path.display().to_string(), e))?;
        self.attach(ws).await
    }

    async fn attach<S>(self, ws: tokio_tungstenite::WebSocketStream<S>) -> Result<AppServerClient>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        // Bridge frames <-> lines so the same JSON-RPC core serves every transport.
        let (ours, theirs) = tokio::io::duplex(1 << 20);
        let (their_r, mut their_w) = tokio::io::split(theirs);
        let (mut sink, mut frames) = ws.split();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = frames.next().await {
                let text = match msg {
                    Message::Text(t) => t.to_string(),
                    Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
                    Message::Close(_) => break,
                    _ => continue,
                };
                if their_w.write_all(text.trim_end().as_bytes()).await.is_err()
                    || their_w.write_all(b"\n").await.is_err()
                {
                    break;
                }
            }
            let _ = their_w.shutdown().await;
        });
        tokio::spawn(async move {
            let mut lines = BufReader::new(their_r).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if sink.send(Message::text(line)).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let (r, w) = tokio::io::split(ours);
        let o = self.options();
        let rpc = Rpc::start(
            BufReader::new(r),
            w,
            Approvals::new(o.handler.clone(), o.approval_timeout),
            o.request_timeout,
            o.buffer,
            None,
        );
        AppServerClient::connect(rpc, &o, None, None).await
    }
}

fn request(
    url: &str,
    bearer_token: Option<&str>,
) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request> {
    let mut req = url
        .into_client_request()
        .map_err(|e| Error::InvalidOptions(format!("bad WebSocket URL {url}: {e}")))?;
    if let Some(t) = bearer_token {
        // Anyone on the path could read a token sent over plain ws:// to another machine.
        let uri = req.uri();
        let host = uri.host().unwrap_or_default();
        if uri.scheme_str() != Some("wss") && !is_loopback(host) {
            return Err(Error::InvalidOptions(format!(
                "refusing to send the bearer token in clear text (ws://) to `{host}`: connect through a loopback address, a unix socket or an SSH tunnel"
            )));
        }
        let v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
            Error::InvalidOptions("the token has characters not allowed in a header".into())
        })?;
        req.headers_mut().insert("authorization", v);
    }
    Ok(req)
}

/// `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn connect_err(place: &str, e: tokio_tungstenite::tungstenite::Error) -> Error {
    // The handshake error may echo the request; never include the token.
    let detail = match &e {
        tokio_tungstenite::tungstenite::Error::Http(resp) => format!("HTTP {}", resp.status()),
        other => other.to_string(),
    };
    Error::AppServerClosed {
        method: "connect".into(),
        reason: format!("could not connect to {place}: {detail}"),
        stderr_tail: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_go_in_clear_text_only_to_loopback() {
        for ok in [
            "ws://127.0.0.1:4500",
            "ws://127.8.9.1:1/",
            "ws://localhost:4500",
            "ws://[::1]:4500",
        ] {
            let req = request(ok, Some("tok")).unwrap();
            assert_eq!(req.headers()["authorization"], "Bearer tok", "{ok}");
        }
        for bad in [
            "ws://10.0.0.5:4500",
            "ws://codex.example:4500",
            "ws://127.0.0.1.evil.example/",
        ] {
            let err = request(bad, Some("s3cret")).unwrap_err().to_string();
            assert!(
                err.contains("refusing to send the bearer token"),
                "{bad}: {err}"
            );
            assert!(!err.contains("s3cret"), "{err}");
        }
        // Without a token any host is fine.
        assert!(request("ws://codex.example:4500", None).is_ok());
    }
}
