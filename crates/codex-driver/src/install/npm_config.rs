//! The parts of the user's npm configuration an install needs: the registry and its credentials.
//!
//! Which files count: the user config (`$NPM_CONFIG_USERCONFIG`, else `~/.npmrc`) and npm's
//! global config (`$NPM_CONFIG_GLOBALCONFIG`, else `globalconfig=` in the user config, else
//! `<prefix>/etc/npmrc` with npm's prefix: `$NPM_CONFIG_PREFIX`, `prefix=` in the user config,
//! `$PREFIX`, or the directory above the `bin/` holding `node`). `.npmrc` files in the current
//! directory or its parents are never read: a cloned repository (or another user's
//! `/tmp/.npmrc`) must not pick the registry a binary comes from, nor receive the user's
//! secrets. A project's `.npmrc` counts only when the caller names the project
//! ([`NpmConfig::load_for_project`]); it then wins over the user file as in npm, but its
//! `${VAR}` references are not expanded (a line needing one is ignored), so it can't send the
//! environment anywhere. When no file names a registry, `npm --global config get registry`
//! answers (global mode: npm skips project files too).
//!
//! Credentials follow npm's `.npmrc` conventions: keys scoped to a registry URL without its
//! scheme (`//npm.example.com/repo/:_authToken=...`), `${VAR}` expanded from the environment in
//! the user and global files. A request gets the credential whose scope is the longest prefix
//! of its URL, as parsed by the HTTP client that connects (so `\`, `@` or case tricks can't move
//! a token to another host), and only over HTTPS, or in clear text to the registry's own origin
//! (scheme, host and port) when the registry itself is plain HTTP (a local mirror). Unscoped
//! keys (`_authToken=`) count only in a file that also names the `registry=` they belong to.
//! Tokens are never shown by `Debug`, in errors or in logs.

