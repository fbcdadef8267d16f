//! Parsing the testbed's input into the behavior it selects.

use serde::Deserialize;
use serde_json::Value;

/// Every mode name, in the order the README lists them.
pub const MODES: [&str; 17] = [
    "ok",
    "crew_error",
    "invalid_input",
    "panic",
    "trap",
    "invalid_output",
    "invalid_values",
    "invalid_event",
    "stdout",
    "sleep",
    "sleep_uncooperative",
    "spin",
    "spin_cooperative",
    "emit",
    "config",
    "files",
    "info",
];

/// The behavior that the input's `mode` field selects, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Mode {
    Ok,
    CrewError,
    InvalidInput,
    Panic,
    Trap,
    InvalidOutput,
    InvalidValues,
    InvalidEvent,
    Stdout,
    Sleep {
        /// How long to sleep, in milliseconds.
        ms: u64,
    },
    /// Sleeps in one host call without checking for cancellation, so only
    /// the host can stop it early.
    SleepUncooperative {
        /// How long to sleep, in milliseconds.
        ms: u64,
    },
    Spin,
    SpinCooperative,
    Emit {
        /// How many `step` events to emit.
        count: u32,
        /// The pause between two events, in milliseconds.
        #[serde(default)]
        pause_ms: u64,
        /// The length of each event's `pad` string, in bytes.
        #[serde(default)]
        bytes: Option<u32>,
    },
    Config {
        /// The config entry to read.
        name: String,
    },
    Files,
    Info,
}

/// Parses the run's input into a [`Mode`].
///
/// # Errors
///
/// Returns a message for the client when the input has no string `mode`,
/// names an unknown mode or lacks a mode's parameters.
pub fn parse(input: &Value) -> Result<Mode, String> {
    let valid = MODES.join(", ");
    let Some(mode) = input.get("mode").and_then(Value::as_str) else {
        return Err(format!(
            "the input must be an object with a string field `mode`. Valid modes are {valid}."
        ));
    };

    if !MODES.contains(&mode) {
        return Err(format!("unknown mode `{mode}`. Valid modes are {valid}."));
    }
    Mode::deserialize(input).map_err(|error| format!("invalid input for mode `{mode}`: {error}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Adds the parameters that some modes require.
    fn input_for(mode: &str) -> Value {
        match mode {
            "sleep" | "sleep_uncooperative" => json!({ "mode": mode, "ms": 5 }),
            "emit" => json!({ "mode": mode, "count": 2 }),
            "config" => json!({ "mode": mode, "name": "model" }),
            _ => json!({ "mode": mode }),
        }
    }

    #[test]
    fn parse_accepts_every_listed_mode() {
        for mode in MODES {
            assert!(parse(&input_for(mode)).is_ok(), "{mode}");
        }
    }

    #[test]
    fn parse_reads_parameters() {
        let emit = parse(&json!({ "mode": "emit", "count": 3, "pause_ms": 20, "bytes": 64 }));
        let sleep = parse(&json!({ "mode": "sleep", "ms": 250 }));

        assert_eq!(
            emit,
            Ok(Mode::Emit {
                count: 3,
                pause_ms: 20,
                bytes: Some(64)
            })
        );
        assert_eq!(sleep, Ok(Mode::Sleep { ms: 250 }));
    }

    #[test]
    fn parse_emit_defaults_pause_and_bytes() {
        let emit = parse(&json!({ "mode": "emit", "count": 1 }));

        assert_eq!(
            emit,
            Ok(Mode::Emit {
                count: 1,
                pause_ms: 0,
                bytes: None
            })
        );
    }

    #[test]
    fn parse_ignores_extra_fields() {
        let ok = parse(&json!({ "mode": "ok", "values": { "a": 1 }, "note": "x" }));

        assert_eq!(ok, Ok(Mode::Ok));
    }

    #[test]
    fn unknown_mode_names_it_and_lists_valid_ones() {
        let error = parse(&json!({ "mode": "dance" })).unwrap_err();

        assert!(
            error.starts_with("unknown mode `dance`. Valid modes are ok, crew_error,"),
            "{error}"
        );
        assert!(error.ends_with("files, info."), "{error}");
    }

    #[test]
    fn missing_mode_is_rejected() {
        let error = parse(&json!({ "ms": 5 })).unwrap_err();

        assert!(
            error.starts_with("the input must be an object with a string field `mode`"),
            "{error}"
        );
    }

    #[test]
    fn missing_parameter_is_rejected() {
        let error = parse(&json!({ "mode": "sleep" })).unwrap_err();

        assert_eq!(error, "invalid input for mode `sleep`: missing field `ms`");
    }
}
