//! Executing one run: a fresh store and instance, the call, and the mapping of
//! whatever happened to a [`RunOutcome`].

use std::collections::HashMap;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{Notify, OwnedSemaphorePermit};
use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::crewhost::crew::types::{self, CrewError, RunOutput};
use super::events::{EventSink, RunEvents};
use super::events::Redactor;
use super::http::HttpPolicy;
use super::{CrewPre, RunLimits, RunState, Runtime};

/// How long a run executes before it counts as long and needs a lane.
const SHORT_RUN: Duration = Duration::from_millis(20);

/// Facts about a run that the guest receives.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub run_id: String,
    pub deployment_id: String,
    pub version_number: u32,
    pub thread_id: Option<String>,
    pub attempt: u32,
}

/// Everything the runtime needs to execute one run.
pub struct RunRequest {
    pub info: RunInfo,
    pub input: Value,
    /// The thread's current values, `null` for a stateless run.
    pub values: Value,
    /// Deployment settings and secrets, by name, for the `config` import.
    pub config: Arc<HashMap<String, String>>,
    /// Secret values, replaced in everything the run sends out.
    pub secrets: Arc<Redactor>,
    /// Outbound HTTP rules.
    pub http: Arc<HttpPolicy>,
    pub limits: RunLimits,
    pub cancel: CancelSignal,
    /// How long a canceled run may keep running before the host stops it.
    pub cancel_grace: Duration,
}

impl RunRequest {
    /// Builds a request for a run outside the scheduler (`crewhost exec`,
    /// benchmarks): no thread, no settings, no secrets, no allowed hosts.
    pub fn local(run_id: &str, input: Value, values: Value, limits: RunLimits) -> Self {
        Self {
            info: RunInfo {
                run_id: run_id.to_string(),
                deployment_id: "local".into(),
                version_number: 1,
                thread_id: None,
                attempt: 1,
            },
            input,
            values,
            config: Arc::default(),
            secrets: Arc::default(),
            http: Arc::default(),
            limits,
            cancel: CancelSignal::default(),
            cancel_grace: Duration::from_secs(2),
        }
    }
}

/// Outcome of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    Succeeded { output: Value, values: Option<Value> },
    Failed { code: &'static str, message: String },
    Canceled,
}

impl RunOutcome {
    fn failed(code: &'static str, message: impl Into<String>) -> Self {
        Self::Failed { code, message: message.into() }
    }
}

/// A cancellation request shared by the scheduler and a run.
#[derive(Debug, Clone, Default)]
pub struct CancelSignal(Arc<CancelState>);

#[derive(Debug, Default)]
struct CancelState {
    requested: AtomicBool,
    notify: Notify,
}

impl CancelSignal {
    /// Asks the run to stop. The guest's `cancel-requested` returns true from
    /// now on.
    pub fn request(&self) {
        self.0.requested.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    pub fn is_requested(&self) -> bool {
        self.0.requested.load(Ordering::SeqCst)
    }

    /// Completes once [`Self::request`] has been called.
    pub async fn requested(&self) {
        let mut notified = pin!(self.0.notify.notified());
        notified.as_mut().enable();
        if self.is_requested() {
            return;
        }
        notified.await;
    }
}

/// End of the call itself, before its result is interpreted.
enum CallEnd {
    Returned(wasmtime::Result<Result<RunOutput, CrewError>>),
    TimedOut,
    Stopped,
}

impl Runtime {
    /// Executes one run in a fresh store and instance.
    ///
    /// The guest is dropped mid-call when the run's timeout passes, or when
    /// the grace period after a cancellation request passes. The guest yields
    /// on every epoch tick, so this works while it spins.
    pub async fn execute(&self, pre: &CrewPre<RunState>, request: RunRequest, sink: Arc<dyn EventSink>) -> RunOutcome {
        let events = Arc::new(RunEvents::new(sink, &request.limits, request.secrets.clone()));
        let state = RunState::new(events.clone(), &request.limits, request.config.clone(), request.http.clone(), request.cancel.clone());
        let mut store = Store::new(pre.instance_pre().engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(1);
        let lanes = self.long_run_lanes.clone();
        let lane: Arc<std::sync::Mutex<Option<OwnedSemaphorePermit>>> = Arc::default();
        let started = Instant::now();
        store.epoch_deadline_callback(move |_| {
            if started.elapsed() < SHORT_RUN {
                return Ok(UpdateDeadline::Yield(1));
            }
            // A long run gives its lane to the next long run at every tick
            // and waits for one. The semaphore is fair, so they take turns.
            let (lanes, lane) = (lanes.clone(), lane.clone());
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(async move {
                    drop(lane.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take());
                    tokio::task::yield_now().await;
                    let permit = lanes.acquire_owned().await.ok();
                    *lane.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = permit;
                }),
            ))
        });
        // `pre` comes from the engine of `limits.engine_key()`, which meters
        // fuel exactly when the limits set a budget.
        if let Some(fuel) = request.limits.fuel {
            let _ = store.set_fuel(fuel);
        }

        let info = types::RunInfo {
            run_id: request.info.run_id.clone(),
            deployment_id: request.info.deployment_id.clone(),
            version_number: request.info.version_number,
            thread_id: request.info.thread_id.clone(),
            attempt: request.info.attempt,
        };
        let input = request.input.to_string();
        let values = request.values.to_string();

