//! [`StoredLogin`]: a login as Codex stores it, in whichever store.

use super::Secret;
use base64::Engine as _;
use serde_json::{Value, json};

/// A login as Codex stores it: the content of `auth.json` in file mode, the keyring item's
/// secret in keyring mode (`auth_mode`, `OPENAI_API_KEY`, `tokens`, `last_refresh`, ...). Kept
/// as JSON so fields a newer Codex adds survive a copy. `Debug` shows no token.
#[derive(Clone, PartialEq)]
pub struct StoredLogin {
    value: Value,
}

/// What the tokens of a ChatGPT login say about the account (claims are read, not verified:
/// Codex does the same).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct ChatGptClaims {
    /// The user's email.
    pub email: Option<String>,
    /// `chatgpt_plan_type` (`plus`, `pro`, `team`, ...).
    pub plan: Option<String>,
    /// The ChatGPT account (workspace) the login is for.
    pub account_id: Option<String>,
    /// When the access token expires (Unix seconds).
    pub access_expires_at: Option<u64>,
}

impl StoredLogin {
    /// Parses a stored login. The error names a position, never the content.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, String> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(value @ Value::Object(_)) => Ok(Self { value }),
            Ok(_) => Err("not a JSON object".into()),
            Err(e) => Err(format!(
                "not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            )),
        }
    }

    /// An API-key login, as `codex login --with-api-key` stores it.
    pub fn api_key_login(key: &Secret) -> Self {
        Self {
            value: json!({"auth_mode": "apikey", "OPENAI_API_KEY": key.expose()}),
        }
    }

    /// `auth_mode` (`apikey`, `chatgpt`, ...), when recorded.
    pub fn mode(&self) -> Option<&str> {
        self.value.get("auth_mode").and_then(Value::as_str)
    }

    /// The stored API key, when there is one.
    pub fn api_key(&self) -> Option<Secret> {
        self.value
            .get("OPENAI_API_KEY")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .map(Secret::new)
    }

    /// Whether ChatGPT tokens are stored.
    pub fn has_tokens(&self) -> bool {
        self.value.get("tokens").is_some_and(|t| t.is_object())
    }

    /// Whether an agent-identity or personal access token is stored.
    pub fn has_access_token(&self) -> bool {
        ["agent_identity", "personal_access_token"]
            .iter()
            .any(|k| self.value.get(*k).is_some_and(|v| !v.is_null()))
    }

    /// `last_refresh` (RFC 3339), when recorded.
    pub fn last_refresh(&self) -> Option<&str> {
        self.value.get("last_refresh").and_then(Value::as_str)
    }

    /// The refresh token of a ChatGPT login.
    pub fn refresh_token(&self) -> Option<Secret> {
        self.value
            .pointer("/tokens/refresh_token")
            .and_then(Value::as_str)
            .map(Secret::new)
    }

    /// What the ChatGPT tokens say (`None` without tokens).
    pub fn chatgpt(&self) -> Option<ChatGptClaims> {
        let tokens = self.value.get("tokens")?.as_object()?;
        let id = tokens
            .get("id_token")
            .and_then(Value::as_str)
            .and_then(jwt_claims)
            .unwrap_or(Value::Null);
        let access = tokens
            .get("access_token")
            .and_then(Value::as_str)
            .and_then(jwt_claims)
            .unwrap_or(Value::Null);
        let auth = |v: &Value, k: &str| {
            v.pointer(&format!("/https:~1~1api.openai.com~1auth/{k}"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        Some(ChatGptClaims {
            email: text(id.get("email"))
                .or_else(|| text(id.pointer("/https:~1~1api.openai.com~1profile/email"))),
            plan: auth(&id, "chatgpt_plan_type").or_else(|| auth(&access, "chatgpt_plan_type")),
            account_id: text(tokens.get("account_id"))
                .or_else(|| auth(&id, "chatgpt_account_id"))
                .or_else(|| auth(&access, "chatgpt_account_id")),
            access_expires_at: access.get("exp").and_then(Value::as_u64),
        })
    }

    /// The JSON, as a secret (it holds tokens).
    pub fn to_json(&self, pretty: bool) -> Secret {
        let text = if pretty {
            serde_json::to_string_pretty(&self.value)
        } else {
            serde_json::to_string(&self.value)
        };
        // A `Value` always serializes.
        Secret::new(text.unwrap_or_default())
    }

    /// The parsed value, for fields this type has no accessor for. Holds secrets.
    pub fn expose_json(&self) -> &Value {
        &self.value
    }
}

impl std::fmt::Debug for StoredLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredLogin")
            .field("mode", &self.mode())
            .field("has_api_key", &self.api_key().is_some())
            .field("has_tokens", &self.has_tokens())
            .field("last_refresh", &self.last_refresh())
            .finish()
    }
}

/// The claims of a JWT, unverified.
fn jwt_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: Value) -> String {
        let e = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.sig", e(&json!({"alg": "none"})), e(&claims))
    }

    #[test]
    fn claims_come_from_the_tokens_and_debug_shows_none() {
        let login = StoredLogin::from_slice(
            json!({
                "auth_mode": "chatgpt", "OPENAI_API_KEY": null, "last_refresh": "2026-01-01T00:00:00Z",
                "tokens": {
                    "id_token": jwt(json!({"email": "dev@example.com",
                        "https://api.openai.com/auth": {"chatgpt_plan_type": "plus", "chatgpt_account_id": "acct-1"}})),
                    "access_token": jwt(json!({"exp": 1_900_000_000u64})),
                    "refresh_token": "rt-canary", "account_id": "acct-1",
                },
                "login_owner_id": "kept",
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            login.chatgpt().unwrap(),
            ChatGptClaims {
                email: Some("dev@example.com".into()),
                plan: Some("plus".into()),
                account_id: Some("acct-1".into()),
                access_expires_at: Some(1_900_000_000),
            }
        );
        assert_eq!(login.api_key(), None);
        let debug = format!("{login:?}");
        assert!(
            !debug.contains("canary") && !debug.contains("eyJ"),
            "{debug}"
        );
        // Unknown fields survive the round trip, compact or pretty.
        let again = StoredLogin::from_slice(login.to_json(false).expose().as_bytes()).unwrap();
        assert_eq!(again, login);
        assert_eq!(again.expose_json()["login_owner_id"], "kept");
    }

    #[test]
    fn bad_input_names_no_content() {
        let err = StoredLogin::from_slice(b"{\"OPENAI_API_KEY\": \"sk-canary").unwrap_err();
        assert!(
            err.starts_with("not valid JSON") && !err.contains("canary"),
            "{err}"
        );
        assert_eq!(
            StoredLogin::from_slice(b"[]").unwrap_err(),
            "not a JSON object"
        );
        let key = StoredLogin::api_key_login(&Secret::new("sk-1"));
        assert_eq!(
            (key.mode(), key.api_key().unwrap().expose()),
            (Some("apikey"), "sk-1")
        );
    }
}
