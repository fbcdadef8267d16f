//! HTTP without a network: canned responses, a handler closure and the
//! record of every request a crew sent.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use super::TestRun;
use crate::http::{
    Attempt, HttpError, HttpErrorKind, Limits, Method, Request, Response, check_response_size,
};

/// A closure that returns the reply to a request, shared by clones of a
/// [`TestRun`].
type Handler = Rc<RefCell<dyn FnMut(&Request) -> Result<Response, HttpErrorKind>>>;

/// One queued reply for the next request with this method and URL.
#[derive(Debug, Clone)]
struct Canned {
    method: Method,
    url: String,
    reply: Result<Response, HttpErrorKind>,
}

/// The HTTP side of the test harness.
#[derive(Clone, Default)]
pub(crate) struct HttpMock {
    canned: Vec<Canned>,
    handler: Option<Handler>,
    /// Every request that reached the mock, in order.
    pub(crate) requests: Vec<Request>,
}

impl HttpMock {
    /// Records `request` and returns the first queued reply for its method
    /// and URL, else the handler's reply, else a denial.
    pub(crate) fn reply(
        &mut self,
        request: Request,
        limits: Limits,
        attempt: &Attempt<'_>,
    ) -> Result<Response, HttpError> {
        let queued = self
            .canned
            .iter()
            .position(|canned| canned.method == request.method() && canned.url == request.url());
        let reply = match (queued, &self.handler) {
            (Some(index), _) => self.canned.remove(index).reply,
            (None, Some(handler)) => (handler.borrow_mut())(&request),
            (None, None) => {
                let denied = attempt.denied();
                self.requests.push(request);
                return Err(HttpError::new(
                    HttpErrorKind::Denied,
                    format!("{denied} (the TestRun has no canned response or handler for it)"),
                ));
            }
        };

        let url = request.url().to_owned();
        self.requests.push(request);
        match reply {
            Ok(response) => {
                check_response_size(response.body().len() as u64, limits, attempt)?;
                Ok(response.for_url(&url))
            }
            Err(kind) => Err(attempt.error_of_kind(kind)),
        }
    }
}

impl fmt::Debug for HttpMock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpMock")
            .field("canned", &self.canned)
            .field("handler", &self.handler.as_ref().map(|_| "FnMut"))
            .field("requests", &self.requests)
            .finish()
    }
}

impl TestRun {
    /// Queues `response` as the reply to the next request with `method` to
    /// exactly `url`.
    ///
    /// Each queued reply is used once. Replies queued for the same method
    /// and URL are used in the order they were queued, so a test can give
    /// two calls to one endpoint different responses. Queued replies come
    /// before the [`http`](TestRun::http) handler.
    pub fn http_response(
        mut self,
        method: Method,
        url: impl Into<String>,
        response: Response,
    ) -> Self {
        self.http.canned.push(Canned {
            method,
            url: url.into(),
            reply: Ok(response),
        });
        self
    }

    /// Queues a failure of `kind` as the reply to the next request with
    /// `method` to exactly `url`. Its message reads like the client's message
    /// for the same failure from the host. It is used once, like an
    /// [`http_response`](TestRun::http_response).
    pub fn http_failure(
        mut self,
        method: Method,
        url: impl Into<String>,
        kind: HttpErrorKind,
    ) -> Self {
        self.http.canned.push(Canned {
            method,
            url: url.into(),
            reply: Err(kind),
        });
        self
    }

