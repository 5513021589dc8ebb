//! Synapse's shared-secret registration (`/_synapse/admin/v1/register`): how Relais creates the
//! account of a member who accepted an invitation. Synapse-specific, off the Matrix spec.

use hmac::{Hmac, Mac};
use ruma::OwnedUserId;
use serde_json::{Value, json};
use sha1::Sha1;

use relais_core::Secret;

use super::{ClientError, MatrixClient};

/// An account just made, and the session its registration opened (Synapse opens one).
#[derive(Debug)]
pub struct Registered {
    pub user_id: OwnedUserId,
    pub session: Option<Secret>,
}

impl MatrixClient {
    /// Creates a (non-admin) user with `password`; `M_USER_IN_USE` when the name is taken.
    pub async fn register_user(
        &self,
        shared_secret: &Secret,
        localpart: &str,
        password: &str,
        displayname: &str,
    ) -> Result<Registered, ClientError> {
        let url = format!("{}/_synapse/admin/v1/register", self.inner.base_url);
        let nonce: Value = self.raw(self.inner.http.get(&url)).await?;
        let nonce = nonce["nonce"].as_str().ok_or_else(|| ClientError::Response("no nonce".into()))?;
        let mut mac = Hmac::<Sha1>::new_from_slice(shared_secret.expose().as_bytes())
            .map_err(|e| ClientError::Request(e.to_string()))?;
        mac.update(format!("{nonce}\0{localpart}\0{password}\0notadmin").as_bytes());
        let body = json!({
            "nonce": nonce, "username": localpart, "password": password, "admin": false,
            "displayname": displayname, "mac": hex::encode(mac.finalize().into_bytes()),
        });
        let created: Value = self.raw(self.inner.http.post(&url).json(&body)).await?;
        let user_id = created["user_id"]
            .as_str()
            .and_then(|u| OwnedUserId::try_from(u).ok())
            .ok_or_else(|| ClientError::Response("no user_id in the registration answer".into()))?;
        let session = created["access_token"].as_str().map(|t| Secret::new(t.to_owned()));
        Ok(Registered { user_id, session })
    }

    /// Gives `user` the new password `password` through Synapse's admin API, with the token of
    /// a homeserver administrator, and signs out every device of theirs.
    pub async fn admin_reset_password(
        &self,
        admin_token: &Secret,
        user: &ruma::UserId,
        password: &str,
    ) -> Result<(), ClientError> {
        let user: String = url::form_urlencoded::byte_serialize(user.as_str().as_bytes()).collect();
        let url = format!("{}/_synapse/admin/v1/reset_password/{user}", self.inner.base_url);
        let body = json!({ "new_password": password, "logout_devices": true });
        self.raw(self.inner.http.post(&url).bearer_auth(admin_token.expose()).json(&body)).await?;
        Ok(())
    }

