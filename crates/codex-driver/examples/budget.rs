//! Cost and budgets, offline: turns priced by a rate card, and a conversation stopped when it
//! crosses its budget, mid-turn on the app-server.
//!
//! `scripts/install-codex && cargo run -p codex-driver --example budget`

use codex_driver::app_server::AppServer;
use codex_driver::conversation::Conversation;
use codex_driver::cost::{Meter, Metered, RateCard, Rates};
use codex_driver::{Binary, Error};
use codex_driver_testkit::{MockProvider, MockResponse, codex_binary};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let codex = codex_binary().ok_or_else(|| anyhow::anyhow!("run scripts/install-codex first"))?;
    // Each scripted model call reports its tokens; the second turn's first call is expensive
    // and asks for a command, so the turn would go on without a budget.
    let provider = MockProvider::start(vec![
        MockResponse::text("a cheap answer").usage(20_000, 5_000, 1_000, 500),
        MockResponse::new()
            .exec_command("echo thinking hard")
            .usage(900_000, 0, 20_000, 10_000),
        MockResponse::text("never reached"),
    ])
    .await?;
    let home = provider.temp_home()?;

    // The built-in card has OpenAI's published prices (dated); add the offline model's.
    let card = RateCard::builtin().with_model("mock-model", Rates::new(1.25, 0.125, 10.0));
    println!(
        "rate card of {}: {} models",
        card.effective,
        card.models.len()
    );
    let meter = Meter::new(card).max_budget(0.50).max_turns(10);

    let server = AppServer::new()
        .binary(Binary::at(codex))
        .codex_home(home.path())
        .spawn()
        .await?;
    let thread = server.start_thread(Default::default()).await?;
    let mut chat = Metered::new(thread, meter);

    let first = chat.send("Say something cheap").await?;
    println!(
        "turn 1: {:?}, {} tokens, ${:.4}",
        first.final_message.unwrap_or_default(),
        first.usage.total(),
        first.cost_usd.unwrap_or_default()
    );
    match chat.send("Now think really hard").await {
        Err(e @ Error::BudgetExceeded { .. }) => println!("turn 2 stopped ({}): {e}", e.kind()),
        other => println!("turn 2 unexpectedly: {other:?}"),
    }
    let spent = chat.meter().spent();
    println!(
        "spent: ${:.4} over {} turns, {} tokens",
        spent.usd.unwrap_or_default(),
        spent.turns,
        spent.usage.total()
    );
    println!("scripted answers never asked for: {}", provider.remaining());
    chat.into_inner().client().clone().shutdown().await?;
    Ok(())
}
