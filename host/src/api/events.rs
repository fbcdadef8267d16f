//! Run and thread events: the stored log as JSON, or a live Server-Sent
//! Events stream that replays the log and then follows the run.
//!
//! A follower subscribes to the run's live channel before it reads the log,
//! and drops events whose sequence number it has already sent, so nothing
//! falls between replay and live follow. The run never waits for a
//! follower, because its sink only sends to a broadcast channel. A follower
//! that falls behind that channel reads the missed events from the log.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::extract::{Path, Query};
use super::{ApiError, ApiResult, AppState};
use crate::storage::{Event, Page, RunFilter, event_types};

/// Events read from the log at a time.
const PAGE: usize = 500;
/// Events buffered for one follower before the follower task waits; the
/// run is never slowed down by this.
const FOLLOWER_BUFFER: usize = 64;
/// A comment line at this interval keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often a follower looks again for a run that is stored but not yet
/// handed to the scheduler.
const RETRY: Duration = Duration::from_millis(50);

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/runs/{run_id}/events", get(run_events))
        .route("/v1/threads/{thread_id}/events", get(thread_events))
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"))
}

fn is_terminal(event: &Event) -> bool {
    matches!(event.kind.as_str(), event_types::RUN_COMPLETED | event_types::RUN_FAILED | event_types::RUN_CANCELED)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

/// Default and maximum number of events in one JSON page.
const DEFAULT_EVENT_PAGE: usize = 1_000;
const MAX_EVENT_PAGE: usize = 10_000;

/// Returns the sequence number to resume after: `Last-Event-ID`, else
/// `?after=`.
fn resume_point(headers: &HeaderMap, after: Option<u64>) -> ApiResult<u64> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(after.unwrap_or(0));
    };
    let text = value.to_str().unwrap_or("");
    text.trim().parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_header",
            format!("Last-Event-ID {text:?} is not an event sequence number; send the `id` of the last event received"),
        )
    })
}

async fn run_events(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if state.store.run(&run_id)?.is_none() {
        return Err(ApiError::not_found("run", &run_id));
    }
    let after = resume_point(&headers, query.after)?;

    if !wants_stream(&headers) {
        let limit = query.limit.unwrap_or(DEFAULT_EVENT_PAGE);
        if limit == 0 || limit > MAX_EVENT_PAGE {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("limit={limit} is out of range; give 1 to {MAX_EVENT_PAGE}, and page on with ?after=SEQ"),
            ));
        }
        let mut events = state.store.events(&run_id, after, limit + 1)?;
        let has_more = events.len() > limit;
        events.truncate(limit);
        return Ok(axum::Json(json!({ "events": events, "has_more": has_more })).into_response());
    }

    let (sender, receiver) = mpsc::channel(FOLLOWER_BUFFER);
    tokio::spawn(async move {
        let send = |event: Event| {
            let sender = sender.clone();
            async move { sender.send(sse_event(&event, None)).await.is_ok() }
        };
        if let Err(error) = follow_run(&state, &run_id, after, send).await {
            tracing::warn!(%error, run_id, "following a run's events failed");
        }
    });
    Ok(sse_response(ReceiverStream::new(receiver)))
}

fn sse_response(stream: impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static) -> Response {
    let mut response = Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")).into_response();
    // Ask reverse proxies such as nginx not to buffer the stream.
    response.headers_mut().insert("x-accel-buffering", header::HeaderValue::from_static("no"));
    response
}

fn sse_event(event: &Event, run_id: Option<&str>) -> Result<SseEvent, Infallible> {
    let mut data = json!(event);
    if let Some(run_id) = run_id {
        data["run_id"] = Value::String(run_id.to_string());
    }
    let mut sse = SseEvent::default().event(event.kind.as_str()).data(data.to_string());
    // A thread stream mixes the logs of several runs, so a single sequence
    // number cannot resume it; only run streams carry an `id`.
    if run_id.is_none() {
        sse = sse.id(event.seq.to_string());
    }
    Ok(sse)
}

