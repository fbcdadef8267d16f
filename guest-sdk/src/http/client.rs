//! The client that crews get from [`Context::http`] and its request builder.

use std::time::Duration;

use serde::Serialize;

use super::request::check_header;
use super::url::Target;
use super::{Headers, HttpError, HttpErrorKind, Method, Request, Response};
use crate::Context;

/// How long a request may take when the crew sets no timeout: from sending
/// the request to the last byte of the response body. It is below the host's
/// default run timeout of 300 seconds, so a hanging server fails the request
/// with a timeout error that the crew can handle before the host stops the
/// whole run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest response body that the client reads when the crew sets no
/// limit, in bytes (16 MiB). The body is held in guest memory, so a limit
/// turns an oversized response into an error instead of a run that exceeds
/// its memory limit and traps.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// The limits that apply to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) timeout: Duration,
    pub(crate) max_response_bytes: u64,
}

/// Sends HTTP requests for a crew, one at a time and blocking until the
/// response body is read.
///
/// Get one with [`Context::http`]. Inside a component the requests go through
/// the host's wasi:http `outgoing-handler`, which only sends them to origins in
/// the deployment's `allowed_hosts`. Under
/// [`TestRun`](crate::testing::TestRun) they go to canned responses instead.
///
/// # Examples
///
/// ```
/// use crewhost_guest::{Context, Error};
/// use serde_json::{Value, json};
///
/// fn create_issue(ctx: &Context, title: &str) -> Result<Value, Error> {
///     let response = ctx
///         .http()
///         .post_json("https://tracker.example.com/api/issues", &json!({ "title": title }))?;
///
///     if !response.is_success() {
///         return Err(Error::failed(format!("the tracker returned HTTP {}", response.status())));
///     }
///     Ok(response.json()?)
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Client<'ctx> {
    ctx: &'ctx Context,
}

impl<'ctx> Client<'ctx> {
    pub(crate) fn new(ctx: &'ctx Context) -> Self {
        Self { ctx }
    }

    /// Sends a `GET` request to `url` with the default timeout and response
    /// size limit.
    ///
    /// # Errors
    ///
    /// Returns an [`HttpError`] when the URL is invalid or no response
    /// arrived. See [`RequestBuilder::send`].
    pub fn get(&self, url: &str) -> Result<Response, HttpError> {
        self.request(Method::Get, url).send()
    }

    /// Sends a `POST` request to `url` with `body` serialized as JSON and the
    /// `content-type` header set to `application/json`.
    ///
    /// # Errors
    ///
    /// Returns an [`HttpErrorKind::InvalidRequest`] error when `body` fails to
    /// serialize, and otherwise the errors of [`RequestBuilder::send`].
    pub fn post_json<T: Serialize + ?Sized>(
        &self,
        url: &str,
        body: &T,
    ) -> Result<Response, HttpError> {
        self.request(Method::Post, url).json(body).send()
    }

    /// Starts a request with `method` to `url`, to add headers, a body or
    /// limits before [`RequestBuilder::send`].
    ///
    /// The URL must be absolute and start with `http://` or `https://`. It may
    /// not contain user info: send credentials in a header.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder<'ctx> {
        RequestBuilder {
            ctx: self.ctx,
            request: Request {
                method,
                url: url.to_owned(),
                headers: Headers::new(),
                body: Vec::new(),
            },
            limits: Limits {
                timeout: DEFAULT_TIMEOUT,
                max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            },
            error: None,
        }
    }
}

/// A request being built, sent by [`RequestBuilder::send`].
///
/// Defaults: no headers, an empty body, a timeout of [`DEFAULT_TIMEOUT`] and
/// a response size limit of [`DEFAULT_MAX_RESPONSE_BYTES`].
///
/// A builder method that gets an invalid argument, such as a header name
/// with a space, records the error and `send` returns it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use crewhost_guest::http::Method;
/// use crewhost_guest::{Context, Error};
///
/// fn upload(ctx: &Context, token: &str, csv: &str) -> Result<u16, Error> {
///     let response = ctx
///         .http()
///         .request(Method::Put, "https://files.example.com/reports/today.csv")
///         .header("Authorization", &format!("Bearer {token}"))
///         .header("Content-Type", "text/csv")
///         .body(csv)
///         .timeout(Duration::from_secs(10))
///         .send()?;
///     Ok(response.status())
/// }
/// ```
#[derive(Debug)]
#[must_use = "a RequestBuilder does nothing until `send` is called"]
pub struct RequestBuilder<'ctx> {
    ctx: &'ctx Context,
    request: Request,
    limits: Limits,
    /// The first invalid argument, returned by `send`.
    error: Option<HttpError>,
}

impl RequestBuilder<'_> {
    /// Adds the header `name: value` after any earlier values of `name`.
    ///
    /// `name` must be a valid header name and `value` may not contain line
    /// breaks or other control characters except tab. The host may also
    /// forbid some headers, such as `host` and `connection`, and `send` then
    /// fails with [`HttpErrorKind::InvalidRequest`].
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match check_header(name, value) {
            Ok(()) => self.request.headers.append(name, value),
            Err(problem) => self.fail(problem),
        }
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.request.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON and the `content-type` header to
    /// `application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.request.headers.set("content-type", "application/json");
                self.request.body = body;
            }
            Err(error) => self.fail(format!(
                "failed to serialize the request body as JSON: {error}"
            )),
        }
        self
    }

    /// Sets how long the whole request may take, from sending it to reading
    /// the last byte of the response body.
    ///
    /// The host may stop it sooner. The crewhost host applies the
    /// deployment's `http_timeout_secs` limit to connecting and to each wait
    /// for response bytes, and stops the whole run at its `timeout_secs`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.limits.timeout = timeout;
        self
    }

    /// Sets the largest response body to read, in bytes. A longer body fails
    /// the request with [`HttpErrorKind::TooLarge`].
    pub fn max_response_bytes(mut self, max: u64) -> Self {
        self.limits.max_response_bytes = max;
        self
    }

    /// Sends the request and reads the whole response.
    ///
    /// Any status, including 4xx and 5xx, is a response, not an error.
    ///
    /// # Errors
    ///
    /// Returns an [`HttpError`] when a builder argument or the URL is
    /// invalid, or when the host denies the request because the URL's origin
    /// is not in the deployment's `allowed_hosts`. It also fails when the
    /// connection fails, when the timeout passes and when the response body
    /// is longer than the limit. [`HttpError::kind`] tells these cases apart.
    pub fn send(self) -> Result<Response, HttpError> {
        if let Some(error) = self.error {
            return Err(error);
        }

        let target = Target::parse(&self.request.url)?;
        self.ctx.send_http(self.request, &target, self.limits)
    }

    fn fail(&mut self, problem: String) {
        if self.error.is_none() {
            self.error = Some(HttpError::new(
                HttpErrorKind::InvalidRequest,
                format!(
                    "the request {} {} is invalid: {problem}",
                    self.request.method,
                    super::url::redact(&self.request.url)
                ),
            ));
        }
    }
}

/// Fails when a response body of `len` bytes exceeds `max`. The wasi:http
/// transport and the test harness share it, so both report the same error.
pub(crate) fn check_response_size(
    len: u64,
    limits: Limits,
    attempt: &super::error::Attempt<'_>,
) -> Result<(), HttpError> {
    if len <= limits.max_response_bytes {
        return Ok(());
    }
    Err(attempt.failed(
        HttpErrorKind::TooLarge,
        format_args!(
            "the response body is longer than the limit of {} bytes. \
             Raise the limit with `RequestBuilder::max_response_bytes`",
            limits.max_response_bytes
        ),
    ))
}
