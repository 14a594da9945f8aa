//! Record real provider sessions and replay them offline: a VCR for Codex.
//!
//! - [`Recorder`]: a proxy on 127.0.0.1 that forwards every request Codex makes to an upstream
//!   Responses-API provider (adding the API key), streams the answer back unchanged, and keeps
//!   each exchange in a [`Cassette`];
//! - [`Cassette`]: JSON Lines, a header line then one line per exchange, redacted and meant to be
//!   reviewed and checked in;
//! - [`Replayer`]: serves a cassette to Codex with no network at all, request *i* against
//!   exchange *i*, comparing the stable parts of the request ([`Normalizer`]) and reporting every
//!   [`Divergence`] with a diff.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use codex_driver_testkit::vcr::{Recorder, Replayer};
//!
//! // Once, online: OPENAI_API_KEY is sent upstream, never written down.
//! let recorder = Recorder::builder("https://api.openai.com/v1")
//!     .api_key_env("OPENAI_API_KEY")
//!     .model("gpt-5.1-codex")
//!     .save_to("tests/cassettes/hello.jsonl")
//!     .start()
//!     .await?;
//! let home = tempfile::tempdir()?;
//! recorder.write_codex_home(home.path())?;
//! // ... run `codex exec` with CODEX_HOME=home ...
//! recorder.finish().await?;
//!
//! // Every test run, offline:
//! let replayer = Replayer::load("tests/cassettes/hello.jsonl").await?;
//! let home = tempfile::tempdir()?;
//! replayer.write_codex_home(home.path())?;
//! // ... run the same `codex exec` ...
//! assert!(replayer.divergences().is_empty());
//! replayer.all_used()?;
//! # Ok(()) }
//! ```

use crate::http::{Incoming, MockServer, Shared};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The accessors [`Recorder`] and [`Replayer`] share: each is a [`MockServer`] whose state
/// carries the [`Normalizer`] (`normalizer`), plus an optional `model` for the home's config.
macro_rules! endpoint_accessors {
    ($what:literal) => {
        /// The socket address.
        pub fn addr(&self) -> SocketAddr {
            self.server.addr()
        }

        /// The base URL Codex should use, `http://127.0.0.1:PORT/v1`.
        pub fn base_url(&self) -> String {
            format!("http://{}/v1", self.server.addr())
        }

        #[doc = concat!("A `config.toml` that makes Codex use this ", $what, " (provider `mock`, retries off).")]
        pub fn config_toml(&self) -> String {
            crate::provider::provider_config(&self.base_url(), self.model.as_deref())
        }

        /// Writes [`config_toml`](Self::config_toml) into `dir/config.toml` (creating `dir`), and
        /// takes `dir` as [`HOME_PLACEHOLDER`]: Codex names paths inside its home in prompts.
        pub fn write_codex_home(&self, dir: &Path) -> std::io::Result<PathBuf> {
            self.server
                .state()
                .normalizer
                .add_path(dir, HOME_PLACEHOLDER.to_owned());
            write_home(dir, &self.config_toml())
        }
    };
}

mod cassette;
mod diff;
mod normalize;
mod recorder;
mod redact;
mod replayer;
#[cfg(test)]
mod tests;

pub use cassette::*;
pub use diff::*;
pub use normalize::*;
pub use recorder::*;
pub use redact::*;
pub use replayer::*;

/// The cassette format version written in the header line.
pub const CASSETTE_FORMAT: u32 = 1;

/// What redacted text is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// The placeholder for the working directory Codex reports (`<cwd>…</cwd>`).
pub const CWD_PLACEHOLDER: &str = "[CWD]";

/// The placeholder for the `CODEX_HOME` written by `write_codex_home`.
pub const HOME_PLACEHOLDER: &str = "[CODEX_HOME]";

/// What a masked (ignored) part of a string is replaced with when comparing requests.
pub const IGNORED: &str = "[IGNORED]";

/// Request headers a cassette keeps by default; every other one is dropped.
pub const DEFAULT_HEADER_ALLOW_LIST: &[&str] =
    &["content-type", "accept", "openai-beta", "originator"];

/// Headers never written to a cassette, even when allow-listed.
const NEVER_RECORDED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "api-key",
    "x-api-key",
    "cookie",
    "set-cookie",
    "openai-organization",
    "openai-project",
    "chatgpt-account-id",
];

/// Response headers kept (and replayed) besides `content-type`: the ones Codex reads.
fn keep_response_header(name: &str) -> bool {
    name == "retry-after"
        || name == "openai-model"
        || name.starts_with("x-codex-")
        || name.starts_with("x-ratelimit-")
}

/// Hop-by-hop and framing headers a proxy must not copy.
const HOP_BY_HOP: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
];

/// What went wrong recording, loading, saving or replaying.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VcrError {
    /// Reading or writing a cassette file failed.
    #[error("cassette {path}: {source}")]
    Io {
        /// The cassette.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A cassette line is not what the format says.
    #[error("cassette {path}, line {line}: {message}")]
    Format {
        /// The cassette (empty when parsed from text).
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An exchange could not be serialized.
    #[error("cannot serialize the cassette: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The environment variable meant to hold the API key is unset or not UTF-8.
    #[error("environment variable {var} (the upstream API key) is not set")]
    MissingApiKey {
        /// Its name.
        var: String,
    },
    /// The server could not start or the HTTP client could not be built.
    #[error("cannot start the VCR server: {0}")]
    Start(std::io::Error),
    /// Requests were still streaming when [`Recorder::finish`] gave up waiting.
    #[error("{0} exchange(s) still streaming after the wait; the cassette would miss them")]
    InFlight(usize),
    /// [`Replayer::all_used`]: exchanges were never asked for, or requests diverged.
    #[error(
        "cassette not replayed cleanly: {unused} exchange(s) unused, {divergences} divergence(s)"
    )]
    NotAllUsed {
        /// Exchanges not served.
        unused: usize,
        /// Requests that did not match.
        divergences: usize,
    },
}

fn write_home(dir: &Path, config: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("config.toml"), config)?;
    Ok(dir.to_path_buf())
}
