//! The error of an HTTP request, and how wasi:http `error-code` values map
//! onto it.

use std::fmt;

use wasi::http::types::{DnsErrorPayload, ErrorCode, FieldSizePayload, TlsAlertReceivedPayload};

use super::Method;
use super::url::Target;

/// The failure of an HTTP request that produced no response.
///
/// A response with an error status such as 404 or 500 is not an
/// `HttpError`: the request succeeded and [`Response::status`](super::Response::status)
/// contains the status.
///
/// The message names the request by method and URL and gives the next step.
/// URLs in messages are redacted: user info becomes `***` and a query becomes
/// `?…`, because either may contain credentials.
///
/// `?` converts an `HttpError` into [`Error::failed`](crate::Error::failed)
/// with the same message inside [`Crew::run`](crate::Crew::run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    kind: HttpErrorKind,
    message: String,
}

/// The category of an [`HttpError`], for callers that handle some failures,
/// such as retrying after a timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HttpErrorKind {
    /// The host refused to send the request, usually because the URL's origin
    /// is not in the deployment's `allowed_hosts`. Under
    /// [`TestRun`](crate::testing::TestRun), a request without a canned
    /// response fails with this kind.
    Denied,
    /// The request is malformed: a URL, method or header that the SDK or the
    /// host rejects, or a JSON body that failed to serialize.
    InvalidRequest,
    /// The host could not reach the server: a DNS failure, a refused or
    /// dropped connection or a failed TLS handshake.
    Connection,
    /// The request or one of its phases took longer than allowed.
    Timeout,
    /// A body, header or trailer exceeds a limit of the SDK or the host.
    TooLarge,
    /// The server's response is not valid HTTP, or the response body is not
    /// the UTF-8 or JSON that the caller asked for.
    Protocol,
    /// The host failed for a reason of its own, such as a configuration error.
    Other,
}

impl HttpError {
    pub(crate) fn new(kind: HttpErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Returns the category of the failure.
    #[must_use]
    pub fn kind(&self) -> HttpErrorKind {
        self.kind
    }

    /// Returns the message, which names the request and the cause.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Returns true when the host refused to send the request.
    #[must_use]
    pub fn is_denied(&self) -> bool {
        self.kind == HttpErrorKind::Denied
    }

    /// Returns true when the request timed out.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        self.kind == HttpErrorKind::Timeout
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

/// Converts a failed request into [`ErrorKind::Failed`](crate::ErrorKind::Failed),
/// so `?` works on HTTP calls inside [`Crew::run`](crate::Crew::run).
impl From<HttpError> for crate::Error {
    fn from(error: HttpError) -> Self {
        crate::Error::failed(error.message)
    }
}

/// The end of a message about a timeout that the host enforced. The crewhost
/// host applies the deployment's `http_timeout_secs` limit to connecting and
/// to each wait for response bytes, besides the crew's own timeout.
const HOST_TIMEOUT_HINT: &str = " The host stops each wait after the request's timeout or the \
deployment's http_timeout_secs limit, whichever is shorter";

/// The request that an error message is about.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt<'a> {
    pub(crate) method: Method,
    /// The request URL, already passed through [`redact`](super::url::redact).
    pub(crate) url: &'a str,
    pub(crate) target: &'a Target,
    /// The deployment of the run, for the `crewhost config allow` hint.
    pub(crate) deployment_id: &'a str,
}

impl Attempt<'_> {
    /// Creates the error for a request that the host denied.
    pub(crate) fn denied(&self) -> HttpError {
        let origin = self.target.origin();
        HttpError::new(
            HttpErrorKind::Denied,
            format!(
                "the host denied the request {} {}. Add {origin} to the deployment's \
                 allowed_hosts with `crewhost config allow {} {origin}`",
                self.method, self.url, self.deployment_id
            ),
        )
    }

    /// Creates an error of `kind` whose message ends with `detail`.
    pub(crate) fn failed(&self, kind: HttpErrorKind, detail: impl fmt::Display) -> HttpError {
        let verb = if kind == HttpErrorKind::Timeout {
            "timed out"
        } else {
            "failed"
        };
        HttpError::new(
            kind,
            format!("the request {} {} {verb}: {detail}", self.method, self.url),
        )
    }

