//! A hostile crew that panics with the message `hostile panic`.
//!
//! The Rust runtime prints the panic message to stderr and then aborts,
//! which traps the instance. The host should fail the run with the code
//! `trap` and a message that contains `hostile panic`, which it takes from
//! the last stderr lines. The input is ignored.

use crewhost_guest::{Context, Crew, Error, export_crew};
use serde_json::Value;

/// The panic message.
pub const MESSAGE: &str = "hostile panic";

/// A crew that panics on every run.
pub struct Panic;

impl Crew for Panic {
    type Input = Value;
    type Output = Value;
    type Values = Value;

    fn run(_ctx: &Context, _input: Value, _values: &mut Value) -> Result<Value, Error> {
        panic!("{MESSAGE}");
    }
}

export_crew!(Panic);

#[cfg(test)]
mod tests {
    use crewhost_guest::testing::TestRun;
    use serde_json::json;

    use super::*;

    #[test]
    #[should_panic(expected = "hostile panic")]
    fn run_panics() {
        TestRun::new(json!(null)).run::<Panic>();
    }
}
