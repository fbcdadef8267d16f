//! Outbound HTTP for crews: the standard `wasi:http/outgoing-handler`, with
//! every request checked against the deployment's allow-list.
//!
//! A request goes out only when its scheme, host and port match an
//! `allowed_hosts` entry. The host name is then resolved, and an address in
//! a loopback, private, link-local or other special range is rejected unless
//! an entry names that address or its range explicitly. So an allowed name
//! that resolves to 127.0.0.1 or 169.254.169.254 cannot reach internal
//! services. Redirects are returned to the guest as they are, and following
//! one is a new request that is checked again.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};
use serde_json::json;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::events::RunEvents;

/// How long a name lookup may take.
const DNS_TIMEOUT: Duration = Duration::from_secs(10);

/// Error for an invalid `allowed_hosts` entry.
#[derive(Debug, thiserror::Error)]
#[error(
    "allowed_hosts entry {entry:?} is invalid: {reason}; use scheme://host[:port] with the scheme http or \
     https, such as https://api.openai.com, https://*.example.com or http://10.0.0.0/8:8080"
)]
pub struct AllowEntryError {
    entry: String,
    reason: &'static str,
}

/// The host part of an allow-list entry.
#[derive(Debug, Clone, PartialEq)]
enum HostPattern {
    /// A host name, lowercase.
    Name(String),
    /// `*.example.com`: any name below `example.com`, stored as `.example.com`.
    Subdomains(String),
    /// An address, or a range of addresses with its prefix length.
    Range(IpAddr, u8),
}

/// One parsed `allowed_hosts` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowEntry {
    https: bool,
    host: HostPattern,
    /// The port; the scheme's default port when the entry gives none.
    port: u16,
}

impl AllowEntry {
    /// Parses `scheme://host[:port]`, where host is a name, `*.name`, an
    /// address (`[..]` for IPv6) or a range in CIDR form.
    ///
    /// # Errors
    ///
    /// An [`AllowEntryError`] that names the entry and the problem.
    pub fn parse(entry: &str) -> Result<Self, AllowEntryError> {
        let error = |reason| AllowEntryError { entry: entry.to_string(), reason };
        let (scheme, rest) = entry.split_once("://").ok_or_else(|| error("it has no scheme"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return Err(error("the scheme must be http or https")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() || rest.contains(['?', '#', '@']) {
            return Err(error("it must be only scheme, host and port"));
        }

        let (host, port) = split_host_port(rest).ok_or_else(|| error("the port is not a number from 1 to 65535"))?;
        let port = port.unwrap_or(if https { 443 } else { 80 });
        let host = parse_host_pattern(host).ok_or_else(|| error("the host is not a valid name, address or range"))?;
        Ok(Self { https, host, port })
    }

    fn matches_request(&self, https: bool, host: &str, port: u16) -> bool {
        if self.https != https || self.port != port {
            return false;
        }
        match &self.host {
            HostPattern::Name(name) => name == host,
            HostPattern::Subdomains(suffix) => host.ends_with(suffix.as_str()) && host.len() > suffix.len(),
            HostPattern::Range(network, prefix) => host.parse::<IpAddr>().is_ok_and(|ip| in_range(ip, *network, *prefix)),
        }
    }

    /// Returns true when the entry names `ip` or a range that contains it.
    fn names_address(&self, https: bool, port: u16, ip: IpAddr) -> bool {
        self.https == https && self.port == port && matches!(self.host, HostPattern::Range(network, prefix) if in_range(ip, network, prefix))
    }
}

/// Splits `host[:port]`, with IPv6 addresses in brackets. `None` when the
/// port is not a valid number.
fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let end = rest.find(']')?;
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return None,
        };
        (&rest[..end], port)
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok().filter(|port| *port > 0)?),
        None => None,
    };
    Some((host, port))
}

