//! Persistence behind one narrow trait.
//!
//! [`Store`] is everything the scheduler and the API need from a database:
//! deployments and their component bytes, runs and their event logs, threads
//! and their checkpoints, and API keys. [`SledStore`] is the embedded
//! implementation. Writes return once they are applied in memory. A caller
//! that is about to acknowledge a write to a client awaits [`Store::flush`]
//! first, and concurrent callers share one flush.

mod flusher;
pub mod model;
mod sled_store;

use std::future::Future;
use std::pin::Pin;

pub use model::*;
pub use sled_store::SledStore;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thread already has a pending or running run.
    #[error("thread {thread_id} is busy with run {active_run_id}")]
    ThreadBusy { thread_id: String, active_run_id: String },
    /// The record that the operation needs does not exist.
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    /// The deployment still has pending or running runs.
    #[error("deployment {deployment_id} has active run {run_id}")]
    DeploymentBusy { deployment_id: String, run_id: String },
    #[error("storage failed: {0}")]
    Backend(#[from] sled::Error),
    #[error("a stored record could not be decoded: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("flushing to disk failed: {0}")]
    Flush(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A boxed future, so that [`Store`] stays usable as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Everything crewhost persists.
///
/// Implementations apply each method atomically. Nothing is durable until a
/// later [`Store::flush`] returns.
pub trait Store: Send + Sync + 'static {
    /// Makes every write that returned before this call durable. Concurrent
    /// calls may share one flush of the underlying database.
    fn flush(&self) -> BoxFuture<'_, StoreResult<()>>;

    /// Returns how many flushes ran and how many flush requests they
    /// served, since the store was opened.
    fn flush_stats(&self) -> (u64, u64);

    // Deployments and versions.

    /// Adds a version to the deployment named `name`, creating the
    /// deployment with `limits` when the name is new and otherwise replacing
    /// its limits with `limits` when given. Returns both records.
    fn add_version(
        &self,
        name: &str,
        component: &[u8],
        sha256: &str,
        limits: &DeploymentLimits,
        replace_limits: bool,
    ) -> StoreResult<(Deployment, Version)>;
    /// Returns a deployment's settings, empty when none were set.
    fn deployment_config(&self, deployment_id: &str) -> StoreResult<DeploymentConfig>;
    /// Replaces a deployment's settings.
    fn set_deployment_config(&self, deployment_id: &str, config: &DeploymentConfig) -> StoreResult<()>;
    /// Replaces a deployment's limits.
    fn update_deployment_limits(&self, deployment_id: &str, limits: &DeploymentLimits) -> StoreResult<Deployment>;
    fn deployment(&self, id_or_name: &str) -> StoreResult<Option<Deployment>>;
    fn deployments(&self) -> StoreResult<Vec<Deployment>>;
    fn versions(&self, deployment_id: &str) -> StoreResult<Vec<Version>>;
    fn version(&self, deployment_id: &str, version_number: u32) -> StoreResult<Option<Version>>;
    fn component(&self, version_id: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Deletes a deployment with its versions, threads and checkpoints, and
    /// returns the ids of the deleted versions. Runs stay, as history.
    ///
    /// # Errors
    ///
    /// [`StoreError::DeploymentBusy`] while any of its runs is pending or
    /// running.
    fn delete_deployment(&self, deployment_id: &str) -> StoreResult<Vec<String>>;

    // Runs and events.

    /// Stores a new pending run. A run with a `thread_id` also marks its
    /// thread busy, in the same transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::ThreadBusy`] when the thread has an active run, and
    /// [`StoreError::NotFound`] when the thread does not exist.
    fn insert_run(&self, run: &Run) -> StoreResult<()>;
    fn run(&self, run_id: &str) -> StoreResult<Option<Run>>;
    fn runs(&self, filter: &RunFilter, page: Page) -> StoreResult<Listing<Run>>;
    /// Ids of runs that are pending or running, oldest first.
    fn active_run_ids(&self) -> StoreResult<Vec<String>>;
    /// Marks a pending run as running and counts the attempt.
    fn start_run(&self, run_id: &str, started_at: time::OffsetDateTime) -> StoreResult<Run>;
    /// Ends a run: stores its final state and its terminal event, frees its
    /// thread, and for a succeeded thread run stores the new values and their
    /// checkpoint, all in one transaction.
    fn finish_run(&self, run_id: &str, end: &RunEnd, terminal: &Event) -> StoreResult<Run>;
    fn append_event(&self, run_id: &str, event: &Event) -> StoreResult<()>;
    /// Events with a sequence number above `after`, in order, at most `limit`.
    fn events(&self, run_id: &str, after: u64, limit: usize) -> StoreResult<Vec<Event>>;
    /// Returns the highest sequence number in the run's log, 0 when it is
    /// empty.
    fn last_event_seq(&self, run_id: &str) -> StoreResult<u64>;

    // Threads and checkpoints.

    fn insert_thread(&self, thread: &Thread) -> StoreResult<()>;
    fn thread(&self, thread_id: &str) -> StoreResult<Option<Thread>>;
    fn threads(&self, filter: &ThreadFilter, page: Page) -> StoreResult<Listing<Thread>>;
    fn update_thread_metadata(&self, thread_id: &str, metadata: serde_json::Value) -> StoreResult<Thread>;
    /// Deletes an idle thread and its checkpoints.
    ///
    /// # Errors
    ///
    /// [`StoreError::ThreadBusy`] while the thread has an active run.
    fn delete_thread(&self, thread_id: &str) -> StoreResult<()>;
    /// Lists the thread's checkpoints, newest first.
    fn checkpoints(&self, thread_id: &str, page: Page) -> StoreResult<Listing<Checkpoint>>;
    fn checkpoint(&self, thread_id: &str, checkpoint_id: &str) -> StoreResult<Option<Checkpoint>>;

    // API keys.

    fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    fn api_keys(&self) -> StoreResult<Vec<ApiKey>>;
    fn api_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>>;
    /// Deletes a key; returns false when no key has that id.
    fn revoke_api_key(&self, key_id: &str) -> StoreResult<bool>;
}
