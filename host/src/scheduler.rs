//! The run scheduler: the only writer of run status.
//!
//! Each accepted run becomes a tokio task that waits for a permit of the
//! global concurrency limit (pending), executes in the runtime (running) and
//! records how it ended (succeeded, failed or canceled). The storage layer
//! enforces one active run per thread; the scheduler releases the thread in
//! the same transaction that records the run's end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::{Semaphore, broadcast, watch};
use tracing::Instrument;

use crate::runtime::{
    AllowEntry, CancelSignal, EventSink, HttpPolicy, Redactor, RunInfo, RunLimits, RunOutcome, RunRequest, Runtime, SinkError,
};
use crate::storage::{Event, Run, RunEnd, RunError, RunStatus, Store, StoreError, StoreResult, event_types};

/// How many live events a slow subscriber may fall behind before it has to
/// read the rest from the stored log.
const LIVE_EVENT_BUFFER: usize = 256;

/// Settings of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Runs that may execute at once; the rest wait as `pending`.
    pub max_concurrent_runs: usize,
    /// Runs that may wait as `pending`; beyond it new runs are rejected.
    pub max_pending_runs: usize,
    /// Maximum number of events in one run's log.
    pub max_events: u64,
    /// Maximum size of one event's data, in bytes.
    pub max_event_bytes: u64,
    /// How long a canceled run may keep running before the host stops it.
    pub cancel_grace: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        let limits = RunLimits::default();
        Self {
            max_concurrent_runs: 64,
            max_pending_runs: 10_000,
            max_events: limits.max_events,
            max_event_bytes: limits.max_event_bytes,
            cancel_grace: Duration::from_secs(2),
        }
    }
}

/// The pending queue is full.
#[derive(Debug, Clone, Copy)]
pub struct QueueFull {
    pub max_pending_runs: usize,
}

/// A place in the pending queue, held from acceptance until the run starts
/// or ends; dropping it frees the place.
pub struct PendingSlot {
    pending: Arc<AtomicU64>,
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A run that is pending or running.
pub struct ActiveRun {
    cancel: CancelSignal,
    /// Becomes true once the run's end is durable.
    done: watch::Sender<bool>,
    live: broadcast::Sender<Event>,
    next_seq: AtomicU64,
}

impl ActiveRun {
    /// Subscribes to the run's events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.live.subscribe()
    }

    /// Completes once the run's end is durable.
    pub async fn finished(&self) {
        let mut done = self.done.subscribe();
        let _ = done.wait_for(|done| *done).await;
    }
}

/// Outcome of a cancellation request.
#[derive(Debug)]
pub enum CancelResult {
    /// The run was active; this is its status after the request.
    Requested(RunStatus),
    /// The run had already ended with this status.
    NotActive(RunStatus),
    NotFound,
}

/// Queues, executes and records runs.
pub struct Scheduler {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    config: SchedulerConfig,
    permits: Arc<Semaphore>,
    /// Permits of deployments with their own concurrency limit, with that
    /// limit.
    deployment_permits: Mutex<HashMap<String, (u32, Arc<Semaphore>)>>,
    active: Mutex<HashMap<String, Arc<ActiveRun>>>,
    pending: Arc<AtomicU64>,
    running: AtomicU64,
    stopping: AtomicBool,
    /// The id and thread of every run handed to the scheduler, for thread
    /// followers.
    started: broadcast::Sender<(String, Option<String>)>,
}