fn parse_host_pattern(host: &str) -> Option<HostPattern> {
    if let Some((address, prefix)) = host.split_once('/') {
        let ip: IpAddr = address.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        return (prefix <= max).then_some(HostPattern::Range(ip, prefix));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        let full = if ip.is_ipv4() { 32 } else { 128 };
        return Some(HostPattern::Range(ip, full));
    }
    let host = host.to_ascii_lowercase();
    let (pattern, name) = match host.strip_prefix("*.") {
        Some(name) => (HostPattern::Subdomains(format!(".{name}")), name.to_string()),
        None => (HostPattern::Name(host.clone()), host),
    };
    let valid = !name.is_empty()
        && name.split('.').all(|label| !label.is_empty() && label.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-'));
    valid.then_some(pattern)
}

fn in_range(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

/// Names the special range an address is in, or `None` for a public one.
fn special_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => special_v4(ip),
        IpAddr::V6(ip) => {
            if let Some(mapped) = ip.to_ipv4_mapped() {
                return special_v4(mapped);
            }
            let first = ip.segments()[0];
            if ip.is_loopback() {
                Some("loopback")
            } else if ip.is_unspecified() {
                Some("unspecified")
            } else if ip.is_multicast() {
                Some("multicast")
            } else if first & 0xfe00 == 0xfc00 {
                Some("unique local (private)")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
                Some("documentation")
            } else if first == 0x0064 && ip.segments()[1] == 0xff9b {
                Some("NAT64")
            } else {
                None
            }
        }
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_broadcast() || a >= 240 {
        Some("reserved")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_documentation() {
        Some("documentation")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared address space (carrier-grade NAT)")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        Some("IETF protocol assignments")
    } else {
        None
    }
}

/// The outbound HTTP rules of one run.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    pub allowed_hosts: Vec<AllowEntry>,
    /// Time limit of connecting and of waiting for each part of a response.
    pub timeout: Duration,
    /// Maximum size of one response body, in bytes.
    pub max_response_bytes: u64,
    /// Maximum number of requests one run may send.
    pub max_requests: u64,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self { allowed_hosts: Vec::new(), timeout: Duration::from_secs(30), max_response_bytes: 16 * 1024 * 1024, max_requests: 100 }
    }
}

/// The `wasi:http` hooks of one run: the allow-list, the limits and the
/// events that report what they refused.
pub(crate) struct HttpHooks {
    policy: Arc<HttpPolicy>,
    events: Arc<RunEvents>,
    sent: Arc<AtomicU64>,
}

impl HttpHooks {
    pub(crate) fn new(policy: Arc<HttpPolicy>, events: Arc<RunEvents>) -> Self {
        Self { policy, events, sent: Arc::default() }
    }
}

/// Formats a URL for events, without user information, which may contain a
/// password.
fn display_url(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("https");
    let host = uri.host().unwrap_or("");
    let port = uri.port_u16().map(|port| format!(":{port}")).unwrap_or_default();
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    format!("{scheme}://{host}{port}{path}")
}

type SendResult = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), HttpError>> + Send>), HttpError>;

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        drop(fut);
        let (policy, events, sent) = (self.policy.clone(), self.events.clone(), self.sent.clone());
        Box::new(async move { send_checked(request, options, &policy, events, &sent).await })
    }
}

/// Records a refused request as an event; a full event log only means the
/// event is lost, the request is refused either way.
fn report(events: &RunEvents, kind: &str, data: serde_json::Value) {
    let size = data.to_string().len();
    let _ = events.append(kind, data, size);
}

async fn send_checked(
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    policy: &HttpPolicy,
    events: Arc<RunEvents>,
    sent: &AtomicU64,
) -> SendResult {
    let url = display_url(request.uri());
    let count = sent.fetch_add(1, Ordering::SeqCst) + 1;
    if count > policy.max_requests {
        report(&events, "http.limit_exceeded", json!({ "limit": "http_max_requests", "value": policy.max_requests, "url": url }));
        return Err(HttpError::ConnectionLimitReached);
    }

    let https = request.uri().scheme_str() == Some("https");
    let host = request.uri().host().unwrap_or("").trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let port = request.uri().port_u16().unwrap_or(if https { 443 } else { 80 });
    if !policy.allowed_hosts.iter().any(|entry| entry.matches_request(https, &host, port)) {
        report(&events, "capability.denied", json!({ "capability": "http", "url": url, "reason": "the host is not in the deployment's allowed_hosts" }));
        return Err(HttpError::HttpRequestDenied);
    }

    let address = resolve_checked(&host, port, https, policy, &events, &url).await?;
    if !https {
        // Connect to the address that was checked, not to a second lookup
        // of the name; the Host header already carries the name.
        let path = request.uri().path_and_query().map_or("/", |path| path.as_str()).to_string();
        *request.uri_mut() = http::Uri::builder()
            .scheme("http")
            .authority(address.to_string())
            .path_and_query(path)
            .build()
            .map_err(|_| HttpError::HttpRequestUriInvalid)?;
    }
    // NOTE: for https the TLS connection needs the name, so wasmtime-wasi-http
    // resolves it again. A DNS answer that changes between the two lookups
    // could still reach an address this check did not see.

    let options = RequestOptions {
        connect_timeout: Some(options.and_then(|options| options.connect_timeout).unwrap_or(policy.timeout).min(policy.timeout)),
        first_byte_timeout: Some(options.and_then(|options| options.first_byte_timeout).unwrap_or(policy.timeout).min(policy.timeout)),
        between_bytes_timeout: Some(options.and_then(|options| options.between_bytes_timeout).unwrap_or(policy.timeout).min(policy.timeout)),
    };
    let sent = wasmtime_wasi_http::default_send_request(request, Some(options)).await;
    let (response, io) = match sent {
        Ok(sent) => sent,
        Err(error) => {
            if is_timeout(&error) {
                report_timeout(&events, policy.timeout, &url);
            }
            return Err(error);
        }
    };
    let limit = policy.max_response_bytes;
    let response = response.map(|body| LimitedBody { inner: body.boxed_unsync(), limit, timeout: policy.timeout, seen: 0, events, url }.boxed_unsync());
    Ok((response, Box::new(io)))
}

