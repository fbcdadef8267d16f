//! The harness of the end-to-end tests: example crews built from source, the
//! real `crewhost` binary on a loopback port, and a sled data directory in a
//! temp folder.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tempfile::TempDir;

/// The API key every test server accepts.
pub const KEY: &str = "chk_test_key_for_the_end_to_end_tests";

/// The crews the tests deploy, as cargo packages.
const CREWS: [&str; 16] = [
    "crew-echo",
    "crew-fetch",
    "crew-llm-research",
    "crew-research",
    "crew-chat",
    "crew-testbed",
    "hostile-spin",
    "hostile-memory-bomb",
    "hostile-recursion",
    "hostile-huge-output",
    "hostile-log-flood",
    "hostile-big-event",
    "hostile-host-call-flood",
    "hostile-panic",
    "hostile-sleep",
    "hostile-escape",
];

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the host crate lives inside the workspace")
}

/// Builds the example crews once per test process and returns the folder
/// that contains their `.wasm` files.
fn crews_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target_dir = workspace().join("target").join("crews");
        let mut command = Command::new(env!("CARGO"));
        command
            .current_dir(workspace())
            .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
            .arg(&target_dir);
        for crew in CREWS {
            command.args(["-p", crew]);
        }
        // The outer `cargo test` sets variables meant for the host build.
        for variable in ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"] {
            command.env_remove(variable);
        }
        let status = command.status().expect("could not start cargo to build the example crews");
        assert!(
            status.success(),
            "building the example crews failed; is the target installed (rustup target add wasm32-wasip2)?"
        );
        target_dir.join("wasm32-wasip2").join("release")
    })
}

