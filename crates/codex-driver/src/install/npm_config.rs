//! The parts of the user's npm configuration an install needs: the registry and its credentials.
//!
//! Credentials follow npm's `.npmrc` conventions: keys scoped to a registry URL without its
//! scheme (`//npm.example.com/repo/:_authToken=...`), `${VAR}` expanded from the environment.
//! A request gets the credential whose scope is the longest prefix of its URL, as parsed by the
//! HTTP client that connects (so `\`, `@` or case tricks can't move a token to another host),
//! and only over HTTPS or the registry's own scheme. Unscoped keys (`_authToken=`) count only
//! in a file that also names the `registry=` they belong to. Tokens are never shown by `Debug`,
//! in errors or in logs.

use base64::Engine;
use std::path::PathBuf;

/// A registry credential. Its `Debug` shows only the kind.
#[derive(Clone, PartialEq, Eq)]
enum Credential {
    /// `_authToken`: sent as `Authorization: Bearer <token>`.
    Bearer(String),
    /// `_auth` or `username` + `_password`: `Authorization: Basic <base64(user:pass)>`.
    Basic(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Bearer(_) => "Bearer(<redacted>)",
            Self::Basic(_) => "Basic(<redacted>)",
        })
    }
}

/// The registry to install from and the credentials for it (and any other scoped registry).
#[derive(Clone, Default)]
pub struct NpmConfig {
    registry: String,
    /// `(scope, credential)`; scope is a URL without its scheme, ending in `/`.
    credentials: Vec<(String, Credential)>,
}

impl std::fmt::Debug for NpmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scopes: Vec<&str> = self.credentials.iter().map(|(s, _)| s.as_str()).collect();
        f.debug_struct("NpmConfig")
            .field("registry", &super::redact(&self.registry))
            .field("credentials_for", &scopes)
            .finish()
    }
}

impl NpmConfig {
    /// A configuration naming only `registry`, without credentials.
    pub fn new(registry: impl Into<String>) -> Self {
        Self {
            registry: registry.into(),
            credentials: Vec::new(),
        }
    }

    /// Reads the user's configuration. Registry: `$NPM_CONFIG_REGISTRY` (any case), then
    /// `registry=` in the nearest project `.npmrc` (current directory upwards), then
    /// `~/.npmrc`, then `npm config get registry`, then the public registry. Credentials: from
    /// the same `.npmrc` files, nearest first.
    pub async fn load() -> Self {
        let texts: Vec<String> = npmrc_paths()
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect();
        let env = |k: &str| std::env::var(k).ok();
        let mut registry = ["NPM_CONFIG_REGISTRY", "npm_config_registry"]
            .iter()
            .filter_map(|k| env(k))
            .map(|v| v.trim().to_owned())
            .find(|v| !v.is_empty());
        if registry.is_none() {
            registry = texts
                .iter()
                .filter_map(|t| super::registry_from_npmrc(t))
                .find_map(|r| expand(&r, &env));
        }
        let registry = match registry {
            Some(r) => r,
            None => npm_config_get_registry()
                .await
                .unwrap_or_else(|| super::DEFAULT_REGISTRY.to_owned()),
        };
        let mut cfg = Self::new(registry);
        for t in &texts {
            cfg.add_npmrc(t, &env);
        }
        cfg
    }

    /// The registry URL.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Uses `registry` (credentials stay as they are).
    pub fn with_registry(mut self, registry: impl Into<String>) -> Self {
        self.registry = registry.into();
        self
    }