fn is_timeout(error: &HttpError) -> bool {
    matches!(
        error,
        HttpError::ConnectionTimeout | HttpError::ConnectionReadTimeout | HttpError::ConnectionWriteTimeout | HttpError::HttpResponseTimeout
    )
}

fn report_timeout(events: &RunEvents, timeout: Duration, url: &str) {
    report(events, "http.limit_exceeded", json!({ "limit": "http_timeout_secs", "value": timeout.as_secs(), "url": url }));
}

/// Resolves `host` and returns the first address the policy accepts.
async fn resolve_checked(
    host: &str,
    port: u16,
    https: bool,
    policy: &HttpPolicy,
    events: &RunEvents,
    url: &str,
) -> Result<SocketAddr, HttpError> {
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => match tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(found)) => found.collect(),
            Ok(Err(_)) => return Err(HttpError::DestinationNotFound),
            Err(_) => return Err(HttpError::DnsTimeout),
        },
    };

    let mut refused = None;
    for address in &addresses {
        match special_range(address.ip()) {
            Some(range) if !policy.allowed_hosts.iter().any(|entry| entry.names_address(https, port, address.ip())) => {
                refused.get_or_insert((address.ip(), range));
            }
            _ => return Ok(*address),
        }
    }
    let (ip, range) = refused.ok_or(HttpError::DestinationNotFound)?;
    let reason = format!("{host} resolves to {ip}, a {range} address; allow it only with an entry that names that address or range");
    report(events, "capability.denied", json!({ "capability": "http", "url": url, "reason": reason }));
    Err(HttpError::DestinationIpProhibited)
}

/// A response body that fails once it passes the size limit.
struct LimitedBody {
    inner: WasiBody,
    limit: u64,
    timeout: Duration,
    seen: u64,
    events: Arc<RunEvents>,
    url: String,
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(error))) => {
                if is_timeout(&error) {
                    report_timeout(&self.events, self.timeout, &self.url);
                }
                return Poll::Ready(Some(Err(error)));
            }
            other => return other,
        };
        if let Some(data) = frame.data_ref() {
            self.seen += data.len() as u64;
            if self.seen > self.limit {
                let (limit, url) = (self.limit, self.url.clone());
                report(&self.events, "http.limit_exceeded", json!({ "limit": "http_max_response_bytes", "value": limit, "url": url }));
                return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(limit)))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_match() {
        let api = AllowEntry::parse("https://api.openai.com").unwrap();
        let any = AllowEntry::parse("https://*.example.com").unwrap();
        let local = AllowEntry::parse("http://127.0.0.1:8080").unwrap();
        let range = AllowEntry::parse("http://10.0.0.0/8:9000").unwrap();

        assert!(api.matches_request(true, "api.openai.com", 443));
        assert!(!api.matches_request(false, "api.openai.com", 80), "the scheme must match");
        assert!(!api.matches_request(true, "api.openai.com", 8443), "the port must match");
        assert!(any.matches_request(true, "a.b.example.com", 443));
        assert!(!any.matches_request(true, "example.com", 443), "*. means subdomains only");
        assert!(!any.matches_request(true, "badexample.com", 443));
        assert!(local.matches_request(false, "127.0.0.1", 8080));
        assert!(local.names_address(false, 8080, "127.0.0.1".parse().unwrap()));
        assert!(range.names_address(false, 9000, "10.1.2.3".parse().unwrap()));
        assert!(!range.names_address(false, 9000, "11.0.0.1".parse().unwrap()));
    }

    #[test]
    fn invalid_entries_are_rejected() {
        for entry in ["api.openai.com", "ftp://host", "https://", "https://host:0", "https://host:x", "https://user@host", "https://host/path?q"] {
            assert!(AllowEntry::parse(entry).is_err(), "{entry} should be rejected");
        }
    }

    #[test]
    fn special_ranges_are_named() {
        for (ip, range) in [
            ("127.0.0.1", Some("loopback")),
            ("10.2.3.4", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("100.64.0.1", Some("shared address space (carrier-grade NAT)")),
            ("::1", Some("loopback")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("fd00::1", Some("unique local (private)")),
            ("93.184.216.34", None),
        ] {
            assert_eq!(special_range(ip.parse().unwrap()), range, "{ip}");
        }
    }
}