/// Reads the component bytes of an example crew by its folder name (`echo`).
pub fn crew(name: &str) -> Vec<u8> {
    let path = crews_dir().join(format!("crew_{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|error| panic!("could not read {}: {error}", path.display()))
}

/// Reads the component bytes of a hostile crew, by its folder name under
/// `examples/hostile` (`memory-bomb`).
pub fn hostile(name: &str) -> Vec<u8> {
    let path = crews_dir().join(format!("hostile_{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|error| panic!("could not read {}: {error}", path.display()))
}

/// A response: status, headers and JSON body (`null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Returns the `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

/// A running `crewhost serve` process with its own data directory.
pub struct Server {
    child: Option<Child>,
    data: TempDir,
    extra_args: Vec<String>,
    pub url: String,
    pub http: reqwest::Client,
}

impl Server {
    /// Starts a server on a fresh data directory.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a server with extra `serve` arguments.
    pub async fn start_with(extra_args: &[&str]) -> Self {
        let data = tempfile::tempdir().expect("could not create a temp data directory");
        let mut server = Self {
            child: None,
            data,
            extra_args: extra_args.iter().map(|arg| arg.to_string()).collect(),
            url: String::new(),
            http: reqwest::Client::new(),
        };
        server.launch(Some(KEY));
        server
    }

    /// Starts a server without `CREWHOST_API_KEY`, so it creates its own key.
    pub fn start_without_key() -> (Self, Vec<String>) {
        let data = tempfile::tempdir().expect("could not create a temp data directory");
        let mut server =
            Self { child: None, data, extra_args: Vec::new(), url: String::new(), http: reqwest::Client::new() };
        let stdout = server.launch(None);
        (server, stdout)
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Starts the binary and waits for its `listening on` line; returns the
    /// stdout lines before it.
    fn launch(&mut self, key: Option<&str>) -> Vec<String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.path().join("server.log"))
            .expect("could not open the server log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_crewhost"));
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(self.data.path())
            .args(&self.extra_args)
            .env_remove("CREWHOST_API_KEY")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log);
        if let Some(key) = key {
            command.env("CREWHOST_API_KEY", key);
        }
        let mut child = command.spawn().expect("could not start the crewhost binary");

        let stdout = child.stdout.take().expect("stdout is piped");
        let (lines_tx, lines_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });

        let deadline = Instant::now() + Duration::from_secs(60);
        let mut before = Vec::new();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = lines_rx.recv_timeout(remaining).unwrap_or_else(|_| {
                let log = std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default();
                panic!("the server did not print its address within 60 s; its log:\n{log}")
            });
            if let Some(url) = line.strip_prefix("crewhost listening on ") {
                self.url = url.to_string();
                break;
            }
            before.push(line);
        }
        self.child = Some(child);
        before
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process with SIGTERM and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not stop within 30 s of SIGTERM");
        }
    }

    /// Stops the server gracefully and starts it again on the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch(Some(KEY));
    }

    /// Kills the server and starts it again on the same data.
    pub fn crash_and_restart(&mut self) {
        self.kill();
        self.launch(Some(KEY));
    }


    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the request did not reach the server");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("could not read the response body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|error| panic!("the body is not JSON ({error}): {text}"))
        };
        Reply { status, headers, body }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.url)).bearer_auth(KEY)
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.request(reqwest::Method::POST, path).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(self.request(reqwest::Method::PATCH, path).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    /// Sends any request built by the caller.
    pub async fn send_raw(&self, request: reqwest::RequestBuilder) -> Reply {
        self.send(request).await
    }

    /// Uploads component bytes under `name`.
    pub async fn upload(&self, name: &str, bytes: Vec<u8>) -> Reply {
        let request = self
            .request(reqwest::Method::POST, &format!("/v1/deployments?name={name}"))
            .header("content-type", "application/wasm")
            .body(bytes);
        self.send(request).await
    }

    /// Deploys an example crew under its own name and returns the 201 body.
    pub async fn deploy(&self, crew_name: &str) -> Value {
        let reply = self.upload(crew_name, crew(crew_name)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "deploying {crew_name} failed: {:?}", reply.body);
        reply.body
    }

    /// Runs a deployment statelessly and waits for the end.
    pub async fn run_wait(&self, deployment: &str, input: Value) -> Value {
        let reply = self.post("/v1/runs/wait", json!({ "deployment_id": deployment, "input": input })).await;
        assert_eq!(reply.status, StatusCode::OK, "the run did not end: {:?}", reply.body);
        reply.body
    }

    /// Creates a thread of a deployment and returns its id.
    pub async fn create_thread(&self, deployment: &str) -> String {
        let reply = self.post("/v1/threads", json!({ "deployment_id": deployment })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "creating a thread failed: {:?}", reply.body);
        reply.body["thread_id"].as_str().expect("thread_id is a string").to_string()
    }

    /// Polls a run until it reaches a terminal status.
    pub async fn wait_for_end(&self, run_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let run = self.get(&format!("/v1/runs/{run_id}")).await.body;
            if matches!(run["status"].as_str(), Some("succeeded" | "failed" | "canceled")) {
                return run;
            }
            assert!(Instant::now() < deadline, "run {run_id} did not end within 60 s: {run}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls a run until it has the given status.
    pub async fn wait_for_status(&self, run_id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let run = self.get(&format!("/v1/runs/{run_id}")).await.body;
            if run["status"] == status {
                return run;
            }
            assert!(Instant::now() < deadline, "run {run_id} did not become {status} within 60 s: {run}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One Server-Sent Event as a test receives it.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub event: String,
    pub data: Value,
}

/// A client's view of an event stream.
pub struct SseStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl SseStream {
    /// Returns the next event, or `None` once the server closed the stream.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(event) = self.take_event() {
                return Some(event);
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.buffer.extend_from_slice(&chunk),
                _ => return None,
            }
        }
    }

    /// Reads events until the stream closes.
    pub async fn collect(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        events
    }

    fn take_event(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.buffer.windows(2).position(|window| window == b"\n\n")?;
            let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let block = String::from_utf8(block).expect("SSE is UTF-8");
            let mut event = SseEvent { id: None, event: "message".into(), data: Value::Null };
            let mut data = String::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("id: ") {
                    event.id = Some(value.parse().expect("ids are sequence numbers"));
                } else if let Some(value) = line.strip_prefix("event: ") {
                    event.event = value.to_string();
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push_str(value);
                }
            }
            // Blocks without data are keep-alive comments.
            if !data.is_empty() {
                event.data = serde_json::from_str(&data).expect("event data is JSON");
                return Some(event);
            }
        }
    }
}

impl Server {
    /// Opens an event stream, resuming after `last_event_id` when given.
    pub async fn stream(&self, path: &str, last_event_id: Option<u64>) -> SseStream {
        let mut request = self.request(reqwest::Method::GET, path).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.expect("the stream request did not reach the server");
        assert_eq!(response.status(), StatusCode::OK, "opening {path} failed");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        SseStream { response, buffer: Vec::new() }
    }

    /// Starts a stateless run and returns its id.
    pub async fn start_run(&self, deployment: &str, input: Value) -> String {
        let reply = self.post("/v1/runs", json!({ "deployment_id": deployment, "input": input })).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
        reply.body["run_id"].as_str().expect("run_id is a string").to_string()
    }
}

/// Returns the sequence numbers of a list of events.
pub fn seqs(events: &[SseEvent]) -> Vec<u64> {
    events.iter().map(|event| event.data["seq"].as_u64().expect("seq is a number")).collect()
}
