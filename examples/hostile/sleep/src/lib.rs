//! A hostile crew that sleeps for an hour in one call and ignores
//! cancellation.
//!
//! It makes a single `std::thread::sleep` call and never checks
//! `cancel-requested`, so only the host can end it early. The host should
//! fail the run with the code `timeout` once the deployment's
//! `timeout_secs` passes, and cancel it after the grace period when a
//! client cancels it.
//!
//! # Input
//!
//! An object, or `null` for all defaults. Unknown fields are ignored.
//!
//! - `ms` (u64, default 3,600,000, one hour): how long to sleep, in
//!   milliseconds.
//!
//! # Output
//!
//! `{"slept_ms": <ms>}`, if the host lets it finish.

use std::thread;
use std::time::Duration;

use crewhost_guest::{Context, Crew, Error, export_crew};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A crew that sleeps once for `ms` milliseconds.
pub struct Sleep;

/// The crew's input.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct Input {
    /// How long to sleep, in milliseconds.
    pub ms: u64,
}

impl Default for Input {
    fn default() -> Self {
        Self { ms: 3_600_000 }
    }
}

/// The crew's output.
#[derive(Debug, Serialize)]
pub struct Output {
    /// How long the crew slept, in milliseconds.
    pub slept_ms: u64,
}

impl Crew for Sleep {
    // `null`, the input of a run started without one, means all defaults.
    type Input = Option<Input>;
    type Output = Output;
    type Values = Value;

    fn run(_ctx: &Context, input: Option<Input>, _values: &mut Value) -> Result<Output, Error> {
        let ms = input.unwrap_or_default().ms;

        thread::sleep(Duration::from_millis(ms));

        Ok(Output { slept_ms: ms })
    }
}

export_crew!(Sleep);

#[cfg(test)]
mod tests {
    use crewhost_guest::testing::TestRun;
    use serde_json::json;

    use super::*;

    #[test]
    fn short_sleep_returns_duration() {
        let outcome = TestRun::new(json!({ "ms": 5, "extra": 1 })).run::<Sleep>();

        assert_eq!(outcome.expect_output(), &json!({ "slept_ms": 5 }));
    }

    #[test]
    fn sleep_ignores_cancellation() {
        let outcome = TestRun::new(json!({ "ms": 1 }))
            .cancel_requested(true)
            .run::<Sleep>();

        assert_eq!(outcome.cancel_checks, 0);
        assert_eq!(outcome.expect_output(), &json!({ "slept_ms": 1 }));
    }

    #[test]
    fn null_input_sleeps_one_hour() {
        let input: Option<Input> = serde_json::from_str("null").unwrap();

        assert_eq!(input.unwrap_or_default().ms, 3_600_000);
    }
}
