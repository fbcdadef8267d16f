//! Reading request bodies with a size limit.
//!
//! When a body is over the limit, the rest of it is read and dropped before
//! the 413 goes out. Closing a connection with unread request bytes makes
//! the kernel reset it, and the client then loses the 413 and gets a broken
//! connection instead.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use http_body_util::BodyExt;

use super::ApiError;

/// Maximum drained from a rejected body, in bytes and in time, so a client
/// that sends without end cannot hold a connection open.
const MAX_DRAIN_BYTES: usize = 512 * 1024 * 1024;
const MAX_DRAIN_TIME: Duration = Duration::from_secs(30);

/// Reads a whole body of at most `limit` bytes.
///
/// # Errors
///
/// A 413 `payload_too_large` that names the limit and `flag`, the server
/// option that raises it, or a 400 when the body cannot be read.
pub(super) async fn read_limited(body: Body, limit: usize, flag: &str) -> Result<Bytes, ApiError> {
    let mut body = body;
    let mut collected = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| ApiError::bad_request("invalid_body", format!("reading the request body failed: {error}")))?;
        let Ok(data) = frame.into_data() else { continue };
        if collected.len() + data.len() > limit {
            drain(body, collected.len() + data.len()).await;
            return Err(too_large(limit, flag));
        }
        collected.extend_from_slice(&data);
    }
    Ok(Bytes::from(collected))
}

/// Reads and drops the rest of a body that will not be used, within the
/// drain bounds.
pub(super) async fn drain(mut body: Body, mut seen: usize) {
    let drained = tokio::time::timeout(MAX_DRAIN_TIME, async {
        while seen < MAX_DRAIN_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => seen += frame.data_ref().map_or(0, Bytes::len),
                _ => break,
            }
        }
    });
    let _ = drained.await;
}

fn too_large(limit: usize, flag: &str) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "the request body is larger than the limit of {} bytes; send a smaller body, or start the \
             server with a higher {flag}",
            limit
        ),
    )
}
