//! The response to an HTTP request, with its body read in full.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::url::redact;
use super::{Headers, HttpError, HttpErrorKind};

/// An HTTP response whose body the client has read in full.
///
/// Any status counts as a response, so check [`Response::status`] or
/// [`Response::is_success`] before using the body.
///
/// Tests build responses for [`TestRun`](crate::testing::TestRun) with
/// [`Response::new`] and the `with_` methods.
///
/// # Examples
///
/// ```
/// use crewhost_guest::http::Response;
/// use serde_json::json;
///
/// let response = Response::new(200).with_json(&json!({ "id": 7 }));
///
/// assert!(response.is_success());
/// assert_eq!(response.header("Content-Type"), Some("application/json"));
/// assert_eq!(response.json::<serde_json::Value>().unwrap()["id"], 7);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Headers,
    body: Vec<u8>,
    /// The request URL, for error messages. Empty until the client receives
    /// the response or the test harness returns it for a request.
    url: String,
}

impl Response {
    /// Creates a response with status `status`, no headers and an empty body.
    #[must_use]
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Headers::new(),
            body: Vec::new(),
            url: String::new(),
        }
    }

    /// Adds the header `name: value`.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON and the `content-type` header to
    /// `application/json`.
    ///
    /// # Panics
    ///
    /// Panics when `value` fails to serialize, such as a map with keys that
    /// are not strings. It is meant for tests, where a panic shows the
    /// mistake at once.
    #[must_use]
    #[track_caller]
    pub fn with_json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        let body = serde_json::to_vec(value)
            .unwrap_or_else(|error| panic!("failed to serialize the response body: {error}"));
        self.headers.set("content-type", "application/json");
        self.body = body;
        self
    }

    pub(crate) fn received(status: u16, headers: Headers, body: Vec<u8>, url: &str) -> Self {
        Self {
            status,
            headers,
            body,
            url: url.to_owned(),
        }
    }

    pub(crate) fn for_url(mut self, url: &str) -> Self {
        url.clone_into(&mut self.url);
        self
    }

    /// Returns the status code, such as 200 or 404.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Returns true for a status from 200 to 299.
    #[must_use]
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Returns the response headers.
    #[must_use]
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Returns the first value of the header `name`, compared without regard
    /// to case.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// Returns the body bytes.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Returns the body bytes, consuming the response.
    #[must_use]
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// Returns the URL of the request that this response belongs to, or an
    /// empty string for a response that a test built and no request got yet.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Returns the body as UTF-8 text.
    ///
    /// # Errors
    ///
    /// Returns an [`HttpErrorKind::Protocol`] error when the body is not valid
    /// UTF-8.
    pub fn text(&self) -> Result<&str, HttpError> {
        std::str::from_utf8(&self.body).map_err(|error| {
            HttpError::new(
                HttpErrorKind::Protocol,
                format!(
                    "the response body from {} is not valid UTF-8: {error}",
                    redact(&self.url)
                ),
            )
        })
    }

    /// Decodes the body as JSON into `T`.
    ///
    /// # Errors
    ///
    /// Returns an [`HttpErrorKind::Protocol`] error with serde's message when
    /// the body is not JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            HttpError::new(
                HttpErrorKind::Protocol,
                format!(
                    "failed to decode the response body from {} as JSON: {error}",
                    redact(&self.url)
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Model {
        #[allow(dead_code)]
        id: String,
    }

    #[test]
    fn builders_set_status_headers_and_body() {
        let response = Response::new(404)
            .with_header("X-Trace", "t1")
            .with_body("not here");

        assert_eq!(response.status(), 404);
        assert!(!response.is_success());
        assert_eq!(response.header("x-trace"), Some("t1"));
        assert_eq!(response.text().unwrap(), "not here");
        assert_eq!(response.into_body(), b"not here");
    }

    #[test]
    fn with_json_replaces_content_type() {
        let response = Response::new(200)
            .with_header("content-type", "text/plain")
            .with_json(&[1, 2]);

        assert_eq!(
            response
                .headers()
                .get_all("content-type")
                .collect::<Vec<_>>(),
            ["application/json"]
        );
        assert_eq!(response.body(), b"[1,2]");
    }

    #[test]
    fn json_mismatch_names_redacted_url() {
        let response = Response::new(200)
            .with_body("\"text\"")
            .for_url("https://example.com/models?key=secret");

        let error = response.json::<Model>().unwrap_err();

        assert_eq!(error.kind(), HttpErrorKind::Protocol);
        assert!(
            error.message().starts_with(
                "failed to decode the response body from https://example.com/models?… as JSON: invalid type"
            ),
            "{error}"
        );
    }

    #[test]
    fn text_rejects_invalid_utf8() {
        let response = Response::new(200)
            .with_body(vec![0xff, 0xfe])
            .for_url("https://example.com/");

        let error = response.text().unwrap_err();

        assert!(
            error
                .message()
                .starts_with("the response body from https://example.com/ is not valid UTF-8")
        );
    }
}
