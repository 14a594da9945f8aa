//! Test kit for programs that drive the Codex CLI, all on 127.0.0.1 and offline:
//!
//! - [`MockProvider`]: a scripted model provider speaking the Responses API as Codex uses it,
//!   and an isolated `CODEX_HOME` pointing at it;
//! - [`MockIssuer`]: ChatGPT sign-in (device code, browser, token refresh) for login tests;
//! - [`MockMcpServer`]: an MCP server (streamable HTTP) whose tools Codex can call, optionally
//!   behind OAuth (its own authorization server, for `codex mcp login`);
//! - [`MockRegistry`]: an npm registry serving Codex packages, with faults;
//! - [`MockReleases`]: the npm, GitHub and Homebrew release feeds, with faults;
//! - [`SecretService`]: a private D-Bus session bus with a gnome-keyring (unlocked, locked,
//!   uninitialised, or none) for keyring credential-store tests;
//! - [`ProcessMarker`], [`ResourceSample`]: which processes a test left behind, and what a
//!   process holds (files, threads, memory), for leak checks;
//! - [`Terminal`]: a pseudo-terminal to drive the interactive TUI (type, wait for text, exit);
//! - [`Discovery`] ([`codex_binary`] for short): the Codex binary the tests run;
//! - [`vcr`]: [`Recorder`] (a proxy recording real provider sessions into a [`Cassette`]) and
//!   [`Replayer`] (serving a cassette offline, reporting each [`Divergence`]).
//!
//! Each `POST /v1/responses` Codex sends is answered with the next scripted [`MockResponse`]
//! (then with the fallback, if one is set). A turn that runs a tool needs two responses: one with
//! the tool call, and one answering Codex's follow-up request (which carries the tool's output).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use codex_driver_testkit::{MockProvider, MockResponse};
//!
//! let provider = MockProvider::start(vec![
//!     MockResponse::new().reasoning("Let me look.").exec_command("ls -la"),
//!     MockResponse::new().message("There are 3 files."),
//! ])
//! .await?;
//! let home = provider.temp_home()?; // CODEX_HOME with config.toml pointing at the provider
//! // ... run `codex exec` with CODEX_HOME=home.path() ...
//! assert_eq!(provider.requests().len(), 0);
//! # Ok(()) }
//! ```
//!
//! # A real Codex for your own tests
//!
//! The mocks stand in for the network; the Codex that talks to them is the real CLI. Give your
//! test suite one of these (checked in this order by [`Discovery`]):
//!
//! 1. `CODEX_BINARY=/path/to/codex` in the test environment (CI: set it once);
//! 2. a managed install: `codex-driver install 0.169.0` (the CLI, `cargo install
//!    codex-driver-cli`) or [`codex_driver::install::Installer`] puts the native binary under
//!    `~/.codex-driver/codex-versions/`, found without any configuration;
//! 3. a pinned root in your repository: a `CODEX_VERSIONS` file listing versions and their npm
//!    installs in `.codex-versions/<version>/` (`npm install --prefix .codex-versions/0.169.0
//!    @openai/codex@0.169.0`, which is what this repository's `scripts/install-codex` does),
//!    found above the current directory or given with [`Discovery::root`];
//! 4. `codex` on `PATH`.
//!
//! ```no_run
//! let codex = codex_driver_testkit::Discovery::new().find()?;
//! // e.g. Exec::new(..).binary(Binary::at(&codex.path))
//! # Ok::<(), codex_driver_testkit::NotFound>(())
//! ```

mod binary;
mod clock;
mod http;
mod issuer;
mod mcp;
mod mcp_oauth;
mod procs;
mod provider;
mod registry;
mod releases;
mod response;
mod secret_service;
mod terminal;
pub mod vcr;

pub use binary::{
    DEFAULT_APP, Discovery, Found, NotFound, PinnedRoot, Step, codex_binary, pinned_binary,
    pinned_versions,
};
pub use issuer::{
    IssuerOptions, IssuerRequest, MOCK_API_KEY, MOCK_DEVICE_AUTH_ID, MOCK_USER_CODE, MockAccount,
    MockIssuer, unsigned_jwt,
};
pub use mcp::{McpCall, MockMcpServer};
pub use mcp_oauth::{MOCK_MCP_CLIENT_ID, McpOAuthOptions, OAuthRequest};
pub use procs::{
    MARKER_ENV, ProcessInfo, ProcessMarker, ResourceSample, all_processes, descendants,
};
pub use provider::{MockProvider, RecordedRequest, TempHome};
pub use registry::{MockRegistry, TarballFault, npm_tarball, real_codex_tarball};
pub use releases::{FeedFault, MockReleases, ReleaseFeed};
pub use response::{MockResponse, add_file_patch};
pub use secret_service::{KEYRING_PASSWORD, KeyringItem, LOGIN_COLLECTION, SecretService};
pub use terminal::{Terminal, prepare_tui_home, strip_ansi};
pub use vcr::{Cassette, Divergence, Normalizer, Recorder, Redaction, Replayer};
