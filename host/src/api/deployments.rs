//! Deployments and their versions: upload a component, list, show, delete.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::body::read_limited;
use super::extract::{Json, Path, Query};
use super::limits::LimitsPatch;
use super::{ApiError, ApiResult, AppState};
use crate::runtime::{DeployError, EngineKey};
use crate::storage::Deployment;

/// Maximum length of a deployment name, in bytes.
const MAX_NAME_BYTES: usize = 64;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/deployments", post(deploy).get(list))
        .route("/v1/deployments/{deployment}", get(show).patch(update).delete(remove))
}

/// Finds a deployment by id or name, or returns a 404 that names it.
pub(super) fn find(state: &AppState, id_or_name: &str) -> ApiResult<Deployment> {
    state.store.deployment(id_or_name)?.ok_or_else(|| ApiError::not_found("deployment", id_or_name))
}

/// Query parameters of a deploy: the name and optional limits.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployQuery {
    name: Option<String>,
    timeout_secs: Option<u64>,
    memory_mib: Option<u64>,
    stack_kib: Option<u64>,
    max_output_bytes: Option<u64>,
    max_values_bytes: Option<u64>,
    fuel: Option<u64>,
    max_concurrent_runs: Option<u32>,
    http_timeout_secs: Option<u64>,
    http_max_response_bytes: Option<u64>,
    http_max_requests: Option<u64>,
}

impl DeployQuery {
    fn limits(&self) -> LimitsPatch {
        LimitsPatch {
            timeout_secs: self.timeout_secs,
            memory_mib: self.memory_mib,
            stack_kib: self.stack_kib,
            max_output_bytes: self.max_output_bytes,
            max_values_bytes: self.max_values_bytes,
            fuel: self.fuel.map(Some),
            max_concurrent_runs: self.max_concurrent_runs.map(Some),
            http_timeout_secs: self.http_timeout_secs,
            http_max_response_bytes: self.http_max_response_bytes,
            http_max_requests: self.http_max_requests,
        }
    }
}

/// Checks a deployment name: 1 to 64 letters, digits, `-`, `_` or `.`,
/// starting with a letter or digit, and not shaped like a deployment id.
fn check_name(name: Option<String>) -> ApiResult<String> {
    let Some(name) = name else {
        return Err(ApiError::bad_request(
            "missing_parameter",
            "the query parameter `name` is required, as in POST /v1/deployments?name=research",
        ));
    };
    let valid_chars = name.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
    let valid_start = name.bytes().next().is_some_and(|byte| byte.is_ascii_alphanumeric());
    if !valid_chars || !valid_start || name.len() > MAX_NAME_BYTES || name.starts_with("dep_") {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!(
                "the deployment name {name:?} is invalid; use 1 to {MAX_NAME_BYTES} letters, digits, `-`, `_` \
                 or `.`, starting with a letter or digit and not with `dep_`"
            ),
        ));
    }
    Ok(name)
}

fn check_content_type(headers: &HeaderMap) -> ApiResult<()> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("application/wasm") || media_type.eq_ignore_ascii_case("application/octet-stream") {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!(
            "the content type {content_type:?} is not accepted for a component; send the .wasm file \
             with `Content-Type: application/wasm`"
        ),
    ))
}

fn deploy_error(error: DeployError) -> ApiError {
    match error {
        DeployError::Internal(message) => ApiError::internal(message),
        other => ApiError::bad_request(other.code(), other.to_string()),
    }
}

async fn deploy(
    State(state): State<AppState>,
    Query(query): Query<DeployQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    // Read the body before any check: a response sent while the client is
    // still uploading resets the connection, and the client never sees it.
    let component = read_limited(body, state.body_limits.component_bytes, "--max-component-mib").await?;

    let patch = query.limits();
    let name = check_name(query.name)?;
    check_content_type(&headers)?;
    let base = match state.store.deployment(&name)? {
        Some(existing) => existing.limits,
        None => state.default_limits,
    };
    let limits = patch.apply(base)?;

    let engine_key = run_limits_key(&limits);
    let compiled = state.runtime.compile(component.clone(), engine_key).await.map_err(deploy_error)?;

    let sha256 = hex::encode(Sha256::digest(&component));
    let (deployment, version) = state.store.add_version(&name, &component, &sha256, &limits, !patch.is_empty())?;
    state.runtime.install(&version.version_id, engine_key, compiled).await.map_err(ApiError::internal)?;
    state.store.flush().await?;
    tracing::info!(
        deployment_id = %deployment.deployment_id,
        name = %deployment.name,
        version_number = version.version_number,
        size_bytes = version.size_bytes,
        "component deployed"
    );

    let location = format!("/v1/deployments/{}", deployment.deployment_id);
    let body = json!({
        "deployment_id": deployment.deployment_id,
        "name": deployment.name,
        "version_id": version.version_id,
        "version_number": version.version_number,
        "created_at": json!(version)["created_at"],
    });
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(body)))
}

async fn list(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let deployments = state.store.deployments()?;
    Ok(axum::Json(json!({ "deployments": deployments })))
}

async fn show(State(state): State<AppState>, Path(id_or_name): Path<String>) -> ApiResult<impl IntoResponse> {
    let deployment = find(&state, &id_or_name)?;
    let mut versions = state.store.versions(&deployment.deployment_id)?;
    versions.reverse();

    let config = state.store.deployment_config(&deployment.deployment_id)?;

    let mut view = json!(deployment);
    view["versions"] = json!(versions);
    view["allowed_hosts"] = json!(config.allowed_hosts);
    Ok(axum::Json(view))
}

/// The body of `PATCH /v1/deployments/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateDeployment {
    limits: LimitsPatch,
}

async fn update(
    State(state): State<AppState>,
    Path(id_or_name): Path<String>,
    Json(body): Json<UpdateDeployment>,
) -> ApiResult<impl IntoResponse> {
    let _patching = state.patch_lock.lock().await;
    let deployment = find(&state, &id_or_name)?;
    let limits = body.limits.apply(deployment.limits)?;
    let deployment = state.store.update_deployment_limits(&deployment.deployment_id, &limits)?;
    state.store.flush().await?;
    tracing::info!(deployment_id = %deployment.deployment_id, ?limits, "deployment limits changed");
    Ok(axum::Json(deployment))
}

/// Returns the engine settings that a deployment's limits need.
fn run_limits_key(limits: &crate::storage::DeploymentLimits) -> EngineKey {
    EngineKey { stack_kib: limits.stack_kib, fuel: limits.fuel.is_some() }
}

async fn remove(State(state): State<AppState>, Path(id_or_name): Path<String>) -> ApiResult<impl IntoResponse> {
    let deployment = find(&state, &id_or_name)?;
    let version_ids = state.store.delete_deployment(&deployment.deployment_id)?;
    state.store.flush().await?;
    for version_id in &version_ids {
        state.runtime.forget(version_id);
    }
    tracing::info!(deployment_id = %deployment.deployment_id, name = %deployment.name, "deployment deleted");
    Ok(StatusCode::NO_CONTENT)
}
