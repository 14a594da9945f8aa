//! The HTTP server both mock servers run on.

use axum::Router;
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// A running server on 127.0.0.1 (ephemeral port); stops when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Server {
    /// Binds first (so the address is known to build the app), then serves `app`.
    pub(crate) async fn bind() -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        Ok((listener, addr))
    }

    pub(crate) fn serve(listener: tokio::net::TcpListener, addr: SocketAddr, app: Router) -> Self {
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            addr,
            shutdown: Some(tx),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Server {
    /// Serves `app` over TLS with `tls` (HTTP/1.1), one task per connection.
    pub(crate) fn serve_tls(
        listener: tokio::net::TcpListener,
        addr: SocketAddr,
        app: Router,
        tls: std::sync::Arc<rustls::ServerConfig>,
    ) -> Self {
        let (tx, mut rx) = oneshot::channel::<()>();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        tokio::spawn(async move {
            loop {
                let (tcp, _) = tokio::select! {
                    _ = &mut rx => return,
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
                    // A client that fails the handshake (e.g. distrusts the cert) is its problem.
                    let handshake = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(tcp),
                    );
                    let Ok(Ok(stream)) = handshake.await else {
                        return;
                    };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            shutdown: Some(tx),
        }
    }
}

/// A self-signed certificate for `127.0.0.1` and `localhost`: the server config using it, and
/// the certificate as PEM (for the client to trust).
pub(crate) fn self_signed_tls() -> std::io::Result<(std::sync::Arc<rustls::ServerConfig>, String)> {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(std::io::Error::other)?;
    let pem = certified.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .map_err(std::io::Error::other)?;
    Ok((std::sync::Arc::new(config), pem))
}
