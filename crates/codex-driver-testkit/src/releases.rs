//! A mock of the three places that announce Codex releases (the npm registry's dist-tag,
//! GitHub's latest release, Homebrew's formula API) on one 127.0.0.1 server, with faults.

use crate::http::{Incoming, MockServer, Shared};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::BTreeMap;

/// One of the announcing places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ReleaseFeed {
    /// `GET /@openai%2fcodex/latest` → `{"version"}` (an npm registry: use [`MockReleases::url`]).
    Npm,
    /// `GET /repos/openai/codex/releases/latest` → `{"tag_name": "rust-v…"}` (a GitHub API base).
    GitHub,
    /// `GET /api/formula/codex.json` → `{"versions": {"stable"}}` (use [`MockReleases::homebrew_api`]).
    Homebrew,
}

/// How a feed misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeedFault {
    /// HTTP 503.
    Outage,
    /// Never answers.
    Hang,
    /// HTTP 200 with a body that is not JSON.
    NotJson,
    /// HTTP 200, JSON without the version field (or with one that is no version).
    Malformed,
}

#[derive(Default)]
struct Inner {
    latest: BTreeMap<ReleaseFeed, String>,
    faults: BTreeMap<ReleaseFeed, FeedFault>,
    requests: Vec<String>,
}

/// Serves each [`ReleaseFeed`]'s newest version; stops when dropped.
pub struct MockReleases {
    server: MockServer<Inner>,
}

impl std::fmt::Debug for MockReleases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.server.debug(f, "MockReleases")
    }
}

impl MockReleases {
    /// Starts serving `version` on every feed.
    pub async fn start(version: &str) -> std::io::Result<Self> {
        let mut inner = Inner::default();
        for f in [ReleaseFeed::Npm, ReleaseFeed::GitHub, ReleaseFeed::Homebrew] {
            inner.latest.insert(f, version.to_owned());
        }
        let server = MockServer::start(inner, |_, shared| {
            Router::new().fallback(handle).with_state(shared)
        })
        .await?;
        Ok(Self { server })
    }

    /// The base URL (`http://127.0.0.1:PORT/`): the npm registry and the GitHub API base.
    pub fn url(&self) -> String {
        format!("http://{}/", self.server.addr())
    }

    /// The Homebrew API base (`http://127.0.0.1:PORT/api`).
    pub fn homebrew_api(&self) -> String {
        format!("http://{}/api", self.server.addr())
    }

    /// What `feed` announces from now on.
    pub fn set_latest(&self, feed: ReleaseFeed, version: &str) {
        self.server.state().latest.insert(feed, version.to_owned());
    }

    /// Makes `feed` misbehave (`None`: answer again).
    pub fn set_fault(&self, feed: ReleaseFeed, fault: Option<FeedFault>) {
        let mut s = self.server.state();
        match fault {
            Some(f) => s.faults.insert(feed, f),
            None => s.faults.remove(&feed),
        };
    }

    /// Every path requested, in order.
    pub fn requests(&self) -> Vec<String> {
        self.server.state().requests.clone()
    }
}

async fn handle(State(shared): State<Shared<Inner>>, req: Incoming) -> Response {
    let path = req.uri.path().to_owned();
    let feed = match path.to_ascii_lowercase().as_str() {
        "/@openai%2fcodex/latest" => ReleaseFeed::Npm,
        "/repos/openai/codex/releases/latest" => ReleaseFeed::GitHub,
        "/api/formula/codex.json" => ReleaseFeed::Homebrew,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let (latest, fault) = {
        let mut s = shared.lock();
        s.requests.push(path);
        (
            s.latest.get(&feed).cloned().unwrap_or_default(),
            s.faults.get(&feed).copied(),
        )
    };
    match fault {
        Some(FeedFault::Outage) => {
            return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response();
        }
        Some(FeedFault::Hang) => {
            std::future::pending::<()>().await;
        }
        Some(FeedFault::NotJson) => return "<html>rate limited</html>".into_response(),
        Some(FeedFault::Malformed) => {
            return axum::Json(json!({"name": "codex", "version": 7, "tag_name": "nightly"}))
                .into_response();
        }
        None => {}
    }
    let body = match feed {
        ReleaseFeed::Npm => json!({"name": "@openai/codex", "version": latest}),
        ReleaseFeed::GitHub => json!({"tag_name": format!("rust-v{latest}"), "name": latest}),
        ReleaseFeed::Homebrew => json!({"name": "codex", "versions": {"stable": latest}}),
    };
    axum::Json(body).into_response()
}
