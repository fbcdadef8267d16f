//! Chat completions from any OpenAI-compatible server.
//!
//! [`Llm::from_config`] reads three deployment settings and
//! [`Llm::chat`] sends one `POST {LLM_BASE_URL}/chat/completions` request
//! per call through the crew's [HTTP client](crate::http):
//!
//! | setting | meaning |
//! |---|---|
//! | `LLM_BASE_URL` | the API's base URL, such as `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`; a trailing slash is dropped |
//! | `LLM_MODEL` | the model name the server expects, such as `gpt-4o-mini` |
//! | `LLM_API_KEY` | the key, sent as `Authorization: Bearer <key>`; store it as a secret |
//!
//! ```text
//! crewhost config set DEPLOYMENT LLM_BASE_URL=https://api.openai.com/v1
//! crewhost config set DEPLOYMENT LLM_MODEL=gpt-4o-mini
//! crewhost config set DEPLOYMENT LLM_API_KEY=sk-... --secret
//! crewhost config allow DEPLOYMENT https://api.openai.com
//! ```
//!
//! The last line adds the server's origin to the deployment's
//! `allowed_hosts`. Without it the host denies the requests.
//!
//! # Events
//!
//! Each call emits one [`CALL_EVENT`] (`llm.call`) event once the call ends,
//! also when it fails:
//!
//! ```json
//! {"model": "gpt-4o-mini", "duration_ms": 812, "prompt_tokens": 31,
//!  "completion_tokens": 120, "total_tokens": 151, "status": 200}
//! ```
//!
//! `status` is the HTTP status, or `null` when no response arrived. Token
//! counts are zero when the server reports none. The event never contains
//! the key or the base URL.
//!
//! # Examples
//!
//! ```
//! use crewhost_guest::http::{Method, Response};
//! use crewhost_guest::llm::{Llm, Message};
//! use crewhost_guest::testing::TestRun;
//! use crewhost_guest::{Context, Crew, Error};
//! use serde_json::{Value, json};
//!
//! /// Answers a question in one sentence.
//! struct Oracle;
//!
//! impl Crew for Oracle {
//!     type Input = String;
//!     type Output = String;
//!     type Values = Value;
//!
//!     fn run(ctx: &Context, question: String, _values: &mut Value) -> Result<String, Error> {
//!         let llm = Llm::from_config(ctx)?;
//!         let completion = llm.chat(&[
//!             Message::system("Answer in one sentence."),
//!             Message::user(question),
//!         ])?;
//!         Ok(completion.text)
//!     }
//! }
//!
//! let outcome = TestRun::new(json!("Why is the sky blue?"))
//!     .config("LLM_BASE_URL", "https://llm.example.com/v1")
//!     .config("LLM_MODEL", "small-1")
//!     .config("LLM_API_KEY", "sk-test")
//!     .http_response(
//!         Method::Post,
//!         "https://llm.example.com/v1/chat/completions",
//!         Response::new(200).with_json(&json!({
//!             "choices": [{ "message": { "role": "assistant", "content": "Rayleigh scattering." } }],
//!             "usage": { "prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24 },
//!         })),
//!     )
//!     .run::<Oracle>();
//!
//! assert_eq!(outcome.expect_output(), "Rayleigh scattering.");
//! assert_eq!(outcome.http_requests[0].header("authorization"), Some("Bearer sk-test"));
//! let call = outcome.events_of_kind("llm.call").next().unwrap();
//! assert_eq!(call["total_tokens"], 24);
//! assert_eq!(call["status"], 200);
//! ```

mod config;
mod message;
mod wire;

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use message::{Completion, Message, Role, Usage};

use crate::http::{HttpError, Method, Response, Target};
use crate::{Context, Error};

/// The setting that contains the API's base URL.
pub const BASE_URL_SETTING: &str = "LLM_BASE_URL";

/// The setting that contains the model name.
pub const MODEL_SETTING: &str = "LLM_MODEL";

/// The setting that contains the API key. Store it as a secret, with
/// `crewhost config set DEPLOYMENT LLM_API_KEY=... --secret`.
pub const API_KEY_SETTING: &str = "LLM_API_KEY";

/// The kind of the event that each [`Llm::chat`] call emits.
pub const CALL_EVENT: &str = "llm.call";

/// How long one chat call may take unless [`Llm::timeout`] sets another
/// value. Long completions from large models often take more than a minute, and
/// the limit stays below the host's default run timeout of 300 seconds.
///
/// The host's `http_timeout_secs` limit still caps the wait for the first
/// byte of the response. It is 30 seconds unless the deployment sets it, so a
/// deployment of a slow model should raise it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A client for the chat completions API of one server and model.
///
/// It borrows the run's [`Context`] to send requests and emit events, so it
/// lives for one run, like everything in a crew.
pub struct Llm<'ctx> {
    ctx: &'ctx Context,
    /// Without a trailing slash.
    base_url: String,
    model: String,
    api_key: String,
    timeout: Duration,
}

/// The data of an [`CALL_EVENT`] event.
#[derive(Debug, Serialize)]
struct CallEvent<'a> {
    model: &'a str,
    duration_ms: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    status: Option<u16>,
}

