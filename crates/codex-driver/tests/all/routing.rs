//! Provider failover against the real Codex: the first provider answers 503, the turn is
//! retried on the second in the same thread, over both transports.

use crate::common::{Env, codex, version};
use codex_driver::app_server::AppServer;
use codex_driver::config::ModelProvider;
use codex_driver::conversation::{Conversation, ExecConversation};
use codex_driver::routing::{Failover, Provider, Routable};
use codex_driver::{Binary, Error, ErrorKind, Exec};
use codex_driver_testkit::{MockProvider, MockResponse};
use std::sync::{Arc, Mutex};

/// The home's provider (`mock`), then a second mock provider defined by overrides, with
/// retries off like the first so the 503 surfaces at once.
fn providers(backup: &MockProvider) -> Vec<Provider> {
    let mut def = ModelProvider::responses("backup", backup.base_url());
    def.request_max_retries = Some(0);
    def.stream_max_retries = Some(0);
    vec![Provider::new("mock"), Provider::defined("backup", def)]
}

/// Turn one answered by the primary; turn two fails there with 503 and is answered by the
/// backup in the same thread, which receives the whole conversation.
async fn second_turn_fails_over(c: impl Routable + Send, env: &Env) -> anyhow::Result<()> {
    let backup = MockProvider::start(vec![MockResponse::text("backup answer")]).await?;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let mut c = Failover::new(c, providers(&backup))?.on_switch(move |s| {
        sink.lock().unwrap().push(s.clone());
    });
    let first = c.send_routed("first question").await?;
    assert_eq!(first.provider, "mock");
    assert!(first.switches.is_empty());
    assert_eq!(first.summary.final_message.as_deref(), Some("first answer"));

    let second = c.send_routed("second question").await?;
    assert_eq!(
        second.summary.thread_id, first.summary.thread_id,
        "the same thread"
    );
    assert_eq!(c.thread_id(), Some(first.summary.thread_id.as_str()));
    assert_eq!(second.provider, "backup");
    assert_eq!(
        second.summary.final_message.as_deref(),
        Some("backup answer")
    );
    assert_eq!(second.switches.len(), 1, "{:?}", second.switches);
    let s = &second.switches[0];
    assert_eq!(
        (s.from.as_str(), s.to.as_str(), s.kind, s.http_status),
        ("mock", "backup", ErrorKind::Provider, Some(503)),
        "{s:?}"
    );
    assert_eq!(seen.lock().unwrap().as_slice(), second.switches.as_slice());

    assert_eq!(
        env.provider.requests().len(),
        2,
        "the primary: one answer, one 503"
    );
    let asked = backup.requests();
    assert_eq!(asked.len(), 1);
    let texts = asked[0].user_texts();
    assert!(
        texts.iter().any(|t| t == "first question"),
        "the thread's history: {texts:?}"
    );
    // The failed attempt's user message stays in the thread: the prompt is there twice.
    assert_eq!(
        texts.iter().filter(|t| *t == "second question").count(),
        2,
        "{texts:?}"
    );
    assert_eq!(texts.last().map(String::as_str), Some("second question"));
    Ok(())
}

fn script() -> Vec<MockResponse> {
    vec![
        MockResponse::text("first answer"),
        MockResponse::http_error(503, "primary down"),
    ]
}

#[tokio::test]
async fn exec_retries_a_failed_turn_on_the_next_provider() -> anyhow::Result<()> {
    exec_second_turn_case().await
}

/// Also an area of the compatibility suite.
pub(crate) async fn exec_second_turn_case() -> anyhow::Result<()> {
    let env = Env::new(script()).await;
    let c = ExecConversation::new(env.configure(Exec::new("")));
    second_turn_fails_over(c, &env).await
}

