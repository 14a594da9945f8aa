//! App-server approvals against the real Codex: accepted, declined, denied by default, timed
//! out, answered from another task, resolved by the server, granular policies.

use crate::app_server::{params, server, stop};
use crate::common::Env;
use codex_driver::app_server::approvals::{Decision, approval_fn, approval_queue};
use codex_driver::app_server::protocol::{
    AskForApproval, AskForApprovalGranular, SandboxMode, ServerNotification, ThreadItem, TurnStatus,
};
use codex_driver_testkit::{MockResponse, add_file_patch};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A command that needs approval: `require_escalated` under the `untrusted` policy.
fn escalated_touch(file: &str) -> Vec<MockResponse> {
    vec![
        MockResponse::new().exec_command_with(json!({
            "cmd": format!("touch {file}"),
            "sandbox_permissions": "require_escalated",
            "justification": "need to write",
        })),
        MockResponse::text("done"),
    ]
}

async fn approval_run(
    handler: Option<Arc<dyn codex_driver::app_server::approvals::ApprovalHandler>>,
    timeout: Duration,
) -> anyhow::Result<(Env, codex_driver::app_server::TurnOutcome)> {
    let env = Env::new(escalated_touch("approved.txt")).await;
    let mut s = server(&env).approval_timeout(timeout);
    if let Some(h) = handler {
        s = s.approval_handler(h);
    }
    let codex = s.spawn().await?;
    let mut thread = codex
        .start_thread(params(&env, "untrusted", SandboxMode::ReadOnly))
        .await?;
    let out = thread.run("please touch a file").await?;
    stop(codex).await;
    Ok((env, out))
}

fn command_status(out: &codex_driver::app_server::TurnOutcome) -> String {
    out.items
        .iter()
        .find_map(|i| match i {
            ThreadItem::CommandExecution(c) => {
                Some(serde_json::to_value(&c.status).unwrap().to_string())
            }
            _ => None,
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn accepted_command_runs() -> anyhow::Result<()> {
    let asked = Arc::new(AtomicUsize::new(0));
    let seen = asked.clone();
    let handler = approval_fn(move |a| {
        seen.fetch_add(1, Ordering::SeqCst);
        async move {
            match &a.request {
                codex_driver::app_server::approvals::ApprovalRequest::CommandExecution(p) => {
                    assert_eq!(p.reason.as_deref(), Some("need to write"));
                    assert!(a.thread_id.is_some());
                    Decision::Accept
                }
                _ => Decision::Decline,
            }
        }
    });
    let (env, out) = approval_run(Some(handler), Duration::from_secs(30)).await?;
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert!(env.ws().join("approved.txt").exists());
    assert_eq!(command_status(&out), "\"completed\"");
    Ok(())
}

#[tokio::test]
async fn declined_command_does_not_run() -> anyhow::Result<()> {
    let (env, out) = approval_run(
        Some(approval_fn(|_| async { Decision::Decline })),
        Duration::from_secs(30),
    )
    .await?;
    assert!(!env.ws().join("approved.txt").exists());
    assert_eq!(command_status(&out), "\"declined\"");
    assert_eq!(out.final_message.as_deref(), Some("done"));
    Ok(())
}

#[tokio::test]
async fn the_default_handler_denies() -> anyhow::Result<()> {
    let (env, out) = approval_run(None, Duration::from_secs(30)).await?;
    assert!(!env.ws().join("approved.txt").exists());
    assert_eq!(command_status(&out), "\"declined\"");
    Ok(())
}

#[tokio::test]
async fn a_handler_that_times_out_declines() -> anyhow::Result<()> {
    let slow = approval_fn(|_| async {
        tokio::time::sleep(Duration::from_secs(600)).await;
        Decision::Accept
    });
    let (env, out) = approval_run(Some(slow), Duration::from_millis(500)).await?;
    assert!(!env.ws().join("approved.txt").exists());
    assert_eq!(command_status(&out), "\"declined\"");
    Ok(())
}

#[tokio::test]
async fn pending_approvals_answered_from_another_task() -> anyhow::Result<()> {
    let (handler, mut queue) = approval_queue(8);
    let answerer = tokio::spawn(async move {
        let pending = queue.recv().await.unwrap();
        assert_eq!(
            pending.approval.request.method(),
            "item/commandExecution/requestApproval"
        );
        pending.respond(Decision::Accept).unwrap();
    });
    let (env, _) = approval_run(Some(handler), Duration::from_secs(30)).await?;
    answerer.await?;
    assert!(env.ws().join("approved.txt").exists());
    Ok(())
}

#[tokio::test]
async fn file_change_approval() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::new().apply_patch(add_file_patch("patched.txt", "hi")),
        MockResponse::text("patched"),
    ])
    .await;
    let methods = Arc::new(std::sync::Mutex::new(Vec::new()));
    let m = methods.clone();
    let codex = server(&env)
        .approval_handler(approval_fn(move |a| {
            m.lock().unwrap().push(a.request.method().to_owned());
            async { Decision::Accept }
        }))
        .spawn()
        .await?;
    let mut thread = codex
        .start_thread(params(&env, "untrusted", SandboxMode::ReadOnly))
        .await?;
    let out = thread.run("patch it").await?;
    stop(codex).await;
    assert!(
        methods
            .lock()
            .unwrap()
            .iter()
            .any(|m| m == "item/fileChange/requestApproval"),
        "{methods:?}"
    );
    assert_eq!(
        std::fs::read_to_string(env.ws().join("patched.txt"))?,
        "hi\n"
    );
    assert_eq!(out.final_message.as_deref(), Some("patched"));
    Ok(())
}

