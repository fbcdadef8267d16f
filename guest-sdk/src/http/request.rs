//! The parts of an HTTP exchange that both directions share: the method, the
//! headers and the request as the transport sends it.

use std::fmt;
use std::str::Utf8Error;

use serde::de::DeserializeOwned;

/// An HTTP request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
}

impl Method {
    /// Returns the method's name in upper case, as HTTP spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The header fields of a request or a response, in the order they were
/// added.
///
/// Names are stored in lower case and compared without regard to case, so
/// `headers.get("Content-Type")` finds `content-type`. A name may occur more
/// than once. Response header values that are not valid UTF-8 are decoded
/// lossily, with U+FFFD in place of the invalid bytes.
///
/// The `Debug` output shows `***` in place of the values of headers that
/// usually carry credentials, such as `authorization` and `cookie`, so a
/// request printed in a log does not leak them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// Creates an empty set of headers.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the first value of the header `name`, or `None` when it is
    /// absent.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }

    /// Returns every value of the header `name`, in order.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.entries
            .iter()
            .filter(move |(entry_name, _)| entry_name.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Returns true when the header `name` occurs at least once.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Returns every `(name, value)` pair in order, with names in lower case.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.entries
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Returns how many `(name, value)` pairs there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns true when there are no headers.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a value for `name` after any existing ones.
    pub(crate) fn append(&mut self, name: &str, value: impl Into<String>) {
        self.entries.push((name.to_ascii_lowercase(), value.into()));
    }

    /// Replaces every value of `name` with `value`.
    pub(crate) fn set(&mut self, name: &str, value: impl Into<String>) {
        self.entries
            .retain(|(entry_name, _)| !entry_name.eq_ignore_ascii_case(name));
        self.append(name, value);
    }
}

/// Headers whose values `Debug` hides, in lower case.
const CREDENTIAL_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
];

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = self.entries.iter().map(|(name, value)| {
            let value = if CREDENTIAL_HEADERS.contains(&name.as_str()) {
                "***"
            } else {
                value.as_str()
            };
            (name, value)
        });
        f.debug_list().entries(masked).finish()
    }
}

/// An HTTP request as the client sends it.
///
/// Crews build requests with [`Client`](super::Client) and
/// [`RequestBuilder`](super::RequestBuilder). A `Request` is what a
/// [`TestRun`](crate::testing::TestRun) handler receives and what
/// [`Outcome::http_requests`](crate::testing::Outcome::http_requests)
/// records, so tests can check what a crew sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: Headers,
    pub(crate) body: Vec<u8>,
}

impl Request {
    /// Returns the request method.
    #[must_use]
    pub fn method(&self) -> Method {
        self.method
    }

    /// Returns the URL as the crew passed it, including any query and fragment.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Returns the headers that the crew set. The component's transport also
    /// adds `content-length`, which is not listed here.
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

    /// Returns the body bytes, empty when the request has no body.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Returns the body as UTF-8 text.
    ///
    /// # Errors
    ///
    /// Returns the UTF-8 error when the body is not valid UTF-8.
    pub fn text(&self) -> Result<&str, Utf8Error> {
        std::str::from_utf8(&self.body)
    }

    /// Decodes the body as JSON into `T`.
    ///
    /// # Errors
    ///
    /// Returns serde's error when the body is not JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_slice(&self.body)
    }
}

/// Checks a request header name and value. The host checks them as well,
/// but a check here gives the same error under the test harness and keeps
/// the value, which may be a credential, out of the message.
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), String> {
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(format!(
            "invalid header name `{}`: a name must be non-empty and contain only letters, \
             digits and !#$%&'*+-.^_`|~",
            name.escape_debug()
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "invalid value for header `{name}`: it contains a line break or another control character"
        ));
    }
    Ok(())
}

/// Returns true for the bytes that RFC 9110 allows in a token, the syntax of
/// a header name.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_compare_names_without_case() {
        let mut headers = Headers::new();
        headers.append("Content-Type", "application/json");
        headers.append("X-Tag", "a");
        headers.append("x-tag", "b");

        assert_eq!(headers.get("content-type"), Some("application/json"));
        assert_eq!(headers.get("CONTENT-TYPE"), Some("application/json"));
        assert_eq!(headers.get_all("x-tag").collect::<Vec<_>>(), ["a", "b"]);
        assert!(!headers.contains("accept"));
        assert_eq!(
            headers.iter().next(),
            Some(("content-type", "application/json"))
        );
        assert_eq!(headers.len(), 3);
    }

    #[test]
    fn headers_set_replaces_every_value() {
        let mut headers = Headers::new();
        headers.append("x-tag", "a");
        headers.append("X-Tag", "b");

        headers.set("X-TAG", "c");

        assert_eq!(headers.get_all("x-tag").collect::<Vec<_>>(), ["c"]);
    }

    #[test]
    fn headers_debug_hides_credentials() {
        let mut headers = Headers::new();
        headers.append("Authorization", "Bearer sk-1");
        headers.append("Accept", "application/json");

        let debug_text = format!("{headers:?}");

        assert!(!debug_text.contains("sk-1"), "{debug_text}");
        assert!(
            debug_text.contains(r#"("authorization", "***")"#),
            "{debug_text}"
        );
        assert!(
            debug_text.contains(r#"("accept", "application/json")"#),
            "{debug_text}"
        );
    }

    #[test]
    fn check_header_accepts_tokens() {
        assert_eq!(check_header("X-Request-Id", "abc 123\tdef"), Ok(()));
    }

    #[test]
    fn check_header_rejects_bad_names() {
        for name in ["", "Bad Name", "bad:name", "naïve"] {
            let error = check_header(name, "v").unwrap_err();
            assert!(error.starts_with("invalid header name"), "{name}: {error}");
        }
    }

    #[test]
    fn check_header_hides_bad_value() {
        let error = check_header("authorization", "Bearer sk-1\r\nx: y").unwrap_err();

        assert_eq!(
            error,
            "invalid value for header `authorization`: it contains a line break or another control character"
        );
    }

    #[test]
    fn request_decodes_json_body() {
        let request = Request {
            method: Method::Post,
            url: "https://example.com/".to_owned(),
            headers: Headers::new(),
            body: br#"{"n": 1}"#.to_vec(),
        };

        let body: serde_json::Value = request.json().unwrap();

        assert_eq!(body["n"], 1);
        assert_eq!(request.text().unwrap(), r#"{"n": 1}"#);
    }
}
