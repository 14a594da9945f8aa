//! A pseudo-terminal for driving interactive programs (the Codex TUI, or a program that starts
//! it) from a test: type keys, wait for text on the screen, wait for the exit.
//!
//! The program runs as the leader of its own session with the terminal as its controlling
//! terminal, as in a real terminal emulator. Everything it writes is kept and rendered
//! (`vt100`): [`Terminal::screen`] is what a user would see, [`Terminal::text`] the whole
//! output with escape sequences removed. [`Terminal::wait_for`] looks in both (ignoring
//! whitespace in the latter, since TUIs move the cursor instead of writing spaces). The
//! cursor position query (`ESC [ 6 n`) is answered, so programs that ask don't wait for a
//! timeout; other queries are left unanswered, as a minimal terminal would.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use codex_driver_testkit::Terminal;
//! use std::time::Duration;
//!
//! let mut cmd = std::process::Command::new("codex");
//! cmd.args(["--no-daemon", "say hello"]).env("CODEX_HOME", "/tmp/home");
//! let mut term = Terminal::spawn(cmd, 40, 120)?;
//! term.wait_for("ok", Duration::from_secs(30)).await?;
//! term.type_line("/quit").await?;
//! let status = term.wait(Duration::from_secs(10)).await?;
//! assert!(status.success());
//! # Ok(()) }
//! ```

