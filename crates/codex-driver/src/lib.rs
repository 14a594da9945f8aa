#![doc = include_str!("../../../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod app_server;
pub mod auth;
pub mod binary;
pub mod commands;
pub mod config;
pub mod conversation;
pub mod cost;
pub mod diff;
mod dirs;
pub mod doctor;
pub mod env;
pub mod error;
pub mod exec;
mod flags;
pub mod fsutil;
#[cfg(test)]
mod fuzz;
pub mod home;
pub mod hooks;
#[cfg(feature = "install")]
pub mod install;
mod limits;
pub mod mcp;
#[cfg(feature = "mcp-server")]
pub mod mcp_server;
pub mod notify;
pub mod probe;
mod process;
mod repair;
pub mod routing;
pub mod schema;
pub mod sessions;
pub mod spawn;
pub mod surface;
pub mod tasks;
pub mod tools;
pub mod tui;
#[cfg(feature = "install")]
pub mod update;

/// The wire types of `codex exec --json` (re-exported from [`exec::events`]).
pub use exec::events;

pub use binary::{Binary, Resolver, SUPPORTED_CODEX};
pub use config::ConfigOverrides;
pub use error::{Error, ErrorKind, KeyringProblem, Result, TimeoutKind};
pub use events::{ItemDetails, ThreadEvent, ThreadItem, Usage};
pub use exec::{Exec, ExecStream, SandboxMode, TurnResult, TypedTurn};
pub use home::CodexHome;
pub use process::group_alive;
pub use spawn::SpawnOptions;
pub use tokio_util::sync::CancellationToken;
