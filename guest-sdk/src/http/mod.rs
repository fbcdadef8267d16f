//! A blocking HTTP client for crews, over the host's wasi:http.
//!
//! [`Context::http`](crate::Context::http) returns a [`Client`]. Each call
//! sends one request and blocks until the whole response body is read:
//! [`Client::get`], [`Client::post_json`], or [`Client::request`] with a
//! [`RequestBuilder`] for other methods, headers, bodies and limits.
//!
//! # The host decides where requests go
//!
//! Inside a component the client calls the standard
//! `wasi:http/outgoing-handler` interface (WASI 0.2). The crewhost host sends
//! a request only when the URL's origin, such as `https://api.example.com`,
//! is in the deployment's `allowed_hosts`:
//!
//! ```text
//! crewhost config allow DEPLOYMENT https://api.example.com
//! ```
//!
//! Other requests fail with [`HttpErrorKind::Denied`] and a message that
//! gives this command.
//!
//! The linker drops the client's code from a crew that never calls it, so
//! such a crew's component does not import wasi:http and also runs on hosts
//! without it.
//!
//! # Errors and limits
//!
//! A response with any status, 404 and 500 included, is a [`Response`]. An
//! [`HttpError`] means that no response arrived: an invalid request, a
//! denied request, a failed connection, a timeout or a body over a limit.
//! The host reports most of these as wasi:http `error-code` values, which
//! the client maps to an [`HttpErrorKind`] and a message that names the
//! request and the next step.
//!
//! Each request has a timeout, [`DEFAULT_TIMEOUT`] unless the crew sets
//! one, and a response size limit, [`DEFAULT_MAX_RESPONSE_BYTES`] unless the
//! crew sets one. The host may apply lower limits of its own.
//!
//! # Testing
//!
//! Under [`TestRun`](crate::testing::TestRun) no request leaves the test.
//! [`TestRun::http_response`](crate::testing::TestRun::http_response) queues
//! a canned response for a method and URL,
//! [`TestRun::http`](crate::testing::TestRun::http) answers with a closure,
//! and [`Outcome::http_requests`](crate::testing::Outcome::http_requests)
//! records every request the crew sent. A request that nothing answers fails
//! as denied, like a request to an origin outside `allowed_hosts`.
//!
//! # Examples
//!
//! ```
//! use crewhost_guest::http::{Method, Response};
//! use crewhost_guest::testing::TestRun;
//! use crewhost_guest::{Context, Crew, Error};
//! use serde_json::{Value, json};
//!
//! /// Looks up the weather for a city.
//! struct Weather;
//!
//! impl Crew for Weather {
//!     type Input = String;
//!     type Output = Value;
//!     type Values = Value;
//!
//!     fn run(ctx: &Context, city: String, _values: &mut Value) -> Result<Value, Error> {
//!         let url = format!("https://weather.example.com/v1/now?city={city}");
//!         let response = ctx.http().get(&url)?;
//!         if !response.is_success() {
//!             return Err(Error::failed(format!("the weather service returned HTTP {}", response.status())));
//!         }
//!         Ok(response.json()?)
//!     }
//! }
//!
//! let outcome = TestRun::new(json!("Oslo"))
//!     .http_response(
//!         Method::Get,
//!         "https://weather.example.com/v1/now?city=Oslo",
//!         Response::new(200).with_json(&json!({ "celsius": 4 })),
//!     )
//!     .run::<Weather>();
//!
//! assert_eq!(outcome.expect_output(), &json!({ "celsius": 4 }));
//! assert_eq!(outcome.http_requests[0].method(), Method::Get);
//!
//! // Nothing answers a request for another city, so it fails as denied.
//! let outcome = TestRun::new(json!("Bergen")).run::<Weather>();
//! assert!(outcome.expect_error().message().starts_with(
//!     "the host denied the request GET https://weather.example.com/v1/now?…"
//! ));
//! ```

mod client;
mod error;
mod request;
mod response;
mod transport;
mod url;

pub use client::{Client, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, RequestBuilder};
pub use error::{HttpError, HttpErrorKind};
pub use request::{Headers, Method, Request};
pub use response::Response;

pub(crate) use client::{Limits, check_response_size};
pub(crate) use error::Attempt;
pub(crate) use url::{Target, redact};

/// Sends a request through the host. Only a context inside a component
/// calls it.
pub(crate) fn send_to_host(
    request: &Request,
    target: &Target,
    limits: Limits,
    attempt: &Attempt<'_>,
) -> Result<Response, HttpError> {
    transport::send(request, target, limits, attempt)
}
