//! The retrying request loop.

use std::time::Duration;

use ruma::{
    UserId,
    api::{
        AppserviceUserIdentity, IncomingResponse, IncomingResponseExt, OutgoingRequest,
        OutgoingRequestAppserviceExt, SupportedVersions,
        auth_scheme::{AuthScheme, SendAccessToken},
    },
};
use serde::Deserialize;
use tokio::time::Instant;

use super::{ClientError, MatrixClient};

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// Defines `PathInput`, which supplies the path-selection input of each ruma path builder, for
/// the ruma at `$ruma::api`: the appservice's, and the older one matrix-sdk-crypto speaks (the
/// two versions' traits are distinct types, so one impl cannot serve both; one definition can).
#[macro_export]
macro_rules! path_input {
    ($vis:vis $($ruma:ident)::+) => {
        /// Supplies the path-selection input of each ruma path builder.
        $vis trait PathInput: $($ruma)::+::api::path_builder::PathBuilder {
            fn input(versions: &$($ruma)::+::api::SupportedVersions) -> Self::Input<'_>;
        }

        impl PathInput for $($ruma)::+::api::path_builder::SinglePath {
            fn input(_: &$($ruma)::+::api::SupportedVersions) -> Self::Input<'_> {}
        }

        impl PathInput for $($ruma)::+::api::path_builder::VersionHistory {
            fn input(versions: &$($ruma)::+::api::SupportedVersions) -> Self::Input<'_> {
                ::std::borrow::Cow::Borrowed(versions)
            }
        }
    };
}

path_input!(pub ruma);

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errcode: String,
    #[serde(default)]
    error: String,
    retry_after_ms: Option<u64>,
}

/// What to do after one attempt.
enum Next<T> {
    Done(Result<T, ClientError>),
    RetryAfter(Option<Duration>),
}

impl MatrixClient {
    /// Sends `request` as `as_user` (the appservice's sender user when `None`), retrying on rate
    /// limits and outages.
    pub async fn send<R>(
        &self,
        request: R,
        as_user: Option<&UserId>,
    ) -> Result<R::IncomingResponse, ClientError>
    where
        R: OutgoingRequest,
        for<'a> R::Authentication: AuthScheme<Input<'a> = SendAccessToken<'a>>,
        R::PathBuilder: PathInput,
    {
        let versions = self.versions().await;
        let deadline = Instant::now() + self.inner.max_retry;
        let mut backoff = FIRST_BACKOFF;
        loop {
            self.inner.metrics.client_requests.inc();
            let wait = match self.attempt(request.clone(), as_user, &versions).await {
                Next::Done(result) => {
                    if result.is_err() {
                        self.inner.metrics.client_errors.inc();
                    }
                    return result;
                }
                Next::RetryAfter(asked) => asked.unwrap_or(backoff),
            };
            backoff = (backoff * 2).min(MAX_BACKOFF);
            if Instant::now() + wait > deadline {
                self.inner.metrics.client_errors.inc();
                return Err(ClientError::Unreachable(format!(
                    "gave up after {}s of retries",
                    self.inner.max_retry.as_secs()
                )));
            }
            self.inner.metrics.client_retries.inc();
            tracing::debug!(wait_ms = wait.as_millis() as u64, "retrying a homeserver call");
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt<R>(
        &self,
        request: R,
        as_user: Option<&UserId>,
        versions: &SupportedVersions,
    ) -> Next<R::IncomingResponse>
    where
        R: OutgoingRequest,
        for<'a> R::Authentication: AuthScheme<Input<'a> = SendAccessToken<'a>>,
        R::PathBuilder: PathInput,
    {
        let identity = as_user.map(AppserviceUserIdentity::new).unwrap_or_default();
        let http_request = match request.try_into_http_request_with_identity::<Vec<u8>>(
            &self.inner.base_url,
            SendAccessToken::Appservice(self.inner.as_token.expose()),
            identity,
            <R::PathBuilder as PathInput>::input(versions),
        ) {
            Ok(r) => r,
            Err(e) => return Next::Done(Err(ClientError::Request(e.to_string()))),
        };
        let http_request = match reqwest::Request::try_from(http_request) {
            Ok(r) => r,
            Err(e) => return Next::Done(Err(ClientError::Request(e.to_string()))),
        };
        let response = match self.inner.http.execute(http_request).await {
            Ok(r) => r,
            Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                let error = e.without_url();
                tracing::warn!(%error, "homeserver unreachable, will retry");
                return Next::RetryAfter(None);
            }
            Err(e) => return Next::Done(Err(ClientError::Unreachable(e.without_url().to_string()))),
        };
        classify::<R::IncomingResponse>(response).await
    }

    /// The versions the homeserver advertises, fetched once; a default set while unreachable.
    async fn versions(&self) -> SupportedVersions {
        if let Some(v) = self.inner.versions.get() {
            return v.clone();
        }
        #[derive(Deserialize)]
        struct Versions {
            versions: Vec<String>,
            #[serde(default)]
            unstable_features: std::collections::BTreeMap<String, bool>,
        }
        let url = format!("{}/_matrix/client/versions", self.inner.base_url);
        let fetched =
            async { self.inner.http.get(url).send().await?.error_for_status()?.json::<Versions>().await };
        match fetched.await {
            Ok(v) => {
                let v = SupportedVersions::from_parts(&v.versions, &v.unstable_features);
                let _ = self.inner.versions.set(v.clone());
                v
            }
            Err(_) => {
                let v: Vec<String> = (1..=11).map(|m| format!("v1.{m}")).collect();
                SupportedVersions::from_parts(&v, &Default::default())
            }
        }
    }
}

async fn classify<T: IncomingResponse>(response: reqwest::Response) -> Next<T> {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    let headers = response.headers().clone();
    let body = match response.bytes().await {
        Ok(b) => b,
        Err(_) => return Next::RetryAfter(None),
    };
    if status.as_u16() == 429 {
        let asked = serde_json::from_slice::<ErrorBody>(&body).ok().and_then(|e| e.retry_after_ms);
        return Next::RetryAfter(asked.map(Duration::from_millis).or(retry_after));
    }
    if matches!(status.as_u16(), 502..=504) {
        return Next::RetryAfter(retry_after);
    }
    if status.as_u16() >= 400 {
        let parsed = serde_json::from_slice::<ErrorBody>(&body).ok();
        let (errcode, message) = parsed.map(|e| (e.errcode, e.error)).unwrap_or_default();
        return Next::Done(Err(ClientError::matrix(status.as_u16(), &errcode, message)));
    }
    let mut builder = http::Response::builder().status(status);
    if let Some(h) = builder.headers_mut() {
        *h = headers;
    }
    let http_response = match builder.body(body.as_ref()) {
        Ok(r) => r,
        Err(e) => return Next::Done(Err(ClientError::Response(e.to_string()))),
    };
    Next::Done(T::try_from_http_response(http_response).map_err(|e| ClientError::Response(e.to_string())))
}
