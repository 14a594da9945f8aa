use super::*;

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_owned).collect()
}

fn strs(a: Vec<OsString>) -> Vec<String> {
    a.into_iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn login_args_never_hold_the_secret() {
    let key = Secret::new("sk-canary-0123456789abcdef");
    let l = Login::api_key(key)
        .config("cli_auth_credentials_store", "file")
        .enable("x");
    let a = strs(l.args());
    assert_eq!(
        a,
        [
            "login",
            "-c",
            "cli_auth_credentials_store=\"file\"",
            "--enable",
            "x",
            "--with-api-key"
        ]
    );
    assert!(!format!("{a:?} {l:?}").contains("canary"));
    assert_eq!(
        strs(Login::access_token(Secret::new("t")).args()),
        ["login", "--with-access-token"]
    );
    assert_eq!(strs(Login::browser().args()), ["login"]);
    assert_eq!(
        strs(
            Login::device_code()
                .issuer("http://127.0.0.1:9")
                .client_id("app_x")
                .other_option("--new-flag")
                .args()
        ),
        [
            "login",
            "--device-auth",
            "--experimental_issuer",
            "http://127.0.0.1:9",
            "--experimental_client-id",
            "app_x",
            "--new-flag"
        ]
    );
}

#[test]
fn mcp_login_args() {
    assert_eq!(
        strs(McpLogin::new("docs").args()),
        ["mcp", "login", "--", "docs"]
    );
    assert_eq!(
        strs(
            McpLogin::new("docs")
                .scopes(["read", "write"])
                .config("mcp_oauth_credentials_store", "file")
                .args()
        ),
        [
            "mcp",
            "login",
            "-c",
            "mcp_oauth_credentials_store=\"file\"",
            "--scopes",
            "read,write",
            "--",
            "docs"
        ]
    );
    let o = SpawnOptions::new().config("a", 1);
    assert_eq!(
        strs(short_args(&o, &["mcp", "logout"], &["--", "docs"])),
        ["mcp", "logout", "-c", "a=1", "--", "docs"]
    );
    assert_eq!(
        strs(short_args(&o, &["login", "status"], &[])),
        ["login", "status", "-c", "a=1"]
    );
}

/// Device-auth stdout of 0.169.0, piped with `NO_COLOR=1` (coloured anyway), byte for byte
/// but for the issuer.
const DEVICE_STDOUT: &str = "\nWelcome to Codex [v\x1b[90m0.169.0\x1b[0m]\n\x1b[90mOpenAI's command-line coding agent\x1b[0m\n\nFollow these steps to sign in with ChatGPT using device code authorization:\n\n1. Open this link in your browser and sign in to your account\n   \x1b[94mhttps://auth.openai.com/codex/device\x1b[0m\n\n2. Enter this one-time code \x1b[90m(expires in 15 minutes)\x1b[0m\n   \x1b[94mABCD-EFGH\x1b[0m\n\n\x1b[90mContinue only if you started this login in Codex. If a website or another person gave you this code, cancel.\x1b[0m\n\n";

fn parse(text: &str) -> Option<LoginPrompt> {
    let mut p = PromptParser::default();
    text.lines().map(strip_ansi).find_map(|l| p.feed(&l))
}

#[test]
fn the_device_prompt_is_parsed_from_coloured_stdout() {
    assert_eq!(
        strip_ansi("   \x1b[94mABCD-EFGH\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x1b\\"),
        "   ABCD-EFGH link"
    );
    assert_eq!(
        parse(DEVICE_STDOUT),
        Some(LoginPrompt::DeviceCode {
            url: "https://auth.openai.com/codex/device".into(),
            code: "ABCD-EFGH".into()
        })
    );
}

#[test]
fn the_browser_and_mcp_prompts_are_parsed() {
    let url = "https://auth.openai.com/oauth/authorize?response_type=code&client_id=app_EMoamEEZ73f0CkXaXp7hrann&redirect_uri=http%3A%2F%2F127.0.0.1%3A1455%2Fauth%2Fcallback&code_challenge=x&code_challenge_method=S256&state=y&originator=codex_cli_rs";
    let stderr = format!(
        "WARNING: proceeding, even though we could not create PATH aliases\nStarting local login server on http://localhost:1455.\nIf your browser did not open, navigate to this URL to authenticate:\n\n{url}\n\nOn a remote or headless machine? Use `codex login --device-auth` instead.\n"
    );
    assert_eq!(
        parse(&stderr),
        Some(LoginPrompt::Browser { url: url.into() })
    );
    let mcp = "Authorize `docs` by opening this URL in your browser:\nhttp://127.0.0.1:4444/authorize?response_type=code&client_id=c\n\n";
    assert_eq!(
        parse(mcp),
        Some(LoginPrompt::Browser {
            url: "http://127.0.0.1:4444/authorize?response_type=code&client_id=c".into()
        })
    );
    let no_browser = "Authorize the MCP server by opening this URL in your browser:\nhttps://mcp.example/authorize?x=1\n\nAfter signing in, copy the full URL from your browser's address bar.\n";
    assert_eq!(
        parse(no_browser),
        Some(LoginPrompt::Browser {
            url: "https://mcp.example/authorize?x=1".into()
        })
    );
    assert_eq!(
        parse("Reading API key from stdin...\nAPI key saved.\n"),
        None
    );
}

#[test]
fn status_texts() {
    let st = |ok, s: &str| parse_status(ok, &lines(s));
    assert_eq!(
        st(
            true,
            "API key configured - sk-test-***12345\nAuthentication is checked when you send a request.\n"
        )
        .unwrap(),
        CliLoginStatus::ApiKey {
            masked: "sk-test-***12345".into()
        }
    );
    // 0.163.0 and older.
    assert_eq!(
        st(true, "Logged in using an API key - sk-test-***12345\n").unwrap(),
        CliLoginStatus::ApiKey {
            masked: "sk-test-***12345".into()
        }
    );
    assert_eq!(
        st(true, "Logged in using ChatGPT\n").unwrap(),
        CliLoginStatus::ChatGpt
    );
    assert_eq!(
        st(true, "Logged in using access token\n").unwrap(),
        CliLoginStatus::AccessToken
    );
    assert_eq!(
        st(true, "Logged in using personal access token\n").unwrap(),
        CliLoginStatus::PersonalAccessToken
    );
    assert_eq!(
        st(true, "Logged in using workload identity\n").unwrap(),
        CliLoginStatus::WorkloadIdentity
    );
    assert_eq!(
        st(true, "WARNING: x\nLogged in somehow new\n").unwrap(),
        CliLoginStatus::Other("Logged in somehow new".into())
    );
    assert_eq!(
        st(false, "WARNING: proceeding\nNot logged in\n").unwrap(),
        CliLoginStatus::LoggedOut
    );
    match st(
        false,
        "Error checking login status: Platform secure storage failure: no secret service provider or dbus session found\n",
    ) {
        Err(Error::Login {
            command,
            message,
            store,
        }) => {
            assert_eq!(command, "login status");
            assert!(message.starts_with("Error checking login status: Platform"));
            assert_eq!(store, Some(KeyringProblem::NoSecretService));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn logout_texts() {
    assert!(parse_logout(true, &lines("Successfully logged out\n")).unwrap());
    assert!(!parse_logout(true, &lines("Not logged in\n")).unwrap());
    match parse_logout(
        false,
        &lines(
            "Error logging out: Couldn't access platform secure storage: SS error: prompt dismissed\n",
        ),
    ) {
        Err(Error::Login { store, .. }) => assert_eq!(store, Some(KeyringProblem::Locked)),
        other => panic!("{other:?}"),
    }
    let c = "mcp logout docs";
    assert!(
        parse_mcp_logout(
            c,
            true,
            &lines("Removed OAuth credentials for 'docs'.\n"),
            &[]
        )
        .unwrap()
    );
    assert!(
        !parse_mcp_logout(
            c,
            true,
            &lines("No OAuth credentials stored for 'docs'.\n"),
            &[]
        )
        .unwrap()
    );
    match parse_mcp_logout(
        c,
        false,
        &[],
        &lines(
            "Error: failed to delete OAuth credentials: failed to delete OAuth tokens from keyring\n",
        ),
    ) {
        Err(Error::Login {
            command,
            message,
            store,
        }) => {
            assert_eq!(command, c);
            assert_eq!(
                message,
                "Error: failed to delete OAuth credentials: failed to delete OAuth tokens from keyring"
            );
            assert_eq!(store, Some(KeyringProblem::Other));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_lines_follow_codex_and_its_cause_chain() {
    let e = login_error(
        "login --with-api-key",
        &lines("Reading API key from stdin...\nNo API key provided via stdin.\n"),
        &[],
        None,
    );
    match e {
        Error::Login { message, store, .. } => {
            assert_eq!(message, "No API key provided via stdin.");
            assert_eq!(store, None);
        }
        other => panic!("{other:?}"),
    }
    let chain = "Error: failed to write OAuth tokens to keyring\n\nCaused by:\n    0: Platform secure storage failure: zbus error: org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided by any .service files\n    1: zbus error\n";
    match login_error("mcp login docs", &lines(chain), &[], None) {
        Error::Login { message, store, .. } => {
            assert!(
                message.starts_with(
                    "Error: failed to write OAuth tokens to keyring: Platform secure storage failure: zbus"
                ),
                "{message}"
            );
            assert!(message.ends_with(": zbus error"), "{message}");
            assert_eq!(store, Some(KeyringProblem::NoSecretService));
        }
        other => panic!("{other:?}"),
    }
    let single = "Error: Metadata error: OAuth metadata discovery failed for http://127.0.0.1:9/mcp\n  Caused by: HTTP request failed: error sending request\n";
    match login_error("mcp login docs", &lines(single), &[], None) {
        Error::Login { message, store, .. } => {
            assert_eq!(
                message,
                "Error: Metadata error: OAuth metadata discovery failed for http://127.0.0.1:9/mcp: HTTP request failed: error sending request"
            );
            assert_eq!(store, None);
        }
        other => panic!("{other:?}"),
    }
    match login_error("login", &[], &[], None) {
        Error::Login { message, .. } => assert!(message.contains("signal"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_device_auth_network_failure_is_not_a_store_problem() {
    let err = "WARNING: proceeding, even though we could not create PATH aliases\nError logging in: error sending request for url (http://127.0.0.1:9/api/accounts/deviceauth/usercode)\n";
    match login_error("login --device-auth", &lines(err), &[], None) {
        Error::Login { message, store, .. } => {
            assert!(message.starts_with("Error logging in: error sending request"));
            assert_eq!(store, None);
        }
        other => panic!("{other:?}"),
    }
}
