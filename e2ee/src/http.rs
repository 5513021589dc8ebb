//! The device's own calls to the homeserver (key uploads and queries, one-time-key claims,
//! to-device messages), made with its access token and typed with the ruma of matrix-sdk-crypto.

use std::{collections::BTreeMap, time::Duration};

use matrix_sdk_common::ruma::api::{
    IncomingResponse, OutgoingRequest, SupportedVersions,
    auth_scheme::{AuthScheme, SendAccessToken},
};

use relais_appservice::ClientError;
use relais_core::Secret;

use crate::DeviceError;

/// The Matrix versions asked of the homeserver's endpoints (Synapse has them all).
const VERSIONS: &[&str] = &["v1.1", "v1.11"];

// The ruma 0.16 that matrix-sdk-crypto speaks has its own path builders (see the macro).
relais_appservice::path_input!(pub(crate) matrix_sdk_common::ruma);

/// An HTTP client holding the device's access token (and the appservice's, for the few calls
/// the appservice may make without interactive authentication).
#[derive(Debug)]
pub(crate) struct DeviceHttp {
    http: reqwest::Client,
    base_url: String,
    token: Secret,
    as_token: Option<Secret>,
    versions: SupportedVersions,
}

impl DeviceHttp {
    pub(crate) fn new(base_url: &str, token: &str, as_token: Option<&Secret>) -> Result<Self, DeviceError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("relais/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DeviceError::Homeserver(ClientError::Request(e.to_string())))?;
        let versions: Vec<String> = VERSIONS.iter().map(|v| (*v).to_owned()).collect();
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: Secret::new(token.to_owned()),
            as_token: as_token.cloned(),
            versions: SupportedVersions::from_parts(&versions, &BTreeMap::new()),
        })
    }

    /// Sends `request` as the device; errors are reported as the appservice client does.
    pub(crate) async fn send<R>(&self, request: R) -> Result<R::IncomingResponse, ClientError>
    where
        R: OutgoingRequest,
        for<'a> R::Authentication: AuthScheme<Input<'a> = SendAccessToken<'a>>,
        R::PathBuilder: PathInput,
    {
        self.send_with(request, SendAccessToken::IfRequired(self.token.expose())).await
    }

    /// Sends `request` as the appservice acting as its sender user (the bot): Synapse asks an
    /// appservice for no interactive authentication (replacing cross-signing keys).
    pub(crate) async fn send_as_appservice<R>(&self, request: R) -> Result<R::IncomingResponse, ClientError>
    where
        R: OutgoingRequest,
        for<'a> R::Authentication: AuthScheme<Input<'a> = SendAccessToken<'a>>,
        R::PathBuilder: PathInput,
    {
        let token =
            self.as_token.as_ref().ok_or_else(|| ClientError::Request("no appservice token".into()))?;
        self.send_with(request, SendAccessToken::Appservice(token.expose())).await
    }

    async fn send_with<R>(
        &self,
        request: R,
        token: SendAccessToken<'_>,
    ) -> Result<R::IncomingResponse, ClientError>
    where
        R: OutgoingRequest,
        for<'a> R::Authentication: AuthScheme<Input<'a> = SendAccessToken<'a>>,
        R::PathBuilder: PathInput,
    {
        let request = request
            .try_into_http_request::<Vec<u8>>(
                &self.base_url,
                token,
                <R::PathBuilder as PathInput>::input(&self.versions),
            )
            .map_err(|e| ClientError::Request(e.to_string()))?;
        let request = reqwest::Request::try_from(request).map_err(|e| ClientError::Request(e.to_string()))?;
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| ClientError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        let mut builder = http::Response::builder().status(status);
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let body =
            response.bytes().await.map_err(|e| ClientError::Unreachable(e.without_url().to_string()))?;
        if !status.is_success() {
            let error: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            return Err(ClientError::matrix(
                status.as_u16(),
                error["errcode"].as_str().unwrap_or_default(),
                error["error"].as_str().unwrap_or_default(),
            ));
        }
        let response = builder.body(body.to_vec()).map_err(|e| ClientError::Response(e.to_string()))?;
        R::IncomingResponse::try_from_http_response(response)
            .map_err(|e| ClientError::Response(e.to_string()))
    }
}
