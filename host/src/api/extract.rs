//! Extractors that turn axum's rejections into [`ApiError`]s, so a malformed
//! request gets the API's error shape with the field it got wrong.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::AppState;
use super::body::{drain, read_limited};
use super::error::ApiError;

/// A JSON request body, read up to the server's JSON body limit.
pub struct Json<T>(pub T);

impl<T> FromRequest<AppState> for Json<T>
where
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_string();
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        let is_json = media_type.eq_ignore_ascii_case("application/json")
            || (media_type.starts_with("application/") && media_type.ends_with("+json"));
        if !is_json {
            drain(request.into_body(), 0).await;
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("the content type {content_type:?} is not accepted here; send JSON with `Content-Type: application/json`"),
            ));
        }

        let bytes = read_limited(request.into_body(), state.body_limits.json_bytes, "--max-json-body-mib").await?;
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| json_error(&error))?;
        deserializer.end().map_err(|error| {
            ApiError::bad_request("invalid_json", format!("the request body is not valid JSON: {error}"))
        })?;
        Ok(Self(value))
    }
}

/// Turns a decoding error into `invalid_json` (not JSON at all) or
/// `invalid_field` (JSON of the wrong shape), naming the field.
fn json_error(error: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = error.inner();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::bad_request("invalid_json", format!("the request body is not valid JSON: {inner}"));
    }
    let path = error.path().to_string();
    if path == "." {
        ApiError::bad_request("invalid_field", format!("the request body has a missing or wrong field: {inner}"))
    } else {
        ApiError::bad_request("invalid_field", format!("the request body has a wrong field `{path}`: {inner}"))
    }
}

/// Query parameters.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(error)) => Err(ApiError::bad_request(
                "invalid_parameter",
                format!("a query parameter is invalid: {}", without_prefix(&error.body_text())),
            )),
            Err(other) => Err(ApiError::bad_request("invalid_parameter", other.body_text())),
        }
    }
}

/// Drops axum's generic sentence before the first `: `, which leaves serde's
/// message, such as `limit: invalid digit found in string`.
fn without_prefix(text: &str) -> &str {
    text.split_once(": ").map_or(text, |(_, rest)| rest)
}

/// Path parameters.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::bad_request(
                "invalid_path",
                format!("the request path is invalid: {}; check its percent-encoding", without_prefix(&rejection.body_text())),
            )),
        }
    }
}
