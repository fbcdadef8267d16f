//! The HTTP API: routes per resource, bearer-key authentication and one JSON
//! error shape. Handlers validate input, then call the storage layer and the
//! scheduler; they never run guest code themselves.

mod body;
mod config;
mod deployments;
mod error;
mod events;
mod extract;
pub mod keys;
mod limits;
mod runs;
mod threads;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult};

use crate::runtime::Runtime;
use crate::scheduler::Scheduler;
use crate::storage::{DeploymentLimits, Store};

const MIB: usize = 1024 * 1024;

/// Request body limits.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Largest JSON body, in bytes. Default 16 MiB.
    pub json_bytes: usize,
    /// Largest component upload, in bytes. Default 128 MiB.
    pub component_bytes: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self { json_bytes: 16 * MIB, component_bytes: 128 * MIB }
    }
}

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub scheduler: Arc<Scheduler>,
    pub runtime: Arc<Runtime>,
    pub body_limits: BodyLimits,
    /// The limits of a new deployment that sets none.
    pub default_limits: DeploymentLimits,
    /// Held while a handler reads, changes and writes back a record that
    /// clients patch (settings, thread metadata), so concurrent patches do
    /// not lose each other's changes. One process owns a data directory.
    pub patch_lock: Arc<tokio::sync::Mutex<()>>,
}

/// Builds the router with every route, authentication and tracing.
pub fn router(state: AppState) -> Router {
    let authenticated = Router::new()
        .merge(deployments::routes())
        .merge(config::routes())
        .merge(runs::routes())
        .merge(threads::routes())
        .merge(events::routes())
        .merge(keys::routes())
        .route("/v1/stats", get(stats))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));

    Router::new()
        .route("/healthz", get(healthz))
        .merge(authenticated)
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

async fn stats(State(state): State<AppState>) -> impl IntoResponse {
    let (pending, running) = state.scheduler.counts();
    let (flushes, flush_requests) = state.store.flush_stats();
    axum::Json(json!({
        "runs_pending": pending,
        "runs_running": running,
        "runtime": state.runtime.stats(),
        "store": { "flushes": flushes, "flush_requests": flush_requests },
    }))
}

async fn route_not_found(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        format!("no route for {} {}; the API lives under /v1", request.method(), request.uri().path()),
    )
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", request.method(), request.uri().path()),
    )
}

/// Lets a request through only with a valid `Authorization: Bearer <key>`.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, secret)| secret.trim());
    let Some(secret) = presented else {
        return ApiError::unauthorized().into_response();
    };
    match state.store.api_key_by_hash(&keys::hash_secret(secret)) {
        Ok(Some(_)) => next.run(request).await,
        Ok(None) => ApiError::unauthorized().into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}