impl<'ctx> Llm<'ctx> {
    /// Creates a client from the deployment settings `LLM_BASE_URL`,
    /// `LLM_MODEL` and `LLM_API_KEY`.
    ///
    /// # Errors
    ///
    /// Returns [`Error::failed`] when a setting is missing or blank, naming
    /// each missing setting and the `crewhost config set` command that sets
    /// it, and when `LLM_BASE_URL` is not an `http://` or `https://` URL or
    /// contains user info or a query.
    pub fn from_config(ctx: &'ctx Context) -> Result<Self, Error> {
        let settings = config::read(ctx)?;
        Ok(Self {
            ctx,
            base_url: settings.base_url,
            model: settings.model,
            api_key: settings.api_key,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Creates a client with settings that the crew got elsewhere.
    ///
    /// # Errors
    ///
    /// Returns [`Error::failed`] when `base_url` is not an `http://` or
    /// `https://` URL or contains user info or a query.
    pub fn new(
        ctx: &'ctx Context,
        base_url: &str,
        model: impl Into<String>,
        api_key: impl Into<String>,
    ) -> Result<Self, Error> {
        let base_url = config::normalize_base_url(base_url)
            .map_err(|problem| Error::failed(format!("invalid LLM base URL: {problem}")))?;
        Ok(Self {
            ctx,
            base_url,
            model: model.into(),
            api_key: api_key.into(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Sets how long one chat call may take, [`DEFAULT_TIMEOUT`] unless set.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Returns the model name that requests name.
    #[must_use]
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Sends `messages` to the model and returns its completion.
    ///
    /// The request body is `{"model", "messages"}`, posted to
    /// `{base URL}/chat/completions` with `Authorization: Bearer <key>` and
    /// `Content-Type: application/json`. The call emits one [`CALL_EVENT`]
    /// event, whether it succeeds or fails.
    ///
    /// # Errors
    ///
    /// Returns [`Error::failed`] when the request fails (see
    /// [`RequestBuilder::send`](crate::http::RequestBuilder::send)), when
    /// the server answers with a status outside 200 to 299, naming the status
    /// and the server's error message cut to 500 characters, and when a 2xx
    /// body contains no answer text. No message contains the API key.
    pub fn chat(&self, messages: &[Message]) -> Result<Completion, Error> {
        let started = Instant::now();
        let sent = self.send(messages);
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                self.emit_call(duration_ms, None, Usage::default())?;
                return Err(self.failed(format!(
                    "the chat request for model `{}` failed: {error}",
                    self.model
                )));
            }
        };

        let status = response.status();
        if !response.is_success() {
            self.emit_call(duration_ms, Some(status), Usage::default())?;
            return Err(self.failed(self.status_error(&response)));
        }

        match wire::parse_completion(response.body()) {
            Ok(completion) => {
                self.emit_call(duration_ms, Some(status), completion.usage)?;
                Ok(completion)
            }
            Err(unusable) => {
                self.emit_call(duration_ms, Some(status), unusable.usage)?;
                Err(self.failed(format!(
                    "the LLM server at {} returned HTTP {status} for model `{}`, but {}",
                    self.origin(),
                    self.model,
                    unusable.problem
                )))
            }
        }
    }

    fn send(&self, messages: &[Message]) -> Result<Response, HttpError> {
        let body = wire::ChatRequest {
            model: &self.model,
            messages,
        };
        self.ctx
            .http()
            .request(Method::Post, &format!("{}/chat/completions", self.base_url))
            .header("Authorization", &format!("Bearer {}", self.api_key))
            .json(&body)
            .timeout(self.timeout)
            .send()
    }

    fn status_error(&self, response: &Response) -> String {
        let status = response.status();
        let origin = self.origin();
        match wire::server_message(response.body()) {
            Some(message) => format!(
                "the LLM server at {origin} returned HTTP {status} for model `{}`: {message}",
                self.model
            ),
            None => format!(
                "the LLM server at {origin} returned HTTP {status} for model `{}` with an empty body",
                self.model
            ),
        }
    }

    fn emit_call(&self, duration_ms: u64, status: Option<u16>, usage: Usage) -> Result<(), Error> {
        self.ctx.emit(
            CALL_EVENT,
            &CallEvent {
                model: &self.model,
                duration_ms,
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                total_tokens: usage.total_tokens,
                status,
            },
        )
    }

    /// Returns the base URL's origin, such as `https://api.openai.com`.
    fn origin(&self) -> String {
        Target::parse(&self.base_url)
            .map_or_else(|_| "the base URL".to_owned(), |target| target.origin())
    }

    /// Creates a failed error whose message has every occurrence of the API
    /// key replaced, because a server may repeat the key in an error body.
    fn failed(&self, message: String) -> Error {
        if self.api_key.is_empty() {
            return Error::failed(message);
        }
        Error::failed(message.replace(&self.api_key, "***"))
    }
}

/// Shows the model and the base URL's origin, never the key.
impl fmt::Debug for Llm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Llm")
            .field("origin", &self.origin())
            .field("model", &self.model)
            .field("api_key", &"***")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
