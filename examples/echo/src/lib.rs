//! The smallest crew: returns its input unchanged.
//!
//! The host's benchmarks use it to measure the cost of a run without any
//! crew work. It keeps the thread's values unchanged.

use crewhost_guest::{Context, Crew, Error, export_crew};
use serde_json::Value;

/// Returns the run's input as its output.
pub struct Echo;

impl Crew for Echo {
    type Input = Value;
    type Output = Value;
    // `Value` decodes any values and encodes them back as they were.
    type Values = Value;

    fn run(_ctx: &Context, input: Value, _values: &mut Value) -> Result<Value, Error> {
        Ok(input)
    }
}

export_crew!(Echo);

#[cfg(test)]
mod tests {
    use crewhost_guest::testing::TestRun;
    use serde_json::json;

    use super::*;

    #[test]
    fn echo_returns_input_unchanged() {
        let input = json!({ "text": "hello", "list": [1, 2.5, null], "nested": { "ok": true } });

        let outcome = TestRun::new(input.clone()).run::<Echo>();

        assert_eq!(outcome.expect_output(), &input);
        assert!(outcome.events.is_empty());
        assert!(outcome.logs.is_empty());
    }

    #[test]
    fn echo_keeps_values_unchanged() {
        let values = json!({ "messages": ["a"], "turns": 1 });

        let outcome = TestRun::new(json!("hi"))
            .values(values.clone())
            .run::<Echo>();

        assert_eq!(outcome.expect_values(), &values);
    }

    #[test]
    fn echo_rejects_malformed_json() {
        let outcome = TestRun::from_input_json("{\"text\": ").run::<Echo>();

        assert!(outcome.expect_error().is_invalid_input());
    }
}
