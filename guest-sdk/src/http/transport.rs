//! Sending a request through the host's wasi:http `outgoing-handler`.
//!
//! The calls only work inside a component. Natively the `wasi` crate's
//! imports are stubs that panic, the same as the `crew` world's, which is
//! why only a host-backed [`Context`](crate::Context) reaches this module.
//!
//! wasi:http resources form parent-child pairs (a body and its stream, a
//! stream and its pollable), and the host traps when a parent is dropped
//! before its children. Each function below therefore drops children first,
//! by scope or with an explicit `drop`.

use std::time::Duration;

use wasi::clocks::monotonic_clock;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    Fields, FutureIncomingResponse, IncomingResponse, Method as WasiMethod, OutgoingBody,
    OutgoingRequest, RequestOptions, Scheme as WasiScheme, http_error_code,
};
use wasi::io::poll::{Pollable, poll};
use wasi::io::streams::StreamError;

use super::client::{Limits, check_response_size};
use super::error::Attempt;
use super::url::{Scheme, Target};
use super::{Headers, HttpError, HttpErrorKind, Method, Request, Response};

/// The maximum number of bytes that one `blocking-write-and-flush` call
/// accepts, as wasi:io 0.2 defines it.
const WRITE_CHUNK_BYTES: usize = 4096;

/// How many bytes to ask for per read of the response body.
const READ_CHUNK_BYTES: u64 = 64 * 1024;

/// Sends `request` to `target` and reads the whole response.
pub(crate) fn send(
    request: &Request,
    target: &Target,
    limits: Limits,
    attempt: &Attempt<'_>,
) -> Result<Response, HttpError> {
    let deadline = Deadline::after(limits.timeout);

    let outgoing = outgoing_request(request, target, attempt)?;
    let body = outgoing
        .body()
        .expect("the first `body` call on a new outgoing-request succeeds");
    let future = outgoing_handler::handle(outgoing, Some(request_options(limits.timeout)))
        .map_err(|code| attempt.error_for_code(code))?;

    // The body is written after `handle`, because the host only starts to
    // drain the body stream once the request is on its way. A body larger
    // than the stream's buffer would block forever if written before.
    if let Err(write_error) = write_body(body, request.body(), attempt) {
        // A failed write often means the request itself failed, and the
        // response future then contains the more precise error code.
        return match wait_for_response(&future, &deadline, attempt) {
            Err(error) => Err(error),
            Ok(_) => Err(write_error),
        };
    }

    let incoming = wait_for_response(&future, &deadline, attempt)?;
    let status = incoming.status();
    let headers = response_headers(&incoming);
    // A response to HEAD announces the length of a body that it does not
    // carry, so only other methods fail early on a large `content-length`.
    let announced_length = headers
        .get("content-length")
        .and_then(|length| length.trim().parse::<u64>().ok());
    if let Some(length) = announced_length.filter(|_| request.method() != Method::Head) {
        check_response_size(length, limits, attempt)?;
    }
    let body = read_body(&incoming, limits, &deadline, attempt)?;

    Ok(Response::received(status, headers, body, request.url()))
}

fn outgoing_request(
    request: &Request,
    target: &Target,
    attempt: &Attempt<'_>,
) -> Result<OutgoingRequest, HttpError> {
    let fields = Fields::new();
    for (name, value) in request.headers().iter() {
        fields
            .append(name, value.as_bytes())
            .map_err(|error| header_rejected(name, error, attempt))?;
    }
    if needs_content_length(request) {
        let length = request.body().len().to_string();
        fields
            .append("content-length", length.as_bytes())
            .map_err(|error| header_rejected("content-length", error, attempt))?;
    }

    let outgoing = OutgoingRequest::new(fields);
    let rejected = |part: &str| {
        attempt.failed(
            HttpErrorKind::InvalidRequest,
            format_args!("the host rejected the {part}"),
        )
    };
    outgoing
        .set_method(&wasi_method(request.method()))
        .map_err(|()| rejected("method"))?;
    outgoing
        .set_scheme(Some(&wasi_scheme(target.scheme)))
        .map_err(|()| rejected("scheme"))?;
    outgoing
        .set_authority(Some(&target.authority))
        .map_err(|()| rejected("host and port"))?;
    outgoing
        .set_path_with_query(Some(&target.path_with_query))
        .map_err(|()| rejected("path or query"))?;
    Ok(outgoing)
}

/// Returns true when the transport should add `content-length`: the request
/// has a body or a method that usually carries one, and the crew did not set
/// the header. Without it the host streams the body with chunked transfer
/// coding, which some servers reject.
fn needs_content_length(request: &Request) -> bool {
    let carries_body = !request.body().is_empty()
        || matches!(request.method(), Method::Post | Method::Put | Method::Patch);
    carries_body && !request.headers().contains("content-length")
}

fn header_rejected(
    name: &str,
    error: wasi::http::types::HeaderError,
    attempt: &Attempt<'_>,
) -> HttpError {
    use wasi::http::types::HeaderError;

    let problem = match error {
        HeaderError::Forbidden => "the host forbids it",
        HeaderError::InvalidSyntax | HeaderError::Immutable => "the host rejected it as invalid",
    };
    attempt.failed(
        HttpErrorKind::InvalidRequest,
        format_args!("header `{name}`: {problem}"),
    )
}

/// Sets the connect, first-byte and between-bytes timeouts of wasi:http to
/// the whole request's timeout, so the host also gives up on a silent
/// server. A host that does not support one of them returns an error, which
/// is ignored because the deadline in this module still applies.
fn request_options(timeout: Duration) -> RequestOptions {
    let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    let options = RequestOptions::new();
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    let _ = options.set_between_bytes_timeout(Some(nanos));
    options
}