    /// Adds a bearer token for the configured registry (as `//host/path/:_authToken` would).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        if let Some(scope) = scope_of(&self.registry) {
            self.push(scope, Credential::Bearer(token.into()));
        }
        self
    }

    /// Adds the credentials of an `.npmrc` text, expanding `${VAR}` with `env`. Credentials
    /// already known for a scope win (add the nearest file first).
    pub fn add_npmrc(&mut self, text: &str, env: &dyn Fn(&str) -> Option<String>) -> &mut Self {
        let mut users: Vec<(String, String)> = Vec::new();
        let mut passwords: Vec<(String, String)> = Vec::new();
        // Unscoped credentials belong to the registry named in the same file, if any: never to
        // a registry another (e.g. a cloned project's) file picked.
        let own_registry = super::registry_from_npmrc(text)
            .and_then(|r| expand(&r, env))
            .and_then(|r| scope_of(&r));
        for line in text.lines().map(str::trim) {
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim().trim_matches('"'));
            let Some(value) = expand(value, env).filter(|v| !v.is_empty()) else {
                continue;
            };
            let (scope, field) = match (key.rsplit_once(':'), &own_registry) {
                (Some((s, f)), _) if s.starts_with("//") => (normalize_scope(s), f),
                (None, Some(own)) => (own.clone(), key),
                _ => continue,
            };
            match field {
                "_authToken" => self.push(scope, Credential::Bearer(value)),
                "_auth" => self.push(scope, Credential::Basic(value)),
                "username" => users.push((scope, value)),
                "_password" => passwords.push((scope, value)),
                _ => {}
            }
        }
        for (scope, user) in users {
            let password = passwords
                .iter()
                .find(|(s, _)| *s == scope)
                .and_then(|(_, p)| base64::engine::general_purpose::STANDARD.decode(p).ok());
            if let Some(password) = password {
                let mut pair = format!("{user}:").into_bytes();
                pair.extend(password);
                let basic = base64::engine::general_purpose::STANDARD.encode(pair);
                self.push(scope, Credential::Basic(basic));
            }
        }
        self
    }

    /// Whether a request to `url` would carry a credential.
    pub fn has_credentials_for(&self, url: &str) -> bool {
        self.credential_for(url).is_some()
    }

    /// The `Authorization` header value for `url`, marked sensitive.
    pub(crate) fn authorization(&self, url: &str) -> Option<reqwest::header::HeaderValue> {
        let value = match self.credential_for(url)? {
            Credential::Bearer(t) => format!("Bearer {t}"),
            Credential::Basic(b) => format!("Basic {b}"),
        };
        let mut v = reqwest::header::HeaderValue::from_str(&value).ok()?;
        v.set_sensitive(true);
        Some(v)
    }

    fn credential_for(&self, url: &str) -> Option<&Credential> {
        let parsed = reqwest::Url::parse(url).ok()?;
        let registry_scheme = reqwest::Url::parse(&self.registry)
            .map(|u| u.scheme().to_owned())
            .unwrap_or_default();
        // No secret in clear text unless the registry itself is plain HTTP (a local mirror).
        if parsed.scheme() != "https" && parsed.scheme() != registry_scheme {
            return None;
        }
        let target = scope_of(url)?;
        self.credentials
            .iter()
            .filter(|(scope, _)| target.starts_with(scope.as_str()))
            .max_by_key(|(scope, _)| scope.len())
            .map(|(_, c)| c)
    }

    fn push(&mut self, scope: String, c: Credential) {
        if !self.credentials.iter().any(|(s, _)| *s == scope) {
            self.credentials.push((scope, c));
        }
    }
}

/// `https://host:1/a/b?q` -> `//host:1/a/b/`: the host, explicit port and path the HTTP client
/// will actually use (user info, query and fragment dropped). `None` when it is not a URL.
fn scope_of(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let host = u.host_str()?;
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(normalize_scope(&format!("//{host}{port}{}", u.path())))
}

/// Lower-cases the host and ends the scope with `/`, so `//h/repo` matches `//h/repo/x` but
/// not `//h/repository`.
fn normalize_scope(scope: &str) -> String {
    let rest = scope.trim_start_matches('/');
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = format!("//{}/{}", host.to_ascii_lowercase(), path);
    if !s.ends_with('/') {
        s.push('/');
    }
    s
}

