//! Integration tests of the codex-driver library. Most drive the real Codex binary (installed by
//! `scripts/install-codex`) against the offline provider of `codex-driver-testkit`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod app_server;
mod app_server_approvals;
mod app_server_fixtures;
mod app_server_remote;
mod auth_cli;
mod auth_keyring;
mod auth_status;
mod canary;
mod commands;
mod common;
mod compat;
mod config_file;
mod conversation;
mod cost;
mod culprits;
mod error_kind;
mod exec_faults;
mod exec_real;
mod faults;
mod home_auth;
mod hooks;
mod install;
mod login;
mod mcp;
mod mcp_oauth;
mod memory;
mod notify;
mod orphans;
mod parse_fixtures;
mod probe;
mod resolve;
mod routing;
mod secret_service;
mod sessions;
mod soak;
mod tasks;
mod tools;
mod tui;
mod update;
mod vcr;
