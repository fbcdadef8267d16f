//! A hostile crew that emits one event far over the host's size limit.
//!
//! It calls the host's `emit` import once, with the event type
//! `hostile.big` and data that is one valid JSON string of exactly `bytes`
//! bytes, quotes included, so the size is the only thing wrong with it.
//! The host should fail the run with the code `event_limit` when `bytes`
//! is over the deployment's `max_event_bytes` limit (64 KiB by default),
//! and store no part of the event.
//!
//! The crew implements the raw generated `Guest` trait and calls the
//! import directly, because `crewhost_guest::Context::emit` would
//! serialize the data again and hold a second copy of it in guest memory.
//!
//! # Input
//!
//! An object, or `null` for all defaults. Unknown fields are ignored.
//!
//! - `bytes` (u64, default 32 MiB): size of the event data. The smallest
//!   valid value is 2, an empty JSON string.
//!
//! # Output
//!
//! `{"emitted_bytes": <bytes>}`, if the host accepts the event.

use crewhost_guest::bindings::crewhost::crew::host;
use crewhost_guest::bindings::{CrewError, Guest, Json, RunInfo, RunOutput};
use serde::Deserialize;
use serde_json::json;

/// The default data size: 512 times the host's default event limit.
const DEFAULT_BYTES: u64 = 32 * 1024 * 1024;

/// The type of the emitted event.
pub const EVENT_KIND: &str = "hostile.big";

/// A crew that emits one event of the requested size.
pub struct BigEvent;

/// The crew's input.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Input {
    /// Size of the event data in bytes, quotes included.
    pub bytes: u64,
}

impl Default for Input {
    fn default() -> Self {
        Self {
            bytes: DEFAULT_BYTES,
        }
    }
}

impl Guest for BigEvent {
    fn run(_info: RunInfo, input: Json, _values: Json) -> Result<RunOutput, CrewError> {
        let input = parse_input(&input)?;
        let data = json_string_of_size(input.bytes)?;

        host::emit(EVENT_KIND, &data);

        Ok(RunOutput {
            output: json!({ "emitted_bytes": input.bytes }).to_string(),
            values: None,
        })
    }
}

crewhost_guest::bindings::export!(BigEvent with_types_in crewhost_guest::bindings);

/// Parses the input, reading a JSON `null` as all defaults.
fn parse_input(input: &str) -> Result<Input, CrewError> {
    let input: Option<Input> = serde_json::from_str(input)
        .map_err(|error| CrewError::InvalidInput(format!("invalid input: {error}")))?;
    Ok(input.unwrap_or_default())
}

/// Builds `"xx…x"` with exactly `bytes` bytes, the two quotes included.
fn json_string_of_size(bytes: u64) -> Result<String, CrewError> {
    if bytes < 2 {
        return Err(CrewError::InvalidInput(format!(
            "`bytes` is {bytes}, but the smallest JSON string has 2 bytes; pass 2 or more"
        )));
    }
    let bytes = usize::try_from(bytes).map_err(|_| {
        CrewError::InvalidInput(format!(
            "`bytes` is {bytes}, more than this target can address; pass a smaller size"
        ))
    })?;

    let mut data = String::with_capacity(bytes);
    data.push('"');
    data.extend(std::iter::repeat_n('x', bytes - 2));
    data.push('"');
    Ok(data)
}

// Running the crew calls the host import, which only exists inside a
// component, so these tests cover the input and the data only.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_has_exact_size_and_parses() {
        let data = json_string_of_size(70_000).unwrap();

        assert_eq!(data.len(), 70_000);
        assert!(serde_json::from_str::<String>(&data).is_ok());
    }

    #[test]
    fn size_below_two_is_invalid_input() {
        let result = json_string_of_size(0);

        assert!(
            matches!(result, Err(CrewError::InvalidInput(message)) if message.contains("`bytes` is 0"))
        );
    }

    #[test]
    fn null_input_uses_default_size() {
        assert_eq!(parse_input("null").unwrap().bytes, DEFAULT_BYTES);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let input = parse_input(r#"{"bytes": 5, "kind": "other"}"#).unwrap();

        assert_eq!(input, Input { bytes: 5 });
    }
}
