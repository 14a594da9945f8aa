//! A mock npm registry on 127.0.0.1 serving Codex platform packages, with faults.

use crate::http::{Incoming, MockServer, Shared};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;

/// A fault to inject into a tarball download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TarballFault {
    /// Serve different bytes than the published integrity hash describes.
    Tampered,
    /// Announce the full length, send half, then drop the connection.
    Truncated,
}

#[derive(Clone)]
struct Package {
    manifest_version: String,
    tarball: Bytes,
    integrity: String,
    fault: Option<TarballFault>,
}

#[derive(Default)]
struct Inner {
    // Keyed by the URL path segment after the package name, e.g. `0.169.0-linux-x64`.
    packages: BTreeMap<String, Package>,
    tags: BTreeMap<String, String>,
    requests: Vec<String>,
    authorizations: Vec<Option<String>>,
    required_token: Option<String>,
    base: String,
}

/// Serves `GET /@openai%2fcodex/<version or tag>` manifests and their tarballs.
pub struct MockRegistry {
    server: MockServer<Inner>,
}

impl std::fmt::Debug for MockRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.server.debug(f, "MockRegistry")
    }
}

impl MockRegistry {
    /// Starts an empty registry.
    pub async fn start() -> std::io::Result<Self> {
        let server = MockServer::start(Inner::default(), |addr, shared| {
            // Manifests name their tarballs by absolute URL.
            shared.lock().base = format!("http://{addr}");
            Router::new().fallback(handle).with_state(shared)
        })
        .await?;
        Ok(Self { server })
    }

    /// The registry URL (`http://127.0.0.1:PORT/`).
    pub fn url(&self) -> String {
        format!("http://{}/", self.server.addr())
    }

    /// Publishes `@openai/codex@<version>-<platform>` whose `vendor/<triple>/bin/codex` is a
    /// shell script printing `codex-cli <version>`, and points dist-tag `latest` at `version`.
    pub fn publish_fake_codex(
        &self,
        version: &str,
        platform: &str,
        triple: &str,
        fault: Option<TarballFault>,
    ) -> std::io::Result<()> {
        let script = format!("#!/bin/sh\necho 'codex-cli {version}'\n");
        let tarball = npm_tarball(&[
            (
                "package/package.json",
                format!("{{\"name\":\"@openai/codex\",\"version\":\"{version}-{platform}\"}}").into_bytes(),
                0o644,
            ),
            (&format!("package/vendor/{triple}/bin/codex"), script.into_bytes(), 0o755),
            (
                &format!("package/vendor/{triple}/codex-package.json"),
                format!("{{\"layoutVersion\":1,\"version\":\"{version}\",\"target\":\"{triple}\",\"entrypoint\":\"bin/codex\"}}").into_bytes(),
                0o644,
            ),
        ])?;
        self.publish(&format!("{version}-{platform}"), tarball, fault);
        self.server
            .state()
            .tags
            .insert("latest".into(), version.to_owned());
        Ok(())
    }

    /// Publishes raw tarball bytes as version `manifest_version` (e.g. `0.169.0-linux-x64`).
    pub fn publish(&self, manifest_version: &str, tarball: Vec<u8>, fault: Option<TarballFault>) {
        use base64::Engine;
        use sha2::Digest;
        let integrity = format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tarball))
        );
        self.server.state().packages.insert(
            manifest_version.to_owned(),
            Package {
                manifest_version: manifest_version.to_owned(),
                tarball: Bytes::from(tarball),
                integrity,
                fault,
            },
        );
    }

    /// Announces `integrity` as the `dist.integrity` of a published `manifest_version` (e.g.
    /// `0.169.0-linux-x64`) instead of its tarball's own hash: metadata that lies about the
    /// bytes served. `false` when nothing is published under that version.
    pub fn set_integrity(&self, manifest_version: &str, integrity: impl Into<String>) -> bool {
        match self.server.state().packages.get_mut(manifest_version) {
            Some(pkg) => {
                pkg.integrity = integrity.into();
                true
            }
            None => false,
        }
    }

    /// Makes the registry private: every request must carry `Authorization: Bearer <token>`,
    /// or is answered 401.
    pub fn require_token(&self, token: impl Into<String>) {
        self.server.state().required_token = Some(token.into());
    }

    /// The `Authorization` header of each request so far (`None` when absent), in order.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.server.state().authorizations.clone()
    }

    /// Paths requested so far.
    pub fn requests(&self) -> Vec<String> {
        self.server.state().requests.clone()
    }
}

