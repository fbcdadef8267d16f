use reqwest::StatusCode;
use serde_json::json;

use crate::support::Server;

#[tokio::test]
async fn restart_keeps_records_without_recompiling() {
    let mut server = Server::start().await;
    server.deploy("chat").await;
    server.deploy("echo").await;
    let thread_id = server.create_thread("chat").await;
    let first = server.post(&format!("/v1/threads/{thread_id}/runs/wait"), json!({ "input": { "message": "remember me" } })).await;
    let echo = server.run_wait("echo", json!({ "kept": true })).await;
    let deployments_before = server.get("/v1/deployments").await.body;

    server.restart();

    assert_eq!(server.get("/v1/deployments").await.body, deployments_before);
    let echo_after = server.get(&format!("/v1/runs/{}", echo["id"].as_str().unwrap())).await;
    assert_eq!(echo_after.body, echo);
    let events = server.get(&format!("/v1/runs/{}/events", echo["id"].as_str().unwrap())).await;
    assert_eq!(events.body["events"].as_array().unwrap().last().unwrap()["type"], "run.completed");
    let history = server.get(&format!("/v1/threads/{thread_id}/history")).await;
    assert_eq!(history.body["checkpoints"][0]["run_id"], first.body["id"]);

    let second = server.post(&format!("/v1/threads/{thread_id}/runs/wait"), json!({ "input": { "message": "and now?" } })).await;
    assert_eq!(second.body["status"], "succeeded", "{:?}", second.body);
    assert!(second.body["output"]["reply"].as_str().unwrap().contains("\"remember me\""));
    let stats = server.get("/v1/stats").await;
    assert_eq!(stats.body["runtime"]["components_compiled"], 0, "a restart loads artifacts instead of compiling");
    assert_eq!(stats.body["runtime"]["components_loaded_from_disk"], 1);
}

#[tokio::test]
async fn crash_fails_running_and_requeues_pending() {
    let mut server = Server::start_with(&["--max-concurrent-runs", "1"]).await;
    server.deploy("testbed").await;
    let thread_id = server.create_thread("testbed").await;
    let running = server
        .post(&format!("/v1/threads/{thread_id}/runs"), json!({ "input": { "mode": "sleep", "ms": 30000 } }))
        .await;
    let running_id = running.body["run_id"].as_str().unwrap().to_string();
    server.wait_for_status(&running_id, "running").await;
    let pending = server.post("/v1/runs", json!({ "deployment_id": "testbed", "input": { "mode": "ok" } })).await;
    let pending_id = pending.body["run_id"].as_str().unwrap().to_string();
    assert_eq!(server.get(&format!("/v1/runs/{pending_id}")).await.body["status"], "pending");

    server.crash_and_restart();

    let interrupted = server.wait_for_end(&running_id).await;
    assert_eq!(interrupted["status"], "failed");
    assert_eq!(interrupted["error"]["code"], "host_restarted");
    let thread = server.get(&format!("/v1/threads/{thread_id}")).await;
    assert_eq!(thread.body["status"], "idle", "the interrupted run frees its thread");
    let requeued = server.wait_for_end(&pending_id).await;
    assert_eq!(requeued["status"], "succeeded", "{requeued}");
    let events = server.get(&format!("/v1/runs/{running_id}/events")).await;
    let events = events.body["events"].as_array().unwrap().clone();
    assert_eq!(events.last().unwrap()["type"], "run.failed");
    let seqs: Vec<u64> = events.iter().map(|event| event["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    let next = server.post(&format!("/v1/threads/{thread_id}/runs/wait"), json!({ "input": { "mode": "ok" } })).await;
    assert_eq!(next.status, StatusCode::OK);
}

#[tokio::test]
async fn shutdown_closes_open_streams() {
    let mut server = Server::start_with(&["--shutdown-grace-secs", "1"]).await;
    server.deploy("chat").await;
    let thread_id = server.create_thread("chat").await;
    let _stream = server.stream(&format!("/v1/threads/{thread_id}/events"), None).await;

    // `stop` sends SIGTERM and fails the test if the server is still up
    // 30 s later; an open stream must not hold it that long.
    server.stop();
}
