//! `crewhost exec`: run a component once, locally, with no server.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::runtime::{EventSink, RunLimits, RunOutcome, RunRequest, Runtime, SinkError};

/// Prints each event to stderr as the crew emits it.
struct PrintSink {
    next_seq: AtomicU64,
}

impl EventSink for PrintSink {
    fn append(&self, kind: &str, data: Value) -> Result<(), SinkError> {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        eprintln!("[{seq}] {kind} {data}");
        Ok(())
    }
}

/// Compiles `file`, runs it once with `input` and `values`, prints the
/// result as JSON and returns whether the run succeeded.
pub async fn exec(file: &Path, input: Value, values: Value, timeout_secs: u64) -> anyhow::Result<bool> {
    let bytes = std::fs::read(file).with_context(|| format!("could not read {}", file.display()))?;
    let artifacts = std::env::temp_dir().join(format!("crewhost-exec-{}", std::process::id()));
    let runtime = Arc::new(Runtime::new(&artifacts)?);
    let limits = RunLimits { timeout_secs, ..RunLimits::default() };
    let compiled = runtime.compile(bytes.into(), limits.engine_key()).await.map_err(|error| anyhow::anyhow!("{error} ({})", error.code()));
    let _ = std::fs::remove_dir_all(&artifacts);
    let compiled = compiled?;

    let request = RunRequest::local(&crate::ids::new_id(crate::ids::RUN), input, values, limits);
    let sink = Arc::new(PrintSink { next_seq: AtomicU64::new(1) });
    let outcome = runtime.execute(compiled.pre(), request, sink).await;

    let (succeeded, result) = match outcome {
        RunOutcome::Succeeded { output, values } => (true, json!({ "status": "succeeded", "output": output, "values": values })),
        RunOutcome::Failed { code, message } => {
            (false, json!({ "status": "failed", "error": { "code": code, "message": message } }))
        }
        RunOutcome::Canceled => (false, json!({ "status": "canceled" })),
    };
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(succeeded)
}
