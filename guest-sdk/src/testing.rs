//! A native harness for unit-testing crews with `cargo test`, no host needed.
//!
//! [`TestRun`] sets up one run: its input, the thread's values, config
//! entries, cancellation, run info and canned HTTP responses.
//! [`TestRun::run`] passes them through the same JSON decoding and encoding
//! that the component export uses, with a [`Context`] that records events,
//! logs and HTTP requests in memory and never calls the host. The returned
//! [`Outcome`] contains the result, the new values, the events, the logs and
//! the HTTP requests.
//!
//! # Examples
//!
//! ```
//! use crewhost_guest::testing::TestRun;
//! use crewhost_guest::{Context, Crew, Error};
//! use serde_json::{Value, json};
//!
//! struct Shout;
//!
//! impl Crew for Shout {
//!     type Input = String;
//!     type Output = String;
//!     type Values = Value;
//!
//!     fn run(ctx: &Context, input: String, _values: &mut Value) -> Result<String, Error> {
//!         ctx.info("shouting");
//!         Ok(input.to_uppercase())
//!     }
//! }
//!
//! let outcome = TestRun::new(json!("hi")).run::<Shout>();
//!
//! assert_eq!(outcome.expect_output(), &json!("HI"));
//! assert_eq!(outcome.logs[0].1, "shouting");
//!
//! let outcome = TestRun::new(json!(7)).run::<Shout>();
//!
//! assert!(outcome.expect_error().is_invalid_input());
//! ```

mod http;

use std::collections::BTreeMap;

use serde_json::Value;

pub(crate) use self::http::HttpMock;
use crate::context::Capture;
use crate::crew::run_json;
use crate::http::Request;
use crate::{Context, Crew, Error, Level, RunInfo};

/// The setup of one test run, built step by step and consumed by
/// [`TestRun::run`].
///
/// Defaults: values `null`, no config entries, cancellation never requested,
/// no canned HTTP responses, so every request fails as denied, and run
/// info with run id `run_test`, deployment id `dep_test`, version 1, no
/// thread id and attempt 1.
#[derive(Debug, Clone)]
#[must_use = "a TestRun does nothing until `run` is called"]
pub struct TestRun {
    input: String,
    values: String,
    config: BTreeMap<String, String>,
    checks_before_cancel: Option<u32>,
    info: RunInfo,
    http: HttpMock,
}

impl TestRun {
    /// Starts a test run with `input` as the run's JSON input.
    pub fn new(input: Value) -> Self {
        Self::from_input_json(input.to_string())
    }

    /// Starts a test run with the raw text `input` as the run's input, which
    /// lets a test send JSON that does not parse.
    pub fn from_input_json(input: impl Into<String>) -> Self {
        Self {
            input: input.into(),
            values: "null".to_owned(),
            config: BTreeMap::new(),
            checks_before_cancel: None,
            info: RunInfo {
                run_id: "run_test".to_owned(),
                deployment_id: "dep_test".to_owned(),
                version_number: 1,
                thread_id: None,
                attempt: 1,
            },
            http: HttpMock::default(),
        }
    }

    /// Sets the thread's current values.
    pub fn values(self, values: Value) -> Self {
        self.values_json(values.to_string())
    }

    /// Sets the thread's current values as raw text, which lets a test pass
    /// values that do not parse.
    pub fn values_json(mut self, values: impl Into<String>) -> Self {
        self.values = values.into();
        self
    }

    /// Sets the deployment setting `name` to `value`.
    pub fn config(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(name.into(), value.into());
        self
    }

    /// Makes every [`Context::cancel_requested`] call return `requested`.
    pub fn cancel_requested(mut self, requested: bool) -> Self {
        self.checks_before_cancel = requested.then_some(0);
        self
    }

    /// Makes the first `checks` calls of [`Context::cancel_requested`] return
    /// false and every later call return true, as if a client canceled the
    /// run while it was going.
    pub fn cancel_after_checks(mut self, checks: u32) -> Self {
        self.checks_before_cancel = Some(checks);
        self
    }

    /// Sets the thread id in the run info, as for a thread run.
    pub fn thread_id(mut self, thread_id: impl Into<String>) -> Self {
        self.info.thread_id = Some(thread_id.into());
        self
    }

    /// Replaces the whole run info.
    pub fn run_info(mut self, info: RunInfo) -> Self {
        self.info = info;
        self
    }

    /// Runs crew `C` once with this setup.
    pub fn run<C: Crew>(self) -> Outcome {
        let capture = Capture {
            config: self.config,
            checks_before_cancel: self.checks_before_cancel,
            http: self.http,
            ..Capture::default()
        };
        let ctx = Context::capture(self.info, capture);

        let encoded = run_json::<C>(&ctx, &self.input, &self.values);
        let capture = ctx.into_capture();

        let (result, values) = match encoded {
            Ok(encoded) => (
                Ok(parse_encoded(&encoded.output)),
                Some(parse_encoded(&encoded.values)),
            ),
            Err(error) => (Err(error), None),
        };
        Outcome {
            result,
            values,
            events: capture.events,
            logs: capture.logs,
            cancel_checks: capture.cancel_checks,
            http_requests: capture.http.requests,
        }
    }
}