    /// Creates the error for `kind` with a generic detail. The test harness
    /// uses it, so a simulated failure reads like one from the host.
    pub(crate) fn error_of_kind(&self, kind: HttpErrorKind) -> HttpError {
        let authority = &self.target.authority;
        match kind {
            HttpErrorKind::Denied => self.denied(),
            HttpErrorKind::InvalidRequest => self.failed(kind, "the host rejected it as invalid"),
            HttpErrorKind::Connection => {
                self.failed(kind, format_args!("the connection to {authority} failed"))
            }
            HttpErrorKind::Timeout => {
                self.failed(kind, format_args!("{authority} did not respond in time"))
            }
            HttpErrorKind::TooLarge => {
                self.failed(kind, "the response is larger than the host allows")
            }
            HttpErrorKind::Protocol => self.failed(kind, "the response is not valid HTTP"),
            HttpErrorKind::Other => self.failed(kind, "the host could not send it"),
        }
    }

    /// Maps a wasi:http `error-code` from the host to an error whose message
    /// names the failure.
    pub(crate) fn error_for_code(&self, code: ErrorCode) -> HttpError {
        use HttpErrorKind::{Connection, InvalidRequest, Other, Protocol, Timeout, TooLarge};

        let authority = &self.target.authority;
        let host = self.target.host();
        match code {
            ErrorCode::HttpRequestDenied => self.denied(),
            ErrorCode::DestinationIpProhibited => self.failed(
                HttpErrorKind::Denied,
                format_args!(
                    "{host} resolves to an address that the host does not allow, such as a \
                     loopback or private address. To reach it anyway, add an allowed_hosts \
                     entry that names that address"
                ),
            ),

            ErrorCode::DnsTimeout => self.failed(
                Timeout,
                format_args!("the DNS lookup of {host} took too long"),
            ),
            ErrorCode::DnsError(payload) => self.failed(
                Connection,
                format_args!("the DNS lookup of {host} failed{}", dns_detail(&payload)),
            ),
            ErrorCode::DestinationNotFound => {
                self.failed(Connection, format_args!("{host} was not found"))
            }
            ErrorCode::DestinationUnavailable => {
                self.failed(Connection, format_args!("{authority} is unavailable"))
            }
            ErrorCode::DestinationIpUnroutable => {
                self.failed(Connection, format_args!("there is no route to {host}"))
            }
            ErrorCode::ConnectionRefused => self.failed(
                Connection,
                format_args!("{authority} refused the connection"),
            ),
            ErrorCode::ConnectionTerminated => self.failed(
                Connection,
                format_args!(
                    "the connection to {authority} closed before the response was complete"
                ),
            ),
            // crewhost returns this code once a run has sent the deployment's
            // `http_max_requests` requests, so retrying cannot succeed.
            ErrorCode::ConnectionLimitReached => self.failed(
                HttpErrorKind::Denied,
                "the host reached a limit on connections or requests, such as the \
                 deployment's http_max_requests limit per run",
            ),
            ErrorCode::TlsProtocolError => self.failed(
                Connection,
                format_args!("the TLS handshake with {authority} failed"),
            ),
            ErrorCode::TlsCertificateError => self.failed(
                Connection,
                format_args!("the TLS certificate of {authority} is invalid or not trusted"),
            ),
            ErrorCode::TlsAlertReceived(payload) => self.failed(
                Connection,
                format_args!(
                    "{authority} sent the TLS alert{}",
                    tls_alert_detail(&payload)
                ),
            ),

            ErrorCode::ConnectionTimeout => self.failed(
                Timeout,
                format_args!("connecting to {authority} took too long.{HOST_TIMEOUT_HINT}"),
            ),
            ErrorCode::ConnectionReadTimeout => self.failed(
                Timeout,
                format_args!("reading from {authority} took too long.{HOST_TIMEOUT_HINT}"),
            ),
            ErrorCode::ConnectionWriteTimeout => self.failed(
                Timeout,
                format_args!("writing to {authority} took too long.{HOST_TIMEOUT_HINT}"),
            ),
            ErrorCode::HttpResponseTimeout => self.failed(
                Timeout,
                format_args!("{authority} did not respond in time.{HOST_TIMEOUT_HINT}"),
            ),

            ErrorCode::HttpRequestLengthRequired => self.failed(
                InvalidRequest,
                "the server requires a Content-Length header",
            ),
            ErrorCode::HttpRequestMethodInvalid => self.failed(
                InvalidRequest,
                format_args!("the host rejected the method {}", self.method),
            ),
            ErrorCode::HttpRequestUriInvalid => {
                self.failed(InvalidRequest, "the host rejected the URL as invalid")
            }
            ErrorCode::HttpRequestUriTooLong => self.failed(InvalidRequest, "the URL is too long"),

            ErrorCode::HttpRequestBodySize(limit) => self.failed(
                TooLarge,
                format_args!(
                    "the request body is larger than the host allows{}",
                    byte_limit(limit)
                ),
            ),
            ErrorCode::HttpRequestHeaderSectionSize(limit) => self.failed(
                TooLarge,
                format_args!(
                    "the request headers are larger than the host allows{}",
                    byte_limit(limit.map(u64::from))
                ),
            ),
            ErrorCode::HttpRequestHeaderSize(payload) => self.failed(
                TooLarge,
                format_args!(
                    "a request header is larger than the host allows{}",
                    field_detail(payload.as_ref())
                ),
            ),
            ErrorCode::HttpRequestTrailerSectionSize(limit) => self.failed(
                TooLarge,
                format_args!(
                    "the request trailers are larger than the host allows{}",
                    byte_limit(limit.map(u64::from))
                ),
            ),
            ErrorCode::HttpRequestTrailerSize(payload) => self.failed(
                TooLarge,
                format_args!(
                    "a request trailer is larger than the host allows{}",
                    field_detail(Some(&payload))
                ),
            ),
            ErrorCode::HttpResponseBodySize(limit) => self.failed(
                TooLarge,
                format_args!(
                    "the response body is larger than the host allows{}. The deployment's \
                     http_max_response_bytes limit sets the maximum",
                    byte_limit(limit)
                ),
            ),
            ErrorCode::HttpResponseHeaderSectionSize(limit) => self.failed(
                TooLarge,
                format_args!(
                    "the response headers are larger than the host allows{}",
                    byte_limit(limit.map(u64::from))
                ),
            ),
            ErrorCode::HttpResponseHeaderSize(payload) => self.failed(
                TooLarge,
                format_args!(
                    "a response header is larger than the host allows{}",
                    field_detail(Some(&payload))
                ),
            ),
            ErrorCode::HttpResponseTrailerSectionSize(limit) => self.failed(
                TooLarge,
                format_args!(
                    "the response trailers are larger than the host allows{}",
                    byte_limit(limit.map(u64::from))
                ),
            ),
            ErrorCode::HttpResponseTrailerSize(payload) => self.failed(
                TooLarge,
                format_args!(
                    "a response trailer is larger than the host allows{}",
                    field_detail(Some(&payload))
                ),
            ),

            ErrorCode::HttpResponseIncomplete => self.failed(
                Protocol,
                format_args!("the response from {authority} ended before it was complete"),
            ),
            ErrorCode::HttpResponseTransferCoding(coding) => self.failed(
                Protocol,
                format_args!(
                    "the response uses an unsupported transfer coding{}",
                    quoted(coding.as_deref())
                ),
            ),
            ErrorCode::HttpResponseContentCoding(coding) => self.failed(
                Protocol,
                format_args!(
                    "the response uses an unsupported content coding{}",
                    quoted(coding.as_deref())
                ),
            ),
            ErrorCode::HttpUpgradeFailed => self.failed(Protocol, "the protocol upgrade failed"),
            ErrorCode::HttpProtocolError => self.failed(
                Protocol,
                format_args!("{authority} broke the HTTP protocol"),
            ),
            ErrorCode::LoopDetected => self.failed(Protocol, "the host detected a request loop"),

            ErrorCode::ConfigurationError => self.failed(
                Other,
                "the host's HTTP configuration is invalid. Ask the host's operator to check it",
            ),
            ErrorCode::InternalError(detail) => match detail {
                Some(detail) => {
                    self.failed(Other, format_args!("the host could not send it: {detail}"))
                }
                None => self.failed(Other, "the host could not send it"),
            },
        }
    }
}

