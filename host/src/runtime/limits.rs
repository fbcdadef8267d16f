//! Per-run resource limits and the memory limiter that enforces them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

const MIB: usize = 1024 * 1024;

/// Limits that apply to one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLimits {
    /// Wall-clock time a run may take, in seconds. Default 300.
    pub timeout_secs: u64,
    /// Linear memory a run may use, in MiB. Default 256.
    pub memory_mib: u64,
    /// Wasm stack a run may use, in KiB. Default 512.
    pub stack_kib: u64,
    /// Fuel units a run may consume, for a deterministic CPU budget. Default
    /// none: no fuel metering.
    pub fuel: Option<u64>,
    /// Maximum size of the JSON output, in bytes. Default 4 MiB.
    pub max_output_bytes: u64,
    /// Maximum size of the JSON values a thread run returns, in bytes.
    /// Default 4 MiB.
    pub max_values_bytes: u64,
    /// Maximum size of one event's JSON data, in bytes. Default 64 KiB.
    pub max_event_bytes: u64,
    /// Maximum number of events in one run's log. Default 10,000.
    pub max_events: u64,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self {
            timeout_secs: 300,
            memory_mib: 256,
            stack_kib: 512,
            fuel: None,
            max_output_bytes: 4 * MIB as u64,
            max_values_bytes: 4 * MIB as u64,
            max_event_bytes: 64 * 1024,
            max_events: 10_000,
        }
    }
}

impl RunLimits {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// Returns the engine settings these limits need.
    pub fn engine_key(&self) -> super::EngineKey {
        super::EngineKey { stack_kib: self.stack_kib, fuel: self.fuel.is_some() }
    }
}

/// A [`wasmtime::ResourceLimiter`] that caps linear memory and remembers
/// whether it denied a growth, so a failed run can be reported as
/// `memory_limit` instead of a bare trap.
pub(crate) struct MemoryLimiter {
    max_memory_bytes: usize,
    pub(crate) denied_bytes: Option<usize>,
}

impl MemoryLimiter {
    pub(crate) fn new(limits: &RunLimits) -> Self {
        let max_memory_bytes = usize::try_from(limits.memory_mib).unwrap_or(usize::MAX / MIB).saturating_mul(MIB);
        Self { max_memory_bytes, denied_bytes: None }
    }
}

/// Tables beyond this many elements are refused: a crew has no use for more,
/// and each element costs host memory.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            self.denied_bytes = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
