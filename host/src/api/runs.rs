//! Runs: create (and wait), show, list, events, cancel.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::extract::{Json, Path, Query};
use super::{ApiError, ApiResult, AppState, deployments};
use crate::ids;
use crate::scheduler::CancelResult;
use crate::storage::{Page, Run, RunFilter, RunStatus};

/// Default and maximum wait of `/wait` routes, in seconds.
const DEFAULT_WAIT_SECS: u64 = 300;
const MAX_WAIT_SECS: u64 = 3600;

/// `Retry-After` seconds when the pending queue is full.
const RETRY_AFTER_SECS: u64 = 2;

/// Default and maximum page size of listings.
pub(super) const DEFAULT_LIMIT: usize = 20;
pub(super) const MAX_LIMIT: usize = 100;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/runs", post(create).get(list))
        .route("/v1/runs/wait", post(create_and_wait))
        .route("/v1/runs/{run_id}", get(show))
        .route("/v1/runs/{run_id}/cancel", post(cancel))
}

/// The body of `POST /v1/runs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRun {
    deployment_id: String,
    #[serde(default)]
    input: Value,
    version_number: Option<u32>,
}

/// Renders a run as the API shows it, with `duration_ms`.
pub(super) fn run_view(run: &Run) -> Value {
    let mut view = json!(run);
    view["duration_ms"] = json!(run.duration_ms());
    view
}

/// Moment a new run is acknowledged.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Acknowledge {
    /// With a 202 right away: the run must be durable first.
    Now,
    /// Only when the run ends (or the wait times out), so the flush that
    /// records the end also covers the run itself.
    AtEnd,
}

/// Stores a new pending run and hands it to the scheduler, flushing first
/// when the caller acknowledges it at once. For a thread run the storage
/// layer also checks and takes the thread's lock.
pub(super) async fn accept_run(
    state: &AppState,
    deployment: &str,
    thread_id: Option<String>,
    input: Value,
    version_number: Option<u32>,
    acknowledge: Acknowledge,
) -> ApiResult<Run> {
    let deployment = deployments::find(state, deployment)?;
    let version_number = version_number.unwrap_or(deployment.latest_version);
    let version = state.store.version(&deployment.deployment_id, version_number)?.ok_or_else(|| {
        ApiError::not_found("version", &version_number.to_string()).with_details(json!({
            "deployment_id": deployment.deployment_id,
            "latest_version": deployment.latest_version,
        }))
    })?;

    let slot = state.scheduler.reserve().map_err(|full| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "queue_full",
            format!(
                "{} runs are already waiting to start, the most this server queues; retry after a few \
                 seconds, or start the server with a higher --max-pending-runs",
                full.max_pending_runs
            ),
        )
        .with_retry_after(RETRY_AFTER_SECS)
    })?;

    let run = Run {
        id: ids::new_id(ids::RUN),
        deployment_id: deployment.deployment_id,
        version_id: version.version_id,
        version_number,
        thread_id,
        status: RunStatus::Pending,
        input,
        output: None,
        error: None,
        attempt: 0,
        created_at: OffsetDateTime::now_utc(),
        started_at: None,
        completed_at: None,
    };
    state.store.insert_run(&run)?;
    if acknowledge == Acknowledge::Now {
        state.store.flush().await?;
    }
    state.scheduler.submit(run.clone(), slot);
    Ok(run)
}

/// Builds the 202 response for an accepted run.
pub(super) fn accepted(run: &Run) -> Response {
    let body = json!({
        "run_id": run.id,
        "deployment_id": run.deployment_id,
        "version_id": run.version_id,
        "version_number": run.version_number,
        "thread_id": run.thread_id,
        "status": run.status,
    });
    let location = format!("/v1/runs/{}", run.id);
    (StatusCode::ACCEPTED, [(header::LOCATION, location)], axum::Json(body)).into_response()
}

#[derive(Deserialize)]
pub(super) struct WaitQuery {
    timeout: Option<u64>,
}

