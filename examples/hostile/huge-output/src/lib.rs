//! A hostile crew that returns an output far over the host's size limit.
//!
//! The output is one valid JSON string of exactly `bytes` bytes, quotes
//! included, so the size is the only thing wrong with it. The host should
//! fail the run with the code `output_too_large` when `bytes` is over the
//! deployment's `max_output_bytes` limit (4 MiB by default), without
//! parsing or storing the output.
//!
//! The crew implements the raw generated `Guest` trait instead of
//! `crewhost_guest::Crew`, because the SDK would serialize the output
//! again and hold a second copy of it in guest memory.
//!
//! # Input
//!
//! An object, or `null` for all defaults. Unknown fields are ignored.
//!
//! - `bytes` (u64, default 64 MiB): size of the output. The smallest
//!   valid value is 2, an empty JSON string.

use crewhost_guest::bindings::{CrewError, Guest, Json, RunInfo, RunOutput};
use serde::Deserialize;

/// The default output size: 16 times the host's default output limit.
const DEFAULT_BYTES: u64 = 64 * 1024 * 1024;

/// A crew whose output is a JSON string of the requested size.
pub struct HugeOutput;

/// The crew's input.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Input {
    /// Size of the output in bytes, quotes included.
    pub bytes: u64,
}

impl Default for Input {
    fn default() -> Self {
        Self {
            bytes: DEFAULT_BYTES,
        }
    }
}

impl Guest for HugeOutput {
    fn run(_info: RunInfo, input: Json, _values: Json) -> Result<RunOutput, CrewError> {
        let input = parse_input(&input)?;
        let output = json_string_of_size(input.bytes)?;

        Ok(RunOutput {
            output,
            values: None,
        })
    }
}

crewhost_guest::bindings::export!(HugeOutput with_types_in crewhost_guest::bindings);

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

    let mut output = String::with_capacity(bytes);
    output.push('"');
    output.extend(std::iter::repeat_n('x', bytes - 2));
    output.push('"');
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_has_exact_size_and_parses() {
        let output = json_string_of_size(1000).unwrap();

        assert_eq!(output.len(), 1000);
        let parsed: String = serde_json::from_str(&output).unwrap();
        assert_eq!(parsed.len(), 998);
    }

    #[test]
    fn two_bytes_is_empty_string() {
        assert_eq!(json_string_of_size(2).unwrap(), r#""""#);
    }

    #[test]
    fn size_below_two_is_invalid_input() {
        let result = json_string_of_size(1);

        assert!(
            matches!(result, Err(CrewError::InvalidInput(message)) if message.contains("`bytes` is 1"))
        );
    }

    #[test]
    fn null_input_uses_default_size() {
        assert_eq!(parse_input("null").unwrap().bytes, DEFAULT_BYTES);
        assert_eq!(parse_input("{}").unwrap().bytes, DEFAULT_BYTES);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let input = parse_input(r#"{"bytes": 10, "mode": "loud"}"#).unwrap();

        assert_eq!(input, Input { bytes: 10 });
    }

    #[test]
    fn wrong_field_type_is_invalid_input() {
        let result = parse_input(r#"{"bytes": "many"}"#);

        assert!(
            matches!(result, Err(CrewError::InvalidInput(message)) if message.starts_with("invalid input: "))
        );
    }
}
