//! Threads: create, show, list, update metadata, delete, run, history.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::extract::{Json, Path, Query};
use super::runs::{Acknowledge, WaitQuery, accept_run, accepted, page, wait_for};
use super::{ApiError, ApiResult, AppState, deployments};
use crate::ids;
use crate::storage::{Thread, ThreadFilter, ThreadStatus};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/threads", post(create).get(list))
        .route("/v1/threads/{thread_id}", get(show).patch(update).delete(remove))
        .route("/v1/threads/{thread_id}/runs", post(run))
        .route("/v1/threads/{thread_id}/runs/wait", post(run_and_wait))
        .route("/v1/threads/{thread_id}/history", get(history))
        .route("/v1/threads/{thread_id}/checkpoints/{checkpoint_id}", get(checkpoint))
}

fn find(state: &AppState, thread_id: &str) -> ApiResult<Thread> {
    state.store.thread(thread_id)?.ok_or_else(|| ApiError::not_found("thread", thread_id))
}

/// Checks that `metadata` is a JSON object.
fn metadata_object(metadata: Option<Value>) -> ApiResult<Map<String, Value>> {
    match metadata {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(fields)) => Ok(fields),
        Some(other) => Err(ApiError::bad_request(
            "invalid_field",
            format!("metadata must be a JSON object, not {other}; send for example {{\"user\": \"ada\"}}"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateThread {
    deployment_id: String,
    metadata: Option<Value>,
    #[serde(default)]
    values: Value,
}

async fn create(State(state): State<AppState>, Json(body): Json<CreateThread>) -> ApiResult<impl IntoResponse> {
    let deployment = deployments::find(&state, &body.deployment_id)?;
    let metadata = metadata_object(body.metadata)?;

    let now = OffsetDateTime::now_utc();
    let thread = Thread {
        thread_id: ids::new_id(ids::THREAD),
        deployment_id: deployment.deployment_id,
        status: ThreadStatus::Idle,
        metadata: Value::Object(metadata),
        values: body.values,
        active_run_id: None,
        created_at: now,
        updated_at: now,
    };
    state.store.insert_thread(&thread)?;
    state.store.flush().await?;
    tracing::info!(thread_id = %thread.thread_id, deployment_id = %thread.deployment_id, "thread created");
    Ok((StatusCode::CREATED, axum::Json(thread)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    deployment_id: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> ApiResult<impl IntoResponse> {
    let status = match query.status.as_deref() {
        Some(name) => Some(ThreadStatus::parse(name).ok_or_else(|| {
            ApiError::bad_request("invalid_parameter", format!("status={name:?} is not a thread status; use idle or busy"))
        })?),
        None => None,
    };
    let deployment_id = match query.deployment_id {
        Some(id_or_name) => Some(deployments::find(&state, &id_or_name)?.deployment_id),
        None => None,
    };
    let listing = state.store.threads(&ThreadFilter { deployment_id, status }, page(query.limit, query.offset)?)?;
    Ok(axum::Json(json!({ "threads": listing.items, "has_more": listing.has_more })))
}

async fn show(State(state): State<AppState>, Path(thread_id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(axum::Json(find(&state, &thread_id)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateThread {
    metadata: Value,
}

/// Merges the given metadata keys into the thread's metadata; a key set to
/// `null` is removed.
async fn update(
    State(state): State<AppState>,
    Path(thread_id): Path<String>,
    Json(body): Json<UpdateThread>,
) -> ApiResult<impl IntoResponse> {
    let changes = metadata_object(Some(body.metadata))?;
    let _patching = state.patch_lock.lock().await;
    let thread = find(&state, &thread_id)?;

    let mut metadata = match thread.metadata {
        Value::Object(fields) => fields,
        _ => Map::new(),
    };
    for (key, value) in changes {
        if value.is_null() {
            metadata.remove(&key);
        } else {
            metadata.insert(key, value);
        }
    }
    let thread = state.store.update_thread_metadata(&thread_id, Value::Object(metadata))?;
    state.store.flush().await?;
    Ok(axum::Json(thread))
}

async fn remove(State(state): State<AppState>, Path(thread_id): Path<String>) -> ApiResult<impl IntoResponse> {
    state.store.delete_thread(&thread_id)?;
    state.store.flush().await?;
    tracing::info!(thread_id, "thread deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateThreadRun {
    #[serde(default)]
    input: Value,
    version_number: Option<u32>,
}

async fn start_run(
    state: &AppState,
    thread_id: &str,
    body: CreateThreadRun,
    acknowledge: Acknowledge,
) -> ApiResult<crate::storage::Run> {
    let thread = find(state, thread_id)?;
    accept_run(state, &thread.deployment_id, Some(thread.thread_id), body.input, body.version_number, acknowledge).await
}

async fn run(
    State(state): State<AppState>,
    Path(thread_id): Path<String>,
    Json(body): Json<CreateThreadRun>,
) -> ApiResult<Response> {
    let run = start_run(&state, &thread_id, body, Acknowledge::Now).await?;
    Ok(accepted(&run))
}

async fn run_and_wait(
    State(state): State<AppState>,
    Path(thread_id): Path<String>,
    Query(query): Query<WaitQuery>,
    Json(body): Json<CreateThreadRun>,
) -> ApiResult<Response> {
    let wait = query.duration()?;
    let run = start_run(&state, &thread_id, body, Acknowledge::AtEnd).await?;
    wait_for(&state, &run, wait).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn history(
    State(state): State<AppState>,
    Path(thread_id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> ApiResult<impl IntoResponse> {
    find(&state, &thread_id)?;
    let listing = state.store.checkpoints(&thread_id, page(query.limit, query.offset)?)?;
    Ok(axum::Json(json!({ "checkpoints": listing.items, "has_more": listing.has_more })))
}

async fn checkpoint(
    State(state): State<AppState>,
    Path((thread_id, checkpoint_id)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    find(&state, &thread_id)?;
    let checkpoint = state
        .store
        .checkpoint(&thread_id, &checkpoint_id)?
        .ok_or_else(|| ApiError::not_found("checkpoint", &checkpoint_id))?;
    Ok(axum::Json(checkpoint))
}