impl WaitQuery {
    /// Checks the wait before any run is accepted, so a rejected request
    /// never runs the crew.
    pub(super) fn duration(&self) -> ApiResult<Duration> {
        let seconds = self.timeout.unwrap_or(DEFAULT_WAIT_SECS);
        if seconds == 0 || seconds > MAX_WAIT_SECS {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("timeout={seconds} is out of range; give 1 to {MAX_WAIT_SECS} seconds"),
            ));
        }
        Ok(Duration::from_secs(seconds))
    }
}

/// Waits for the run to end: 200 with the run once it has, or 202 with the
/// run as it is when the wait times out.
pub(super) async fn wait_for(state: &AppState, run: &Run, wait: Duration) -> ApiResult<Response> {
    let run = state
        .scheduler
        .wait(&run.id, wait)
        .await?
        .ok_or_else(|| ApiError::not_found("run", &run.id))?;

    let status = if run.status.is_terminal() {
        StatusCode::OK
    } else {
        // The run was accepted without a flush; a 202 promises it exists.
        state.store.flush().await?;
        StatusCode::ACCEPTED
    };
    let location = format!("/v1/runs/{}", run.id);
    Ok((status, [(header::LOCATION, location)], axum::Json(run_view(&run))).into_response())
}

async fn create(State(state): State<AppState>, Json(body): Json<CreateRun>) -> ApiResult<Response> {
    let run = accept_run(&state, &body.deployment_id, None, body.input, body.version_number, Acknowledge::Now).await?;
    Ok(accepted(&run))
}

async fn create_and_wait(
    State(state): State<AppState>,
    Query(query): Query<WaitQuery>,
    Json(body): Json<CreateRun>,
) -> ApiResult<Response> {
    let wait = query.duration()?;
    let run = accept_run(&state, &body.deployment_id, None, body.input, body.version_number, Acknowledge::AtEnd).await?;
    wait_for(&state, &run, wait).await
}

async fn show(State(state): State<AppState>, Path(run_id): Path<String>) -> ApiResult<impl IntoResponse> {
    let run = state.store.run(&run_id)?.ok_or_else(|| ApiError::not_found("run", &run_id))?;
    Ok(axum::Json(run_view(&run)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    deployment_id: Option<String>,
    thread_id: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// Checks `limit` and `offset` of a listing.
pub(super) fn page(limit: Option<usize>, offset: Option<usize>) -> ApiResult<Page> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("limit={limit} is out of range; give 1 to {MAX_LIMIT}"),
        ));
    }
    Ok(Page { limit, offset: offset.unwrap_or(0) })
}

async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> ApiResult<impl IntoResponse> {
    let status = match query.status.as_deref() {
        Some(name) => Some(RunStatus::parse(name).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("status={name:?} is not a run status; use pending, running, succeeded, failed or canceled"),
            )
        })?),
        None => None,
    };
    // A name works wherever a deployment id does.
    let deployment_id = match query.deployment_id {
        Some(id_or_name) => Some(deployments::find(&state, &id_or_name)?.deployment_id),
        None => None,
    };
    let filter = RunFilter { deployment_id, thread_id: query.thread_id, status };

    let listing = state.store.runs(&filter, page(query.limit, query.offset)?)?;
    let runs: Vec<Value> = listing.items.iter().map(run_view).collect();
    Ok(axum::Json(json!({ "runs": runs, "has_more": listing.has_more })))
}

async fn cancel(State(state): State<AppState>, Path(run_id): Path<String>) -> ApiResult<impl IntoResponse> {
    match state.scheduler.cancel(&run_id).await? {
        CancelResult::Requested(status) => Ok(axum::Json(json!({ "run_id": run_id, "status": status }))),
        CancelResult::NotActive(status) => Err(ApiError::conflict(
            "run_not_active",
            format!("run {run_id} already ended with the status {}; only pending and running runs can be canceled", status.as_str()),
        )
        .with_details(json!({ "status": status }))),
        CancelResult::NotFound => Err(ApiError::not_found("run", &run_id)),
    }
}