/// The published tarball of `@openai/codex@<version>-<platform>` exactly as the registry of
/// the user's npm configuration serves it (through `npm pack`, so from npm's cache when it has
/// it, e.g. after `npm install @openai/codex@<version>`): bytes whose integrity matches
/// codex-driver's pin, for a [`MockRegistry`] to serve offline with
/// [`publish`](MockRegistry::publish).
pub fn real_codex_tarball(version: &str, platform: &str) -> std::io::Result<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    let out = std::process::Command::new("npm")
        .args(["pack", "--prefer-offline", "--silent", "--pack-destination"])
        .arg(dir.path())
        .arg(format!("@openai/codex@{version}-{platform}"))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| std::io::Error::new(e.kind(), format!("running npm pack: {e}")))?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || name.is_empty() {
        return Err(std::io::Error::other(format!(
            "npm pack @openai/codex@{version}-{platform} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    std::fs::read(dir.path().join(name))
}

/// A gzipped tar of `(path, contents, mode)` entries.
pub fn npm_tarball(entries: &[(&str, Vec<u8>, u32)]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, data, mode) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_cksum();
        builder.append_data(&mut h, path, data.as_slice())?;
    }
    let mut gz = builder.into_inner()?;
    gz.flush()?;
    gz.finish()
}

async fn handle(State(shared): State<Shared<Inner>>, req: Incoming) -> Response {
    let path = req.uri.path().to_owned();
    let auth = req
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    {
        let mut inner = shared.lock();
        inner.requests.push(path.clone());
        inner.authorizations.push(auth.clone());
        if let Some(token) = &inner.required_token
            && auth.as_deref() != Some(format!("Bearer {token}").as_str())
        {
            return (StatusCode::UNAUTHORIZED, "authentication required").into_response();
        }
    }
    let lower = path.to_ascii_lowercase();
    if let Some(name) = lower.strip_prefix("/tarballs/") {
        let pkg = shared
            .lock()
            .packages
            .get(name.trim_end_matches(".tgz"))
            .cloned();
        let Some(pkg) = pkg else {
            return StatusCode::NOT_FOUND.into_response();
        };
        return match pkg.fault {
            None => (
                [(header::CONTENT_TYPE, "application/octet-stream")],
                pkg.tarball,
            )
                .into_response(),
            Some(TarballFault::Tampered) => {
                let mut bytes = pkg.tarball.to_vec();
                if let Some(b) = bytes.last_mut() {
                    *b ^= 0xff;
                }
                ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
            }
            Some(TarballFault::Truncated) => {
                let half = pkg.tarball.slice(..pkg.tarball.len() / 2);
                let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                    Ok(half),
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "truncated",
                    )),
                ];
                Response::builder()
                    .header(header::CONTENT_LENGTH, pkg.tarball.len())
                    .body(Body::from_stream(futures_util::stream::iter(chunks)))
                    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
            }
        };
    }
    let Some(rest) = lower.strip_prefix("/@openai%2fcodex/") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let inner = shared.lock();
    let version = inner
        .tags
        .get(rest)
        .cloned()
        .unwrap_or_else(|| rest.to_owned());
    if let Some(pkg) = inner.packages.get(&version) {
        return axum::Json(json!({
            "name": "@openai/codex",
            "version": pkg.manifest_version,
            "dist": {
                "tarball": format!("{}/tarballs/{}.tgz", inner.base, pkg.manifest_version),
                "integrity": pkg.integrity,
            }
        }))
        .into_response();
    }
    // A dist-tag or plain version whose platform packages exist: answer the bare manifest.
    if inner
        .packages
        .keys()
        .any(|k| k.starts_with(&format!("{version}-")))
    {
        return axum::Json(json!({"name": "@openai/codex", "version": version})).into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}