/// The result of a test run: its output or error, new values, events, logs
/// and HTTP requests.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The run's output as JSON, or the error that failed the run.
    pub result: Result<Value, Error>,
    /// The thread's new values as JSON, or `None` when the run failed. The
    /// component returns them on every successful run, also a stateless one,
    /// where the host ignores them.
    pub values: Option<Value>,
    /// The emitted events as `(kind, data)`, in order.
    pub events: Vec<(String, Value)>,
    /// The log lines as `(level, message)`, in order.
    pub logs: Vec<(Level, String)>,
    /// How many times the crew called [`Context::cancel_requested`].
    pub cancel_checks: u32,
    /// Every HTTP request that the crew sent, in order, including those that
    /// failed. A request whose URL or headers the client rejected before
    /// sending is not included.
    pub http_requests: Vec<Request>,
}

impl Outcome {
    /// Returns the run's output.
    ///
    /// # Panics
    ///
    /// Panics with the crew's error when the run failed.
    #[track_caller]
    #[must_use]
    pub fn expect_output(&self) -> &Value {
        match &self.result {
            Ok(output) => output,
            Err(error) => panic!("expected the run to succeed, but it failed with {error:?}"),
        }
    }

    /// Returns the error that failed the run.
    ///
    /// # Panics
    ///
    /// Panics with the output when the run succeeded.
    #[track_caller]
    #[must_use]
    pub fn expect_error(&self) -> &Error {
        match &self.result {
            Ok(output) => panic!("expected the run to fail, but it returned {output}"),
            Err(error) => error,
        }
    }

    /// Returns the thread's new values.
    ///
    /// # Panics
    ///
    /// Panics with the crew's error when the run failed.
    #[track_caller]
    #[must_use]
    pub fn expect_values(&self) -> &Value {
        match (&self.values, &self.result) {
            (Some(values), _) => values,
            (None, Err(error)) => panic!("expected new values, but the run failed with {error:?}"),
            (None, Ok(_)) => unreachable!("a successful run always returns values"),
        }
    }

    /// Returns the data of every event of type `kind`, in order.
    pub fn events_of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events
            .iter()
            .filter(move |(event_kind, _)| event_kind == kind)
            .map(|(_, data)| data)
    }

    /// Returns the messages logged at `level`, in order.
    pub fn logs_at(&self, level: Level) -> impl Iterator<Item = &str> + '_ {
        self.logs
            .iter()
            .filter(move |(log_level, _)| *log_level == level)
            .map(|(_, message)| message.as_str())
    }
}

