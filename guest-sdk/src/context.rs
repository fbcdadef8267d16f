//! The run context: run info, events, logs, config, cancellation and HTTP.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::bindings::crewhost::crew::host;
use crate::bindings::crewhost::crew::types::Level as WitLevel;
use crate::http::{self, Attempt, Client, HttpError, Limits, Request, Response, Target};
use crate::testing::HttpMock;

/// The prefix of event kinds that the host reserves for its lifecycle events.
const RESERVED_EVENT_PREFIX: &str = "run.";

/// Facts about the current run, as the host passes them to `run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The run's id, such as `run_01JF...`.
    pub run_id: String,
    /// The id of the deployment that the run belongs to.
    pub deployment_id: String,
    /// The deployment version being run, counted from 1.
    pub version_number: u32,
    /// The thread's id for a thread run, `None` for a stateless run.
    pub thread_id: Option<String>,
    /// How many times the host has started this run, counted from 1.
    pub attempt: u32,
}

impl From<crate::bindings::RunInfo> for RunInfo {
    fn from(info: crate::bindings::RunInfo) -> Self {
        Self {
            run_id: info.run_id,
            deployment_id: info.deployment_id,
            version_number: info.version_number,
            thread_id: info.thread_id,
            attempt: info.attempt,
        }
    }
}

/// Severity of a log line, from most to least verbose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Step-by-step detail.
    Trace,
    /// Detail for debugging a crew.
    Debug,
    /// Progress a user of the crew cares about.
    Info,
    /// Something unexpected that the crew recovered from.
    Warn,
    /// A failure.
    Error,
}

impl Level {
    /// Returns the level's lowercase name, as WIT spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Level> for WitLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => WitLevel::Trace,
            Level::Debug => WitLevel::Debug,
            Level::Info => WitLevel::Info,
            Level::Warn => WitLevel::Warn,
            Level::Error => WitLevel::Error,
        }
    }
}

/// The handle a crew uses during a run to read the run info, emit events,
/// write logs, read config, check for cancellation and send HTTP requests.
///
/// Inside a component every call goes to the host. Under
/// [`testing::TestRun`](crate::testing::TestRun) the same calls go to an
/// in-memory capture, so crews can be unit-tested natively.
pub struct Context {
    info: RunInfo,
    backend: Backend,
}

enum Backend {
    /// The host imports of the `crew` world. Only callable inside a
    /// component, because on other targets wit-bindgen's import stubs panic.
    Host,
    Capture(RefCell<Capture>),
}

/// The in-memory side of the test harness: what the crew reads and what it
/// leaves behind.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    pub(crate) config: BTreeMap<String, String>,
    /// How many `cancel_requested` calls return false before the first that
    /// returns true. `None` never requests cancellation.
    pub(crate) checks_before_cancel: Option<u32>,
    pub(crate) cancel_checks: u32,
    pub(crate) events: Vec<(String, serde_json::Value)>,
    pub(crate) logs: Vec<(Level, String)>,
    /// The canned replies to the crew's HTTP requests and the record of them.
    pub(crate) http: HttpMock,
}

impl Context {
    pub(crate) fn host(info: RunInfo) -> Self {
        Self {
            info,
            backend: Backend::Host,
        }
    }

    pub(crate) fn capture(info: RunInfo, capture: Capture) -> Self {
        Self {
            info,
            backend: Backend::Capture(RefCell::new(capture)),
        }
    }

    /// Returns the capture of a context made by [`Context::capture`], or an
    /// empty capture for a host context.
    pub(crate) fn into_capture(self) -> Capture {
        match self.backend {
            Backend::Host => Capture::default(),
            Backend::Capture(capture) => capture.into_inner(),
        }
    }

    /// Returns facts about the current run.
    #[must_use]
    pub fn run_info(&self) -> &RunInfo {
        &self.info
    }

    /// Appends an event of type `kind` with `data` serialized as JSON to the
    /// run's event log. Clients streaming the run see it at once.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::Failed`](crate::ErrorKind::Failed) when `kind` is
    /// empty or starts with `run.`, which the host reserves for its lifecycle
    /// events, and when `data` fails to serialize.
    ///
    /// # Examples
    ///
    /// ```
    /// # use crewhost_guest::{Context, Error};
    /// # fn step(ctx: &Context) -> Result<(), Error> {
    /// ctx.emit("agent.started", &serde_json::json!({ "agent": "writer" }))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit<T: Serialize + ?Sized>(&self, kind: &str, data: &T) -> Result<(), Error> {
        check_event_kind(kind)?;
        let data = serde_json::to_string(data).map_err(|error| {
            Error::failed(format!(
                "failed to serialize the data of event `{kind}`: {error}"
            ))
        })?;

