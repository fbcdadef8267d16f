//! The one error shape of the API: `{"error": {"code", "message", "details"}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::storage::StoreError;

/// An error response. `code` is a stable snake_case word clients match on;
/// `message` states what failed, on which value, and what to do.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
    /// Seconds for the `Retry-After` header.
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: None, retry_after: None }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// Builds a 404 that names the kind of resource and the id that was not
    /// found.
    pub fn not_found(resource: &'static str, id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{resource} {id:?} not found"))
            .with_details(json!({ "resource": resource, "id": id }))
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid API key; send the header `Authorization: Bearer <key>` with a key \
             from `crewhost keys create`",
        )
    }

    /// Builds a 500 for a failure inside the host and logs the detail, which
    /// the client does not get.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "request failed inside the host");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the host failed to handle the request; the server log has the details",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { kind, id } => Self::not_found(kind, &id),
            StoreError::ThreadBusy { thread_id, active_run_id } => Self::conflict(
                "thread_busy",
                format!(
                    "thread {thread_id} is busy with run {active_run_id}; wait for that run to end \
                     (GET /v1/runs/{active_run_id}) or cancel it, then try again"
                ),
            )
            .with_details(json!({ "active_run_id": active_run_id })),
            StoreError::DeploymentBusy { deployment_id, run_id } => Self::conflict(
                "deployment_busy",
                format!("deployment {deployment_id} has the active run {run_id}; wait for its runs to end, then delete it"),
            )
            .with_details(json!({ "active_run_id": run_id })),
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(details) = self.details {
            error["details"] = details;
        }
        let mut response = (self.status, axum::Json(json!({ "error": error }))).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