impl Scheduler {
    pub fn new(store: Arc<dyn Store>, runtime: Arc<Runtime>, config: SchedulerConfig) -> Arc<Self> {
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(config.max_concurrent_runs.max(1))),
            store,
            runtime,
            config,
            deployment_permits: Mutex::new(HashMap::new()),
            active: Mutex::new(HashMap::new()),
            pending: Arc::new(AtomicU64::new(0)),
            running: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            started: broadcast::channel(LIVE_EVENT_BUFFER).0,
        })
    }

    /// Recovers after a restart: runs left pending are queued again, and runs
    /// left running become `failed` with the code `host_restarted`, which
    /// also frees their threads.
    pub async fn recover(self: &Arc<Self>) -> StoreResult<()> {
        let mut requeued = 0;
        let mut interrupted = 0;
        for run_id in self.store.active_run_ids()? {
            let Some(run) = self.store.run(&run_id)? else { continue };
            match run.status {
                RunStatus::Pending => {
                    // Runs accepted before the restart may exceed the queue
                    // bound; none of them is dropped.
                    let slot = self.take_slot();
                    let next_seq = self.store.last_event_seq(&run_id)? + 1;
                    self.spawn(run, slot, next_seq);
                    requeued += 1;
                }
                RunStatus::Running => {
                    let seq = self.store.last_event_seq(&run_id)? + 1;
                    let end = RunEnd::Failed(RunError {
                        code: "host_restarted".into(),
                        message: "the host stopped while the run was running; start a new run".into(),
                    });
                    self.store.finish_run(&run_id, &end, &terminal_event(seq, &end))?;
                    tracing::warn!(run_id, "marked a run interrupted by a restart as failed");
                    interrupted += 1;
                }
                _ => {}
            }
        }
        self.store.flush().await?;
        if requeued + interrupted > 0 {
            tracing::info!(requeued, interrupted, "recovered runs from the previous start");
        }
        Ok(())
    }

    /// Reserves a place in the pending queue for a run about to be accepted.
    ///
    /// # Errors
    ///
    /// [`QueueFull`] when `max_pending_runs` runs are already waiting.
    pub fn reserve(&self) -> Result<PendingSlot, QueueFull> {
        let max = self.config.max_pending_runs as u64;
        let reserved = self.pending.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |pending| (pending < max).then_some(pending + 1));
        match reserved {
            Ok(_) => Ok(PendingSlot { pending: self.pending.clone() }),
            Err(_) => Err(QueueFull { max_pending_runs: self.config.max_pending_runs }),
        }
    }

    fn take_slot(&self) -> PendingSlot {
        self.pending.fetch_add(1, Ordering::SeqCst);
        PendingSlot { pending: self.pending.clone() }
    }

    /// Starts driving a run that is already stored as `pending` (and
    /// flushed, when a client received its id).
    pub fn submit(self: &Arc<Self>, run: Run, slot: PendingSlot) {
        self.spawn(run, slot, 1);
    }

    fn spawn(self: &Arc<Self>, run: Run, slot: PendingSlot, next_seq: u64) {
        let (live, _) = broadcast::channel(LIVE_EVENT_BUFFER);
        let handle = Arc::new(ActiveRun {
            cancel: CancelSignal::default(),
            done: watch::Sender::new(false),
            live,
            next_seq: AtomicU64::new(next_seq),
        });
        self.lock_active().insert(run.id.clone(), handle.clone());
        let _ = self.started.send((run.id.clone(), run.thread_id.clone()));

        let span = tracing::info_span!(
            "run",
            run_id = %run.id,
            deployment_id = %run.deployment_id,
            thread_id = run.thread_id.as_deref().unwrap_or(""),
        );
        tokio::spawn(self.clone().drive(run, handle, slot).instrument(span));
    }

    /// Subscribes to the ids of runs handed to the scheduler from now on.
    pub fn subscribe_started(&self) -> broadcast::Receiver<(String, Option<String>)> {
        self.started.subscribe()
    }

    /// Returns the handle of a pending or running run.
    pub fn active_run(&self, run_id: &str) -> Option<Arc<ActiveRun>> {
        self.lock_active().get(run_id).cloned()
    }

    /// Waits until the run ends or `timeout` passes, then returns it.
    pub async fn wait(&self, run_id: &str, timeout: Duration) -> StoreResult<Option<Run>> {
        if let Some(handle) = self.active_run(run_id) {
            let _ = tokio::time::timeout(timeout, handle.finished()).await;
        }
        self.store.run(run_id)
    }

    /// Asks a run to stop. A pending run ends before it starts. A running
    /// run reads `cancel-requested` as true at once and is stopped after the
    /// grace period. Waits up to the grace period and one second for the end.
    pub async fn cancel(&self, run_id: &str) -> StoreResult<CancelResult> {
        let Some(handle) = self.active_run(run_id) else {
            return Ok(match self.store.run(run_id)? {
                Some(run) if run.status.is_terminal() => CancelResult::NotActive(run.status),
                // Between storing and registering a run: treat it as active.
                Some(run) => CancelResult::Requested(run.status),
                None => CancelResult::NotFound,
            });
        };

        handle.cancel.request();
        tracing::info!(run_id, "cancellation requested");
        let bound = self.config.cancel_grace + Duration::from_secs(1);
        let _ = tokio::time::timeout(bound, handle.finished()).await;

        let status = self.store.run(run_id)?.map_or(RunStatus::Canceled, |run| run.status);
        Ok(CancelResult::Requested(status))
    }

    /// Numbers of runs that are pending and running now.
    pub fn counts(&self) -> (u64, u64) {
        (self.pending.load(Ordering::Relaxed), self.running.load(Ordering::Relaxed))
    }

    /// Returns the semaphore of a deployment with its own concurrency limit,
    /// replacing it when the limit changed.
    fn deployment_semaphore(&self, deployment_id: &str, limit: Option<u32>) -> Option<Arc<Semaphore>> {
        let mut permits = self.deployment_permits.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(limit) = limit else {
            permits.remove(deployment_id);
            return None;
        };
        match permits.get(deployment_id) {
            Some((current, semaphore)) if *current == limit => Some(semaphore.clone()),
            _ => {
                let semaphore = Arc::new(Semaphore::new(limit.max(1) as usize));
                permits.insert(deployment_id.to_string(), (limit, semaphore.clone()));
                Some(semaphore)
            }
        }
    }

    /// Stops starting pending runs and waits up to `grace` for running runs
    /// to end. Pending runs stay stored and start again after a restart.
    pub async fn shutdown(&self, grace: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + grace;
        while self.running.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = self.running.load(Ordering::SeqCst);
        if left > 0 {
            tracing::warn!(left, "runs still running at shutdown; they will fail with host_restarted on the next start");
        }
    }

    fn lock_active(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<ActiveRun>>> {
        self.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn drive(self: Arc<Self>, run: Run, handle: Arc<ActiveRun>, slot: PendingSlot) {
        let limits = match self.store.deployment(&run.deployment_id) {
            Ok(Some(deployment)) => deployment.limits,
            Ok(None) => {
                drop(slot);
                let message = format!("deployment {} was deleted before the run started", run.deployment_id);
                self.finish(&run.id, &handle, RunOutcome::Failed { code: "deployment_deleted", message }).await;
                return;
            }
            Err(error) => {
                drop(slot);
                tracing::error!(%error, "reading the run's deployment failed");
                let message = format!("the host could not read the deployment: {error}");
                self.finish(&run.id, &handle, RunOutcome::Failed { code: "internal", message }).await;
                return;
            }
        };

        let deployment_semaphore = self.deployment_semaphore(&run.deployment_id, limits.max_concurrent_runs);
        let permits = async {
            // Take the deployment's permit first, so a deployment at its own
            // limit does not hold places of the global limit.
            let deployment_permit = match deployment_semaphore {
                Some(semaphore) => Some(semaphore.acquire_owned().await.ok()?),
                None => None,
            };
            let global_permit = self.permits.clone().acquire_owned().await.ok()?;
            Some((deployment_permit, global_permit))
        };
        let permits = tokio::select! {
            permits = permits => permits,
            () = handle.cancel.requested() => None,
        };
        drop(slot);
        if self.stopping.load(Ordering::SeqCst) {
            // Leave the run pending; recovery queues it on the next start.
            self.lock_active().remove(&run.id);
            return;
        }
        let Some(_permits) = permits else {
            tracing::info!("run canceled while pending");
            self.finish(&run.id, &handle, RunOutcome::Canceled).await;
            return;
        };

        self.running.fetch_add(1, Ordering::SeqCst);
        let deployment_limits = limits;
        let limits = RunLimits {
            timeout_secs: limits.timeout_secs,
            memory_mib: limits.memory_mib,
            stack_kib: limits.stack_kib,
            fuel: limits.fuel,
            max_output_bytes: limits.max_output_bytes,
            max_values_bytes: limits.max_values_bytes,
            max_event_bytes: self.config.max_event_bytes,
            max_events: self.config.max_events,
        };
        let http_limits = HttpLimits {
            timeout_secs: deployment_limits.http_timeout_secs,
            max_response_bytes: deployment_limits.http_max_response_bytes,
            max_requests: deployment_limits.http_max_requests,
        };
        let outcome = match self.execute(&run, &handle, limits, http_limits).await {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::error!(%error, "the run could not be executed");
                RunOutcome::Failed { code: "internal", message: format!("the host could not execute the run: {error}") }
            }
        };
        self.finish(&run.id, &handle, outcome).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
    }

    async fn execute(
        &self,
        run: &Run,
        handle: &Arc<ActiveRun>,
        limits: RunLimits,
        http_limits: HttpLimits,
    ) -> anyhow::Result<RunOutcome> {
        let started = self.store.start_run(&run.id, OffsetDateTime::now_utc())?;
        let sink = Arc::new(RunSink { store: self.store.clone(), run_id: run.id.clone(), handle: handle.clone() });
        sink.append(event_types::RUN_STARTED, json!({ "attempt": started.attempt, "version_number": run.version_number }))?;
        tracing::info!(attempt = started.attempt, "run started");

        let store = self.store.clone();
        let version_id = run.version_id.clone();
        let pre = self
            .runtime
            .prepare(&run.version_id, limits.engine_key(), move || {
                store
                    .component(&version_id)?
                    .ok_or_else(|| anyhow::anyhow!("version {version_id} has no stored component"))
            })
            .await?;

        let settings = self.store.deployment_config(&run.deployment_id)?;
        let secrets = Arc::new(Redactor::new(settings.secrets.values().map(String::as_str)));
        let http = Arc::new(HttpPolicy {
            // Entries were checked when they were stored.
            allowed_hosts: settings.allowed_hosts.iter().filter_map(|entry| AllowEntry::parse(entry).ok()).collect(),
            timeout: Duration::from_secs(http_limits.timeout_secs),
            max_response_bytes: http_limits.max_response_bytes,
            max_requests: http_limits.max_requests,
        });
        let mut config: HashMap<String, String> = settings.env.into_iter().collect();
        config.extend(settings.secrets);

        let values = match &run.thread_id {
            Some(thread_id) => self.store.thread(thread_id)?.map_or(Value::Null, |thread| thread.values),
            None => Value::Null,
        };
        let request = RunRequest {
            info: RunInfo {
                run_id: run.id.clone(),
                deployment_id: run.deployment_id.clone(),
                version_number: run.version_number,
                thread_id: run.thread_id.clone(),
                attempt: started.attempt,
            },
            input: run.input.clone(),
            values,
            config: Arc::new(config),
            secrets,
            http,
            limits,
            cancel: handle.cancel.clone(),
            cancel_grace: self.config.cancel_grace,
        };
        Ok(self.runtime.execute(&pre, request, sink).await)
    }

    /// Records the run's end with its terminal event, makes it durable, then
    /// wakes waiters and subscribers.
    async fn finish(&self, run_id: &str, handle: &ActiveRun, outcome: RunOutcome) {
        let end = match outcome {
            RunOutcome::Succeeded { output, values } => RunEnd::Succeeded { output, values },
            RunOutcome::Failed { code, message } => RunEnd::Failed(RunError { code: code.to_string(), message }),
            RunOutcome::Canceled => RunEnd::Canceled,
        };
        let terminal = terminal_event(handle.next_seq.fetch_add(1, Ordering::SeqCst), &end);

        let recorded = match self.store.finish_run(run_id, &end, &terminal) {
            Ok(_) => self.store.flush().await,
            Err(error) => Err(error),
        };
        match (&recorded, &end) {
            (Err(error), _) => tracing::error!(%error, "recording the end of the run failed"),
            (Ok(()), RunEnd::Failed(error)) => tracing::info!(code = %error.code, message = %error.message, "run failed"),
            (Ok(()), end) => tracing::info!(status = end.status().as_str(), "run ended"),
        }

        self.lock_active().remove(run_id);
        let _ = handle.live.send(terminal);
        handle.done.send_replace(true);
    }
}

