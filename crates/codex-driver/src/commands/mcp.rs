//! `codex mcp get|add|remove`: MCP servers as Codex itself reads and edits them
//! (`mcp list` is [`crate::mcp::list_via_codex`]).
//!
//! `mcp add` puts everything it is given on Codex's command line, so [`McpAdd`] takes no
//! environment values and no OAuth client secret: a server that needs them is written with
//! [`crate::mcp::set_server`], which edits `config.toml` directly (atomic, 0600) and never
//! puts a value on an argv.

use super::{Output, Subcommand};
use crate::error::{Error, Result};
use crate::mcp::{McpServerStatus, valid_name};
use std::ffi::OsString;

fn name_arg(name: &str) -> Result<OsString> {
    if valid_name(name) && !name.starts_with('-') {
        Ok(name.into())
    } else {
        Err(Error::InvalidOptions(format!(
            "`{name}` is not a valid MCP server name (letters, digits and `-_:@/.`, not starting with `-`)"
        )))
    }
}

/// `codex mcp get NAME --json`: one server as Codex resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpGet {
    /// The server.
    pub name: String,
}

impl Subcommand for McpGet {
    type Output = McpServerStatus;
    fn path(&self) -> &'static [&'static str] {
        &["mcp", "get"]
    }
    fn args(&self) -> Result<Vec<OsString>> {
        Ok(vec!["--json".into(), name_arg(&self.name)?])
    }
    fn finish(&self, out: Output) -> Result<McpServerStatus> {
        out.ok()?.json()
    }
}

/// `codex mcp remove NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpRemove {
    /// The server.
    pub name: String,
}

impl Subcommand for McpRemove {
    type Output = ();
    fn path(&self) -> &'static [&'static str] {
        &["mcp", "remove"]
    }
    fn args(&self) -> Result<Vec<OsString>> {
        Ok(vec![name_arg(&self.name)?])
    }
    fn finish(&self, out: Output) -> Result<()> {
        out.ok().map(drop)
    }
}

/// How `mcp add` registers a server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddTransport {
    /// `-- COMMAND ARGS...`: a program Codex starts.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// `--url URL`: a streamable HTTP server.
    Http {
        /// The endpoint.
        url: String,
        /// `--bearer-token-env-var`: the variable holding the token (its name, not the token).
        bearer_token_env_var: Option<String>,
        /// `--oauth-client-id`.
        oauth_client_id: Option<String>,
        /// `--oauth-client-registration` (`auto`, `cimd`, `dcr`; 0.169+).
        oauth_client_registration: Option<String>,
        /// `--oauth-resource`.
        oauth_resource: Option<String>,
    },
}

/// `codex mcp add NAME ...`. See the [module docs](self) for what it leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpAdd {
    /// The server's name.
    pub name: String,
    /// How Codex reaches it.
    pub transport: AddTransport,
}

impl McpAdd {
    /// A stdio server.
    pub fn stdio<I, S>(name: impl Into<String>, command: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            name: name.into(),
            transport: AddTransport::Stdio {
                command: command.into(),
                args: args.into_iter().map(Into::into).collect(),
            },
        }
    }

    /// A streamable HTTP server.
    pub fn http(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            transport: AddTransport::Http {
                url: url.into(),
                bearer_token_env_var: None,
                oauth_client_id: None,
                oauth_client_registration: None,
                oauth_resource: None,
            },
        }
    }

    /// `--bearer-token-env-var VAR` (HTTP servers).
    pub fn bearer_token_env_var(mut self, var: impl Into<String>) -> Self {
        if let AddTransport::Http {
            bearer_token_env_var,
            ..
        } = &mut self.transport
        {
            *bearer_token_env_var = Some(var.into());
        }
        self
    }
}

impl Subcommand for McpAdd {
    type Output = ();
    fn path(&self) -> &'static [&'static str] {
        &["mcp", "add"]
    }
    fn args(&self) -> Result<Vec<OsString>> {
        let mut a: Vec<OsString> = Vec::new();
        match &self.transport {
            AddTransport::Stdio { command, args } => {
                if command.is_empty() {
                    return Err(Error::InvalidOptions(
                        "the MCP server command is empty".into(),
                    ));
                }
                a.push(name_arg(&self.name)?);
                a.push("--".into());
                a.push(command.into());
                a.extend(args.iter().map(OsString::from));
            }
            AddTransport::Http {
                url,
                bearer_token_env_var,
                oauth_client_id,
                oauth_client_registration,
                oauth_resource,
            } => {
                let mut opt = |flag: &str, v: &Option<String>| {
                    if let Some(v) = v {
                        a.push(format!("{flag}={v}").into());
                    }
                };
                opt("--url", &Some(url.clone()));
                opt("--bearer-token-env-var", bearer_token_env_var);
                opt("--oauth-client-id", oauth_client_id);
                opt("--oauth-client-registration", oauth_client_registration);
                opt("--oauth-resource", oauth_resource);
                a.push(name_arg(&self.name)?);
            }
        }
        Ok(a)
    }
    fn finish(&self, out: Output) -> Result<()> {
        out.ok().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv() -> Result<()> {
        let words = |a: Vec<OsString>| -> Vec<String> {
            a.into_iter()
                .map(|w| w.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            words(McpAdd::stdio("docs", "npx", ["-y", "server"]).args()?),
            ["docs", "--", "npx", "-y", "server"]
        );
        assert_eq!(
            words(
                McpAdd::http("remote", "https://mcp.example.com/mcp")
                    .bearer_token_env_var("TOKEN")
                    .args()?
            ),
            [
                "--url=https://mcp.example.com/mcp",
                "--bearer-token-env-var=TOKEN",
                "remote"
            ]
        );
        assert_eq!(
            words(
                McpGet {
                    name: "docs".into()
                }
                .args()?
            ),
            ["--json", "docs"]
        );
        assert!(McpRemove { name: "-rf".into() }.args().is_err());
        Ok(())
    }
}