fn dns_detail(payload: &DnsErrorPayload) -> String {
    match (&payload.rcode, payload.info_code) {
        (Some(rcode), Some(info)) => format!(" with {rcode} (extended error {info})"),
        (Some(rcode), None) => format!(" with {rcode}"),
        (None, Some(info)) => format!(" (extended error {info})"),
        (None, None) => String::new(),
    }
}

fn tls_alert_detail(payload: &TlsAlertReceivedPayload) -> String {
    match (payload.alert_id, &payload.alert_message) {
        (Some(id), Some(message)) => format!(" {id} ({message})"),
        (Some(id), None) => format!(" {id}"),
        (None, Some(message)) => format!(" ({message})"),
        (None, None) => String::new(),
    }
}

fn field_detail(payload: Option<&FieldSizePayload>) -> String {
    let Some(payload) = payload else {
        return String::new();
    };
    match (&payload.field_name, payload.field_size) {
        (Some(name), Some(size)) => format!(" (`{name}` has {size} bytes)"),
        (Some(name), None) => format!(" (`{name}`)"),
        (None, Some(size)) => format!(" ({size} bytes)"),
        (None, None) => String::new(),
    }
}

fn byte_limit(limit: Option<u64>) -> String {
    limit.map_or_else(String::new, |limit| format!(" ({limit} bytes)"))
}

