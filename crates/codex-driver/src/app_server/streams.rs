//! Named notification streams of an [`AppServerClient`](super::AppServerClient).

use super::protocol::{ServerNotification, ThreadStatusChangedNotification};
use super::rpc::Routed;
use futures_core::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Every notification of the server, with the thread it belongs to
/// ([`AppServerClient::notifications`](super::AppServerClient::notifications)).
///
/// Ends when the connection closes, or when it was left unread while full for a few seconds
/// (it is then dropped so that it cannot stall the other subscribers).
#[derive(Debug)]
pub struct Notifications {
    rx: mpsc::Receiver<Routed>,
}

impl Notifications {
    pub(crate) fn new(rx: mpsc::Receiver<Routed>) -> Self {
        Self { rx }
    }

    /// The next notification; `None` once the stream has ended.
    pub async fn recv(&mut self) -> Option<Routed> {
        self.rx.recv().await
    }
}

impl Stream for Notifications {
    type Item = Routed;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Routed>> {
        self.rx.poll_recv(cx)
    }
}

/// `thread/status/changed` of every thread on the server
/// ([`AppServerClient::thread_status_changes`](super::AppServerClient::thread_status_changes)).
/// Ends as [`Notifications`] does.
#[derive(Debug)]
pub struct ThreadStatusChanges {
    rx: mpsc::Receiver<Routed>,
}

impl ThreadStatusChanges {
    /// `rx` carries only `thread/status/changed` (the subscription is filtered).
    pub(crate) fn new(rx: mpsc::Receiver<Routed>) -> Self {
        Self { rx }
    }

    /// The next status change; `None` once the stream has ended.
    pub async fn recv(&mut self) -> Option<ThreadStatusChangedNotification> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for ThreadStatusChanges {
    type Item = ThreadStatusChangedNotification;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<ThreadStatusChangedNotification>> {
        loop {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(r)) => {
                    if let ServerNotification::ThreadStatusChanged(n) = r.notification {
                        return Poll::Ready(Some(n));
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
