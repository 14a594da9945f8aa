//! A private Secret Service (D-Bus session bus + gnome-keyring) for keyring tests: Codex's
//! `keyring` credential stores talk to whatever `DBUS_SESSION_BUS_ADDRESS` names, so a child
//! given [`SecretService::env`] uses this one and never the user's keyrings.
//!
//! Each fixture has its own temp dir holding the bus socket, the daemon's `HOME`,
//! `XDG_DATA_HOME` (where `keyrings/login.keyring` lands) and `XDG_RUNTIME_DIR`. Everything it
//! starts runs in its own process group, killed and reaped on drop. Besides a working keyring
//! ([`SecretService::start`]) there are the broken ones Codex must report:
//! [`SecretService::locked`], [`SecretService::uninitialised`] and
//! [`SecretService::no_provider`].
//!
//! Needs `dbus-daemon`, `dbus-send`, `gnome-keyring-daemon` and `secret-tool` (Debian:
//! `dbus-daemon dbus-bin gnome-keyring libsecret-tools`); see [`SecretService::available`].

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password of the login keyring [`SecretService::start`] creates (a test fixture's, not a
/// secret).
pub const KEYRING_PASSWORD: &str = "codex-driver-testkit";

/// The object path of gnome-keyring's login collection (the `default` alias).
pub const LOGIN_COLLECTION: &str = "/org/freedesktop/secrets/collection/login";

const TOOLS: [&str; 4] = [
    "dbus-daemon",
    "dbus-send",
    "gnome-keyring-daemon",
    "secret-tool",
];
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A Secret Service item as `secret-tool search --all` lists it. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyringItem {
    /// The item's path as `secret-tool` prints it (relative to the collection, e.g. `/1`).
    pub path: String,
    /// Its label.
    pub label: String,
    /// Its attributes (e.g. `service`, `username`, `target`, `application`).
    pub attributes: BTreeMap<String, String>,
    secret: Option<String>,
}

impl KeyringItem {
    /// The secret, as text; `None` when its collection is locked.
    pub fn secret(&self) -> Option<&str> {
        self.secret.as_deref()
    }

    /// An attribute's value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }
}

impl std::fmt::Debug for KeyringItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringItem")
            .field("path", &self.path)
            .field("label", &self.label)
            .field("attributes", &self.attributes)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A private session bus, with (depending on the constructor) a gnome-keyring on it. Stops
/// everything it started when dropped.
pub struct SecretService {
    address: String,
    bus: Option<Child>,
    keyring: Option<Child>,
    root: tempfile::TempDir,
}

impl std::fmt::Debug for SecretService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretService")
            .field("address", &self.address)
            .field("root", &self.root.path())
            .finish()
    }
}

/// Which bus to start.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Services {
    /// The standard session service dirs: gnome-keyring (and its prompter) can be activated.
    Standard,
    /// None: nothing provides `org.freedesktop.secrets`.
    None,
}

impl SecretService {
    /// Whether the tools the fixture runs are on `PATH`.
    pub fn available() -> bool {
        TOOLS.iter().all(|t| on_path(t).is_some())
    }

    /// A bus with an unlocked gnome-keyring on it: a fresh login keyring (password
    /// [`KEYRING_PASSWORD`]) that is the `default` collection. Returns once
    /// `org.freedesktop.secrets` is owned and the collection is unlocked.
    pub fn start() -> std::io::Result<Self> {
        let mut ss = Self::bus(Services::Standard)?;
        let mut keyring = ss
            .command("gnome-keyring-daemon")
            .args(["--foreground", "--components=secrets", "--unlock"])
            .stdin(Stdio::piped())
            .stdout(ss.log("gnome-keyring.out")?)
            .stderr(ss.log("gnome-keyring.err")?)
            .spawn()?;
        let written = match keyring.stdin.take() {
            // Read to EOF: dropping the handle closes it.
            Some(mut stdin) => stdin.write_all(KEYRING_PASSWORD.as_bytes()),
            None => Err(std::io::Error::other("no stdin for gnome-keyring-daemon")),
        };
        ss.keyring = Some(keyring);
        written?;
        ss.wait_until("the login keyring is unlocked", |ss| {
            Ok(ss.name_has_owner()? && ss.login_locked()? == Some(false))
        })?;
        Ok(ss)
    }

