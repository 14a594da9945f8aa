//! Human progress on stderr: a spinner for the running item, a line per finished item.

use codex_driver::events::{CommandExecutionStatus, ItemDetails, PatchChangeKind};
use codex_driver::{ThreadEvent, ThreadItem};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        bar.set_message("starting Codex");
        Self { bar }
    }

    /// Prints a line above the spinner (or plainly, when stderr is not a terminal).
    fn line(&self, s: String) {
        if self.bar.is_hidden() {
            eprintln!("{s}");
        } else {
            self.bar.println(s);
        }
    }

    pub fn event(&mut self, ev: &ThreadEvent) {
        match ev {
            ThreadEvent::ThreadStarted(t) => self.line(format!("• thread {}", t.thread_id)),
            ThreadEvent::TurnStarted(_) => self.bar.set_message("thinking"),
            ThreadEvent::ItemStarted(e) | ThreadEvent::ItemUpdated(e) => {
                self.bar.set_message(running(&e.item))
            }
            ThreadEvent::ItemCompleted(e) => {
                if let Some(l) = finished(&e.item) {
                    self.line(l);
                }
                self.bar.set_message("thinking");
            }
            ThreadEvent::TurnCompleted(t) => self.line(format!(
                "• turn completed: {} input tokens ({} cached), {} output tokens",
                t.usage.input_tokens, t.usage.cached_input_tokens, t.usage.output_tokens
            )),
            ThreadEvent::TurnFailed(f) => self.line(format!("✗ turn failed: {}", f.error.message)),
            ThreadEvent::Error(e) => self.line(format!("✗ {}", e.message)),
            _ => {}
        }
    }

    pub fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}

fn running(item: &ThreadItem) -> String {
    match &item.details {
        ItemDetails::CommandExecution(c) => format!("running {}", c.command),
        ItemDetails::FileChange(_) => "applying a patch".into(),
        ItemDetails::McpToolCall(m) => format!("calling {}.{}", m.server, m.tool),
        ItemDetails::WebSearch(w) => format!("searching the web: {}", w.query),
        other => other.type_name().replace('_', " "),
    }
}

fn finished(item: &ThreadItem) -> Option<String> {
    Some(match &item.details {
        ItemDetails::CommandExecution(c) => {
            let mark = if c.status == CommandExecutionStatus::Completed {
                "✓"
            } else {
                "✗"
            };
            let code = c
                .exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "?".into());
            format!("{mark} $ {} (exit {code})", c.command)
        }
        ItemDetails::FileChange(f) => f
            .changes
            .iter()
            .map(|c| {
                let kind = match c.kind {
                    PatchChangeKind::Add => "added",
                    PatchChangeKind::Delete => "deleted",
                    PatchChangeKind::Update => "updated",
                    _ => "changed",
                };
                format!("✎ {kind} {}", c.path)
            })
            .collect::<Vec<_>>()
            .join("\n"),
        ItemDetails::Reasoning(r) => format!("… {}", r.text),
        ItemDetails::McpToolCall(m) => format!("⚙ {}.{} ({:?})", m.server, m.tool, m.status),
        ItemDetails::WebSearch(w) => format!("🔎 {}", w.query),
        ItemDetails::TodoList(t) => t
            .items
            .iter()
            .map(|i| format!("{} {}", if i.completed { "☑" } else { "☐" }, i.text))
            .collect::<Vec<_>>()
            .join("\n"),
        ItemDetails::Error(e) => format!("! {}", e.message),
        // The final message is printed on stdout at the end.
        ItemDetails::AgentMessage(_) => return None,
        other => format!("• {}", other.type_name()),
    })
}