        match &self.backend {
            Backend::Host => host::emit(kind, &data),
            Backend::Capture(capture) => {
                // The text came from serde_json a line above, so it parses.
                let value = serde_json::from_str(&data).expect("serde_json output is valid JSON");
                capture.borrow_mut().events.push((kind.to_owned(), value));
            }
        }
        Ok(())
    }

    /// Appends a `log` event with this level and message to the run's event
    /// log.
    pub fn log(&self, level: Level, message: impl fmt::Display) {
        let message = message.to_string();
        match &self.backend {
            Backend::Host => host::log(level.into(), &message),
            Backend::Capture(capture) => capture.borrow_mut().logs.push((level, message)),
        }
    }

    /// Logs `message` at [`Level::Trace`].
    pub fn trace(&self, message: impl fmt::Display) {
        self.log(Level::Trace, message);
    }

    /// Logs `message` at [`Level::Debug`].
    pub fn debug(&self, message: impl fmt::Display) {
        self.log(Level::Debug, message);
    }

    /// Logs `message` at [`Level::Info`].
    pub fn info(&self, message: impl fmt::Display) {
        self.log(Level::Info, message);
    }

    /// Logs `message` at [`Level::Warn`].
    pub fn warn(&self, message: impl fmt::Display) {
        self.log(Level::Warn, message);
    }

    /// Logs `message` at [`Level::Error`].
    pub fn error(&self, message: impl fmt::Display) {
        self.log(Level::Error, message);
    }

    /// Reads the deployment setting `name`, or `None` when it is not set.
    #[must_use]
    pub fn config(&self, name: &str) -> Option<String> {
        match &self.backend {
            Backend::Host => host::config(name),
            Backend::Capture(capture) => capture.borrow().config.get(name).cloned(),
        }
    }

    /// Returns true once a client has asked to cancel the run.
    ///
    /// The host also stops a canceled run on its own. A crew that checks
    /// between steps and returns early ends cleanly before that, with its
    /// events complete up to the last finished step.
    #[must_use]
    pub fn cancel_requested(&self) -> bool {
        match &self.backend {
            Backend::Host => host::cancel_requested(),
            Backend::Capture(capture) => {
                let mut capture = capture.borrow_mut();
                let requested = capture
                    .checks_before_cancel
                    .is_some_and(|checks| capture.cancel_checks >= checks);
                capture.cancel_checks += 1;
                requested
            }
        }
    }
}

impl Context {
    /// Returns an HTTP client that sends requests through the host.
    ///
    /// The host only sends requests to origins in the deployment's
    /// `allowed_hosts`. See the [`http`](crate::http) module for the
    /// errors, the limits and canned responses in tests.
    ///
    /// # Examples
    ///
    /// ```
    /// # use crewhost_guest::{Context, Error};
    /// # fn step(ctx: &Context) -> Result<(), Error> {
    /// let response = ctx.http().get("https://api.example.com/v1/status")?;
    /// ctx.info(format_args!("the status service returned HTTP {}", response.status()));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn http(&self) -> Client<'_> {
        Client::new(self)
    }

    /// Sends `request` through the host inside a component, or to the test
    /// harness's canned responses under [`TestRun`](crate::testing::TestRun).
    pub(crate) fn send_http(
        &self,
        request: Request,
        target: &Target,
        limits: Limits,
    ) -> Result<Response, HttpError> {
        let url = http::redact(request.url());
        let attempt = Attempt {
            method: request.method(),
            url: &url,
            target,
            deployment_id: &self.info.deployment_id,
        };

        match &self.backend {
            Backend::Host => http::send_to_host(&request, target, limits, &attempt),
            Backend::Capture(capture) => capture.borrow_mut().http.reply(request, limits, &attempt),
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.backend {
            Backend::Host => "host",
            Backend::Capture(_) => "capture",
        };
        f.debug_struct("Context")
            .field("info", &self.info)
            .field("backend", &backend)
            .finish()
    }
}

fn check_event_kind(kind: &str) -> Result<(), Error> {
    if kind.is_empty() {
        return Err(Error::failed("an event kind must not be empty"));
    }
    if kind.starts_with(RESERVED_EVENT_PREFIX) {
        return Err(Error::failed(format!(
            "event kind `{kind}` starts with `{RESERVED_EVENT_PREFIX}`, which the host \
             reserves for its lifecycle events. Choose another name."
        )));
    }
    Ok(())
}