    /// Sets `handler` to produce the reply to every request without a queued
    /// reply. An `Err(kind)` fails the request with an error of that kind.
    ///
    /// Clones of the `TestRun` share the handler and its state.
    ///
    /// # Examples
    ///
    /// ```
    /// use crewhost_guest::http::{HttpErrorKind, Response};
    /// use crewhost_guest::testing::TestRun;
    /// # use crewhost_guest::{Context, Crew, Error};
    /// # use serde_json::{Value, json};
    /// # struct Fetch;
    /// # impl Crew for Fetch {
    /// #     type Input = String;
    /// #     type Output = u16;
    /// #     type Values = Value;
    /// #     fn run(ctx: &Context, url: String, _values: &mut Value) -> Result<u16, Error> {
    /// #         Ok(ctx.http().get(&url)?.status())
    /// #     }
    /// # }
    ///
    /// let run = TestRun::new(json!("https://slow.example.com/")).http(|request| {
    ///     if request.url().contains("slow") {
    ///         Err(HttpErrorKind::Timeout)
    ///     } else {
    ///         Ok(Response::new(204))
    ///     }
    /// });
    ///
    /// let outcome = run.run::<Fetch>();
    /// assert!(outcome.expect_error().message().contains("timed out"));
    /// ```
    pub fn http<F>(mut self, handler: F) -> Self
    where
        F: FnMut(&Request) -> Result<Response, HttpErrorKind> + 'static,
    {
        self.http.handler = Some(Rc::new(RefCell::new(handler)));
        self
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use serde_json::{Value, json};

    use crate::testing::TestRun;
    use crate::{Context, Crew, Error};

    use super::*;

    const URL: &str = "https://api.example.com/v1/items";

    /// Sends the requests its input describes and returns each status or
    /// error message.
    struct Caller;

    impl Crew for Caller {
        type Input = Vec<Value>;
        type Output = Vec<Value>;
        type Values = Value;

        fn run(ctx: &Context, calls: Vec<Value>, _values: &mut Value) -> Result<Vec<Value>, Error> {
            let client = ctx.http();
            let results = calls
                .iter()
                .map(|call| {
                    let url = call["url"].as_str().unwrap_or(URL);
                    let sent = match call["method"].as_str() {
                        Some("POST") => client.post_json(url, &call["body"]),
                        _ => client
                            .request(Method::Get, url)
                            .header("X-Trace", "t1")
                            .send(),
                    };
                    match sent {
                        Ok(response) => {
                            json!({ "status": response.status(), "body": response.text().unwrap() })
                        }
                        Err(error) => json!({ "error": error.message() }),
                    }
                })
                .collect();
            Ok(results)
        }
    }

    #[test]
    fn canned_responses_reply_in_order() {
        let outcome = TestRun::new(json!([{}, {}]))
            .http_response(Method::Get, URL, Response::new(200).with_body("first"))
            .http_response(Method::Get, URL, Response::new(503).with_body("second"))
            .run::<Caller>();

        assert_eq!(
            outcome.expect_output(),
            &json!([
                { "status": 200, "body": "first" },
                { "status": 503, "body": "second" },
            ])
        );
    }

    #[test]
    fn unanswered_request_is_denied() {
        let outcome = TestRun::new(json!([{ "method": "POST", "body": { "a": 1 } }]))
            .http_response(Method::Get, URL, Response::new(200))
            .run::<Caller>();

        assert_eq!(
            outcome.expect_output()[0]["error"],
            "the host denied the request POST https://api.example.com/v1/items. \
             Add https://api.example.com to the deployment's allowed_hosts with \
             `crewhost config allow dep_test https://api.example.com` \
             (the TestRun has no canned response or handler for it)"
        );
        assert_eq!(outcome.http_requests.len(), 1);
    }

    #[test]
    fn requests_are_recorded_with_headers_and_body() {
        let outcome = TestRun::new(json!([{}, { "method": "POST", "body": { "a": 1 } }]))
            .http(|_| Ok(Response::new(204)))
            .run::<Caller>();

        let requests = &outcome.http_requests;
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].method(), Method::Get);
        assert_eq!(requests[0].url(), URL);
        assert_eq!(requests[0].header("x-trace"), Some("t1"));
        assert!(requests[0].body().is_empty());
        assert_eq!(requests[1].method(), Method::Post);
        assert_eq!(requests[1].header("Content-Type"), Some("application/json"));
        assert_eq!(requests[1].json::<Value>().unwrap(), json!({ "a": 1 }));
    }

    #[test]
    fn queued_replies_come_before_handler() {
        let handled = Rc::new(Cell::new(0));
        let counter = Rc::clone(&handled);

        let outcome = TestRun::new(json!([{}, {}]))
            .http_response(Method::Get, URL, Response::new(200).with_body("queued"))
            .http(move |_| {
                counter.set(counter.get() + 1);
                Ok(Response::new(200).with_body("handled"))
            })
            .run::<Caller>();

        assert_eq!(outcome.expect_output()[0]["body"], "queued");
        assert_eq!(outcome.expect_output()[1]["body"], "handled");
        assert_eq!(handled.get(), 1);
    }

    #[test]
    fn http_failure_reads_like_host_error() {
        let outcome = TestRun::new(json!([{}]))
            .http_failure(Method::Get, URL, HttpErrorKind::Connection)
            .run::<Caller>();

        assert_eq!(
            outcome.expect_output()[0]["error"],
            "the request GET https://api.example.com/v1/items failed: \
             the connection to api.example.com failed"
        );
    }

    #[test]
    fn response_over_limit_is_too_large() {
        struct Limited;

        impl Crew for Limited {
            type Input = Value;
            type Output = ();
            type Values = Value;

            fn run(ctx: &Context, _input: Value, _values: &mut Value) -> Result<(), Error> {
                ctx.http()
                    .request(Method::Get, URL)
                    .max_response_bytes(4)
                    .send()?;
                Ok(())
            }
        }

        let outcome = TestRun::new(json!(null))
            .http_response(Method::Get, URL, Response::new(200).with_body("12345"))
            .run::<Limited>();

        assert_eq!(
            outcome.expect_error().message(),
            "the request GET https://api.example.com/v1/items failed: the response body is \
             longer than the limit of 4 bytes. Raise the limit with `RequestBuilder::max_response_bytes`"
        );
    }

    #[test]
    fn invalid_url_never_reaches_mock() {
        let outcome = TestRun::new(json!([{ "url": "api.example.com/v1" }]))
            .http(|_| Ok(Response::new(200)))
            .run::<Caller>();

        assert_eq!(
            outcome.expect_output()[0]["error"],
            "invalid URL `api.example.com/v1`: it must start with http:// or https://"
        );
        assert!(outcome.http_requests.is_empty());
    }

    #[test]
    fn response_url_is_request_url() {
        struct Url;

        impl Crew for Url {
            type Input = Value;
            type Output = String;
            type Values = Value;

            fn run(ctx: &Context, _input: Value, _values: &mut Value) -> Result<String, Error> {
                Ok(ctx.http().get(URL)?.url().to_owned())
            }
        }

        let outcome = TestRun::new(json!(null))
            .http_response(Method::Get, URL, Response::new(200))
            .run::<Url>();

        assert_eq!(outcome.expect_output(), URL);
    }
}