use base64::Engine;
use std::path::{Path, PathBuf};

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
///
/// [`load`](Self::load) reads what npm reads outside a project: the user config
/// (`$NPM_CONFIG_USERCONFIG` or `~/.npmrc`) and the global one (`$NPM_CONFIG_GLOBALCONFIG`,
/// else `<prefix>/etc/npmrc`), never an `.npmrc` of the current directory or its parents.
/// [`load_for_project`](Self::load_for_project) adds a project's file without expanding its
/// `${VAR}`s. Credentials go only to URLs in their scope, over HTTPS or to the registry's own
/// `http://` origin.
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

    /// Reads the user's configuration. Registry:
    /// `$NPM_CONFIG_REGISTRY` (any case), then `registry=` in the user config, then in the
    /// global config, then `npm --global config get registry`, then the public registry.
    /// Credentials: from the user config, then the global one. No `.npmrc` of the current
    /// directory or its parents is read.
    pub async fn load() -> Self {
        let home = crate::dirs::user_home();
        Self::or_ask_npm(Self::from_files(&process_env, home.as_deref(), None)).await
    }

    /// As [`load`](Self::load), plus the project config `<dir>/.npmrc` (only that directory,
    /// not its parents), which wins over the user's as in npm. Its `${VAR}` references are not
    /// expanded: a `registry=` or credential line needing one is ignored, so a project file
    /// can't carry the environment's secrets to a host it picks.
    pub async fn load_for_project(dir: impl AsRef<Path>) -> Self {
        let home = crate::dirs::user_home();
        let files = Self::from_files(&process_env, home.as_deref(), Some(dir.as_ref()));
        Self::or_ask_npm(files).await
    }

    /// `cfg` with `registry`, else the one npm names, else the public one.
    async fn or_ask_npm((registry, mut cfg): (Option<String>, Self)) -> Self {
        cfg.registry = match registry {
            Some(r) => r,
            None => npm_config_get_registry()
                .await
                .unwrap_or_else(|| super::DEFAULT_REGISTRY.to_owned()),
        };
        cfg
    }

    /// The registry named by `env` or a config file (`None`: ask npm), and the credentials of
    /// those files. `home` is the user's home directory; `project` a directory the caller named.
    fn from_files(
        env: &Env<'_>,
        home: Option<&Path>,
        project: Option<&Path>,
    ) -> (Option<String>, Self) {
        let files = config_files(env, home, project);
        let mut registry = env_setting(env, "registry");
        if registry.is_none() {
            registry = files.iter().find_map(|f| {
                super::registry_from_npmrc(&f.text).and_then(|r| expand(&r, f.env(env)))
            });
        }
        let mut cfg = Self::new(registry.clone().unwrap_or_default());
        for f in &files {
            cfg.add_npmrc(&f.text, f.env(env));
        }
        (registry, cfg)
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

    /// Adds the credentials of an `.npmrc` text, expanding `${VAR}` with `env` (a line whose
    /// variable `env` doesn't know is ignored; pass `&|_| None` for a text that must not reach
    /// the environment). Credentials already known for a scope win (add the nearest file first).
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
        // No secret in clear text, except to the registry's own origin when it is itself plain
        // HTTP (a local mirror): never to another http:// host or port it links to.
        if parsed.scheme() != "https"
            && reqwest::Url::parse(&self.registry).map(|r| r.origin()) != Ok(parsed.origin())
        {
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

/// Looks up an environment variable.
type Env<'a> = dyn Fn(&str) -> Option<String> + 'a;

fn process_env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// One config file's text; `expand` says whether its `${VAR}`s may read the environment.
struct ConfigFile {
    text: String,
    expand: bool,
}

impl ConfigFile {
    fn env<'a>(&self, env: &'a Env<'a>) -> &'a Env<'a> {
        if self.expand { env } else { &no_env }
    }
}

/// npm's `npm_config_<key>` environment setting (any case), when not empty.
fn env_setting(env: &Env<'_>, key: &str) -> Option<String> {
    [
        format!("NPM_CONFIG_{}", key.to_ascii_uppercase()),
        format!("npm_config_{key}"),
    ]
    .iter()
    .filter_map(|k| env(k))
    .map(|v| v.trim().to_owned())
    .find(|v| !v.is_empty())
}

/// The files to read, most specific first: the named project's, the user's, the global one.
fn config_files(env: &Env<'_>, home: Option<&Path>, project: Option<&Path>) -> Vec<ConfigFile> {
    let read = |p: PathBuf| std::fs::read_to_string(p).ok();
    let path = |v: String| match (v.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ => PathBuf::from(v),
    };
    let mut files = Vec::new();
    if let Some(text) = project.and_then(|d| read(d.join(".npmrc"))) {
        files.push(ConfigFile {
            text,
            expand: false,
        });
    }
    let user_path = env_setting(env, "userconfig")
        .map(path)
        .or_else(|| home.map(|h| h.join(".npmrc")));
    let user = user_path.and_then(read);
    // As npm: the global file is `globalconfig`, else `<prefix>/etc/npmrc`, where the user
    // file may set either (a project file may not).
    let user_value = |key: &str| {
        user.as_deref()
            .and_then(|t| npmrc_value(t, key))
            .and_then(|v| expand(&v, env))
    };
    let global_path = env_setting(env, "globalconfig")
        .or_else(|| user_value("globalconfig"))
        .map(path)
        .or_else(|| {
            env_setting(env, "prefix")
                .or_else(|| user_value("prefix"))
                .map(path)
                .or_else(|| default_prefix(env))
                .map(|p| p.join("etc").join("npmrc"))
        });
    if let Some(text) = user {
        files.push(ConfigFile { text, expand: true });
    }
    if let Some(text) = global_path.and_then(read) {
        files.push(ConfigFile { text, expand: true });
    }
    files
}

/// npm's default prefix: `$PREFIX`, else the directory above the `bin/` holding `node`
/// (symlinks resolved, as node's `process.execPath` is).
fn default_prefix(env: &Env<'_>) -> Option<PathBuf> {
    if let Some(p) = env("PREFIX").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = env("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("node"))
        .find(|n| crate::binary::is_executable(n))
        .and_then(|n| std::fs::canonicalize(n).ok())
        .and_then(|n| n.parent()?.parent().map(Path::to_path_buf))
}

/// The value of `key=` in an `.npmrc` text.
pub(super) fn npmrc_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

async fn npm_config_get_registry() -> Option<String> {
    let npm = tokio::process::Command::new("npm")
        // Global mode: npm then ignores the project `.npmrc` it would find from the current
        // directory (a cloned repository's, or one in /tmp).
        .args(["--global", "config", "get", "registry"])
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
    fn clear_text_credentials_go_only_to_the_registrys_own_origin() {
        let mut cfg = NpmConfig::new("http://localhost:4873/");
        cfg.add_npmrc(
            "//localhost:4873/:_authToken=mirror\n//localhost/:_authToken=port-80\n//npm.example.com/:_authToken=elsewhere\n",
            &env,
        );
        assert_eq!(
            header(&cfg, "http://localhost:4873/a.tgz"),
            Some("Bearer mirror".into())
        );
        // Another http:// host, or the same host on another port, gets nothing in clear text.
        assert_eq!(header(&cfg, "http://npm.example.com/a.tgz"), None);
        assert_eq!(header(&cfg, "http://localhost/a.tgz"), None);
        assert_eq!(header(&cfg, "http://localhost:80/a.tgz"), None);
        // Over HTTPS, scoped credentials still apply.
        assert_eq!(
            header(&cfg, "https://npm.example.com/a.tgz"),
            Some("Bearer elsewhere".into())
        );
        // Not a network scheme at all: nothing.
        assert_eq!(header(&cfg, "file://localhost:4873/a.tgz"), None);
    }

    /// `<root>/.npmrc` (say `/tmp/.npmrc`, or a cloned repository's) names a hostile registry
    /// and asks for the environment's secrets; `<root>/home/.npmrc` is the user's.
    fn hostile_tree() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let write = |rel: &str, text: &str| {
            let p = root.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap_or(root.path()))
                .and_then(|()| std::fs::write(&p, text))
                .unwrap_or_else(|e| panic!("{e}"));
        };
        let hostile = "registry=https://evil.example/\n//evil.example/:_authToken=${SECRET}\n_auth=${SECRET}\n";
        write(".npmrc", hostile);
        write("repo/.npmrc", hostile);
        write("repo/package.json", "{}");
        write(
            "home/.npmrc",
            "registry=https://user.example/\n//user.example/:_authToken=${NPM_TOKEN}\nprefix=~/prefix\n",
        );
        write(
            "home/prefix/etc/npmrc",
            "registry=https://global.example/\n//global.example/:_authToken=${NPM_TOKEN}\n",
        );
        root
    }

    fn tree_env(k: &str) -> Option<String> {
        match k {
            "SECRET" => Some("hunter2".into()),
            "NPM_TOKEN" => Some("user-token".into()),
            _ => None,
        }
    }

    #[test]
    fn user_and_global_config_count_and_no_other_file_does() {
        let root = hostile_tree();
        let home = root.path().join("home");
        let (registry, cfg) = NpmConfig::from_files(&tree_env, Some(&home), None);
        assert_eq!(registry.as_deref(), Some("https://user.example/"));
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("evil"), "{shown}");
        assert_eq!(
            header(&cfg, "https://user.example/x"),
            Some("Bearer user-token".into())
        );
        // The global file, found through the user file's `prefix=`.
        assert_eq!(
            header(&cfg, "https://global.example/x"),
            Some("Bearer user-token".into())
        );
        assert_eq!(header(&cfg, "https://evil.example/x"), None);

        // $NPM_CONFIG_USERCONFIG names the user file; $NPM_CONFIG_GLOBALCONFIG the global one.
        let (g, u) = (
            root.path().join("global-npmrc"),
            root.path().join("user-npmrc"),
        );
        std::fs::write(&g, "registry=https://g2.example/\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&u, "//u2.example/:_authToken=${NPM_TOKEN}\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let (gs, us) = (g.display().to_string(), u.display().to_string());
        let env = |k: &str| match k {
            "NPM_CONFIG_GLOBALCONFIG" => Some(gs.clone()),
            "npm_config_userconfig" => Some(us.clone()),
            _ => tree_env(k),
        };
        let (registry, cfg) = NpmConfig::from_files(&env, Some(&home), None);
        assert_eq!(registry.as_deref(), Some("https://g2.example/"));
        assert_eq!(
            header(&cfg, "https://u2.example/x"),
            Some("Bearer user-token".into())
        );
        assert_eq!(header(&cfg, "https://user.example/x"), None);

        // $NPM_CONFIG_REGISTRY wins over every file.
        let env = |k: &str| (k == "NPM_CONFIG_REGISTRY").then(|| " https://env.example/ ".into());
        let (registry, _) = NpmConfig::from_files(&env, Some(&home), None);
        assert_eq!(registry.as_deref(), Some("https://env.example/"));
    }

    #[test]
    fn a_named_project_file_counts_but_never_reads_the_environment() {
        let root = hostile_tree();
        let home = root.path().join("home");
        let project = root.path().join("repo");
        let (registry, cfg) = NpmConfig::from_files(&tree_env, Some(&home), Some(&project));
        // Its registry wins over the user's, as in npm ...
        assert_eq!(registry.as_deref(), Some("https://evil.example/"));
        // ... but its `${SECRET}` lines are ignored: nothing of the environment goes there.
        assert_eq!(header(&cfg, "https://evil.example/x"), None);
        assert!(!cfg.has_credentials_for("https://evil.example/-/a.tgz"));
        // The user's credentials stay scoped to the user's registry.
        assert_eq!(
            header(&cfg, "https://user.example/x"),
            Some("Bearer user-token".into())
        );

        // Literal values in a project file count; a `registry=` needing a variable does not.
        std::fs::write(
            project.join(".npmrc"),
            "registry=https://${SECRET}.example/\n//npm.project.example/:_authToken=literal\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (registry, cfg) = NpmConfig::from_files(&tree_env, Some(&home), Some(&project));
        assert_eq!(registry.as_deref(), Some("https://user.example/"));
        assert_eq!(
            header(&cfg, "https://npm.project.example/x"),
            Some("Bearer literal".into())
        );
        assert!(!format!("{cfg:?}").contains("hunter2"));
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
