//! The `Crew` trait and the JSON path between the host and a crew's types.

use std::any::type_name;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Context, Error};

/// A crew: a type whose [`run`](Crew::run) turns one input into one output.
///
/// The SDK decodes the run's input and the thread's values from JSON before
/// `run` and encodes the output and the values after it. An author only
/// writes the types and the logic, and exports the crew with
/// [`export_crew!`](crate::export_crew).
///
/// A crew that keeps no state can set `type Values = serde_json::Value;` and
/// leave the values alone, which returns the thread's values unchanged. With
/// `()`, a thread run whose values are not `null` fails to decode them.
pub trait Crew {
    /// The run's input, decoded from the JSON that the client sent. A value
    /// that does not decode fails the run with `invalid_input` and serde's
    /// message, before `run` is called.
    type Input: DeserializeOwned;

    /// The run's result, encoded as the run's JSON output.
    type Output: Serialize;

    /// The thread's values: state that outlives the run. A JSON `null`, which
    /// the host passes for a stateless run and for a thread created without
    /// values, decodes as `Values::default()`.
    type Values: Serialize + DeserializeOwned + Default;

    /// Runs the crew once, in a fresh instance.
    ///
    /// `values` contains the thread's current values. Whatever `run` leaves in
    /// it becomes the thread's new values when `run` returns `Ok`. On `Err`
    /// the host keeps the thread's values as they were.
    ///
    /// # Errors
    ///
    /// Returns [`Error::invalid_input`] for input the crew cannot use and
    /// [`Error::failed`] when the crew cannot finish.
    fn run(
        ctx: &Context,
        input: Self::Input,
        values: &mut Self::Values,
    ) -> Result<Self::Output, Error>;
}

/// A run's output and the thread's new values, each as JSON text.
#[derive(Debug)]
pub(crate) struct EncodedRun {
    pub(crate) output: String,
    pub(crate) values: String,
}

/// Decodes `input` and `values`, runs crew `C` and encodes its output and
/// values. The component export and the test harness both go through here.
pub(crate) fn run_json<C: Crew>(
    ctx: &Context,
    input: &str,
    values: &str,
) -> Result<EncodedRun, Error> {
    let input = decode_input::<C::Input>(input)?;
    let mut values = decode_values::<C::Values>(values)?;

    let output = C::run(ctx, input, &mut values)?;

    let output = encode("output", &output)?;
    let values = encode("values", &values)?;
    Ok(EncodedRun { output, values })
}

fn decode_input<T: DeserializeOwned>(input: &str) -> Result<T, Error> {
    serde_json::from_str(input)
        .map_err(|error| Error::invalid_input(format!("invalid input: {error}")))
}

fn decode_values<T: DeserializeOwned + Default>(values: &str) -> Result<T, Error> {
    if values.trim() == "null" {
        return Ok(T::default());
    }
    serde_json::from_str(values).map_err(|error| {
        Error::failed(format!(
            "failed to decode the thread's values as `{}`: {error}",
            type_name::<T>()
        ))
    })
}

fn encode<T: Serialize>(part: &str, value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|error| {
        Error::failed(format!(
            "failed to serialize the {part} of type `{}`: {error}",
            type_name::<T>()
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Topic {
        #[allow(dead_code)]
        topic: String,
    }

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Counter {
        count: u32,
    }

    #[test]
    fn decode_input_missing_field_is_invalid_input() {
        let error = decode_input::<Topic>("{}").unwrap_err();

        assert!(error.is_invalid_input());
        assert_eq!(
            error.message(),
            "invalid input: missing field `topic` at line 1 column 2"
        );
    }

    #[test]
    fn decode_values_null_is_default() {
        let values = decode_values::<Counter>(" null ").unwrap();

        assert_eq!(values, Counter::default());
    }

    #[test]
    fn decode_values_mismatch_is_failed() {
        let error = decode_values::<Counter>("\"many\"").unwrap_err();

        assert!(error.is_failed());
        assert!(
            error
                .message()
                .starts_with("failed to decode the thread's values as `")
        );
        assert!(
            error
                .message()
                .contains("Counter`: invalid type: string \"many\"")
        );
    }

    #[test]
    fn encode_unserializable_value_is_failed() {
        // JSON object keys must be strings, so a map keyed by a sequence fails.
        let mut map = BTreeMap::new();
        map.insert(vec![1u8], 1u8);

        let error = encode("output", &map).unwrap_err();

        assert!(error.is_failed());
        assert!(
            error
                .message()
                .starts_with("failed to serialize the output of type `")
        );
    }
}