/// Expands `${VAR}` (and npm's `${VAR?}`); `None` when a variable is unset.
fn expand(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let name = after[..end].trim_end_matches('?');
        out.push_str(&env(name)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn npmrc_paths() -> Vec<PathBuf> {
    let mut rcs: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        rcs.extend(cwd.ancestors().map(|d| d.join(".npmrc")));
    }
    // As npm: $NPM_CONFIG_USERCONFIG names the user file instead of ~/.npmrc.
    match std::env::var_os("NPM_CONFIG_USERCONFIG")
        .or_else(|| std::env::var_os("npm_config_userconfig"))
    {
        Some(p) => rcs.push(PathBuf::from(p)),
        None => rcs.extend(crate::home::user_home().map(|h| h.join(".npmrc"))),
    }
    rcs
}

async fn npm_config_get_registry() -> Option<String> {
    let npm = tokio::process::Command::new("npm")
        .args(["config", "get", "registry"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(10), npm)
        .await
        .ok()?
        .ok()?;
    let r = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && r.starts_with("http")).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "NPM_TOKEN" => Some("from-env".into()),
            _ => None,
        }
    }

    fn header(cfg: &NpmConfig, url: &str) -> Option<String> {
        cfg.authorization(url)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    }

    #[test]
    fn scopes_match_by_longest_prefix_and_never_another_host() {
        let mut cfg = NpmConfig::new("https://npm.example.com/repo/");
        cfg.add_npmrc(
            "# comment\n//npm.example.com/:_authToken=host-wide\n//NPM.example.com/repo/:_authToken=${NPM_TOKEN}\n//other.example/:_authToken=${UNSET}\n",
            &env,
        );
        assert_eq!(
            header(&cfg, "https://npm.example.com/repo/@openai%2fcodex/latest"),
            Some("Bearer from-env".into())
        );
        assert_eq!(
            header(&cfg, "https://npm.example.com/other/x.tgz"),
            Some("Bearer host-wide".into())
        );
        assert_eq!(
            header(&cfg, "https://npm.example.com/repository/x"),
            Some("Bearer host-wide".into())
        );
        assert_eq!(header(&cfg, "https://other.example/x"), None);
        assert_eq!(
            header(&cfg, "https://evil.example/npm.example.com/repo/x"),
            None
        );
        // What the HTTP client connects to decides, not how the string looks.
        assert_eq!(
            header(&cfg, "https://evil.example\\@npm.example.com/repo/x"),
            None
        );
        assert_eq!(
            header(&cfg, "https://npm.example.com@evil.example/repo/x"),
            None
        );
        assert_eq!(
            header(&cfg, "https://npm.example.com.evil.example/repo/x"),
            None
        );
        assert_eq!(
            header(&cfg, "https://user:pw@NPM.EXAMPLE.COM:443/repo/x"),
            Some("Bearer from-env".into())
        );
        // Never in clear text to an HTTPS registry's host.
        assert_eq!(header(&cfg, "http://npm.example.com/repo/x"), None);
        assert!(
            cfg.authorization("https://npm.example.com/repo/x")
                .is_some_and(|v| v.is_sensitive())
        );
    }

    #[test]
    fn basic_auth_forms_and_legacy_unscoped_keys() {
        let mut cfg = NpmConfig::new("https://reg.example/");
        cfg.add_npmrc(
            "//a.example/:username=me\n//a.example/:_password=c2VjcmV0\n//b.example/:_auth=Yjpwdw==\n_authToken=legacy\n",
            &env,
        );
        // base64("me:secret")
        assert_eq!(
            header(&cfg, "https://a.example/x"),
            Some("Basic bWU6c2VjcmV0".into())
        );
        assert_eq!(
            header(&cfg, "https://b.example/x"),
            Some("Basic Yjpwdw==".into())
        );
        // An unscoped token in a file that names no registry belongs to none.
        assert_eq!(header(&cfg, "https://reg.example/pkg"), None);
        // In a file that does, it belongs to that registry only.
        let mut cfg = NpmConfig::new("https://chosen-by-a-project.example/");
        cfg.add_npmrc("registry=https://${HOST}/npm/\n_authToken=legacy\n", &|k| {
            (k == "HOST").then(|| "own.example".into())
        });
        assert_eq!(
            header(&cfg, "https://own.example/npm/pkg"),
            Some("Bearer legacy".into())
        );
        assert_eq!(
            header(&cfg, "https://chosen-by-a-project.example/pkg"),
            None
        );
    }

    #[test]
    fn nearest_file_wins_and_explicit_tokens_scope_to_the_registry() {
        let mut cfg = NpmConfig::new("http://127.0.0.1:4873");
        cfg.add_npmrc("//127.0.0.1:4873/:_authToken=project\n", &env);
        cfg.add_npmrc("//127.0.0.1:4873/:_authToken=user\n", &env);
        assert_eq!(
            header(&cfg, "http://127.0.0.1:4873/x"),
            Some("Bearer project".into())
        );
        let explicit = NpmConfig::new("http://127.0.0.1:4873/").with_token("t");
        assert_eq!(
            header(&explicit, "http://127.0.0.1:4873/a.tgz"),
            Some("Bearer t".into())
        );
        assert_eq!(header(&explicit, "http://127.0.0.1:4874/a.tgz"), None);
    }

    #[test]
    fn debug_names_scopes_never_secrets() {
        let cfg = NpmConfig::new("https://me:pw-in-url@r.example/").with_token("s3cr3t-token");
        let shown = format!("{cfg:?}");
        assert!(shown.contains("//r.example/"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(!shown.contains("pw-in-url"), "{shown}");
    }

    #[test]
    fn scope_normalization() {
        assert_eq!(
            scope_of("https://u:p@Host.Example:8443/a/b?x=1").as_deref(),
            Some("//host.example:8443/a/b/")
        );
        assert_eq!(scope_of("http://h").as_deref(), Some("//h/"));
        assert_eq!(scope_of("not a url"), None);
        assert_eq!(expand("${A}", &env), None);
        assert_eq!(
            expand("x-${NPM_TOKEN?}-y", &env),
            Some("x-from-env-y".into())
        );
    }
}
