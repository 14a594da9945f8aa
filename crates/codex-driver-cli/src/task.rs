//! `codex-driver run --task KEY`: start or continue the thread of one of your tasks, over the
//! library's `tasks` registry.

use anyhow::Result;
use codex_driver::Exec;
use codex_driver::app_server::AppServer;
use codex_driver::app_server::protocol::ThreadStartParams;
use codex_driver::tasks::{Task, TaskRegistry};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// How the task's turns run.
pub enum Transport {
    Exec(Box<Exec>),
    AppServer(Box<AppServer>, Box<ThreadStartParams>),
}

pub struct TaskArgs {
    pub key: String,
    pub registry: Option<PathBuf>,
    pub shared: bool,
    pub json: bool,
    pub prompt: String,
}

fn registry(dir: Option<PathBuf>) -> Result<TaskRegistry> {
    Ok(match dir {
        Some(d) => TaskRegistry::open(d)?,
        None => TaskRegistry::for_app(crate::APP)?,
    })
}

pub async fn run(a: TaskArgs, transport: Transport) -> Result<ExitCode> {
    let reg = registry(a.registry)?;
    let builder = reg.task(&a.key).shared(a.shared);
    let builder = match transport {
        Transport::Exec(e) => builder.exec(*e),
        Transport::AppServer(s, p) => builder.app_server(*s, *p),
    };
    let mut task: Task = builder.open().await?;
    match task.thread_id() {
        Some(id) => eprintln!("• task {} continues thread {id}", a.key),
        None => eprintln!("• task {} starts a new thread", a.key),
    }
    let mut progress = (!a.json).then(crate::progress::Progress::new);
    let turn = task
        .send_with(&a.prompt, |ev| {
            if let Some(p) = progress.as_mut() {
                p.event(ev);
            }
        })
        .await;
    if let Some(mut p) = progress.take() {
        p.finish();
    }
    task.close().await?;
    let turn = turn?;
    if a.json {
        outln!(
            "{}",
            json!({
                "schema_version": 1,
                "task": a.key,
                "thread_id": turn.thread_id,
                "final_message": turn.final_message,
                "usage": turn.usage,
            })
        )?;
    } else {
        outln!("{}", turn.final_message.unwrap_or_default())?;
    }
    Ok(ExitCode::SUCCESS)
}
