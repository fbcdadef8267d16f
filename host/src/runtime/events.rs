//! The run's event log as the guest reaches it: every event a crew emits or logs,
//! and every line it prints, passes through [`RunEvents`], which enforces the
//! per-run event limits before handing the event to the scheduler's sink.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;

use super::RunLimits;

/// Destination of the events of one run. The scheduler implements
/// it to persist each event and notify subscribers.
pub trait EventSink: Send + Sync {
    /// Appends an event with the next sequence number.
    fn append(&self, kind: &str, data: Value) -> Result<(), SinkError>;
}

/// The sink could not store an event.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// A contract violation or limit that a host import detected. Returned from
/// an import, it traps the guest; the run then fails with [`Self::code`].
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum HostFault {
    #[error("{0}")]
    EventLimit(String),
    #[error("{0}")]
    InvalidOutput(String),
    #[error("storing an event failed: {0}")]
    Storage(String),
}

impl HostFault {
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::EventLimit(_) => "event_limit",
            Self::InvalidOutput(_) => "invalid_output",
            Self::Storage(_) => "internal",
        }
    }
}

/// How many of the last stderr lines are kept to find a panic message. A
/// Rust guest prints it there just before it traps.
const STDERR_TAIL_LINES: usize = 5;

/// The event log of one run, shared by the host imports and the guest's
/// stdout and stderr streams.
pub(crate) struct RunEvents {
    sink: Arc<dyn EventSink>,
    secrets: Arc<Redactor>,
    max_events: u64,
    max_event_bytes: u64,
    count: AtomicU64,
    fault: Mutex<Option<HostFault>>,
    stderr_tail: Mutex<VecDeque<String>>,
}

impl RunEvents {
    pub(crate) fn new(sink: Arc<dyn EventSink>, limits: &RunLimits, secrets: Arc<Redactor>) -> Self {
        Self {
            sink,
            secrets,
            max_events: limits.max_events,
            max_event_bytes: limits.max_event_bytes,
            count: AtomicU64::new(0),
            fault: Mutex::new(None),
            stderr_tail: Mutex::new(VecDeque::new()),
        }
    }

    /// Appends an event whose data serializes to `size` bytes.
    ///
    /// # Errors
    ///
    /// The first fault of the run, which also stays recorded for
    /// [`Self::fault`]: the event limits, or a storage failure.
    pub(crate) fn append(&self, kind: &str, data: Value, size: usize) -> Result<(), HostFault> {
        if let Some(fault) = self.fault() {
            return Err(fault);
        }
        if size as u64 > self.max_event_bytes {
            return Err(self.record(HostFault::EventLimit(format!(
                "an event of type `{kind}` has {size} bytes of data, over the limit of {} bytes per event; \
                 emit smaller events or raise the deployment's max_event_bytes limit",
                self.max_event_bytes
            ))));
        }
        let count = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        if count > self.max_events {
            return Err(self.record(HostFault::EventLimit(format!(
                "the run emitted more than {} events, the limit per run; emit fewer events \
                 or raise the deployment's max_events limit",
                self.max_events
            ))));
        }
        let data = self.secrets.redact(data);
        self.sink.append(kind, data).map_err(|error| self.record(HostFault::Storage(error.0)))
    }

    /// Records a fault that ends the run, keeping the first one.
    pub(crate) fn record(&self, fault: HostFault) -> HostFault {
        let mut slot = self.fault.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.get_or_insert(fault).clone()
    }

    pub(crate) fn fault(&self) -> Option<HostFault> {
        self.fault.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub(crate) fn remember_stderr(&self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        let mut tail = self.stderr_tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if tail.len() == STDERR_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.to_string());
    }

    /// Returns the panic message a Rust guest printed to stderr, such as `index out
    /// of bounds at src/lib.rs:3:5`. Rust prints `thread '…' panicked at
    /// FILE:LINE:COLUMN:` and the message on the next line.
    pub(crate) fn panic_message(&self) -> Option<String> {
        let tail = self.stderr_tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let position = tail.iter().rposition(|line| line.contains(" panicked at "))?;
        let location = tail[position].split(" panicked at ").nth(1)?.trim_end_matches(':');
        match tail.get(position + 1) {
            Some(message) => Some(format!("{message} at {location}")),
            None => Some(format!("at {location}")),
        }
    }
}

/// Text that replaces a secret value.
const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not replaced: a short value matches too
/// much unrelated text to be replaced safely.
pub const MIN_REDACTED_BYTES: usize = 6;

/// Replaces the values of a deployment's secrets in what a run sends out:
/// events, logs, output, values and error messages. A crew that reads a
/// secret can still misuse it, but cannot publish it through the host.
#[derive(Debug, Default)]
pub struct Redactor {
    /// Each secret as it appears inside a JSON string, escapes included.
    needles: Vec<String>,
}

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let needles = secrets
            .into_iter()
            .filter(|secret| secret.len() >= MIN_REDACTED_BYTES)
            .map(|secret| {
                let quoted = serde_json::Value::String(secret.to_string()).to_string();
                quoted[1..quoted.len() - 1].to_string()
            })
            .collect();
        Self { needles }
    }

    /// Replaces every secret in `value`.
    pub fn redact(&self, value: Value) -> Value {
        if self.needles.is_empty() {
            return value;
        }
        let text = value.to_string();
        if !self.needles.iter().any(|needle| text.contains(needle.as_str())) {
            return value;
        }
        let mut redacted = text;
        for needle in &self.needles {
            redacted = redacted.replace(needle.as_str(), REDACTED);
        }
        // Replacing text inside JSON strings keeps the JSON valid; fall back
        // to a marker if a secret spanned JSON syntax.
        serde_json::from_str(&redacted).unwrap_or_else(|_| Value::String(REDACTED.to_string()))
    }

    pub fn redact_text(&self, text: String) -> String {
        match self.redact(Value::String(text)) {
            Value::String(text) => text,
            other => other.to_string(),
        }
    }

    pub(crate) fn redact_outcome(&self, outcome: super::RunOutcome) -> super::RunOutcome {
        use super::RunOutcome;
        match outcome {
            RunOutcome::Succeeded { output, values } => {
                RunOutcome::Succeeded { output: self.redact(output), values: values.map(|values| self.redact(values)) }
            }
            RunOutcome::Failed { code, message } => RunOutcome::Failed { code, message: self.redact_text(message) },
            RunOutcome::Canceled => RunOutcome::Canceled,
        }
    }
}