#[tokio::test]
async fn exec_first_turn_fails_over_into_the_thread_it_started() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::http_error(503, "primary down")]).await;
    let backup = MockProvider::start(vec![MockResponse::text("backup answer")]).await?;
    let c = ExecConversation::new(env.configure(Exec::new("")));
    let mut c = Failover::new(c, providers(&backup))?;
    let turn = c.send_routed("only question").await?;
    assert_eq!(turn.provider, "backup");
    assert_eq!(turn.summary.final_message.as_deref(), Some("backup answer"));
    let s = &turn.switches[0];
    assert_eq!((s.kind, s.http_status), (ErrorKind::Provider, Some(503)));
    let texts = backup.requests()[0].user_texts();
    let asked = texts.iter().filter(|t| *t == "only question").count();
    assert_eq!(
        asked, 2,
        "the failed first attempt is in the thread: {texts:?}"
    );
    assert_eq!(
        s.thread_id.as_deref(),
        Some(turn.summary.thread_id.as_str()),
        "same thread"
    );
    Ok(())
}

/// A server unloads a thread its last client left at once with `thread_unload_delay_secs = 0`
/// (0.163 and later): the turn fails over like exec's. Older releases keep threads loaded for
/// the server's life, so the switch is refused with a typed error and the thread stays usable
/// on its provider.
#[tokio::test]
async fn app_server_switch_fails_over_or_is_refused_typed() -> anyhow::Result<()> {
    app_server_case().await
}

/// Also an area of the compatibility suite.
pub(crate) async fn app_server_case() -> anyhow::Result<()> {
    let env = Env::new(script()).await;
    let codex = AppServer::new()
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .current_dir(env.ws())
        .config("thread_unload_delay_secs", 0)
        .spawn()
        .await?;
    let thread = codex.start_thread(Default::default()).await?;
    let backup = MockProvider::start(vec![MockResponse::text("backup answer")]).await?;
    let mut c = Failover::new(thread, providers(&backup))?;
    let first = c.send_routed("first question").await?;
    assert_eq!(first.summary.final_message.as_deref(), Some("first answer"));
    let unloads = semver::Version::parse(&version())? >= semver::Version::new(0, 163, 0);
    match c.send_routed("second question").await {
        Ok(second) => {
            assert!(unloads, "switched on a release that keeps threads loaded");
            eprintln!("Codex {}: the app-server switched providers", version());
            assert_eq!(second.summary.thread_id, first.summary.thread_id);
            assert_eq!(second.provider, "backup");
            assert_eq!(
                second.summary.final_message.as_deref(),
                Some("backup answer")
            );
            assert_eq!(second.switches[0].kind, ErrorKind::Provider);
            let asked = backup.requests();
            assert_eq!(asked.len(), 1);
            let texts = asked[0].user_texts();
            assert!(texts.iter().any(|t| t == "first question"), "{texts:?}");
            let retried = texts.iter().filter(|t| *t == "second question").count();
            assert_eq!(retried, 2, "{texts:?}");
        }
        Err(e) => {
            eprintln!("Codex {}: refused: {e}", version());
            assert!(!unloads, "refused on a release that can switch: {e:?}");
            assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
            assert_eq!(e.kind(), ErrorKind::Version);
            let tried: Vec<_> = c
                .last_switches()
                .iter()
                .map(|s| (s.from.as_str(), s.to.as_str(), s.kind, s.http_status))
                .collect();
            assert_eq!(
                tried,
                vec![("mock", "backup", ErrorKind::Provider, Some(503))]
            );
            assert!(
                backup.requests().is_empty(),
                "never retried on the old provider either"
            );
            assert_eq!(env.provider.requests().len(), 2);
            // The thread is subscribed again and still runs on its provider.
            env.provider.push(MockResponse::text("primary is back"));
            let third = c.send_routed("third question").await?;
            assert_eq!(third.summary.thread_id, first.summary.thread_id);
            assert_eq!(third.provider, "mock");
            assert_eq!(
                third.summary.final_message.as_deref(),
                Some("primary is back")
            );
        }
    }
    codex.shutdown().await?;
    Ok(())
}
