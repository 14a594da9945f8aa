//! Cost and budgets against the real Codex: usage priced by a rate card, turns refused past a
//! limit, and an app-server turn interrupted when its token reports cross the budget.

use crate::app_server::{params, server, stop};
use crate::common::Env;
use codex_driver::app_server::protocol::SandboxMode;
use codex_driver::conversation::{Conversation, ExecConversation};
use codex_driver::cost::{Meter, Metered, RateCard, Rates};
use codex_driver::{Error, ErrorKind, Exec};
use codex_driver_testkit::MockResponse;

/// $1 per million input tokens, $0.10 cached, $10 output, $20 reasoning.
fn card() -> RateCard {
    RateCard::empty("test").with_model(
        "mock-model",
        Rates {
            input: 1.0,
            cached_input: 0.1,
            output: 10.0,
            reasoning: 20.0,
        },
    )
}

#[tokio::test]
async fn an_exec_conversation_is_priced_and_refused_past_max_turns() -> anyhow::Result<()> {
    let env = Env::new(vec![
        // 100k fresh + 100k cached input, 10k output of which 5k reasoning:
        // 0.1 + 0.01 + 0.05 + 0.1 = $0.26
        MockResponse::text("one").usage(200_000, 100_000, 10_000, 5_000),
        MockResponse::text("two").usage(200_000, 100_000, 10_000, 5_000),
        MockResponse::text("never"),
    ])
    .await;
    let meter = Meter::new(card()).model("mock-model").max_turns(2);
    let mut c = Metered::new(ExecConversation::new(env.configure(Exec::new(""))), meter);
    let first = c.send("first").await?;
    assert_eq!(first.final_message.as_deref(), Some("one"));
    assert_eq!(first.cost_usd.map(|c| (c * 1e6).round() / 1e6), Some(0.26));
    c.send("second").await?;
    let err = c.send("third").await.err();
    assert!(
        matches!(&err, Some(Error::BudgetExceeded { limit, turns: 2, interrupted: false, .. }) if limit == "max_turns 2"),
        "{err:?}"
    );
    assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Budget));
    assert_eq!(
        env.provider.requests().len(),
        2,
        "the third turn never started"
    );
    let spent = c.meter().spent();
    assert_eq!(spent.turns, 2);
    assert_eq!(spent.usd.map(|c| (c * 1e6).round() / 1e6), Some(0.52));
    assert_eq!(spent.usage.output_tokens, 20_000);
    Ok(())
}

#[tokio::test]
async fn an_app_server_turn_is_interrupted_when_it_crosses_the_budget() -> anyhow::Result<()> {
    interrupted_past_the_budget().await
}

/// Also an area of the compatibility suite.
pub(crate) async fn interrupted_past_the_budget() -> anyhow::Result<()> {
    let env = Env::new(vec![
        // A cheap first turn ($0.01).
        MockResponse::text("cheap").usage(10_000, 0, 0, 0),
        // The second turn's first model call costs $0.06 and asks for a command; the budget
        // ($0.05) is crossed there, so the turn is interrupted and the follow-up never asked.
        // (Token counts stay well inside the model's window: a report past it makes Codex
        // compact the thread, itself a model call.)
        MockResponse::new()
            // A slow command: the interrupt lands while it runs, before any follow-up call.
            .exec_command("sleep 3")
            .usage(60_000, 0, 0, 0),
        MockResponse::text("unreached"),
    ])
    .await;
    let codex = server(&env).spawn().await?;
    let thread = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    let mut c = Metered::new(thread, Meter::new(card()).max_budget(0.05));
    let first = c.send("first").await?;
    assert_eq!(first.cost_usd.map(|c| (c * 1e6).round() / 1e6), Some(0.01));
    let err = c.send("spend a lot").await.err();
    match &err {
        Some(Error::BudgetExceeded {
            limit,
            spent_usd,
            turns: 2,
            interrupted: true,
            ..
        }) => {
            assert_eq!(limit, "max_budget $0.05");
            assert_eq!((spent_usd * 1e6).round() / 1e6, 0.07);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.map(|e| e.to_string()).unwrap_or_default(),
        format!(
            "max_budget $0.05 reached on thread {}: $0.0700 spent over 2 turn(s); the running turn was interrupted",
            c.thread_id().unwrap_or_default()
        )
    );
    // Past the budget, no new turn starts.
    let refused = c.send("more").await.err();
    assert!(
        matches!(
            &refused,
            Some(Error::BudgetExceeded {
                interrupted: false,
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(env.provider.remaining(), 1, "the follow-up was never asked");
    stop(c.into_inner().client().clone()).await;
    Ok(())
}

/// Per task: a task of the registry is a `Conversation`, so the same meter prices and limits
/// it; the task keeps its thread across the refused turn.
#[tokio::test]
async fn a_task_of_the_registry_is_priced_and_held_to_its_limits() -> anyhow::Result<()> {
    use codex_driver::tasks::TaskRegistry;
    let env = Env::new(vec![
        // 200k fresh input ($0.20) + 10k output ($0.10) = $0.30.
        MockResponse::text("done").usage(200_000, 0, 10_000, 0),
        MockResponse::text("never"),
    ])
    .await;
    let dir = tempfile::Builder::new()
        .prefix("registry-")
        .tempdir_in(crate::common::tmp_base())?;
    let registry = TaskRegistry::open(dir.path())?;
    let task = registry
        .task("ticket-42")
        .exec(env.configure(Exec::new("")))
        .open()
        .await?;
    let mut c = Metered::new(
        task,
        Meter::new(card()).model("mock-model").max_budget(0.25),
    );
    let first = c.send("fix the ticket").await?;
    assert_eq!(first.cost_usd.map(|c| (c * 1e6).round() / 1e6), Some(0.3));
    // $0.30 spent of $0.25: the next turn is refused before it starts.
    let err = c.send("and more").await.err();
    assert!(
        matches!(&err, Some(Error::BudgetExceeded { limit, turns: 1, interrupted: false, .. }) if limit == "max_budget $0.25"),
        "{err:?}"
    );
    assert_eq!(env.provider.requests().len(), 1);
    assert_eq!(c.thread_id(), Some(first.thread_id.as_str()));
    Ok(())
}