/// Sends a run's events after `after` to `send`, in order and once each,
/// until the terminal event or until `send` returns false (the client left).
async fn follow_run<F, Fut>(state: &AppState, run_id: &str, mut after: u64, send: F) -> anyhow::Result<()>
where
    F: Fn(Event) -> Fut,
    Fut: Future<Output = bool>,
{
    let mut live: Option<broadcast::Receiver<Event>> = None;
    loop {
        if live.is_none() {
            live = state.scheduler.active_run(run_id).map(|run| run.subscribe());
        }

        // Replay what is stored after the last event sent.
        loop {
            let page = state.store.events(run_id, after, PAGE)?;
            let full = page.len() == PAGE;
            for event in page {
                after = event.seq;
                let terminal = is_terminal(&event);
                if !send(event).await || terminal {
                    return Ok(());
                }
            }
            if !full {
                break;
            }
        }

        let Some(receiver) = live.as_mut() else {
            // Not active: either the run has ended and its log was read
            // above, or it is stored but not handed to the scheduler yet.
            let ended = state.store.run(run_id)?.is_none_or(|run| run.status.is_terminal());
            if ended && state.scheduler.active_run(run_id).is_none() {
                // Read once more in case the end was written after the
                // replay above.
                for event in state.store.events(run_id, after, usize::MAX)? {
                    if !send(event).await {
                        break;
                    }
                }
                return Ok(());
            }
            tokio::time::sleep(RETRY).await;
            continue;
        };

        // Follow live until the channel skips ahead or closes; then replay
        // from the log again.
        loop {
            match receiver.recv().await {
                Ok(event) if event.seq <= after => continue,
                Ok(event) if event.seq == after + 1 => {
                    after = event.seq;
                    let terminal = is_terminal(&event);
                    if !send(event).await || terminal {
                        return Ok(());
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => {
                    live = None;
                    break;
                }
            }
        }
    }
}

async fn thread_events(
    State(state): State<AppState>,
    Path(thread_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if state.store.thread(&thread_id)?.is_none() {
        return Err(ApiError::not_found("thread", &thread_id));
    }
    if !wants_stream(&headers) {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "not_acceptable",
            "thread events are only available as a stream; send `Accept: text/event-stream`, or read one \
             run's log with GET /v1/runs/{run_id}/events",
        ));
    }

    let (sender, receiver) = mpsc::channel(FOLLOWER_BUFFER);
    tokio::spawn(async move {
        if let Err(error) = follow_thread(&state, &thread_id, sender).await {
            tracing::warn!(%error, thread_id, "following a thread's events failed");
        }
    });
    Ok(sse_response(ReceiverStream::new(receiver)))
}

/// Follows each run of a thread in turn, from the run active when the client
/// connects, until the client leaves or the thread is deleted.
///
/// The follower subscribes to new runs before it reads the thread, and
/// queues every run of the thread it hears about, so a run that starts and
/// ends while an earlier run is still being sent is followed too.
async fn follow_thread(
    state: &AppState,
    thread_id: &str,
    sender: mpsc::Sender<Result<SseEvent, Infallible>>,
) -> anyhow::Result<()> {
    let mut started = state.scheduler.subscribe_started();
    let Some(thread) = state.store.thread(thread_id)? else {
        return Ok(());
    };
    let mut queue: VecDeque<String> = thread.active_run_id.into_iter().collect();
    // Run ids are time-ordered, so one id marks every run up to it as sent.
    let mut last_followed: Option<String> = None;

    loop {
        while let Some(run_id) = queue.pop_front() {
            if last_followed.as_ref().is_some_and(|last| &run_id <= last) {
                continue;
            }
            let send = |event: Event| {
                let sender = sender.clone();
                let run_id = run_id.clone();
                async move { sender.send(sse_event(&event, Some(&run_id))).await.is_ok() }
            };
            follow_run(state, &run_id, 0, send).await?;
            if sender.is_closed() {
                return Ok(());
            }
            last_followed = Some(run_id);
        }

        tokio::select! {
            received = started.recv() => match received {
                Ok((run_id, Some(thread))) if thread == thread_id => queue.push_back(run_id),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Missed announcements: find the thread's runs in storage.
                    let filter = RunFilter { thread_id: Some(thread_id.to_string()), ..RunFilter::default() };
                    let recent = state.store.runs(&filter, Page { limit: 100, offset: 0 })?;
                    let mut missed: Vec<String> = recent
                        .items
                        .into_iter()
                        .map(|run| run.id)
                        .filter(|run_id| last_followed.as_ref().is_none_or(|last| run_id > last))
                        .collect();
                    missed.sort();
                    queue.extend(missed);
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            () = sender.closed() => return Ok(()),
            () = tokio::time::sleep(KEEP_ALIVE) => {
                if state.store.thread(thread_id)?.is_none() {
                    return Ok(());
                }
            }
        }
    }
}