fn write_body(body: OutgoingBody, bytes: &[u8], attempt: &Attempt<'_>) -> Result<(), HttpError> {
    {
        let stream = body
            .write()
            .expect("the first `write` call on a new outgoing-body succeeds");
        for chunk in bytes.chunks(WRITE_CHUNK_BYTES) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|error| stream_failed(error, "sending the request body", attempt))?;
        }
    }

    OutgoingBody::finish(body, None).map_err(|code| attempt.error_for_code(code))
}

fn wait_for_response(
    future: &FutureIncomingResponse,
    deadline: &Deadline,
    attempt: &Attempt<'_>,
) -> Result<IncomingResponse, HttpError> {
    loop {
        if let Some(result) = future.get() {
            return match result {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(code)) => Err(attempt.error_for_code(code)),
                Err(()) => {
                    Err(attempt
                        .failed(HttpErrorKind::Other, "the host returned the response twice"))
                }
            };
        }

        let ready = future.subscribe();
        if !deadline.wait_for(&ready) {
            return Err(deadline.timed_out("no response arrived", attempt));
        }
    }
}

fn response_headers(incoming: &IncomingResponse) -> Headers {
    let mut headers = Headers::new();
    let fields = incoming.headers();
    for (name, value) in fields.entries() {
        headers.append(&name, String::from_utf8_lossy(&value));
    }
    headers
}

fn read_body(
    incoming: &IncomingResponse,
    limits: Limits,
    deadline: &Deadline,
    attempt: &Attempt<'_>,
) -> Result<Vec<u8>, HttpError> {
    let body = incoming.consume().map_err(|()| {
        attempt.failed(
            HttpErrorKind::Other,
            "the host returned the response body twice",
        )
    })?;
    let stream = body.stream().map_err(|()| {
        attempt.failed(
            HttpErrorKind::Other,
            "the host returned the response body stream twice",
        )
    })?;

    let mut bytes = Vec::new();
    loop {
        match stream.read(READ_CHUNK_BYTES) {
            Ok(chunk) if chunk.is_empty() => {
                let ready = stream.subscribe();
                if !deadline.wait_for(&ready) {
                    return Err(
                        deadline.timed_out("the response body did not arrive in full", attempt)
                    );
                }
            }
            Ok(chunk) => {
                let len = (bytes.len() + chunk.len()) as u64;
                check_response_size(len, limits, attempt)?;
                bytes.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => break,
            Err(error) => return Err(stream_failed(error, "reading the response body", attempt)),
        }
    }

    drop(stream);
    drop(body);
    Ok(bytes)
}

/// Maps a failed stream operation to the wasi:http error code behind it,
/// when the host gives one.
fn stream_failed(error: StreamError, doing: &str, attempt: &Attempt<'_>) -> HttpError {
    match error {
        StreamError::Closed => attempt.failed(
            HttpErrorKind::Connection,
            format_args!("the connection closed while {doing}"),
        ),
        StreamError::LastOperationFailed(io_error) => match http_error_code(&io_error) {
            Some(code) => attempt.error_for_code(code),
            None => attempt.failed(
                HttpErrorKind::Connection,
                format_args!("{doing} failed: {}", io_error.to_debug_string()),
            ),
        },
    }
}

/// The point on the host's monotonic clock at which a request times out.
struct Deadline {
    instant: monotonic_clock::Instant,
    timeout: Duration,
}

impl Deadline {
    fn after(timeout: Duration) -> Self {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        Self {
            instant: monotonic_clock::now().saturating_add(nanos),
            timeout,
        }
    }

    /// Blocks until `ready` is ready or the deadline passes. Returns false
    /// when the deadline passed first.
    fn wait_for(&self, ready: &Pollable) -> bool {
        let timer = monotonic_clock::subscribe_instant(self.instant);
        let ready_indexes = poll(&[ready, &timer]);
        ready_indexes.contains(&0)
    }

    fn timed_out(&self, failure: &str, attempt: &Attempt<'_>) -> HttpError {
        attempt.failed(
            HttpErrorKind::Timeout,
            format_args!(
                "{failure} within the timeout of {}",
                format_duration(self.timeout)
            ),
        )
    }
}

fn wasi_method(method: Method) -> WasiMethod {
    match method {
        Method::Get => WasiMethod::Get,
        Method::Head => WasiMethod::Head,
        Method::Post => WasiMethod::Post,
        Method::Put => WasiMethod::Put,
        Method::Patch => WasiMethod::Patch,
        Method::Delete => WasiMethod::Delete,
        Method::Options => WasiMethod::Options,
    }
}

fn wasi_scheme(scheme: Scheme) -> WasiScheme {
    match scheme {
        Scheme::Http => WasiScheme::Http,
        Scheme::Https => WasiScheme::Https,
    }
}

/// Formats whole seconds as `60 s` and anything finer as milliseconds.
fn format_duration(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, body: &[u8]) -> Request {
        Request {
            method,
            url: "https://example.com/".to_owned(),
            headers: Headers::new(),
            body: body.to_vec(),
        }
    }

    #[test]
    fn content_length_added_for_bodies() {
        assert!(needs_content_length(&request(Method::Post, b"")));
        assert!(needs_content_length(&request(Method::Delete, b"{}")));
        assert!(!needs_content_length(&request(Method::Get, b"")));
    }

    #[test]
    fn content_length_kept_when_set() {
        let mut request = request(Method::Post, b"{}");
        request.headers.append("Content-Length", "2");

        assert!(!needs_content_length(&request));
    }

    #[test]
    fn format_duration_picks_unit() {
        assert_eq!(format_duration(Duration::from_secs(60)), "60 s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500 ms");
    }
}
