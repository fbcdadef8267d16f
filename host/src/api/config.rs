//! Deployment settings: plain entries, secrets and the outbound HTTP
//! allow-list. Secret values go in and are never returned; a listing shows
//! only their names.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Json, Path};
use super::{ApiError, ApiResult, AppState, deployments};
use crate::runtime::AllowEntry;
use crate::storage::DeploymentConfig;

/// Maximum number of entries in `env`, `secrets` or `allowed_hosts`.
const MAX_ENTRIES: usize = 256;
/// Maximum length of a setting value, in bytes.
const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Maximum length of a setting name, in bytes.
const MAX_NAME_BYTES: usize = 128;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/deployments/{deployment}/config", get(show).put(replace).patch(update))
}

/// Renders the configuration for the API: secret names, never values.
pub(super) fn config_view(config: &DeploymentConfig) -> Value {
    json!({
        "env": config.env,
        "secrets": config.secrets.keys().collect::<Vec<_>>(),
        "allowed_hosts": config.allowed_hosts,
    })
}

fn check_name(name: &str) -> ApiResult<()> {
    let mut bytes = name.bytes();
    let valid_start = bytes.next().is_some_and(|byte| byte.is_ascii_alphabetic() || byte == b'_');
    let valid_rest = bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'.' || byte == b'-');
    if valid_start && valid_rest && name.len() <= MAX_NAME_BYTES {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "invalid_setting",
        format!(
            "the setting name {name:?} is invalid; use 1 to {MAX_NAME_BYTES} letters, digits, `_`, `.` or `-`, \
             starting with a letter or `_`, such as LLM_MODEL"
        ),
    ))
}

fn check(config: &DeploymentConfig) -> ApiResult<()> {
    for (name, value) in config.env.iter().chain(&config.secrets) {
        check_name(name)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(ApiError::bad_request(
                "invalid_setting",
                format!("the value of {name} has {} bytes, over the limit of {MAX_VALUE_BYTES}", value.len()),
            ));
        }
    }
    if let Some(name) = config.env.keys().find(|name| config.secrets.contains_key(*name)) {
        return Err(ApiError::bad_request(
            "invalid_setting",
            format!("{name} is both a plain setting and a secret; remove one of them"),
        ));
    }
    if config.env.len() > MAX_ENTRIES || config.secrets.len() > MAX_ENTRIES || config.allowed_hosts.len() > MAX_ENTRIES {
        return Err(ApiError::bad_request("invalid_setting", format!("at most {MAX_ENTRIES} entries of each kind are allowed")));
    }
    for entry in &config.allowed_hosts {
        AllowEntry::parse(entry).map_err(|error| ApiError::bad_request("invalid_allowed_host", error.to_string()))?;
    }
    Ok(())
}

async fn show(State(state): State<AppState>, Path(id_or_name): Path<String>) -> ApiResult<impl IntoResponse> {
    let deployment = deployments::find(&state, &id_or_name)?;
    let config = state.store.deployment_config(&deployment.deployment_id)?;
    Ok(axum::Json(config_view(&config)))
}

/// The body of `PUT`: the whole configuration; parts left out become empty.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplaceConfig {
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
}

async fn save(state: &AppState, deployment_id: &str, mut config: DeploymentConfig) -> ApiResult<Value> {
    config.allowed_hosts.dedup();
    check(&config)?;
    state.store.set_deployment_config(deployment_id, &config)?;
    state.store.flush().await?;
    // Names only: a secret value never reaches the log.
    tracing::info!(
        deployment_id,
        env = config.env.len(),
        secrets = config.secrets.len(),
        allowed_hosts = config.allowed_hosts.len(),
        "deployment settings changed"
    );
    Ok(config_view(&config))
}

async fn replace(
    State(state): State<AppState>,
    Path(id_or_name): Path<String>,
    Json(body): Json<ReplaceConfig>,
) -> ApiResult<impl IntoResponse> {
    let deployment = deployments::find(&state, &id_or_name)?;
    let _patching = state.patch_lock.lock().await;
    let config = DeploymentConfig { env: body.env, secrets: body.secrets, allowed_hosts: body.allowed_hosts };
    Ok(axum::Json(save(&state, &deployment.deployment_id, config).await?))
}

/// The body of `PATCH`: single entries to set, or to remove with `null`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateConfig {
    #[serde(default)]
    env: BTreeMap<String, Option<String>>,
    #[serde(default)]
    secrets: BTreeMap<String, Option<String>>,
    /// Replaces the whole allow-list.
    allowed_hosts: Option<Vec<String>>,
    #[serde(default)]
    add_allowed_hosts: Vec<String>,
    #[serde(default)]
    remove_allowed_hosts: Vec<String>,
}

fn merge(target: &mut BTreeMap<String, String>, changes: BTreeMap<String, Option<String>>) {
    for (name, value) in changes {
        match value {
            Some(value) => target.insert(name, value),
            None => target.remove(&name),
        };
    }
}

async fn update(
    State(state): State<AppState>,
    Path(id_or_name): Path<String>,
    Json(body): Json<UpdateConfig>,
) -> ApiResult<impl IntoResponse> {
    let deployment = deployments::find(&state, &id_or_name)?;
    let _patching = state.patch_lock.lock().await;
    let mut config = state.store.deployment_config(&deployment.deployment_id)?;

    merge(&mut config.env, body.env);
    merge(&mut config.secrets, body.secrets);
    if let Some(hosts) = body.allowed_hosts {
        config.allowed_hosts = hosts;
    }
    for host in body.add_allowed_hosts {
        if !config.allowed_hosts.contains(&host) {
            config.allowed_hosts.push(host);
        }
    }
    config.allowed_hosts.retain(|host| !body.remove_allowed_hosts.contains(host));
    Ok(axum::Json(save(&state, &deployment.deployment_id, config).await?))
}