fn parse_encoded(json: &str) -> Value {
    // `run_json` produced the text with serde_json, so it parses.
    serde_json::from_str(json).expect("serde_json output is valid JSON")
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::*;

    /// Counts runs in its values and reports what the context gives it.
    struct Probe;

    #[derive(Deserialize)]
    struct ProbeInput {
        config_name: Option<String>,
        fail: Option<String>,
    }

    #[derive(Default, Serialize, Deserialize)]
    struct ProbeValues {
        runs: u32,
    }

    impl Crew for Probe {
        type Input = ProbeInput;
        type Output = Value;
        type Values = ProbeValues;

        fn run(ctx: &Context, input: ProbeInput, values: &mut ProbeValues) -> Result<Value, Error> {
            values.runs += 1;
            ctx.emit("probe.ran", &json!({ "runs": values.runs }))?;
            ctx.trace("a trace line");
            ctx.warn(format_args!("run {}", values.runs));

            if let Some(message) = input.fail {
                return Err(Error::failed(message));
            }
            let config = input.config_name.and_then(|name| ctx.config(&name));
            let first_check = ctx.cancel_requested();
            let second_check = ctx.cancel_requested();

            Ok(json!({
                "info": ctx.run_info(),
                "config": config,
                "cancel": [first_check, second_check],
            }))
        }
    }

    /// Emits an event of the kind given as input.
    struct EmitKind;

    impl Crew for EmitKind {
        type Input = String;
        type Output = ();
        type Values = Value;

        fn run(ctx: &Context, kind: String, _values: &mut Value) -> Result<(), Error> {
            ctx.emit(&kind, &json!(null))
        }
    }

    #[test]
    fn run_returns_output_values_events_and_logs() {
        let outcome = TestRun::new(json!({}))
            .values(json!({ "runs": 2 }))
            .run::<Probe>();

        assert_eq!(outcome.expect_output()["cancel"], json!([false, false]));
        assert_eq!(outcome.expect_values(), &json!({ "runs": 3 }));
        assert_eq!(
            outcome.events,
            vec![("probe.ran".to_owned(), json!({ "runs": 3 }))]
        );
        assert_eq!(
            outcome.logs,
            vec![
                (Level::Trace, "a trace line".to_owned()),
                (Level::Warn, "run 3".to_owned())
            ]
        );
        assert_eq!(outcome.cancel_checks, 2);
    }

    #[test]
    fn run_with_null_values_starts_from_default() {
        let outcome = TestRun::new(json!({})).run::<Probe>();

        assert_eq!(outcome.expect_values(), &json!({ "runs": 1 }));
    }

    #[test]
    fn run_reports_default_run_info() {
        let outcome = TestRun::new(json!({})).run::<Probe>();

        assert_eq!(
            outcome.expect_output()["info"],
            json!({
                "run_id": "run_test",
                "deployment_id": "dep_test",
                "version_number": 1,
                "thread_id": null,
                "attempt": 1,
            })
        );
    }

    #[test]
    fn thread_id_and_run_info_reach_the_crew() {
        let info = RunInfo {
            run_id: "run_a".to_owned(),
            deployment_id: "dep_b".to_owned(),
            version_number: 4,
            thread_id: None,
            attempt: 2,
        };

        let outcome = TestRun::new(json!({}))
            .run_info(info)
            .thread_id("thr_c")
            .run::<Probe>();

        assert_eq!(outcome.expect_output()["info"]["run_id"], "run_a");
        assert_eq!(outcome.expect_output()["info"]["version_number"], 4);
        assert_eq!(outcome.expect_output()["info"]["thread_id"], "thr_c");
        assert_eq!(outcome.expect_output()["info"]["attempt"], 2);
    }

    #[test]
    fn config_returns_set_entries_only() {
        let set = TestRun::new(json!({ "config_name": "model" }))
            .config("model", "small")
            .run::<Probe>();
        let unset = TestRun::new(json!({ "config_name": "other" }))
            .config("model", "small")
            .run::<Probe>();

        assert_eq!(set.expect_output()["config"], "small");
        assert_eq!(unset.expect_output()["config"], Value::Null);
    }

    #[test]
    fn cancel_requested_true_from_first_check() {
        let outcome = TestRun::new(json!({}))
            .cancel_requested(true)
            .run::<Probe>();

        assert_eq!(outcome.expect_output()["cancel"], json!([true, true]));
    }

    #[test]
    fn cancel_after_checks_flips_later_checks() {
        let outcome = TestRun::new(json!({}))
            .cancel_after_checks(1)
            .run::<Probe>();

        assert_eq!(outcome.expect_output()["cancel"], json!([false, true]));
    }

    #[test]
    fn failed_run_has_no_values_but_keeps_events() {
        let outcome = TestRun::new(json!({ "fail": "out of ideas" })).run::<Probe>();

        assert_eq!(outcome.expect_error(), &Error::failed("out of ideas"));
        assert_eq!(outcome.values, None);
        assert_eq!(outcome.events_of_kind("probe.ran").count(), 1);
    }

    #[test]
    fn malformed_input_is_invalid_input() {
        let outcome = TestRun::from_input_json("{not json").run::<Probe>();

        let error = outcome.expect_error();
        assert!(error.is_invalid_input());
        assert!(
            error
                .message()
                .starts_with("invalid input: key must be a string")
        );
        assert!(outcome.events.is_empty());
    }

    #[test]
    fn mismatched_values_are_failed() {
        let outcome = TestRun::new(json!({}))
            .values_json("{\"runs\": \"many\"}")
            .run::<Probe>();

        let error = outcome.expect_error();
        assert!(error.is_failed());
        assert!(
            error
                .message()
                .contains("ProbeValues`: invalid type: string \"many\"")
        );
    }

    #[test]
    fn emit_rejects_reserved_and_empty_kinds() {
        let reserved = TestRun::new(json!("run.completed")).run::<EmitKind>();
        let empty = TestRun::new(json!("")).run::<EmitKind>();
        let allowed = TestRun::new(json!("runner.step")).run::<EmitKind>();

        assert!(
            reserved
                .expect_error()
                .message()
                .contains("starts with `run.`")
        );
        assert_eq!(
            empty.expect_error().message(),
            "an event kind must not be empty"
        );
        assert_eq!(
            allowed.events,
            vec![("runner.step".to_owned(), Value::Null)]
        );
    }

    #[test]
    fn logs_at_filters_by_level() {
        let outcome = TestRun::new(json!({})).run::<Probe>();

        assert_eq!(
            outcome.logs_at(Level::Warn).collect::<Vec<_>>(),
            vec!["run 1"]
        );
        assert_eq!(outcome.logs_at(Level::Error).count(), 0);
    }

    #[test]
    #[should_panic(expected = "expected the run to fail")]
    fn expect_error_panics_on_success() {
        let _ = TestRun::new(json!({})).run::<Probe>().expect_error();
    }
}
