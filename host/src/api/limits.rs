//! Deployment limits as clients set them: at deploy time as query
//! parameters, and later with `PATCH /v1/deployments/{id}`.

use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::{ApiError, ApiResult};
use crate::storage::DeploymentLimits;

const MIB: u64 = 1024 * 1024;

/// Accepted ranges; a value outside its range gets a 400 that names it.
const TIMEOUT_SECS: (u64, u64) = (1, 86_400);
const MEMORY_MIB: (u64, u64) = (1, 16_384);
const STACK_KIB: (u64, u64) = (64, 8_192);
const OUTPUT_BYTES: (u64, u64) = (1, 64 * MIB);
const FUEL: (u64, u64) = (1, u64::MAX);
const CONCURRENT_RUNS: (u64, u64) = (1, 10_000);
const HTTP_TIMEOUT_SECS: (u64, u64) = (1, 600);
const HTTP_RESPONSE_BYTES: (u64, u64) = (1, 256 * MIB);
const HTTP_REQUESTS: (u64, u64) = (1, 100_000);

/// Changes to a deployment's limits; fields left out keep their value, and
/// `null` clears `fuel` or `max_concurrent_runs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitsPatch {
    pub timeout_secs: Option<u64>,
    pub memory_mib: Option<u64>,
    pub stack_kib: Option<u64>,
    pub max_output_bytes: Option<u64>,
    pub max_values_bytes: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    pub fuel: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    pub max_concurrent_runs: Option<Option<u32>>,
    pub http_timeout_secs: Option<u64>,
    pub http_max_response_bytes: Option<u64>,
    pub http_max_requests: Option<u64>,
}

/// Tells a field that is `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn check(name: &str, value: u64, (min, max): (u64, u64)) -> ApiResult<u64> {
    if (min..=max).contains(&value) {
        return Ok(value);
    }
    Err(ApiError::bad_request("invalid_limit", format!("{name}={value} is out of range; give {min} to {max}"))
        .with_details(json!({ "limit": name, "min": min, "max": max })))
}

impl LimitsPatch {
    pub(super) fn is_empty(&self) -> bool {
        self.timeout_secs.is_none()
            && self.memory_mib.is_none()
            && self.stack_kib.is_none()
            && self.max_output_bytes.is_none()
            && self.max_values_bytes.is_none()
            && self.fuel.is_none()
            && self.max_concurrent_runs.is_none()
            && self.http_timeout_secs.is_none()
            && self.http_max_response_bytes.is_none()
            && self.http_max_requests.is_none()
    }

    /// Applies the changes to `base` after checking each value's range.
    pub(super) fn apply(&self, base: DeploymentLimits) -> ApiResult<DeploymentLimits> {
        let mut limits = base;
        if let Some(value) = self.timeout_secs {
            limits.timeout_secs = check("timeout_secs", value, TIMEOUT_SECS)?;
        }
        if let Some(value) = self.memory_mib {
            limits.memory_mib = check("memory_mib", value, MEMORY_MIB)?;
        }
        if let Some(value) = self.stack_kib {
            limits.stack_kib = check("stack_kib", value, STACK_KIB)?;
        }
        if let Some(value) = self.max_output_bytes {
            limits.max_output_bytes = check("max_output_bytes", value, OUTPUT_BYTES)?;
        }
        if let Some(value) = self.max_values_bytes {
            limits.max_values_bytes = check("max_values_bytes", value, OUTPUT_BYTES)?;
        }
        if let Some(value) = self.fuel {
            limits.fuel = value.map(|fuel| check("fuel", fuel, FUEL)).transpose()?;
        }
        if let Some(value) = self.max_concurrent_runs {
            limits.max_concurrent_runs = value
                .map(|runs| check("max_concurrent_runs", u64::from(runs), CONCURRENT_RUNS).map(|runs| runs as u32))
                .transpose()?;
        }
        if let Some(value) = self.http_timeout_secs {
            limits.http_timeout_secs = check("http_timeout_secs", value, HTTP_TIMEOUT_SECS)?;
        }
        if let Some(value) = self.http_max_response_bytes {
            limits.http_max_response_bytes = check("http_max_response_bytes", value, HTTP_RESPONSE_BYTES)?;
        }
        if let Some(value) = self.http_max_requests {
            limits.http_max_requests = check("http_max_requests", value, HTTP_REQUESTS)?;
        }
        Ok(limits)
    }
}
