//! A build without the `offline` feature: the demo's type exists (so `run` compiles the same)
//! but can't be made, and starting it fails with [`crate::NO_OFFLINE`].

use anyhow::Result;
use std::path::Path;

/// Uninhabited: there is no demo in this build.
pub enum Demo {}

impl Demo {
    pub async fn start(
        _home: Option<&Path>,
        _workspace: Option<&Path>,
        _keep_workspace: bool,
    ) -> Result<Self> {
        anyhow::bail!(crate::NO_OFFLINE)
    }

    pub fn overrides(&self) -> std::iter::Empty<(String, toml_edit::Value)> {
        match *self {}
    }

    pub fn home(&self) -> &Path {
        match *self {}
    }

    pub fn workspace(&self) -> &Path {
        match *self {}
    }

    pub fn workspace_is_temporary(&self) -> bool {
        match *self {}
    }
}

// `run` drops the demo explicitly at the end (the real one stops its provider and removes its
// directories then); the stand-in keeps that call meaningful.
impl Drop for Demo {
    fn drop(&mut self) {
        match *self {}
    }
}
