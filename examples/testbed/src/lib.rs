//! A crew for the host's own tests, not an example to copy.
//!
//! The input's `mode` field selects one behavior, many of which break the
//! crew contract on purpose: a panic, a trap, output that is not JSON, an
//! endless loop. The crew implements the raw generated `Guest` trait instead
//! of `crewhost_guest::Crew`, because the SDK would not let it return broken
//! JSON. See the README for every mode.

pub mod mode;
pub mod sandbox;

use std::thread;
use std::time::{Duration, Instant};

use crewhost_guest::bindings::crewhost::crew::host;
use crewhost_guest::bindings::{CrewError, Guest, Json, RunInfo, RunOutput};
use serde_json::{Value, json};

use crate::mode::Mode;

/// How often the `sleep` mode checks for cancellation.
const SLEEP_CHECK_INTERVAL: Duration = Duration::from_millis(10);

/// The crew that the host's tests deploy.
pub struct Testbed;

impl Guest for Testbed {
    fn run(info: RunInfo, input: Json, values: Json) -> Result<RunOutput, CrewError> {
        let parsed: Value = serde_json::from_str(&input)
            .map_err(|error| CrewError::InvalidInput(format!("invalid input: {error}")))?;
        let mode = mode::parse(&parsed).map_err(CrewError::InvalidInput)?;

        match mode {
            Mode::Ok => Ok(echo(&input, &parsed)),
            Mode::CrewError => Err(CrewError::Failed(
                "the testbed failed on purpose".to_owned(),
            )),
            Mode::InvalidInput => Err(CrewError::InvalidInput(
                "the testbed rejected its input on purpose".to_owned(),
            )),
            Mode::Panic => panic!("the testbed panicked on purpose"),
            Mode::Trap => trap(),
            Mode::InvalidOutput => Ok(RunOutput {
                output: "{not json".to_owned(),
                values: None,
            }),
            Mode::InvalidValues => Ok(RunOutput {
                output: input,
                values: Some("[1,".to_owned()),
            }),
            Mode::InvalidEvent => {
                host::emit("testbed.invalid", "nope{");
                Ok(echo(&input, &parsed))
            }
            Mode::Stdout => {
                println!("line one from stdout");
                println!("line two");
                eprintln!("a line on stderr");
                Ok(echo(&input, &parsed))
            }
            Mode::Sleep { ms } => Ok(output(sleep(Duration::from_millis(ms)))),
            Mode::SleepUncooperative { ms } => {
                thread::sleep(Duration::from_millis(ms));
                Ok(output(json!({ "slept_ms": ms })))
            }
            Mode::Spin => spin(),
            Mode::SpinCooperative => spin_until_canceled(),
            Mode::Emit {
                count,
                pause_ms,
                bytes,
            } => {
                emit_steps(count, Duration::from_millis(pause_ms), bytes.unwrap_or(0));
                Ok(output(json!({ "emitted": count })))
            }
            Mode::Config { name } => Ok(output(json!({ "value": host::config(&name) }))),
            Mode::Files => Ok(output(sandbox::probe())),
            Mode::Info => run_info(info, &values).map(output),
        }
    }
}

crewhost_guest::bindings::export!(Testbed with_types_in crewhost_guest::bindings);

/// Returns the input unchanged as output, and the input's `values` field, if
/// present, as the thread's new values.
fn echo(input: &str, parsed: &Value) -> RunOutput {
    RunOutput {
        output: input.to_owned(),
        values: parsed.get("values").map(Value::to_string),
    }
}

/// Returns `output` with no new values.
fn output(output: Value) -> RunOutput {
    RunOutput {
        output: output.to_string(),
        values: None,
    }
}

#[cfg(target_arch = "wasm32")]
fn trap() -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(not(target_arch = "wasm32"))]
fn trap() -> ! {
    panic!("the trap mode executes `unreachable`, which only a wasm32 target has")
}

/// Sleeps for `duration` in steps of [`SLEEP_CHECK_INTERVAL`] and returns
/// early once the run is canceled.
fn sleep(duration: Duration) -> Value {
    let start = Instant::now();

    let canceled = loop {
        if host::cancel_requested() {
            break true;
        }
        let elapsed = start.elapsed();
        if elapsed >= duration {
            break false;
        }
        thread::sleep(SLEEP_CHECK_INTERVAL.min(duration - elapsed));
    };

    json!({ "slept_ms": start.elapsed().as_millis() as u64, "canceled": canceled })
}

/// Loops forever without calling the host, so only the host's own limits
/// can stop it.
fn spin() -> ! {
    let mut counter: u64 = 0;
    loop {
        // `black_box` keeps the optimizer from removing the loop body.
        counter = core::hint::black_box(counter.wrapping_add(1));
    }
}