#[tokio::test]
async fn an_approval_resolved_by_the_server_is_surfaced() -> anyhow::Result<()> {
    // Nobody answers; the turn is interrupted; the server resolves the request itself.
    let env = Env::new(escalated_touch("never.txt")).await;
    let (handler, mut queue) = approval_queue(8);
    let codex = server(&env).approval_handler(handler).spawn().await?;
    let mut all = codex.notifications();
    let mut thread = codex
        .start_thread(params(&env, "untrusted", SandboxMode::ReadOnly))
        .await?;
    let mut turn = thread.turn("touch it").await?;
    let control = turn.control();
    let waiter = tokio::spawn(async move {
        let pending = queue.recv().await.unwrap();
        control.interrupt().await.unwrap();
        tokio::time::timeout(Duration::from_secs(20), pending.resolved())
            .await
            .is_ok()
    });
    let mut status = None;
    while let Some(ev) = turn.next_event().await {
        if let ServerNotification::TurnCompleted(c) = ev? {
            status = Some(c.turn.status);
        }
    }
    assert!(
        waiter.await?,
        "the pending approval learned it was resolved"
    );
    // The server's own notification (it follows turn/completed) reaches subscribers.
    let resolved = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(r) = all.recv().await {
            if let ServerNotification::ServerRequestResolved(n) = r.notification {
                return Some((r.thread_id, n.request_id));
            }
        }
        None
    })
    .await?;
    let (thread_id, request_id) = resolved.unwrap();
    assert_eq!(thread_id.as_deref(), Some(thread.id()));
    assert_eq!(serde_json::to_value(request_id)?, json!(0));
    assert_eq!(status, Some(TurnStatus::Interrupted));
    assert!(!env.ws().join("never.txt").exists());
    stop(codex).await;
    Ok(())
}

/// A granular policy asks only for what it names: with `sandbox_approval` the escalation is
/// put to the handler; without it, Codex refuses the escalation without asking.
#[tokio::test]
async fn granular_approval_policy() -> anyhow::Result<()> {
    for sandbox_approval in [true, false] {
        let env = Env::new(escalated_touch("granular.txt")).await;
        let asked = Arc::new(AtomicUsize::new(0));
        let seen = asked.clone();
        // Codex 0.169 accepts a granular policy only from clients that opt into its
        // experimental API.
        let codex = server(&env)
            .experimental_api(true)
            .approval_handler(approval_fn(move |_| {
                seen.fetch_add(1, Ordering::SeqCst);
                async { Decision::Accept }
            }))
            .spawn()
            .await?;
        let mut p = params(&env, "untrusted", SandboxMode::ReadOnly);
        p.approval_policy = Some(AskForApproval::Granular(AskForApprovalGranular {
            sandbox_approval,
            rules: true,
            mcp_elicitations: true,
            ..Default::default()
        }));
        let mut thread = codex.start_thread(p).await?;
        let out = thread.run("please touch a file").await?;
        stop(codex).await;
        let expected = if sandbox_approval { 1 } else { 0 };
        assert_eq!(
            asked.load(Ordering::SeqCst),
            expected,
            "sandbox_approval={sandbox_approval}"
        );
        assert_eq!(
            env.ws().join("granular.txt").exists(),
            sandbox_approval,
            "{}",
            command_status(&out)
        );
    }
    Ok(())
}

/// An orchestrator starts a turn, walks away (nobody reads its events), and is told when it
/// ends: by `wait_for_turn_completion` and by the thread status stream.
#[tokio::test]
async fn a_turn_nobody_watches_is_waited_for() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("slow answer").delay_before(Duration::from_millis(1500)),
    ])
    .await;
    let codex = server(&env).spawn().await?;
    let mut statuses = codex.thread_status_changes();
    let mut thread = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    let id = thread.id().to_owned();
    let turn_id = thread.turn("take your time").await?.id().to_owned();
    drop(thread);
    let turn = tokio::time::timeout(
        Duration::from_secs(60),
        codex.wait_for_turn_completion(&id, &turn_id),
    )
    .await??;
    assert_eq!(turn.status, TurnStatus::Completed);
    let mut seen = Vec::new();
    while let Ok(Some(n)) = tokio::time::timeout(Duration::from_secs(5), statuses.recv()).await {
        if n.thread_id == id {
            let kind = serde_json::to_value(&n.status)?["type"].clone();
            seen.push(kind.as_str().unwrap_or_default().to_owned());
            if seen.last().map(String::as_str) == Some("idle") && seen.contains(&"active".into()) {
                break;
            }
        }
    }
    let active = seen.iter().position(|s| s == "active");
    let idle = seen.iter().rposition(|s| s == "idle");
    assert!(
        matches!((active, idle), (Some(a), Some(i)) if a < i),
        "{seen:?}"
    );
    stop(codex).await;
    Ok(())
}
