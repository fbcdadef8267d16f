//! Splitting a request URL into the parts that wasi:http sets one by one, and
//! the redacted form of a URL that error messages show.

use super::{HttpError, HttpErrorKind};

/// The scheme of a request URL. wasi:http also allows others, but the
/// crewhost host only sends HTTP and HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A request URL split into scheme, authority and path with query. The
/// fragment is dropped, because it is never sent to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) scheme: Scheme,
    /// `host` or `host:port`, as written in the URL.
    pub(crate) authority: String,
    /// Starts with `/`, for example `/v1/models?limit=5`.
    pub(crate) path_with_query: String,
}

impl Target {
    /// Parses an absolute `http://` or `https://` URL.
    ///
    /// Checks only what the SDK needs to split the URL and to keep secrets
    /// out of messages. The host validates the rest, such as the port and
    /// percent-encoding, and rejects an invalid URL with its own error.
    pub(crate) fn parse(url: &str) -> Result<Self, HttpError> {
        let invalid = |problem: &str| {
            HttpError::new(
                HttpErrorKind::InvalidRequest,
                format!("invalid URL `{}`: {problem}", redact(url)),
            )
        };

        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it contains whitespace or control characters"));
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(invalid("it must start with http:// or https://"));
        };
        let scheme = if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else {
            return Err(invalid("it must start with http:// or https://"));
        };

        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(authority_end);
        if authority.is_empty() {
            return Err(invalid("it has no host"));
        }
        if authority.contains('@') {
            return Err(invalid(
                "it contains user info. Send credentials in a header such as Authorization instead",
            ));
        }

        let without_fragment = rest.split('#').next().unwrap_or_default();
        let path_with_query = if without_fragment.starts_with('/') {
            without_fragment.to_owned()
        } else {
            format!("/{without_fragment}")
        };

        Ok(Self {
            scheme,
            authority: authority.to_owned(),
            path_with_query,
        })
    }

    /// Returns `scheme://authority`, the form an allow-list entry takes.
    pub(crate) fn origin(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority)
    }

    /// Returns the host without the port, for messages about DNS lookups.
    pub(crate) fn host(&self) -> &str {
        if self.authority.starts_with('[') {
            // An IPv6 literal such as `[::1]:8080` ends at the bracket.
            return self
                .authority
                .find(']')
                .map_or(self.authority.as_str(), |end| &self.authority[..=end]);
        }
        self.authority
            .rsplit_once(':')
            .map_or(self.authority.as_str(), |(host, _port)| host)
    }
}

/// Returns `url` in the form that error messages show: user info becomes
/// `***` and a query becomes `?…`, because either may contain credentials.
pub(crate) fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };

    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((_userinfo, host)) => format!("***@{host}"),
        None => authority.to_owned(),
    };
    let path = path.split('#').next().unwrap_or_default();
    let path = match path.split_once('?') {
        Some((path, _query)) => format!("{path}?…"),
        None => path.to_owned(),
    };

    match scheme {
        Some(scheme) => format!("{scheme}://{authority}{path}"),
        None => format!("{authority}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_splits_scheme_authority_and_path() {
        let target = Target::parse("https://api.example.com:8443/v1/models?limit=5#top").unwrap();

        assert_eq!(target.scheme, Scheme::Https);
        assert_eq!(target.authority, "api.example.com:8443");
        assert_eq!(target.path_with_query, "/v1/models?limit=5");
        assert_eq!(target.origin(), "https://api.example.com:8443");
        assert_eq!(target.host(), "api.example.com");
    }

    #[test]
    fn parse_defaults_path_to_slash() {
        let bare = Target::parse("HTTP://example.com").unwrap();
        let query_only = Target::parse("http://example.com?q=1").unwrap();

        assert_eq!(bare.scheme, Scheme::Http);
        assert_eq!(bare.path_with_query, "/");
        assert_eq!(query_only.path_with_query, "/?q=1");
    }

    #[test]
    fn parse_keeps_ipv6_literal() {
        let target = Target::parse("http://[::1]:8080/health").unwrap();

        assert_eq!(target.authority, "[::1]:8080");
        assert_eq!(target.host(), "[::1]");
    }

    #[test]
    fn parse_rejects_bad_urls() {
        let cases = [
            ("example.com/path", "it must start with http:// or https://"),
            (
                "ftp://example.com/",
                "it must start with http:// or https://",
            ),
            ("https:///path", "it has no host"),
            ("https://exa mple.com/", "whitespace"),
        ];

        for (url, problem) in cases {
            let error = Target::parse(url).unwrap_err();
            assert_eq!(error.kind(), HttpErrorKind::InvalidRequest, "{url}");
            assert!(error.message().contains(problem), "{url}: {error}");
        }
    }

    #[test]
    fn parse_rejects_user_info_without_showing_it() {
        let error = Target::parse("https://user:s3cret@example.com/v1?key=abc").unwrap_err();

        assert_eq!(
            error.message(),
            "invalid URL `https://***@example.com/v1?…`: it contains user info. \
             Send credentials in a header such as Authorization instead"
        );
    }

    #[test]
    fn redact_hides_user_info_and_query() {
        assert_eq!(redact("https://a:b@host/p?key=1#f"), "https://***@host/p?…");
        assert_eq!(redact("https://host/p"), "https://host/p");
        assert_eq!(redact("host?x"), "host?…");
    }
}