/// Loops until a client cancels the run, checking on every iteration.
fn spin_until_canceled() -> Result<RunOutput, CrewError> {
    let mut counter: u64 = 0;
    while !host::cancel_requested() {
        counter = core::hint::black_box(counter.wrapping_add(1));
    }
    Err(CrewError::Failed("canceled".to_owned()))
}

/// Emits `count` events of type `step` with `pause` between two of them.
fn emit_steps(count: u32, pause: Duration, pad_bytes: u32) {
    let pad = "x".repeat(pad_bytes as usize);

    for i in 0..count {
        if i > 0 && !pause.is_zero() {
            thread::sleep(pause);
        }
        host::emit("step", &json!({ "i": i, "pad": pad }).to_string());
    }
}

/// Reports the run info and the thread's values as the host passed them.
fn run_info(info: RunInfo, values: &str) -> Result<Value, CrewError> {
    let values: Value = serde_json::from_str(values).map_err(|error| {
        CrewError::Failed(format!("the host passed values that are not JSON: {error}"))
    })?;

    Ok(json!({
        "run_id": info.run_id,
        "deployment_id": info.deployment_id,
        "version_number": info.version_number,
        "thread_id": info.thread_id,
        "attempt": info.attempt,
        "values": values,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RunInfo {
        RunInfo {
            run_id: "run_1".to_owned(),
            deployment_id: "dep_1".to_owned(),
            version_number: 2,
            thread_id: Some("thr_1".to_owned()),
            attempt: 1,
        }
    }

    // Modes that call the host can only run inside a component, because
    // wit-bindgen's import stubs panic on other targets. These tests cover
    // the modes that stay in the guest.

    #[test]
    fn ok_echoes_input_and_values_field() {
        let input = r#"{"mode": "ok", "values": {"turns": 1}}"#;

        let output = Testbed::run(info(), input.to_owned(), "null".to_owned()).unwrap();

        assert_eq!(output.output, input);
        assert_eq!(output.values.as_deref(), Some(r#"{"turns":1}"#));
    }

    #[test]
    fn ok_without_values_field_keeps_values() {
        let output =
            Testbed::run(info(), r#"{"mode": "ok"}"#.to_owned(), "null".to_owned()).unwrap();

        assert_eq!(output.values, None);
    }

    #[test]
    fn crew_error_and_invalid_input_modes_fail() {
        let failed = Testbed::run(
            info(),
            r#"{"mode": "crew_error"}"#.to_owned(),
            "null".to_owned(),
        );
        let invalid = Testbed::run(
            info(),
            r#"{"mode": "invalid_input"}"#.to_owned(),
            "null".to_owned(),
        );

        assert!(
            matches!(failed, Err(CrewError::Failed(message)) if message == "the testbed failed on purpose")
        );
        assert!(matches!(invalid, Err(CrewError::InvalidInput(_))));
    }

    #[test]
    fn invalid_output_and_values_modes_break_json() {
        let output = Testbed::run(
            info(),
            r#"{"mode": "invalid_output"}"#.to_owned(),
            "null".to_owned(),
        );
        let values = Testbed::run(
            info(),
            r#"{"mode": "invalid_values"}"#.to_owned(),
            "null".to_owned(),
        );

        assert_eq!(output.unwrap().output, "{not json");
        assert_eq!(values.unwrap().values.as_deref(), Some("[1,"));
    }

    #[test]
    fn info_mode_reports_run_info_and_values() {
        let output = Testbed::run(
            info(),
            r#"{"mode": "info"}"#.to_owned(),
            r#"{"n": 3}"#.to_owned(),
        )
        .unwrap();

        let report: Value = serde_json::from_str(&output.output).unwrap();
        assert_eq!(
            report,
            json!({
                "run_id": "run_1",
                "deployment_id": "dep_1",
                "version_number": 2,
                "thread_id": "thr_1",
                "attempt": 1,
                "values": { "n": 3 },
            })
        );
    }

    #[test]
    fn unknown_mode_is_invalid_input() {
        let result = Testbed::run(info(), r#"{"mode": "dance"}"#.to_owned(), "null".to_owned());

        assert!(
            matches!(result, Err(CrewError::InvalidInput(message)) if message.starts_with("unknown mode `dance`"))
        );
    }

    #[test]
    fn malformed_input_is_invalid_input() {
        let result = Testbed::run(info(), "{mode".to_owned(), "null".to_owned());

        assert!(
            matches!(result, Err(CrewError::InvalidInput(message)) if message.starts_with("invalid input: "))
        );
    }

    #[test]
    #[should_panic(expected = "the testbed panicked on purpose")]
    fn panic_mode_panics() {
        let _ = Testbed::run(info(), r#"{"mode": "panic"}"#.to_owned(), "null".to_owned());
    }
}
