//! Account calls of an [`AppServerClient`]: reading the login, API-key and ChatGPT logins
//! ([`LoginHandle`]), logout.

use super::client::AppServerClient;
use super::protocol::{self as p, ServerNotification};
use crate::error::Result;

impl AppServerClient {
    /// `account/read`.
    pub async fn account(&self) -> Result<p::GetAccountResponse> {
        self.request(&p::GetAccountParams::default()).await
    }

    /// `account/read` with `refreshToken: true`: Codex refreshes a ChatGPT login's tokens
    /// (rotating the refresh token in `auth.json`) before answering. Follow with
    /// [`crate::auth::sync`] when the home shares its login with others.
    pub async fn account_refreshed(&self) -> Result<p::GetAccountResponse> {
        self.request(&p::GetAccountParams {
            refresh_token: Some(true),
            ..Default::default()
        })
        .await
    }

    /// `account/login/start` with an API key (sent over the connection, never in argv).
    pub async fn login_api_key(&self, api_key: &str) -> Result<()> {
        let params = p::LoginAccountParams::ApiKey(p::LoginAccountParamsApiKey {
            api_key: api_key.to_owned(),
            ..Default::default()
        });
        self.request(&params).await.map(drop)
    }

    /// `account/login/start` for a ChatGPT browser login or device code: returns a handle
    /// with the URL (or user code) to show, to wait for completion or cancel.
    pub async fn login_chatgpt(&self, device_code: bool) -> Result<LoginHandle> {
        let mut events = self.rpc.subscribe_filtered(None, |n| {
            matches!(n, ServerNotification::AccountLoginCompleted(_))
        });
        let params = if device_code {
            p::LoginAccountParams::ChatgptDeviceCode(Default::default())
        } else {
            p::LoginAccountParams::Chatgpt(Default::default())
        };
        let response = self.request(&params).await?;
        let login_id = match &response {
            p::LoginAccountResponse::Chatgpt(r) => r.login_id.clone(),
            p::LoginAccountResponse::ChatgptDeviceCode(r) => r.login_id.clone(),
            _ => String::new(),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let id = login_id.clone();
        tokio::spawn(async move {
            while let Some(r) = events.recv().await {
                if let ServerNotification::AccountLoginCompleted(c) = r.notification
                    && c.login_id.as_deref().is_none_or(|l| l == id)
                {
                    let _ = tx.send(c);
                    return;
                }
            }
        });
        Ok(LoginHandle {
            client: self.clone(),
            login_id,
            response,
            done: rx,
        })
    }

    /// `account/logout`.
    pub async fn logout(&self) -> Result<()> {
        self.request(&p::LogoutAccountParams).await.map(drop)
    }
}

/// A pending ChatGPT login.
pub struct LoginHandle {
    client: AppServerClient,
    login_id: String,
    response: p::LoginAccountResponse,
    done: tokio::sync::oneshot::Receiver<p::AccountLoginCompletedNotification>,
}

impl LoginHandle {
    /// The login id.
    pub fn login_id(&self) -> &str {
        &self.login_id
    }

    /// The response of `account/login/start`.
    pub fn response(&self) -> &p::LoginAccountResponse {
        &self.response
    }

    /// The URL to open (browser login).
    pub fn auth_url(&self) -> Option<&str> {
        match &self.response {
            p::LoginAccountResponse::Chatgpt(r) => Some(&r.auth_url),
            _ => None,
        }
    }

    /// The code to enter (device-code login).
    pub fn user_code(&self) -> Option<&str> {
        match &self.response {
            p::LoginAccountResponse::ChatgptDeviceCode(r) => Some(&r.user_code),
            _ => None,
        }
    }

    /// Where to enter the code (device-code login).
    pub fn verification_url(&self) -> Option<&str> {
        match &self.response {
            p::LoginAccountResponse::ChatgptDeviceCode(r) => Some(&r.verification_url),
            _ => None,
        }
    }

    /// Waits for `account/login/completed`.
    pub async fn wait(self) -> Result<p::AccountLoginCompletedNotification> {
        self.done
            .await
            .map_err(|_| self.client.closed_error("account/login/completed"))
    }

    /// `account/login/cancel`.
    pub async fn cancel(self) -> Result<p::CancelLoginAccountResponse> {
        let params = p::CancelLoginAccountParams {
            login_id: self.login_id,
            ..Default::default()
        };
        self.client.request(&params).await
    }
}
