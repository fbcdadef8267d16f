//! A hostile crew that floods the run's event log with `log` events.
//!
//! It calls the host's `log` import `count` times, then prints `count`
//! lines to stdout, which the host also turns into `log` events. The host
//! should fail the run with the code `event_limit` once the run passes the
//! deployment's `max_events` limit (10,000 by default), whichever of the
//! two loops crosses it. The default `count` never ends, so the first loop
//! crosses it. With a `count` of 6,000 the second loop crosses it, and with
//! a `count` of at most half the limit the run succeeds.
//!
//! # Input
//!
//! An object, or `null` for all defaults. Unknown fields are ignored.
//!
//! - `count` (u64, default `u64::MAX`): number of `log` calls, and then
//!   of stdout lines.
//!
//! # Output
//!
//! `{"logged": <count>, "printed": <count>}`, if the host lets it finish.

use crewhost_guest::{Context, Crew, Error, export_crew};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A crew that logs `count` lines and then prints `count` lines.
pub struct LogFlood;

/// The crew's input.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct Input {
    /// Number of `log` calls, and then of stdout lines.
    pub count: u64,
}

impl Default for Input {
    fn default() -> Self {
        // At any realistic call rate, `u64::MAX` calls never finish.
        Self { count: u64::MAX }
    }
}

/// The crew's output.
#[derive(Debug, Serialize)]
pub struct Output {
    /// Number of `log` calls made.
    pub logged: u64,
    /// Number of lines printed to stdout.
    pub printed: u64,
}

impl Crew for LogFlood {
    // `null`, the input of a run started without one, means all defaults.
    type Input = Option<Input>;
    type Output = Output;
    type Values = Value;

    fn run(ctx: &Context, input: Option<Input>, _values: &mut Value) -> Result<Output, Error> {
        let count = input.unwrap_or_default().count;

        for i in 0..count {
            ctx.info(format_args!("log flood: log call {i}"));
        }

        for i in 0..count {
            println!("log flood: stdout line {i}");
        }

        Ok(Output {
            logged: count,
            printed: count,
        })
    }
}

export_crew!(LogFlood);

#[cfg(test)]
mod tests {
    use crewhost_guest::testing::TestRun;
    use serde_json::json;

    use super::*;

    #[test]
    fn finite_count_logs_and_returns() {
        let outcome = TestRun::new(json!({ "count": 3, "extra": true })).run::<LogFlood>();

        assert_eq!(
            outcome.expect_output(),
            &json!({ "logged": 3, "printed": 3 })
        );
        assert_eq!(outcome.logs.len(), 3);
        assert_eq!(outcome.logs[2].1, "log flood: log call 2");
    }

    #[test]
    fn null_input_defaults_to_endless_count() {
        let input: Option<Input> = serde_json::from_str("null").unwrap();

        assert_eq!(input.unwrap_or_default().count, u64::MAX);
    }
}
