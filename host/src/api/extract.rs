//! Extractors that turn axum's rejections into [`ApiError`]s, so a malformed
//! request gets the API's error shape with the field it got wrong.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON request body.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(error) => ApiError::bad_request(
            "invalid_field",
            format!("the request body has a missing or wrong field: {}", without_prefix(&error.body_text())),
        ),
        JsonRejection::JsonSyntaxError(error) => ApiError::bad_request(
            "invalid_json",
            format!("the request body is not valid JSON: {}", without_prefix(&error.body_text())),
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the request body must be JSON; send the header `Content-Type: application/json`",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => body_too_large(),
        other => ApiError::bad_request("invalid_body", format!("the request body could not be read: {}", other.body_text())),
    }
}

/// A 413 for a body over the configured limit.
pub fn body_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than the server accepts; send a smaller body, or start the \
         server with a higher --max-json-body-mib or --max-component-mib",
    )
}

/// Drops axum's generic sentence before the first `: `, which leaves serde's
/// message with the field path, such as `input: invalid type: ...`.
fn without_prefix(text: &str) -> &str {
    text.split_once(": ").map_or(text, |(_, rest)| rest)
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