fn quoted(value: Option<&str>) -> String {
    value.map_or_else(String::new, |value| format!(" `{value}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt_on(target: &Target) -> Attempt<'_> {
        Attempt {
            method: Method::Post,
            url: "https://api.example.com/v1/chat/completions",
            target,
            deployment_id: "dep_1",
        }
    }

    fn target() -> Target {
        Target::parse("https://api.example.com/v1/chat/completions").unwrap()
    }

    #[test]
    fn denied_names_origin_and_command() {
        let target = target();

        let error = attempt_on(&target).error_for_code(ErrorCode::HttpRequestDenied);

        assert!(error.is_denied());
        assert_eq!(
            error.message(),
            "the host denied the request POST https://api.example.com/v1/chat/completions. \
             Add https://api.example.com to the deployment's allowed_hosts with \
             `crewhost config allow dep_1 https://api.example.com`"
        );
    }

    #[test]
    fn connection_refused_names_authority() {
        let target = target();

        let error = attempt_on(&target).error_for_code(ErrorCode::ConnectionRefused);

        assert_eq!(error.kind(), HttpErrorKind::Connection);
        assert_eq!(
            error.message(),
            "the request POST https://api.example.com/v1/chat/completions failed: \
             api.example.com refused the connection"
        );
    }

    #[test]
    fn timeouts_say_timed_out() {
        let target = target();
        let attempt = attempt_on(&target);

        for code in [
            ErrorCode::DnsTimeout,
            ErrorCode::ConnectionTimeout,
            ErrorCode::ConnectionReadTimeout,
            ErrorCode::ConnectionWriteTimeout,
            ErrorCode::HttpResponseTimeout,
        ] {
            let error = attempt.error_for_code(code.clone());
            assert!(error.is_timeout(), "{code:?}");
            assert!(
                error.message().starts_with(
                    "the request POST https://api.example.com/v1/chat/completions timed out: "
                ),
                "{code:?}: {error}"
            );
        }
    }

    #[test]
    fn body_size_reports_host_limit() {
        let target = target();

        let error = attempt_on(&target).error_for_code(ErrorCode::HttpResponseBodySize(Some(1024)));

        assert_eq!(error.kind(), HttpErrorKind::TooLarge);
        assert!(error.message().contains(
            "the response body is larger than the host allows (1024 bytes). The deployment's"
        ));
    }

    #[test]
    fn dns_error_includes_rcode() {
        let target = target();
        let code = ErrorCode::DnsError(DnsErrorPayload {
            rcode: Some("NXDOMAIN".to_owned()),
            info_code: None,
        });

        let error = attempt_on(&target).error_for_code(code);

        assert_eq!(error.kind(), HttpErrorKind::Connection);
        assert!(
            error
                .message()
                .ends_with("the DNS lookup of api.example.com failed with NXDOMAIN")
        );
    }

    #[test]
    fn host_policy_codes_are_denied() {
        let target = target();
        let attempt = attempt_on(&target);

        let prohibited = attempt.error_for_code(ErrorCode::DestinationIpProhibited);
        let limited = attempt.error_for_code(ErrorCode::ConnectionLimitReached);

        assert!(prohibited.is_denied());
        assert!(
            prohibited
                .message()
                .contains("api.example.com resolves to an address that the host does not allow")
        );
        assert!(limited.is_denied());
        assert!(limited.message().contains("http_max_requests"));
    }

    #[test]
    fn internal_error_keeps_host_detail() {
        let target = target();

        let error = attempt_on(&target)
            .error_for_code(ErrorCode::InternalError(Some("pool closed".to_owned())));

        assert_eq!(error.kind(), HttpErrorKind::Other);
        assert!(
            error
                .message()
                .ends_with("the host could not send it: pool closed")
        );
    }

    #[test]
    fn from_kind_matches_every_kind() {
        let target = target();
        let attempt = attempt_on(&target);

        for kind in [
            HttpErrorKind::Denied,
            HttpErrorKind::InvalidRequest,
            HttpErrorKind::Connection,
            HttpErrorKind::Timeout,
            HttpErrorKind::TooLarge,
            HttpErrorKind::Protocol,
            HttpErrorKind::Other,
        ] {
            let error = attempt.error_of_kind(kind);
            assert_eq!(error.kind(), kind);
            assert!(
                error
                    .message()
                    .contains("POST https://api.example.com/v1/chat/completions"),
                "{kind:?}: {error}"
            );
        }
    }

    #[test]
    fn http_error_becomes_failed_error() {
        let error = crate::Error::from(HttpError::new(HttpErrorKind::Timeout, "slow"));

        assert!(error.is_failed());
        assert_eq!(error.message(), "slow");
    }
}
