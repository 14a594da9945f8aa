//! Reading Codex's words: login status and logout texts, error lines, the prompts.

use super::*;

pub(super) fn parse_status(success: bool, stderr: &[String]) -> Result<CliLoginStatus> {
    let lines: Vec<&str> = meaningful(stderr).collect();
    if lines.contains(&"Not logged in") {
        return Ok(CliLoginStatus::LoggedOut);
    }
    if !success {
        return Err(login_error("login status", stderr, &[], None));
    }
    let Some(first) = lines.first() else {
        return Ok(CliLoginStatus::Other(String::new()));
    };
    // 0.169+ says "API key configured - …"; 0.163 and older "Logged in using an API key - …".
    if let Some(masked) = first
        .strip_prefix("API key configured - ")
        .or_else(|| first.strip_prefix("Logged in using an API key - "))
    {
        return Ok(CliLoginStatus::ApiKey {
            masked: masked.trim().to_owned(),
        });
    }
    Ok(match *first {
        "Logged in using ChatGPT" => CliLoginStatus::ChatGpt,
        "Logged in using access token" => CliLoginStatus::AccessToken,
        "Logged in using personal access token" => CliLoginStatus::PersonalAccessToken,
        "Logged in using workload identity" => CliLoginStatus::WorkloadIdentity,
        other => CliLoginStatus::Other(other.to_owned()),
    })
}

pub(super) fn parse_logout(success: bool, stderr: &[String]) -> Result<bool> {
    let lines: Vec<&str> = meaningful(stderr).collect();
    match (success, lines.as_slice()) {
        (true, [.., "Successfully logged out"]) => Ok(true),
        (true, [.., "Not logged in"]) => Ok(false),
        _ => Err(login_error("logout", stderr, &[], None)),
    }
}

pub(super) fn parse_mcp_logout(
    command: &str,
    success: bool,
    stdout: &[String],
    stderr: &[String],
) -> Result<bool> {
    if success {
        for line in meaningful(stdout) {
            if line.starts_with("Removed OAuth credentials") {
                return Ok(true);
            }
            if line.starts_with("No OAuth credentials stored") {
                return Ok(false);
            }
        }
    }
    Err(login_error(command, stderr, stdout, None))
}

/// Non-blank lines, trimmed, without Codex's start-up warnings.
pub(super) fn meaningful(lines: &[String]) -> impl Iterator<Item = &str> {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with("WARNING:"))
}

/// What Codex said went wrong: from its last `Error…` line on (an anyhow `Caused by:` chain
/// joined with `: `), else its last meaningful line.
pub(super) fn error_message(lines: &[String]) -> Option<String> {
    let kept: Vec<&str> = meaningful(lines).collect();
    let Some(start) = kept.iter().rposition(|l| l.starts_with("Error")) else {
        return kept.last().map(|l| (*l).to_owned());
    };
    let mut parts: Vec<&str> = Vec::new();
    for line in &kept[start..] {
        if line.starts_with("Stack backtrace") || line.starts_with("Backtrace") {
            break;
        }
        // anyhow's `Caused by:` header, alone or with a single cause on the same line.
        let line = line.strip_prefix("Caused by:").map_or(*line, str::trim);
        if line.is_empty() {
            continue;
        }
        // `0: cause` in a numbered chain.
        let cause = match line.split_once(": ") {
            Some((n, rest)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => rest,
            _ => line,
        };
        parts.push(cause);
    }
    Some(parts.join(": "))
}

/// Whether a message is about the OS keyring (then [`classify`] says what is wrong with it).
pub(super) fn about_keyring(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "keyring",
        "secret service",
        "secure storage",
        "org.freedesktop.secrets",
        "dbus",
    ]
    .iter()
    .any(|w| m.contains(w))
}

pub(super) fn login_error(
    command: &str,
    stderr: &[String],
    stdout: &[String],
    status: Option<ExitStatus>,
) -> Error {
    let message = error_message(stderr)
        .or_else(|| error_message(stdout))
        .unwrap_or_else(|| match status.and_then(|s| s.code()) {
            Some(code) => format!("exited with status {code} and said nothing"),
            None => "killed by a signal before saying anything".to_owned(),
        });
    let store: Option<KeyringProblem> = about_keyring(&message).then(|| classify(&message));
    Error::Login {
        command: command.to_owned(),
        message,
        store,
    }
}

/// Removes terminal escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL|ESC \`, and
/// two-character `ESC x`): Codex colours its device-code instructions even when piped.
pub(super) fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// What the next non-blank line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    DeviceUrl,
    DeviceCode,
    Url,
}

/// Finds the prompt in one stream, line by line (ANSI already stripped).
#[derive(Debug, Default)]
pub(super) struct PromptParser {
    pub(super) expect: Option<Expect>,
    pub(super) device_url: Option<String>,
    pub(super) device_code: Option<String>,
}

impl PromptParser {
    pub(super) fn feed(&mut self, line: &str) -> Option<LoginPrompt> {
        let t = line.trim();
        if let Some(expect) = self.expect {
            if t.is_empty() {
                return None;
            }
            self.expect = None;
            match expect {
                Expect::DeviceUrl => self.device_url = Some(t.to_owned()),
                Expect::DeviceCode => self.device_code = Some(t.to_owned()),
                Expect::Url if t.starts_with("http://") || t.starts_with("https://") => {
                    return Some(LoginPrompt::Browser { url: t.to_owned() });
                }
                Expect::Url => {}
            }
            if let (Some(url), Some(code)) = (&self.device_url, &self.device_code) {
                return Some(LoginPrompt::DeviceCode {
                    url: url.clone(),
                    code: code.clone(),
                });
            }
            return None;
        }
        self.expect = if t.contains("Open this link in your browser") {
            Some(Expect::DeviceUrl)
        } else if t.contains("Enter this one-time code") {
            Some(Expect::DeviceCode)
        } else if t.ends_with("navigate to this URL to authenticate:")
            || (t.starts_with("Authorize ") && t.ends_with("by opening this URL in your browser:"))
        {
            Some(Expect::Url)
        } else {
            None
        };
        None
    }
}
