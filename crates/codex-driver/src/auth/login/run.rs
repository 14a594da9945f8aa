//! One login child: its own process group, stdin fed and closed, both streams read.

use super::output::*;
use super::*;

#[derive(Debug, Clone, Copy)]
pub(super) enum Stream {
    Out,
    Err,
}

/// What the readers saw so far.
#[derive(Debug, Default)]
pub(super) struct Seen {
    pub(super) prompt: Option<LoginPrompt>,
    /// Output streams not at EOF yet.
    pub(super) open: u8,
    pub(super) stdout: VecDeque<String>,
    pub(super) stderr: VecDeque<String>,
}

impl Seen {
    pub(super) fn push(&mut self, stream: Stream, line: String) {
        let buf = match stream {
            Stream::Out => &mut self.stdout,
            Stream::Err => &mut self.stderr,
        };
        if buf.len() == LINES_KEPT {
            buf.pop_front();
        }
        buf.push_back(line);
    }
}

/// A finished child: its status and the (masked, ANSI-free) lines it printed.
#[derive(Debug)]
pub(super) struct Finished {
    pub(super) status: ExitStatus,
    pub(super) stdout: Vec<String>,
    pub(super) stderr: Vec<String>,
}

/// One login-family child: its own group, both outputs read concurrently into bounded buffers.
pub(super) struct Running {
    pub(super) leader: Leader,
    pub(super) command: String,
    pub(super) seen: watch::Receiver<Seen>,
    pub(super) readers: Vec<JoinHandle<()>>,
    pub(super) deadline: Instant,
    pub(super) limit: Duration,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("command", &self.command)
            .field("pgid", &self.leader.pgid())
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl Running {
    pub(super) async fn start(
        opts: &SpawnOptions,
        args: &[OsString],
        command: String,
        secret: Option<Secret>,
        limit: Duration,
    ) -> Result<Self> {
        opts.check()?;
        let binary = opts.binary_or_install().await?;
        opts.admit(&binary).await?;
        let mut cmd = opts.command(&binary, args);
        if secret.is_none() {
            cmd.stdin(Stdio::null());
        }
        // Unset (not kept, not set by the caller): say so explicitly, so no backtrace frames
        // crowd Codex's error line.
        if !opts
            .env
            .resolve(std::env::vars_os())
            .contains_key(std::ffi::OsStr::new("RUST_BACKTRACE"))
        {
            cmd.env("RUST_BACKTRACE", "0");
        }
        let (child, tag) =
            crate::process::spawn_tagged(&mut cmd).map_err(|source| Error::Spawn {
                path: binary.path().to_path_buf(),
                source,
            })?;
        let mut leader = Leader::new(child).tagged(Some(tag));
        let deadline = Instant::now() + limit;
        let (tx, seen) = watch::channel(Seen {
            open: 2,
            ..Seen::default()
        });
        let tx = Arc::new(tx);
        let mut readers = Vec::new();
        let stdout = leader.child_mut().stdout.take();
        let stderr = leader.child_mut().stderr.take();
        match stdout {
            Some(r) => readers.push(tokio::spawn(read_stream(
                r,
                Stream::Out,
                tx.clone(),
                secret.clone(),
            ))),
            None => tx.send_modify(|s| s.open -= 1),
        }
        match stderr {
            Some(r) => readers.push(tokio::spawn(read_stream(
                r,
                Stream::Err,
                tx.clone(),
                secret.clone(),
            ))),
            None => tx.send_modify(|s| s.open -= 1),
        }
        if let Some(mut stdin) = leader.child_mut().stdin.take() {
            if let Some(secret) = &secret {
                // A child that exits early closes the pipe: its exit status tells why. One that
                // never reads is bounded by the deadline (and then killed by `wait`).
                let write = async {
                    stdin.write_all(secret.expose().as_bytes()).await?;
                    stdin.shutdown().await
                };
                let _ = tokio::time::timeout_at(deadline, write).await;
            }
            drop(stdin);
        }
        Ok(Self {
            leader,
            command,
            seen,
            readers,
            deadline,
            limit,
        })
    }

    pub(super) async fn prompt(&mut self) -> Option<LoginPrompt> {
        // Ends at the deadline or when the readers are gone; either way the prompt, if seen.
        let _ = tokio::time::timeout_at(
            self.deadline,
            self.seen.wait_for(|s| s.prompt.is_some() || s.open == 0),
        )
        .await;
        self.seen.borrow().prompt.clone()
    }

    /// Waits for the exit (up to the deadline), kills the group, reaps, collects the output.
    pub(super) async fn finish(mut self) -> Result<Finished> {
        let exited = tokio::time::timeout_at(self.deadline, self.leader.exited())
            .await
            .is_ok();
        if !exited {
            self.leader.signal(Signal::SIGKILL);
        }
        let status = self.leader.reap().await;
        for r in std::mem::take(&mut self.readers) {
            let abort = r.abort_handle();
            if tokio::time::timeout(READER_GRACE, r).await.is_err() {
                abort.abort();
            }
        }
        let (stdout, stderr) = {
            let s = self.seen.borrow();
            (
                s.stdout.iter().cloned().collect::<Vec<_>>(),
                s.stderr.iter().cloned().collect::<Vec<_>>(),
            )
        };
        if !exited {
            return Err(Error::Timeout {
                kind: TimeoutKind::Overall,
                after: self.limit,
                stderr_tail: stderr.join("\n"),
            });
        }
        let status = status.ok_or_else(|| {
            Error::io(
                format!("reaping `codex {}`", self.command),
                std::io::Error::other("the exit status could not be read"),
            )
        })?;
        Ok(Finished {
            status,
            stdout,
            stderr,
        })
    }

    pub(super) async fn outcome(self) -> Result<LoginOutcome> {
        let command = self.command.clone();
        let done = self.finish().await?;
        if done.status.success() {
            let message = meaningful(&done.stderr)
                .last()
                .or_else(|| meaningful(&done.stdout).last())
                .unwrap_or_default()
                .to_owned();
            return Ok(LoginOutcome { message });
        }
        Err(login_error(
            &command,
            &done.stderr,
            &done.stdout,
            Some(done.status),
        ))
    }

    pub(super) async fn cancel(mut self) {
        if !self.leader.has_exited() {
            self.leader.signal(Signal::SIGINT);
            if tokio::time::timeout(CANCEL_GRACE, self.leader.exited())
                .await
                .is_err()
            {
                self.leader.signal(Signal::SIGKILL);
            }
        }
        // Kills whatever is left of the group, then reaps the leader.
        self.leader.reap().await;
    }
}

/// Reads one output stream into `tx`, ANSI stripped and `secret` masked, looking for the
/// prompt.
pub(super) async fn read_stream<R: AsyncRead + Unpin>(
    reader: R,
    stream: Stream,
    tx: Arc<watch::Sender<Seen>>,
    secret: Option<Secret>,
) {
    let mut lines = LineReader::new(BufReader::new(reader), LINE_LIMIT);
    let mut parser = PromptParser::default();
    loop {
        match lines.next_line().await {
            Ok(ReadLine::Line) => {
                let raw = String::from_utf8_lossy(lines.line());
                let mut text = strip_ansi(raw.trim_end_matches('\r'));
                if let Some(s) = secret.as_ref().filter(|s| !s.is_blank())
                    && text.contains(s.expose())
                {
                    text = text.replace(s.expose(), &s.masked());
                }
                let found = parser.feed(&text);
                tx.send_modify(|s| {
                    s.push(stream, text);
                    if s.prompt.is_none() {
                        s.prompt = found;
                    }
                });
            }
            Ok(ReadLine::TooLong(_)) => {}
            Ok(ReadLine::Eof) | Err(_) => break,
        }
    }
    tx.send_modify(|s| s.open = s.open.saturating_sub(1));
}
