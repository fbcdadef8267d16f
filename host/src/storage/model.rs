//! The records crewhost stores, shared by the storage layer, the scheduler and
//! the HTTP API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

/// A named crew that clients run. Each upload of a component under the same
/// name adds a [`Version`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Deployment {
    pub deployment_id: String,
    pub name: String,
    pub latest_version: u32,
    #[serde(default)]
    pub limits: DeploymentLimits,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

const MIB: u64 = 1024 * 1024;

/// Limits that apply to each run of a deployment.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct DeploymentLimits {
    /// Wall-clock time a run may take, in seconds. Default 300.
    pub timeout_secs: u64,
    /// Linear memory a run may use, in MiB. Default 256.
    pub memory_mib: u64,
    /// Wasm stack a run may use, in KiB. Default 512.
    pub stack_kib: u64,
    /// Maximum size of a run's JSON output, in bytes. Default 4 MiB.
    pub max_output_bytes: u64,
    /// Maximum size of the JSON values a thread run returns, in bytes.
    /// Default 4 MiB.
    pub max_values_bytes: u64,
    /// Fuel units a run may consume, for a deterministic CPU budget. Default
    /// none: no fuel metering.
    pub fuel: Option<u64>,
    /// Runs of this deployment that may execute at once. Default none: only
    /// the server-wide limit applies.
    pub max_concurrent_runs: Option<u32>,
    /// Time limit of connecting and of waiting for each part of an outbound
    /// HTTP response, in seconds. Default 30.
    pub http_timeout_secs: u64,
    /// Maximum size of one outbound HTTP response body, in bytes. Default
    /// 16 MiB.
    pub http_max_response_bytes: u64,
    /// Maximum number of outbound HTTP requests per run. Default 100.
    pub http_max_requests: u64,
}

impl Default for DeploymentLimits {
    fn default() -> Self {
        Self {
            timeout_secs: 300,
            memory_mib: 256,
            stack_kib: 512,
            max_output_bytes: 4 * MIB,
            max_values_bytes: 4 * MIB,
            fuel: None,
            max_concurrent_runs: None,
            http_timeout_secs: 30,
            http_max_response_bytes: 16 * MIB,
            http_max_requests: 100,
        }
    }
}

/// A deployment's settings: plain entries, secrets and the outbound HTTP
/// allow-list. Kept apart from [`Deployment`] so that no view of a
/// deployment can show a secret by accident.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DeploymentConfig {
    pub env: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub allowed_hosts: Vec<String>,
}

/// One uploaded component of a deployment. The component bytes are stored
/// apart from this record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Version {
    pub version_id: String,
    pub deployment_id: String,
    /// Counted from 1 within the deployment.
    pub version_number: u32,
    pub size_bytes: u64,
    /// SHA-256 of the component bytes, in lowercase hex.
    pub sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Stage of a run's life: `pending` → `running` → one of the three final
/// states.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Canceled,
}

impl RunStatus {
    /// Returns true for `succeeded`, `failed` and `canceled`.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Canceled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    /// Parses the lowercase name used in the API.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Pending, Self::Running, Self::Succeeded, Self::Failed, Self::Canceled]
            .into_iter()
            .find(|status| status.as_str() == name)
    }
}

/// Why a run failed: a stable snake_case `code` and a message for people.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunError {
    pub code: String,
    pub message: String,
}

/// One execution of a deployment version, stateless or inside a thread.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Run {
    pub id: String,
    pub deployment_id: String,
    pub version_id: String,
    pub version_number: u32,
    pub thread_id: Option<String>,
    pub status: RunStatus,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<RunError>,
    /// How many times the host started the run, counted from 1.
    pub attempt: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
}

impl Run {
    /// Milliseconds from start to completion, once the run has both.
    pub fn duration_ms(&self) -> Option<u64> {
        let elapsed = self.completed_at? - self.started_at?;
        Some(elapsed.whole_milliseconds().max(0) as u64)
    }
}

/// End of a run, as the scheduler records it.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    Succeeded { output: Value, values: Option<Value> },
    Failed(RunError),
    Canceled,
}

impl RunEnd {
    pub fn status(&self) -> RunStatus {
        match self {
            Self::Succeeded { .. } => RunStatus::Succeeded,
            Self::Failed(_) => RunStatus::Failed,
            Self::Canceled => RunStatus::Canceled,
        }
    }
}

/// One entry of a run's event log. Sequence numbers start at 1 and have no
/// gaps.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    pub seq: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
}

/// Lifecycle event types that the host writes; crews cannot emit them.
pub mod event_types {
    pub const RUN_STARTED: &str = "run.started";
    pub const RUN_COMPLETED: &str = "run.completed";
    pub const RUN_FAILED: &str = "run.failed";
    pub const RUN_CANCELED: &str = "run.canceled";
    pub const LOG: &str = "log";
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ThreadStatus {
    Idle,
    Busy,
}

impl ThreadStatus {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "idle" => Some(Self::Idle),
            "busy" => Some(Self::Busy),
            _ => None,
        }
    }
}

/// A conversation whose `values` persist from one run to the next.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Thread {
    pub thread_id: String,
    pub deployment_id: String,
    pub status: ThreadStatus,
    pub metadata: Value,
    pub values: Value,
    /// The pending or running run while the thread is busy.
    pub active_run_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The values a succeeded thread run returned, kept as thread history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Checkpoint {
    pub checkpoint_id: String,
    pub thread_id: String,
    pub run_id: String,
    pub values: Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An API key as stored: only the SHA-256 of the secret is kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiKey {
    pub key_id: String,
    pub name: String,
    /// The first characters of the secret, so people can tell keys apart.
    pub prefix: String,
    pub hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Filters for listing runs, newest first.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub deployment_id: Option<String>,
    pub thread_id: Option<String>,
    pub status: Option<RunStatus>,
}

/// Filters for listing threads, newest first.
#[derive(Debug, Clone, Default)]
pub struct ThreadFilter {
    pub deployment_id: Option<String>,
    pub status: Option<ThreadStatus>,
}

/// A window into a listing.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: usize,
    pub offset: usize,
}

/// One page of a listing and whether more records follow it.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}