use std::ffi::OsStr;
use std::io;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A program running in a pseudo-terminal. Dropping it kills the program.
pub struct Terminal {
    child: tokio::process::Child,
    writer: Arc<tokio::sync::Mutex<pty_process::OwnedWritePty>>,
    output: Arc<Mutex<Vec<u8>>>,
    parser: Arc<Mutex<vt100::Parser>>,
    notify: Arc<tokio::sync::Notify>,
    reader: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminal")
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl Terminal {
    /// Starts `cmd` (program, arguments, environment changes and working directory are taken
    /// from it; stdin, stdout and stderr become the terminal) in a terminal of `rows` x `cols`.
    /// The environment is this process's with the command's changes (`env_clear` can't be
    /// seen through `std::process::Command`: see [`spawn_with_only_env`](Self::spawn_with_only_env)).
    pub fn spawn(cmd: std::process::Command, rows: u16, cols: u16) -> io::Result<Self> {
        Self::start(cmd, rows, cols, false)
    }

    /// [`spawn`](Self::spawn), with exactly the variables set on `cmd` as the environment
    /// (for a command built with `env_clear()`, such as the library's `Tui::command`).
    pub fn spawn_with_only_env(
        cmd: std::process::Command,
        rows: u16,
        cols: u16,
    ) -> io::Result<Self> {
        Self::start(cmd, rows, cols, true)
    }

    fn start(cmd: std::process::Command, rows: u16, cols: u16, only: bool) -> io::Result<Self> {
        let (pty, pts) = pty_process::open().map_err(io::Error::other)?;
        pty.resize(pty_process::Size::new(rows, cols))
            .map_err(io::Error::other)?;
        let mut pc = pty_process::Command::new(cmd.get_program());
        pc = pc.args(cmd.get_args());
        if only {
            pc = pc.env_clear();
        }
        // `std::process::Command` keeps removals as `None`.
        for (k, v) in cmd.get_envs() {
            pc = match v {
                Some(v) => pc.env(k, v),
                None => pc.env_remove(k),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            pc = pc.current_dir(dir);
        }
        pc = pc.env("TERM", "xterm-256color").kill_on_drop(true);
        let child = pc.spawn(pts).map_err(io::Error::other)?;
        let (mut read, write) = pty.into_split();
        let output = Arc::new(Mutex::new(Vec::new()));
        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let notify = Arc::new(tokio::sync::Notify::new());
        let writer = Arc::new(tokio::sync::Mutex::new(write));
        let (out, screen, note, answer) = (
            output.clone(),
            parser.clone(),
            notify.clone(),
            writer.clone(),
        );
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                // EIO once the program and its children closed the terminal.
                let n = match read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let chunk = &buf[..n];
                let queries = count(chunk, b"\x1b[6n");
                if let Ok(mut o) = out.lock() {
                    o.extend_from_slice(chunk);
                }
                let cursor = screen.lock().ok().map(|mut p| {
                    p.process(chunk);
                    p.screen().cursor_position()
                });
                note.notify_waiters();
                let (row, col) = cursor.unwrap_or((0, 0));
                for _ in 0..queries {
                    let reply = format!("\x1b[{};{}R", row + 1, col + 1);
                    let _ = answer.lock().await.write_all(reply.as_bytes()).await;
                }
            }
            note.notify_waiters();
        });
        Ok(Self {
            child,
            writer,
            output,
            parser,
            notify,
            reader,
        })
    }

    /// The program's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Sends bytes as typed (e.g. `b"\x03"` for Ctrl-C, `b"\r"` for Enter).
    pub async fn send(&self, bytes: impl AsRef<[u8]>) -> io::Result<()> {
        let mut w = self.writer.lock().await;
        w.write_all(bytes.as_ref()).await?;
        w.flush().await
    }

    /// Types `text`, waits a moment (TUIs treat a fast burst as a paste), then presses Enter.
    pub async fn type_line(&self, text: impl AsRef<OsStr>) -> io::Result<()> {
        self.send(text.as_ref().as_encoded_bytes()).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.send(b"\r").await
    }

    /// Everything written so far, escape sequences included.
    pub fn raw(&self) -> Vec<u8> {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Everything written so far as text, without escape sequences.
    pub fn text(&self) -> String {
        strip_ansi(&String::from_utf8_lossy(&self.raw()))
    }

    /// The screen as a user sees it now, one line per row.
    pub fn screen(&self) -> String {
        self.parser
            .lock()
            .map(|p| p.screen().contents())
            .unwrap_or_default()
    }

    /// Whether `needle` is on the screen, or anywhere in the output (whitespace ignored).
    pub fn shows(&self, needle: &str) -> bool {
        let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        self.screen().contains(needle) || squash(&self.text()).contains(&squash(needle))
    }

    /// Waits until [`shows`](Self::shows) `needle`; a `TimedOut` error (quoting the end of the
    /// output) if it doesn't within `limit`.
    pub async fn wait_for(&self, needle: &str, limit: Duration) -> io::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.notify.notified();
            if self.shows(needle) {
                return Ok(());
            }
            if self.reader.is_finished() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the terminal closed before {needle:?} appeared: {}",
                        self.tail()
                    ),
                ));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{needle:?} did not appear within {limit:?}: {}",
                        self.tail()
                    ),
                ));
            }
        }
    }

    fn tail(&self) -> String {
        let t = self.text();
        let start = t.char_indices().rev().nth(600).map(|(i, _)| i).unwrap_or(0);
        t[start..].to_owned()
    }

    /// Waits for the program to exit (killing it after `limit`), then for its last output.
    pub async fn wait(&mut self, limit: Duration) -> io::Result<ExitStatus> {
        let status = match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(s) => s?,
            Err(_) => {
                let _ = self.child.kill().await;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the program did not exit within {limit:?}: {}", self.tail()),
                ));
            }
        };
        // What it wrote just before exiting; children holding the terminal don't block this.
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.reader).await;
        Ok(status)
    }

    /// Kills the program.
    pub async fn kill(&mut self) -> io::Result<()> {
        self.child.kill().await
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// Removes terminal escape sequences (CSI, OSC, and two-byte escapes) and other control
/// characters but newlines and tabs.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    // Parameters and intermediates, then one final byte in @..~.
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']' | 'P' | '_' | '^') => {
                    // Until BEL or ESC \.
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\n' | '\t' => out.push(c),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Makes the home at `home` open the TUI in `workspace` without questions: the workspace is
/// trusted (`[projects."<dir>"] trust_level = "trusted"`, the canonical path, as Codex keys it)
/// and the update check is off (`check_for_update_on_startup = false`). The rest of the
/// home's `config.toml` is kept.
pub fn prepare_tui_home(home: &std::path::Path, workspace: &std::path::Path) -> io::Result<()> {
    let path = home.join("config.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{path:?}: {e}")))?;
    doc["check_for_update_on_startup"] = toml_edit::value(false);
    let dir = workspace.canonicalize()?.to_string_lossy().into_owned();
    let projects = doc.entry("projects").or_insert_with(|| {
        let mut t = toml_edit::Table::new();
        t.set_implicit(true);
        toml_edit::Item::Table(t)
    });
    let mut trust = toml_edit::Table::new();
    trust["trust_level"] = toml_edit::value("trusted");
    projects[dir.as_str()] = toml_edit::Item::Table(trust);
    std::fs::write(&path, doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_removed() {
        assert_eq!(
            strip_ansi("\u{1b}[1;31mred\u{1b}[0m \u{1b}]0;title\u{7}x\u{1b}]8;;u\u{1b}\\y\r\n"),
            "red xy\n"
        );
    }

    #[tokio::test]
    async fn a_shell_in_a_terminal() -> anyhow::Result<()> {
        let mut cmd = std::process::Command::new("sh");
        cmd.args([
            "-c",
            "tty >/dev/null && printf 'size:'; stty size; read x; echo got:$x",
        ]);
        let mut t = Terminal::spawn(cmd, 30, 100)?;
        t.wait_for("size:30 100", Duration::from_secs(10)).await?;
        assert!(t.screen().starts_with("size:30 100"), "{:?}", t.screen());
        t.type_line("hello").await?;
        t.wait_for("got:hello", Duration::from_secs(10)).await?;
        assert!(t.wait(Duration::from_secs(10)).await?.success());
        Ok(())
    }
}
