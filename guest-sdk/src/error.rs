//! The error a crew returns when a run cannot produce output.

use std::fmt;

use crate::bindings::CrewError;

/// Why a run failed, as the crew reports it to the host.
///
/// The two kinds match the cases of the WIT `crew-error` variant. The host
/// turns [`ErrorKind::InvalidInput`] into the run error code `invalid_input`
/// and [`ErrorKind::Failed`] into `crew_error`, and passes [`Error::message`]
/// to the client as the run's error message.
///
/// # Examples
///
/// ```
/// use crewhost_guest::{Error, ErrorKind};
///
/// let error = Error::invalid_input("`topic` must not be empty");
/// assert_eq!(error.kind(), ErrorKind::InvalidInput);
/// assert_eq!(error.to_string(), "`topic` must not be empty");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// The two ways a run can fail from the crew's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The client sent input the crew cannot use, so retrying the same input
    /// cannot succeed.
    InvalidInput,
    /// The crew could not finish the run.
    Failed,
}

impl Error {
    /// Creates an error that rejects the run's input. The message should tell
    /// the client what to change.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::InvalidInput,
            message: message.into(),
        }
    }

    /// Creates an error for a run that could not finish.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Failed,
            message: message.into(),
        }
    }

    /// Returns the kind of failure.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Returns the message, which the host passes to the client as the run's
    /// error message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Returns true for an error created by [`Error::invalid_input`].
    #[must_use]
    pub fn is_invalid_input(&self) -> bool {
        self.kind == ErrorKind::InvalidInput
    }

    /// Returns true for an error created by [`Error::failed`].
    #[must_use]
    pub fn is_failed(&self) -> bool {
        self.kind == ErrorKind::Failed
    }

    pub(crate) fn into_crew_error(self) -> CrewError {
        match self.kind {
            ErrorKind::InvalidInput => CrewError::InvalidInput(self.message),
            ErrorKind::Failed => CrewError::Failed(self.message),
        }
    }
}

/// Displays the message alone, because the host passes only the message to
/// the client.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Converts a JSON error from the crew's own code into [`ErrorKind::Failed`],
/// so `?` works on `serde_json` calls inside [`Crew::run`](crate::Crew::run).
///
/// The SDK decodes the run's input itself and reports a bad input as
/// [`ErrorKind::InvalidInput`]. A crew that parses a nested part of its input
/// should map that error with [`Error::invalid_input`] instead of using `?`.
impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Self::failed(format!("JSON error: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_set_kind_and_message() {
        let invalid = Error::invalid_input("bad topic");
        let failed = Error::failed("no answer");

        assert!(invalid.is_invalid_input());
        assert!(!invalid.is_failed());
        assert_eq!(invalid.message(), "bad topic");
        assert!(failed.is_failed());
        assert_eq!(failed.message(), "no answer");
    }

    #[test]
    fn into_crew_error_keeps_the_message() {
        let invalid = Error::invalid_input("bad topic").into_crew_error();
        let failed = Error::failed("no answer").into_crew_error();

        assert!(matches!(invalid, CrewError::InvalidInput(message) if message == "bad topic"));
        assert!(matches!(failed, CrewError::Failed(message) if message == "no answer"));
    }

    #[test]
    fn serde_json_error_becomes_failed() {
        let parse_error = serde_json::from_str::<u32>("\"seven\"").unwrap_err();

        let error = Error::from(parse_error);

        assert!(error.is_failed());
        assert!(
            error
                .message()
                .starts_with("JSON error: invalid type: string")
        );
    }
}