    /// [`SecretService::start`], then the login collection locked. There is no prompter that
    /// could unlock it (no display), so unlocking fails at once with "prompt dismissed".
    pub fn locked() -> std::io::Result<Self> {
        let ss = Self::start()?;
        ss.lock()?;
        Ok(ss)
    }

    /// A bus on which gnome-keyring is D-Bus-activated by the first client, but never unlocked
    /// or initialised: there is no login keyring.
    pub fn uninitialised() -> std::io::Result<Self> {
        Self::bus(Services::Standard)
    }

    /// A bus on which nothing provides `org.freedesktop.secrets` (its config lists no service
    /// dirs), so clients get `ServiceUnknown`.
    pub fn no_provider() -> std::io::Result<Self> {
        Self::bus(Services::None)
    }

    /// The variables a child needs to use this Secret Service (`DBUS_SESSION_BUS_ADDRESS`).
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("DBUS_SESSION_BUS_ADDRESS".into(), self.address.clone())]
    }

    /// The bus address, e.g. `unix:path=/tmp/secret-service-XXXX/bus,guid=…`.
    pub fn bus_address(&self) -> &str {
        &self.address
    }

    /// Where the daemon keeps its keyring files (`login.keyring`).
    pub fn keyrings_dir(&self) -> PathBuf {
        self.root.path().join("data/keyrings")
    }

    /// Locks the login collection (`org.freedesktop.Secret.Service.Lock`) and waits until it
    /// reports locked.
    pub fn lock(&self) -> std::io::Result<()> {
        let objpath = format!("array:objpath:{LOGIN_COLLECTION}");
        self.dbus_send(&[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            &objpath,
        ])?;
        self.wait_until("the login keyring is locked", |ss| {
            Ok(ss.login_locked()? == Some(true))
        })
    }

    /// The items whose `service` attribute is `service`, in all collections (locked ones
    /// without their secret). Runs `secret-tool search --all`, which never prompts.
    pub fn items(&self, service: &str) -> std::io::Result<Vec<KeyringItem>> {
        // secret-tool prints attributes on stderr and the rest on stdout, flushing each line:
        // one pipe for both keeps them in order.
        let (reader, writer) = std::io::pipe()?;
        let mut cmd = self.client("secret-tool");
        cmd.args(["search", "--all", "service", service])
            .stdin(Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer);
        let mut child = cmd.spawn()?;
        // The parent's copies of the write end are gone with `cmd`, so EOF comes.
        drop(cmd);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(reader), &mut text)?;
        let status = child.wait()?;
        if !status.success() {
            return Err(std::io::Error::other(format!(
                "secret-tool search failed ({status}): {text}"
            )));
        }
        Ok(parse_items(&text))
    }

    /// A bus, its config listing `services`' dirs. Waits for its address.
    fn bus(services: Services) -> std::io::Result<Self> {
        let root = tempdir()?;
        for d in ["home", "data", "config", "cache"] {
            std::fs::create_dir_all(root.path().join(d))?;
        }
        let runtime = root.path().join("runtime");
        std::fs::create_dir_all(&runtime)?;
        set_mode(&runtime, 0o700)?;
        let conf = root.path().join("bus.conf");
        std::fs::write(&conf, bus_config(&root.path().join("bus"), services))?;
        let mut ss = Self {
            address: String::new(),
            bus: None,
            keyring: None,
            root,
        };
        let mut bus = ss
            .command("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--print-address"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(ss.log("dbus-daemon.err")?)
            .spawn()?;
        let stdout = bus.stdout.take();
        ss.bus = Some(bus);
        let mut line = String::new();
        if let Some(out) = stdout {
            BufReader::new(out).read_line(&mut line)?;
        }
        ss.address = line.trim().to_owned();
        if ss.address.is_empty() {
            return Err(std::io::Error::other(format!(
                "dbus-daemon printed no address: {}",
                ss.read_log("dbus-daemon.err")
            )));
        }
        Ok(ss)
    }

    /// A command for a daemon of this fixture: its own process group, its environment in
    /// the temp dir, no display (so a prompt fails instead of opening a window).
    fn command(&self, program: &str) -> Command {
        use std::os::unix::process::CommandExt;
        let root = self.root.path();
        let mut cmd = Command::new(program);
        cmd.process_group(0)
            .current_dir(root)
            .env("HOME", root.join("home"))
            .env("XDG_DATA_HOME", root.join("data"))
            .env("XDG_CONFIG_HOME", root.join("config"))
            .env("XDG_CACHE_HOME", root.join("cache"))
            .env("XDG_RUNTIME_DIR", root.join("runtime"))
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("GNOME_KEYRING_CONTROL")
            .env_remove("SSH_AUTH_SOCK");
        if self.address.is_empty() {
            cmd.env_remove("DBUS_SESSION_BUS_ADDRESS");
        } else {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.address);
        }
        cmd
    }

    /// A short-lived client on this bus (`dbus-send`, `secret-tool`).
    fn client(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.env());
        cmd
    }

    fn dbus_send(&self, args: &[&str]) -> std::io::Result<String> {
        let out = self
            .client("dbus-send")
            .args(["--session", "--print-reply"])
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(std::io::Error::other(format!(
                "dbus-send {args:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn name_has_owner(&self) -> std::io::Result<bool> {
        let reply = self.dbus_send(&[
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        ])?;
        Ok(reply.contains("boolean true"))
    }

    /// The login collection's `Locked` property; `None` while it does not exist (yet).
    fn login_locked(&self) -> std::io::Result<Option<bool>> {
        let reply = self.dbus_send(&[
            "--dest=org.freedesktop.secrets",
            LOGIN_COLLECTION,
            "org.freedesktop.DBus.Properties.Get",
            "string:org.freedesktop.Secret.Collection",
            "string:Locked",
        ]);
        Ok(match reply {
            Ok(r) if r.contains("boolean true") => Some(true),
            Ok(r) if r.contains("boolean false") => Some(false),
            _ => None,
        })
    }

    /// Polls `ready` until it is true, the keyring daemon died, or the time is up.
    fn wait_until(
        &self,
        what: &str,
        mut ready: impl FnMut(&Self) -> std::io::Result<bool>,
    ) -> std::io::Result<()> {
        let start = Instant::now();
        loop {
            // Before the name is owned, calls fail: only the outcome at the deadline counts.
            let last = ready(self);
            if matches!(last, Ok(true)) {
                return Ok(());
            }
            if start.elapsed() > READY_TIMEOUT {
                let why = match last {
                    Err(e) => e.to_string(),
                    Ok(_) => "timed out".into(),
                };
                return Err(std::io::Error::other(format!(
                    "waiting until {what}: {why}; gnome-keyring: {}; dbus-daemon: {}",
                    self.read_log("gnome-keyring.err"),
                    self.read_log("dbus-daemon.err")
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self, name: &str) -> std::io::Result<std::fs::File> {
        std::fs::File::create(self.root.path().join(name))
    }

    fn read_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.root.path().join(name))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        // The keyring first, then the bus with whatever it activated (same process group).
        for child in [self.keyring.take(), self.bus.take()].into_iter().flatten() {
            stop_group(child);
        }
    }
}

/// SIGTERM to the child's process group, SIGKILL if it lingers; reaps the child.
fn stop_group(mut child: Child) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    let Ok(pid) = i32::try_from(child.id()) else {
        let _ = child.kill();
        let _ = child.wait();
        return;
    };
    let group = Pid::from_raw(pid);
    let _ = killpg(group, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            // Members that outlive the leader (activated daemons) go too.
            let _ = killpg(group, Signal::SIGKILL);
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = killpg(group, Signal::SIGKILL);
    let _ = child.wait();
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// A temp dir whose `bus` socket path fits `sun_path` (108 bytes).
fn tempdir() -> std::io::Result<tempfile::TempDir> {
    let base = std::env::temp_dir();
    let base = if base.as_os_str().len() > 60 {
        PathBuf::from("/tmp")
    } else {
        base
    };
    tempfile::Builder::new()
        .prefix("secret-service-")
        .tempdir_in(base)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

fn bus_config(socket: &Path, services: Services) -> String {
    let dirs = match services {
        Services::Standard => "  <standard_session_servicedirs/>\n",
        Services::None => "",
    };
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
{dirs}  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        socket.display()
    )
}

/// Parses `secret-tool search --all` output (stdout and stderr interleaved): a `[path]` line
/// per item, then `key = value` lines; a secret may span lines, up to `created = `.
fn parse_items(text: &str) -> Vec<KeyringItem> {
    let mut items = Vec::new();
    let mut current: Option<KeyringItem> = None;
    let mut in_secret = false;
    for line in text.lines() {
        if line.starts_with('[') && line.ends_with(']') {
            items.extend(current.take());
            current = Some(KeyringItem {
                path: line[1..line.len() - 1].to_owned(),
                label: String::new(),
                attributes: BTreeMap::new(),
                secret: None,
            });
            in_secret = false;
            continue;
        }
        let Some(item) = current.as_mut() else {
            continue;
        };
        let field = line.split_once(" = ");
        match field {
            Some(("label", v)) => item.label = v.to_owned(),
            Some(("secret", v)) => {
                item.secret = Some(v.to_owned());
                in_secret = true;
                continue;
            }
            Some((k, v)) if k.starts_with("attribute.") => {
                item.attributes
                    .insert(k["attribute.".len()..].to_owned(), v.to_owned());
            }
            Some(("created" | "modified" | "schema", _)) => {}
            _ if in_secret => {
                if let Some(s) = item.secret.as_mut() {
                    s.push('\n');
                    s.push_str(line);
                }
                continue;
            }
            _ => {}
        }
        in_secret = false;
    }
    items.extend(current);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_output_parses() {
        let text = "[/2]\nlabel = two\nsecret = a\nb = c\ncreated = 2026-12-02 00:40:03\n\
                    modified = 2026-12-02 00:40:03\nschema = org.freedesktop.Secret.Generic\n\
                    attribute.service = x\nattribute.username = v\n\
                    secret-tool: Cannot get secret of a locked object\n\
                    [/1]\nlabel = one\ncreated = 2026-12-02 00:39:59\nattribute.service = x\n";
        let items = parse_items(text);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].path, "/2");
        assert_eq!(items[0].label, "two");
        assert_eq!(items[0].secret(), Some("a\nb = c"));
        assert_eq!(items[0].attribute("username"), Some("v"));
        assert_eq!(items[1].secret(), None);
        assert_eq!(items[1].attribute("service"), Some("x"));
        assert!(!format!("{:?}", items[0]).contains("b = c"));
    }

    #[test]
    fn start_gives_an_unlocked_keyring_that_stores_and_goes_away() -> anyhow::Result<()> {
        let ss = SecretService::start()?;
        assert!(ss.bus_address().starts_with("unix:path="));
        let mut store = ss
            .client("secret-tool")
            .args(["store", "--label=fixture", "service", "fixture-test"])
            .args(["username", "u"])
            .stdin(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = store.stdin.take() {
            stdin.write_all(b"s3cret")?;
        }
        assert!(store.wait()?.success());
        let items = ss.items("fixture-test")?;
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].label, "fixture");
        assert_eq!(items[0].secret(), Some("s3cret"));
        assert!(ss.keyrings_dir().join("login.keyring").is_file());

        ss.lock()?;
        let items = ss.items("fixture-test")?;
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].secret(), None);

        let root = ss.root.path().to_owned();
        let pids: Vec<u32> = [&ss.bus, &ss.keyring]
            .into_iter()
            .flatten()
            .map(Child::id)
            .collect();
        drop(ss);
        assert!(!root.exists());
        for pid in pids {
            assert!(!Path::new(&format!("/proc/{pid}")).exists(), "{pid} lives");
        }
        Ok(())
    }

    #[test]
    fn the_broken_variants_start() -> anyhow::Result<()> {
        let none = SecretService::no_provider()?;
        assert!(!none.name_has_owner()?);
        let err = none.items("x").err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("not provided by any .service files")),
            "{err:?}"
        );
        let fresh = SecretService::uninitialised()?;
        assert!(!fresh.name_has_owner()?);
        // Activated by the first client, but there is no login collection.
        assert_eq!(fresh.login_locked()?, None);
        assert!(fresh.name_has_owner()?);
        let locked = SecretService::locked()?;
        assert_eq!(locked.login_locked()?, Some(true));
        Ok(())
    }
}
