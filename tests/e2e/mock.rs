//! Servers outside the project that crews talk to, as real servers on
//! loopback: an OpenAI-compatible chat completions API with canned
//! responses, and a listener that only counts connections.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};

/// A request the mock received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Clone, Default)]
struct MockState {
    requests: Arc<Mutex<Vec<Recorded>>>,
}

/// The mock LLM API, serving on a loopback port until dropped.
pub struct MockLlm {
    pub port: u16,
    state: MockState,
    task: tokio::task::JoinHandle<()>,
}

/// Returns the reply text of the n-th chat completion (counted from 1).
pub fn canned_answer(n: usize) -> String {
    format!("canned answer {n} from the mock")
}

async fn chat_completions(State(state): State<MockState>, headers: HeaderMap, body: axum::Json<Value>) -> axum::Json<Value> {
    let n = {
        let mut requests = state.requests.lock().unwrap();
        let authorization = headers.get("authorization").and_then(|value| value.to_str().ok()).map(str::to_string);
        requests.push(Recorded { authorization, body: body.0.clone() });
        requests.len()
    };
    axum::Json(json!({
        "id": format!("chatcmpl-{n}"),
        "object": "chat.completion",
        "model": body.0["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": canned_answer(n) }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18 }
    }))
}

async fn big() -> String {
    "b".repeat(5000)
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(120)).await;
    "too late"
}

impl MockLlm {
    pub async fn start() -> Self {
        let state = MockState::default();
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .route("/ok", get(|| async { "hello from the mock" }))
            .route("/big", get(big))
            .route("/slow", get(slow))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("the mock binds a loopback port");
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the mock serves");
        });
        Self { port, state, task }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback listener that accepts and counts connections, and responds to
/// none.
pub struct ConnectionCounter {
    pub port: u16,
    count: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl ConnectionCounter {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("the counter binds a loopback port");
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicU64::new(0));
        let counted = count.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Self { port, count, task }
    }

    pub fn connections(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for ConnectionCounter {
    fn drop(&mut self) {
        self.task.abort();
    }
}
