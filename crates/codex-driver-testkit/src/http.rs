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
