//! The core every mock server is built on: its state behind a lock that a panicking handler
//! can't poison, an axum `Router` served on 127.0.0.1 (ephemeral port, plain or TLS), the
//! request as handlers record it, and shutdown when the mock is dropped.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

/// State shared by a mock's handle and its handlers.
pub(crate) struct Shared<T>(Arc<Mutex<T>>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Shared<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(Arc::new(Mutex::new(value)))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        // A panic while holding the lock cannot leave the state inconsistent: keep serving.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A mock: its state and the server answering from it. Stops serving when dropped.
pub(crate) struct MockServer<T> {
    shared: Shared<T>,
    server: Server,
}

impl<T> MockServer<T> {
    /// Binds first (so `app` can be built for the address), then serves it over HTTP.
    pub(crate) async fn start(
        state: T,
        app: impl FnOnce(SocketAddr, Shared<T>) -> Router,
    ) -> std::io::Result<Self> {
        let shared = Shared::new(state);
        let server = Server::start(None, |addr| app(addr, shared.clone())).await?;
        Ok(Self { shared, server })
    }

    /// The state, locked.
    pub(crate) fn state(&self) -> MutexGuard<'_, T> {
        self.shared.lock()
    }

    /// The state, for a second server answering from it.
    pub(crate) fn shared(&self) -> Shared<T> {
        self.shared.clone()
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// `Debug` for the mock named `name`: its address (never its state, which may hold tokens).
    pub(crate) fn debug(&self, f: &mut std::fmt::Formatter<'_>, name: &str) -> std::fmt::Result {
        f.debug_struct(name)
            .field("addr", &self.server.addr)
            .finish()
    }
}

/// A running server on 127.0.0.1 (ephemeral port); stops when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Server {
    /// Binds, builds `app` for the address, and serves it: over TLS with `tls` (HTTP/1.1), else
    /// plain HTTP.
    pub(crate) async fn start(
        tls: Option<Arc<rustls::ServerConfig>>,
        app: impl FnOnce(SocketAddr) -> Router,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let app = app(addr);
        let (tx, rx) = oneshot::channel::<()>();
        match tls {
            None => {
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                });
            }
            Some(tls) => {
                tokio::spawn(serve_tls(listener, app, tls, rx));
            }
        }
        Ok(Self {
            addr,
            shutdown: Some(tx),
        })
    }
}

/// One task per connection; a client failing the handshake (e.g. distrusting the certificate)
/// is its problem, not the server's.
async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Arc<rustls::ServerConfig>,
    mut stop: oneshot::Receiver<()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, _) = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // E.g. out of file descriptors: back off instead of spinning.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let handshake =
                tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp));
            let Ok(Ok(stream)) = handshake.await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A request as the mocks record it: method, URI, headers and the whole body.
pub(crate) struct Incoming {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Incoming {
    /// Every header, names lower-case, values as text (lossy).
    pub(crate) fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Incoming {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let body = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        })
    }
}

/// A self-signed certificate for `127.0.0.1` and `localhost`: the server config using it, and
/// the certificate as PEM (for the client to trust).
pub(crate) fn self_signed_tls() -> std::io::Result<(Arc<rustls::ServerConfig>, String)> {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(std::io::Error::other)?;
    let pem = certified.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .map_err(std::io::Error::other)?;
    Ok((Arc::new(config), pem))
}

/// Plays a user's browser through an OAuth authorization: opens `url` and follows the
/// redirects to the client's local callback, returning the final URL; anything but a success
/// at the end is an error naming where it ended.
pub(crate) async fn play_browser(url: &str) -> std::io::Result<String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(std::io::Error::other)?;
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(std::io::Error::other)?;
    if !resp.status().is_success() {
        return Err(std::io::Error::other(format!(
            "the authorization ended at {} with HTTP {}",
            resp.url(),
            resp.status()
        )));
    }
    Ok(resp.url().to_string())
}
