//! Hooks as in-process callbacks (`codex_driver::hooks`) driving the real Codex: a
//! `PreToolUse` callback blocks a command, the others observe with typed inputs.

use crate::common::{Env, version};
use codex_driver::SandboxMode;
use codex_driver::hooks::{
    HookDecision, Hooks, PostToolUseInput, PreToolUseInput, SessionStartInput, StopInput,
    UserPromptSubmitInput,
};
use codex_driver_testkit::MockResponse;
use std::sync::{Arc, Mutex};

/// Every release this library supports (0.130.0 and later) runs config hooks from `-c` with
/// their trust; an older one (only with `allow_unsupported`) is skipped saying why.
fn supports_hooks() -> bool {
    let v = version();
    let ok = semver::Version::parse(&v).is_ok_and(|v| v >= semver::Version::new(0, 130, 0));
    if !ok {
        println!("SKIP hooks: Codex {v} predates config hooks with trust (needs >= 0.130.0)");
    }
    ok
}

#[derive(Default)]
struct Seen {
    pre: Vec<PreToolUseInput>,
    post: Vec<PostToolUseInput>,
    start: Vec<SessionStartInput>,
    prompt: Vec<UserPromptSubmitInput>,
    stop: Vec<StopInput>,
}

/// Hooks recording every input; `PreToolUse` blocks commands containing `touch`.
fn recording(seen: &Arc<Mutex<Seen>>) -> Hooks {
    let (a, b, c, d, e) = (
        seen.clone(),
        seen.clone(),
        seen.clone(),
        seen.clone(),
        seen.clone(),
    );
    Hooks::new()
        .pre_tool_use(move |i| {
            let block = i.command().is_some_and(|c| c.contains("touch"));
            a.lock().unwrap().pre.push(i);
            async move {
                if block {
                    HookDecision::block("touching files is not allowed here")
                } else {
                    HookDecision::Continue
                }
            }
        })
        .post_tool_use(move |i| {
            b.lock().unwrap().post.push(i);
            async { HookDecision::Continue }
        })
        .session_start(move |i| {
            c.lock().unwrap().start.push(i);
            async { HookDecision::Continue }
        })
        .user_prompt_submit(move |i| {
            d.lock().unwrap().prompt.push(i);
            async { HookDecision::Continue }
        })
        .stop(move |i| {
            e.lock().unwrap().stop.push(i);
            async { HookDecision::Continue }
        })
}

#[tokio::test]
async fn pre_tool_use_blocks_a_command_and_the_others_observe() {
    block_case().await;
}

/// Also an area of the compatibility suite.
pub(crate) async fn block_case() {
    if !supports_hooks() {
        return;
    }
    let env = Env::new(vec![
        MockResponse::new().exec_command("touch x"),
        MockResponse::text("done"),
    ])
    .await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let server = recording(&seen).listen().await.unwrap();
    let turn = server
        .apply(env.exec("make a file"))
        .sandbox(SandboxMode::WorkspaceWrite)
        .run()
        .await
        .unwrap();
    assert_eq!(turn.final_message.as_deref(), Some("done"));
    assert!(!env.ws().join("x").exists(), "the blocked command ran");

    let reqs = env.provider.requests();
    let outputs = reqs.last().unwrap().function_call_outputs();
    assert!(
        outputs
            .iter()
            .any(|o| o.contains("touching files is not allowed here")),
        "{outputs:?}"
    );

    let seen = seen.lock().unwrap();
    assert_eq!(seen.pre.len(), 1);
    let pre = &seen.pre[0];
    assert_eq!(pre.tool_name, "Bash");
    assert_eq!(pre.command(), Some("touch x"));
    assert_eq!(pre.context.cwd, std::fs::canonicalize(env.ws()).unwrap());
    assert!(
        seen.post.is_empty(),
        "a blocked call has no PostToolUse: {:?}",
        seen.post
    );
    assert_eq!(seen.start.len(), 1);
    assert_eq!(seen.start[0].source.as_deref(), Some("startup"));
    assert_eq!(seen.prompt.len(), 1);
    assert_eq!(seen.prompt[0].prompt, "make a file");
    assert_eq!(seen.stop.len(), 1);
    assert_eq!(seen.stop[0].last_assistant_message.as_deref(), Some("done"));
    assert!(!seen.stop[0].stop_hook_active);
    // One session, one turn across the events.
    let session = &seen.start[0].context.session_id;
    assert!(!session.is_empty());
    assert_eq!(&pre.context.session_id, session);
    assert_eq!(pre.context.turn_id, seen.stop[0].context.turn_id);
    assert_eq!(server.served(), 4);
}