        let end = {
            let call = async {
                let crew = pre.instantiate_async(&mut store).await?;
                crew.call_run(&mut store, &info, &input, &values).await
            };
            let stop = async {
                request.cancel.requested().await;
                tokio::time::sleep(request.cancel_grace).await;
            };
            tokio::select! {
                result = call => CallEnd::Returned(result),
                () = tokio::time::sleep(request.limits.timeout()) => CallEnd::TimedOut,
                () = stop => CallEnd::Stopped,
            }
        };
        for output in &store.data().outputs {
            output.finish();
        }

        if request.cancel.is_requested() {
            return RunOutcome::Canceled;
        }
        let outcome = match end {
            CallEnd::Returned(Ok(Ok(output))) => match events.fault() {
                Some(fault) => RunOutcome::failed(fault.code(), fault.to_string()),
                None => check_output(output, &request.limits),
            },
            CallEnd::Returned(Ok(Err(CrewError::InvalidInput(message)))) => RunOutcome::failed("invalid_input", message),
            CallEnd::Returned(Ok(Err(CrewError::Failed(message)))) => RunOutcome::failed("crew_error", message),
            CallEnd::Returned(Err(error)) => classify_error(&error, store.data(), &request.limits),
            CallEnd::TimedOut => RunOutcome::failed(
                "timeout",
                format!(
                    "the run did not finish within its timeout of {} seconds; make the crew finish sooner \
                     or raise the deployment's timeout_secs limit",
                    request.limits.timeout_secs
                ),
            ),
            CallEnd::Stopped => RunOutcome::Canceled,
        };
        request.secrets.redact_outcome(outcome)
    }
}

/// Checks that the returned output and values are JSON within the limits.
fn check_output(output: RunOutput, limits: &RunLimits) -> RunOutcome {
    if output.output.len() as u64 > limits.max_output_bytes {
        return RunOutcome::failed(
            "output_too_large",
            format!(
                "the crew returned {} bytes of output, over the limit of {} bytes; return less \
                 or raise the deployment's max_output_bytes limit",
                output.output.len(),
                limits.max_output_bytes
            ),
        );
    }
    let parsed_output: Value = match serde_json::from_str(&output.output) {
        Ok(value) => value,
        Err(error) => return RunOutcome::failed("invalid_output", format!("the crew returned output that is not valid JSON: {error}")),
    };

    let Some(values) = output.values else {
        return RunOutcome::Succeeded { output: parsed_output, values: None };
    };
    if values.len() as u64 > limits.max_values_bytes {
        return RunOutcome::failed(
            "values_too_large",
            format!(
                "the crew returned {} bytes of thread values, over the limit of {} bytes; keep less \
                 state in the thread or raise the deployment's max_values_bytes limit",
                values.len(),
                limits.max_values_bytes
            ),
        );
    }
    match serde_json::from_str(&values) {
        Ok(values) => RunOutcome::Succeeded { output: parsed_output, values: Some(values) },
        Err(error) => RunOutcome::failed("invalid_output", format!("the crew returned values that are not valid JSON: {error}")),
    }
}

/// Maps a trap or host error to a failure code and a message for the author.
fn classify_error(error: &wasmtime::Error, state: &RunState, limits: &RunLimits) -> RunOutcome {
    if let Some(fault) = state.events.fault() {
        return RunOutcome::failed(fault.code(), fault.to_string());
    }
    if let Some(denied) = state.limiter.denied_bytes {
        return RunOutcome::failed(
            "memory_limit",
            format!(
                "the crew tried to grow its linear memory to {} MiB, over the limit of {} MiB; \
                 use less memory or raise the deployment's memory_mib limit",
                denied.div_ceil(1024 * 1024),
                limits.memory_mib
            ),
        );
    }
    if error.downcast_ref::<std::str::Utf8Error>().is_some() {
        return RunOutcome::failed(
            "invalid_output",
            format!("the crew passed the host a string that is not valid UTF-8: {}", error.root_cause()),
        );
    }
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return RunOutcome::failed(
            "trap",
            format!("the crew called exit with status {} instead of returning from run", exit.0),
        );
    }

    let trap = error.downcast_ref::<Trap>();
    if trap == Some(&Trap::StackOverflow) {
        return RunOutcome::failed(
            "stack_overflow",
            format!(
                "the crew overflowed its wasm stack of {} KiB, usually through unbounded recursion; \
                 recurse less deeply or raise the deployment's stack_kib limit",
                limits.stack_kib
            ),
        );
    }
    if trap == Some(&Trap::OutOfFuel) {
        return RunOutcome::failed(
            "fuel_exhausted",
            format!(
                "the crew used up its fuel budget of {} units; do less work per run or raise the \
                 deployment's fuel limit",
                limits.fuel.unwrap_or(u64::MAX)
            ),
        );
    }

    let cause = match trap {
        Some(trap) => trap.to_string(),
        None => error.root_cause().to_string(),
    };
    let mut message = match state.events.panic_message() {
        Some(panic) => format!("the crew panicked: {panic} ({cause})"),
        None => format!("the crew trapped: {cause}"),
    };
    if let Some(backtrace) = error.downcast_ref::<wasmtime::WasmBacktrace>() {
        message.push_str(&format!("\n{backtrace}"));
    }
    RunOutcome::failed("trap", message)
}
