//! Crash safety: SIGKILL the server at random moments under a mixed load,
//! restart it on the same data directory, and check that nothing that was
//! acknowledged is lost and every invariant holds.
//!
//! The random schedule comes from a seed that the test prints; set
//! `CREWHOST_CRASH_SEED` to replay a failure.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{KEY, Server, crew};

const KILLS: usize = 6;
const THREADS: usize = 20;
const CLIENTS: u64 = 4;

/// What the server acknowledged while it was being killed.
#[derive(Default)]
struct Acknowledged {
    runs: Vec<String>,
    versions: Vec<u64>,
}

/// Sends a mix of stateless runs, thread runs and new versions as one
/// client, until the server dies under it.
async fn drive_load(http: reqwest::Client, url: String, threads: Arc<Vec<String>>, seed: u64, acked: Arc<Mutex<Acknowledged>>) {
    let mut rng = StdRng::seed_from_u64(seed);
    loop {
        let choice = rng.random_range(0..10);
        let request = match choice {
            0..=4 => http.post(format!("{url}/v1/runs")).json(&json!({ "deployment_id": "echo", "input": { "n": rng.random::<u32>() } })),
            5..=8 => {
                let thread_id = &threads[rng.random_range(0..threads.len())];
                let message = format!("message {}", rng.random::<u32>());
                http.post(format!("{url}/v1/threads/{thread_id}/runs")).json(&json!({ "input": { "message": message } }))
            }
            _ => http
                .post(format!("{url}/v1/deployments?name=echo"))
                .header("content-type", "application/wasm")
                .body(crew("echo")),
        };
        let Ok(response) = request.bearer_auth(KEY).send().await else {
            return;
        };
        let status = response.status();
        let Ok(body) = response.json::<Value>().await else {
            return;
        };
        let mut acked = acked.lock().unwrap();
        match status {
            StatusCode::ACCEPTED => acked.runs.push(body["run_id"].as_str().unwrap().to_string()),
            StatusCode::CREATED => acked.versions.push(body["version_number"].as_u64().unwrap()),
            StatusCode::CONFLICT => assert_eq!(body["error"]["code"], "thread_busy"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
}

/// Reads every page of a listing.
async fn all_pages(server: &Server, path: &str, field: &str) -> Vec<Value> {
    let mut items = Vec::new();
    loop {
        let separator = if path.contains('?') { '&' } else { '?' };
        let page = server.get(&format!("{path}{separator}limit=100&offset={}", items.len())).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {:?}", page.body);
        items.extend(page.body[field].as_array().unwrap().iter().cloned());
        if page.body["has_more"] != true {
            return items;
        }
    }
}

#[tokio::test]
async fn sigkill_under_load_loses_nothing() {
    let seed = std::env::var("CREWHOST_CRASH_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or_else(rand::random::<u64>);
    println!("crash test seed: {seed} (replay with CREWHOST_CRASH_SEED={seed})");
    let mut schedule = StdRng::seed_from_u64(seed);

    let mut server = Server::start().await;
    server.deploy("echo").await;
    server.deploy("chat").await;
    let mut threads = Vec::new();
    for _ in 0..THREADS {
        threads.push(server.create_thread("chat").await);
    }
    let threads = Arc::new(threads);
    let acked = Arc::new(Mutex::new(Acknowledged { runs: Vec::new(), versions: vec![1] }));

    for kill in 0..KILLS {
        let mut clients = Vec::new();
        for client in 0..CLIENTS {
            let load = drive_load(server.http.clone(), server.url.clone(), threads.clone(), seed ^ (kill as u64 * 31 + client), acked.clone());
            clients.push(tokio::spawn(load));
        }
        tokio::time::sleep(Duration::from_millis(schedule.random_range(200..1500))).await;

        server.crash_and_restart();
        for client in clients {
            client.await.expect("a load client panicked");
        }
    }

    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.runs.len() > 50, "the load produced too few runs to mean anything: {}", acked.runs.len());

    // Every acknowledged run exists and reaches a terminal status.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut runs: HashMap<String, Value> = HashMap::new();
    for run_id in &acked.runs {
        loop {
            let reply = server.get(&format!("/v1/runs/{run_id}")).await;
            assert_eq!(reply.status, StatusCode::OK, "acknowledged run {run_id} is missing (seed {seed})");
            if matches!(reply.body["status"].as_str(), Some("succeeded" | "failed" | "canceled")) {
                runs.insert(run_id.clone(), reply.body);
                break;
            }
            assert!(Instant::now() < deadline, "run {run_id} never ended (seed {seed}): {}", reply.body);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    for thread_id in threads.iter() {
        let thread = server.get(&format!("/v1/threads/{thread_id}")).await.body;
        assert_eq!(thread["status"], "idle", "thread {thread_id} is busy with no active run (seed {seed}): {thread}");
        assert_eq!(thread["active_run_id"], Value::Null);

        let checkpoints = all_pages(&server, &format!("/v1/threads/{thread_id}/history"), "checkpoints").await;
        let newest_values = checkpoints.first().map_or(Value::Null, |checkpoint| checkpoint["values"].clone());
        assert_eq!(thread["values"], newest_values, "thread {thread_id}: values differ from the newest checkpoint (seed {seed})");

        let thread_runs = all_pages(&server, &format!("/v1/runs?thread_id={thread_id}"), "runs").await;
        let succeeded = thread_runs.iter().filter(|run| run["status"] == "succeeded").count();
        assert_eq!(checkpoints.len(), succeeded, "thread {thread_id}: one checkpoint per succeeded run (seed {seed})");
        if let Some(turns) = newest_values["turns"].as_u64() {
            assert_eq!(turns as usize, succeeded, "thread {thread_id}: each succeeded run saw the previous values");
        }
    }

    // Every acknowledged version still runs.
    for version_number in &acked.versions {
        let run = server
            .post("/v1/runs/wait", json!({ "deployment_id": "echo", "input": "alive", "version_number": version_number }))
            .await;
        assert_eq!(run.body["status"], "succeeded", "version {version_number} no longer runs (seed {seed}): {:?}", run.body);
    }
}