/// Writes a file, then tries to reach the hook registry from inside the sandbox.
const PROBE: &str = "echo hooked-output > y && cat y && { exec 3<>/dev/tcp/127.0.0.1/$CODEX_DRIVER_HOOK_PORT && echo registry-reached || echo registry-unreachable; }";

#[tokio::test]
async fn post_tool_use_sees_an_allowed_command_and_its_output() {
    if !supports_hooks() {
        return;
    }
    let env = Env::new(vec![
        MockResponse::new().exec_command(PROBE),
        MockResponse::text("ok"),
    ])
    .await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let server = recording(&seen).listen().await.unwrap();
    server
        .apply(env.exec("echo"))
        .sandbox(SandboxMode::WorkspaceWrite)
        .run()
        .await
        .unwrap();
    assert!(env.ws().join("y").exists());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.post.len(), 1, "{:?}", seen.post);
    let post = &seen.post[0];
    assert_eq!(post.command(), Some(PROBE));
    assert_eq!(post.tool_use_id, seen.pre[0].tool_use_id);
    assert!(
        post.tool_response
            .as_str()
            .is_some_and(|s| s.contains("hooked-output")),
        "{:?}",
        post.tool_response
    );
    // The model's commands inherit the relay's variables, but the sandbox keeps them off the
    // network, so they can't reach the registry.
    let output = post.tool_response.as_str().unwrap_or_default();
    assert!(output.contains("registry-unreachable"), "{output}");
}

#[tokio::test]
async fn hooks_attach_to_an_app_server_too() {
    if !supports_hooks() {
        return;
    }
    let env = Env::new(vec![
        MockResponse::new().exec_command("touch x"),
        MockResponse::text("done"),
    ])
    .await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let server = recording(&seen).listen().await.unwrap();
    let codex = server
        .apply(crate::app_server::server(&env))
        .spawn()
        .await
        .unwrap();
    let mut thread = codex
        .start_thread(crate::app_server::params(
            &env,
            "never",
            codex_driver::app_server::protocol::SandboxMode::WorkspaceWrite,
        ))
        .await
        .unwrap();
    let out = thread.run("make a file").await.unwrap();
    assert_eq!(out.final_message.as_deref(), Some("done"));
    assert!(!env.ws().join("x").exists(), "the blocked command ran");
    let outputs = env
        .provider
        .requests()
        .last()
        .unwrap()
        .function_call_outputs();
    assert!(
        outputs
            .iter()
            .any(|o| o.contains("touching files is not allowed here")),
        "{outputs:?}"
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.pre.len(), 1);
        assert_eq!(seen.prompt[0].prompt, "make a file");
        assert_eq!(seen.stop.len(), 1);
    }
    crate::app_server::stop(codex).await;
}

