#![doc = include_str!("../../../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod app_server;
pub mod auth;
pub mod binary;
pub mod config;
pub mod conversation;
pub mod doctor;
pub mod env;
pub mod error;
pub mod events;
pub mod exec;
pub mod fsutil;
pub mod home;
#[cfg(feature = "install")]
pub mod install;
mod limits;
pub mod mcp;
pub mod notify;
pub mod probe;
pub mod process;
pub mod schema;
pub mod sessions;

pub use binary::{Binary, Resolver, SUPPORTED_CODEX};
pub use config::ConfigOverrides;
pub use error::{Error, Result, TimeoutKind};
pub use events::{ItemDetails, ThreadEvent, ThreadItem, Usage};
pub use exec::{Exec, ExecStream, SandboxMode, TurnResult, TypedTurn};
pub use home::CodexHome;
pub use tokio_util::sync::CancellationToken;