/// The outbound HTTP limits of a deployment.
struct HttpLimits {
    timeout_secs: u64,
    max_response_bytes: u64,
    max_requests: u64,
}

fn terminal_event(seq: u64, end: &RunEnd) -> Event {
    let (kind, data) = match end {
        RunEnd::Succeeded { output, .. } => (event_types::RUN_COMPLETED, json!({ "output": output })),
        RunEnd::Failed(error) => (event_types::RUN_FAILED, json!({ "error": error })),
        RunEnd::Canceled => (event_types::RUN_CANCELED, json!({})),
    };
    Event { seq, kind: kind.to_string(), data, timestamp: OffsetDateTime::now_utc() }
}

/// Persists a run's events with gap-free sequence numbers and forwards them
/// to live subscribers.
struct RunSink {
    store: Arc<dyn Store>,
    run_id: String,
    handle: Arc<ActiveRun>,
}

impl EventSink for RunSink {
    fn append(&self, kind: &str, data: Value) -> Result<(), SinkError> {
        // All events of a run are appended from its one task, in order, so
        // taking the next number here keeps the stored log gap-free.
        let seq = self.handle.next_seq.fetch_add(1, Ordering::SeqCst);
        let event = Event { seq, kind: kind.to_string(), data, timestamp: OffsetDateTime::now_utc() };
        self.store
            .append_event(&self.run_id, &event)
            .map_err(|error: StoreError| SinkError(error.to_string()))?;
        let _ = self.handle.live.send(event);
        Ok(())
    }
}