#[tokio::test]
async fn a_dropped_registry_fails_open_by_default_and_closed_on_request() {
    if !supports_hooks() {
        return;
    }
    for closed in [false, true] {
        let env = Env::new(vec![
            MockResponse::new().exec_command("touch z"),
            MockResponse::text("done"),
        ])
        .await;
        let hooks = Hooks::new()
            .pre_tool_use(|_| async { HookDecision::Continue })
            .fail_closed(closed);
        let server = hooks.listen().await.unwrap();
        let exec = server
            .apply(env.exec("touch"))
            .sandbox(SandboxMode::WorkspaceWrite);
        drop(server);
        exec.run().await.unwrap();
        assert_eq!(
            env.ws().join("z").exists(),
            !closed,
            "fail_closed({closed})"
        );
        if closed {
            let outputs = env
                .provider
                .requests()
                .last()
                .unwrap()
                .function_call_outputs();
            assert!(
                outputs.iter().any(|o| o.contains("registry is gone")),
                "{outputs:?}"
            );
        }
    }
}

/// Amending a step: `SessionStart` and `UserPromptSubmit` add context the model receives, and a
/// `UserPromptSubmit` block keeps the prompt from the model altogether.
#[tokio::test]
async fn callbacks_add_context_or_refuse_a_prompt() {
    if !supports_hooks() {
        return;
    }
    let env = Env::new(vec![MockResponse::text("ok")]).await;
    let server = Hooks::new()
        .session_start(|_| async { HookDecision::AddContext("SESSION-NOTE-4242".into()) })
        .user_prompt_submit(|_| async { HookDecision::AddContext("TEAM-NOTE-7731".into()) })
        .listen()
        .await
        .unwrap();
    let turn = server.apply(env.exec("hello")).run().await.unwrap();
    assert_eq!(turn.final_message.as_deref(), Some("ok"));
    let sent = env.provider.requests()[0].body.to_string();
    assert!(sent.contains("SESSION-NOTE-4242"), "{sent}");
    assert!(sent.contains("TEAM-NOTE-7731"), "{sent}");
    drop(server);

    let env = Env::new(vec![MockResponse::text("never")]).await;
    let server = Hooks::new()
        .user_prompt_submit(|i| async move {
            if i.prompt.contains("password") {
                HookDecision::block("no passwords in prompts")
            } else {
                HookDecision::Continue
            }
        })
        .listen()
        .await
        .unwrap();
    let _ = server.apply(env.exec("my password is hunter2")).run().await;
    assert!(
        env.provider.requests().is_empty(),
        "the refused prompt reached the model"
    );
    assert_eq!(server.served(), 1);
}

/// `Halt` from `UserPromptSubmit` ends the turn before the model is asked. From `PostToolUse`,
/// Codex (0.171) does not stop: the output goes back to the model as usual, so a caller who
/// must keep the output from the model blocks instead (`HookDecision::block`).
#[tokio::test]
async fn halt_stops_before_the_model_from_a_prompt_but_not_after_a_command() {
    if !supports_hooks() {
        return;
    }
    let env = Env::new(vec![MockResponse::text("never")]).await;
    let server = Hooks::new()
        .user_prompt_submit(|_| async { HookDecision::halt("not today") })
        .listen()
        .await
        .unwrap();
    let outcome = server.apply(env.exec("hello")).run().await;
    assert!(
        env.provider.requests().is_empty(),
        "the halted prompt reached the model: {outcome:?}"
    );
    assert_eq!(server.served(), 1);
    drop(server);

    let env = Env::new(vec![
        MockResponse::new().exec_command("echo ran > ran.txt"),
        MockResponse::text("went on"),
    ])
    .await;
    let server = Hooks::new()
        .post_tool_use(|_| async { HookDecision::halt("enough for today") })
        .listen()
        .await
        .unwrap();
    let turn = server
        .apply(env.exec("run it").sandbox(SandboxMode::WorkspaceWrite))
        .run()
        .await
        .unwrap();
    assert!(env.ws().join("ran.txt").exists(), "the command did not run");
    assert_eq!(
        (turn.final_message.as_deref(), env.provider.requests().len()),
        (Some("went on"), 2)
    );
    assert_eq!(server.served(), 1);
}
