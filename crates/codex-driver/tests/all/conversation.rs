//! The same conversation code over both transports.

use crate::common::{Env, codex};
use codex_driver::app_server::AppServer;
use codex_driver::conversation::{Conversation, ExecConversation};
use codex_driver::{Binary, Exec};
use codex_driver_testkit::MockResponse;

async fn two_turns(c: &mut impl Conversation, env: &Env) -> anyhow::Result<()> {
    assert!(env.provider.requests().is_empty());
    let first = c.send("first question").await?;
    assert_eq!(first.final_message.as_deref(), Some("first answer"));
    assert_eq!(c.thread_id(), Some(first.thread_id.as_str()));
    let second = c.send("second question").await?;
    assert_eq!(second.thread_id, first.thread_id, "the same thread");
    assert_eq!(second.final_message.as_deref(), Some("second answer"));
    assert_eq!(
        (second.usage.input_tokens, second.usage.output_tokens),
        (7, 3)
    );
    let texts = env.provider.requests()[1].user_texts();
    assert!(texts.iter().any(|t| t == "first question"), "{texts:?}");
    Ok(())
}

fn script() -> Vec<MockResponse> {
    vec![
        MockResponse::text("first answer"),
        MockResponse::text("second answer").usage(7, 0, 3, 0),
    ]
}

#[tokio::test]
async fn over_exec() -> anyhow::Result<()> {
    let env = Env::new(script()).await;
    let mut c = ExecConversation::new(env.configure(Exec::new("")));
    two_turns(&mut c, &env).await
}

#[tokio::test]
async fn over_the_app_server() -> anyhow::Result<()> {
    let env = Env::new(script()).await;
    let codex = AppServer::new()
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .current_dir(env.ws())
        .spawn()
        .await?;
    let mut thread = codex.start_thread(Default::default()).await?;
    two_turns(&mut thread, &env).await?;
    codex.shutdown().await?;
    Ok(())
}