    /// What the homeserver keeps of the local account `user` (Synapse's admin API: display
    /// name, creation time, whether deactivated, …), and the rooms it is in; `None` when there
    /// is no such account.
    pub async fn admin_account(
        &self,
        admin_token: &Secret,
        user: &ruma::UserId,
    ) -> Result<Option<(Value, Vec<String>)>, ClientError> {
        let encoded: String = url::form_urlencoded::byte_serialize(user.as_str().as_bytes()).collect();
        let base = &self.inner.base_url;
        let account = self.raw(
            self.inner
                .http
                .get(format!("{base}/_synapse/admin/v2/users/{encoded}"))
                .bearer_auth(admin_token.expose()),
        );
        let account = match account.await {
            Ok(account) => account,
            Err(ClientError::Matrix { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let rooms_url = format!("{base}/_synapse/admin/v1/users/{encoded}/joined_rooms");
        let rooms = self.raw(self.inner.http.get(rooms_url).bearer_auth(admin_token.expose())).await?;
        let rooms = rooms["joined_rooms"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_owned));
        Ok(Some((account, rooms.collect())))
    }

    /// Deactivates the local account `user` and erases what the homeserver holds of it (its
    /// display name and avatar, its rooms; its messages marked erased for those who join
    /// later): Synapse's admin API. An account already deactivated stays so (success); `false`
    /// when there is no such account.
    pub async fn admin_deactivate(
        &self,
        admin_token: &Secret,
        user: &ruma::UserId,
    ) -> Result<bool, ClientError> {
        let encoded: String = url::form_urlencoded::byte_serialize(user.as_str().as_bytes()).collect();
        let url = format!("{}/_synapse/admin/v1/deactivate/{encoded}", self.inner.base_url);
        let request =
            self.inner.http.post(url).bearer_auth(admin_token.expose()).json(&json!({ "erase": true }));
        match self.raw(request).await {
            Ok(_) => Ok(true),
            Err(ClientError::Matrix { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether no account `user` exists on the homeserver (asked as the appservice: a profile
    /// that is not found is a name nobody holds; registration may be closed to the public, so
    /// its own availability check is not asked).
    pub async fn account_absent(&self, user: &ruma::UserId) -> Result<bool, ClientError> {
        let encoded: String = url::form_urlencoded::byte_serialize(user.as_str().as_bytes()).collect();
        let url = format!("{}/_matrix/client/v3/profile/{encoded}", self.inner.base_url);
        match self.raw(self.inner.http.get(url).bearer_auth(self.inner.as_token.expose())).await {
            Ok(_) => Ok(false),
            Err(ClientError::Matrix { status: 404, .. }) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Joins `room` (an id) as the user of the `session` registration opened.
    pub async fn join_as(&self, session: &Secret, room: &ruma::RoomId) -> Result<(), ClientError> {
        let room: String = url::form_urlencoded::byte_serialize(room.as_str().as_bytes()).collect();
        let url = format!("{}/_matrix/client/v3/join/{room}", self.inner.base_url);
        self.raw(self.inner.http.post(&url).bearer_auth(session.expose()).json(&json!({}))).await?;
        Ok(())
    }

    /// Ends the `session` registration opened: the member signs in on their own devices.
    pub async fn logout_session(&self, session: &Secret) -> Result<(), ClientError> {
        let url = format!("{}/_matrix/client/v3/logout", self.inner.base_url);
        self.raw(self.inner.http.post(&url).bearer_auth(session.expose()).json(&json!({}))).await?;
        Ok(())
    }

    pub(super) async fn raw(&self, request: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        self.inner.metrics.client_requests.inc();
        // Without the URL: it may carry a token (`openid/userinfo?access_token=`).
        let response =
            request.send().await.map_err(|e| ClientError::Unreachable(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or_default();
        if status >= 400 {
            return Err(ClientError::matrix(
                status,
                body["errcode"].as_str().unwrap_or_default(),
                body["error"].as_str().unwrap_or_default(),
            ));
        }
        Ok(body)
    }
}

impl MatrixClient {
    /// The user an OpenID token from this homeserver names (`/_matrix/federation/v1/openid/userinfo`);
    /// an unknown or expired token is `ClientError::Matrix` 401.
    pub async fn openid_userinfo(&self, access_token: &str) -> Result<OwnedUserId, ClientError> {
        let token: String = url::form_urlencoded::byte_serialize(access_token.as_bytes()).collect();
        let url =
            format!("{}/_matrix/federation/v1/openid/userinfo?access_token={token}", self.inner.base_url);
        let answer: Value = self.raw(self.inner.http.get(&url)).await?;
        answer["sub"]
            .as_str()
            .and_then(|u| OwnedUserId::try_from(u).ok())
            .ok_or_else(|| ClientError::Response("no sub in the OpenID answer".into()))
    }

    /// Checks a user's password with the homeserver (a password login, then logout of that
    /// session at once); returns the user id the homeserver confirmed. `client_ip`, the address
    /// the attempt came from, is passed on (`X-Forwarded-For`) so that the homeserver's
    /// per-address limit counts that client, not Relais.
    pub async fn verify_password(
        &self,
        user: &str,
        password: &str,
        client_ip: Option<std::net::IpAddr>,
    ) -> Result<OwnedUserId, ClientError> {
        let url = format!("{}/_matrix/client/v3/login", self.inner.base_url);
        let body = json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
            "initial_device_display_name": "Relais (vérification)",
        });
        let mut request = self.inner.http.post(&url).json(&body);
        if let Some(ip) = client_ip {
            request = request.header("x-forwarded-for", ip.to_string());
        }
        let session: Value = self.raw(request).await?;
        let user_id = session["user_id"].as_str().and_then(|u| OwnedUserId::try_from(u).ok());
        if let Some(token) = session["access_token"].as_str() {
            let logout = format!("{}/_matrix/client/v3/logout", self.inner.base_url);
            let _ = self.raw(self.inner.http.post(&logout).bearer_auth(token).json(&json!({}))).await;
        }
        user_id.ok_or_else(|| ClientError::Response("no user_id in the login answer".into()))
    }
}
