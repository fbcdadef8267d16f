//! API keys: `POST /v1/keys`, `GET /v1/keys`, `DELETE /v1/keys/{id}`.
//!
//! A key is 32 random bytes; only its SHA-256 is stored. A fast hash is
//! enough here because keys are random, not chosen by people.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::extract::{Json, Path};
use super::{ApiError, ApiResult, AppState};
use crate::ids;
use crate::storage::{ApiKey, Store, StoreResult};

/// The start of every key, so scanners and people can recognize one.
pub const KEY_PREFIX: &str = "chk_";

/// Characters of a key shown in listings.
const SHOWN_PREFIX_CHARS: usize = 12;

/// Returns the hex SHA-256 of a key.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates and stores a new key named `name`; returns the record and the
/// secret, which is not stored and cannot be shown again.
pub fn create_key(store: &dyn Store, name: &str) -> StoreResult<(ApiKey, String)> {
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    let secret = format!("{KEY_PREFIX}{}", hex::encode(random));
    let key = store_key(store, name, &secret)?;
    Ok((key, secret))
}

/// Stores a key whose secret the caller chose, such as one from the
/// environment. Storing the same secret twice keeps the first record.
pub fn store_key(store: &dyn Store, name: &str, secret: &str) -> StoreResult<ApiKey> {
    let hash = hash_secret(secret);
    if let Some(existing) = store.api_key_by_hash(&hash)? {
        return Ok(existing);
    }
    let key = ApiKey {
        key_id: ids::new_id(ids::API_KEY),
        name: name.to_string(),
        prefix: secret.chars().take(SHOWN_PREFIX_CHARS).collect(),
        hash,
        created_at: OffsetDateTime::now_utc(),
    };
    store.insert_api_key(&key)?;
    Ok(key)
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/keys", get(list_keys).post(create))
        .route("/v1/keys/{key_id}", delete(revoke))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    #[serde(default)]
    name: Option<String>,
}

/// Renders a key for the API: everything but the hash.
fn key_view(key: &ApiKey) -> serde_json::Value {
    let mut view = json!(key);
    if let Some(fields) = view.as_object_mut() {
        fields.remove("hash");
    }
    view
}

async fn create(State(state): State<AppState>, Json(body): Json<CreateKey>) -> ApiResult<impl IntoResponse> {
    let name = body.name.unwrap_or_else(|| "unnamed".to_string());
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::bad_request("invalid_field", "name must have 1 to 100 characters"));
    }
    let (key, secret) = create_key(state.store.as_ref(), &name)?;
    state.store.flush().await?;
    tracing::info!(key_id = %key.key_id, name = %key.name, "API key created");

    let mut view = key_view(&key);
    view["key"] = json!(secret);
    Ok((StatusCode::CREATED, axum::Json(view)))
}

async fn list_keys(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let keys: Vec<_> = state.store.api_keys()?.iter().map(key_view).collect();
    Ok(axum::Json(json!({ "keys": keys })))
}

async fn revoke(State(state): State<AppState>, Path(key_id): Path<String>) -> ApiResult<impl IntoResponse> {
    if !state.store.revoke_api_key(&key_id)? {
        return Err(ApiError::not_found("API key", &key_id));
    }
    state.store.flush().await?;
    tracing::info!(key_id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}
