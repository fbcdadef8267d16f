use serde_json::json;

use crate::support::Server;

#[tokio::test]
async fn cancel_spinning_crew_ends_canceled() {
    let server = Server::start_with(&["--cancel-grace-secs", "1"]).await;
    server.deploy("testbed").await;
    let run_id = server.start_run("testbed", json!({ "mode": "spin" })).await;
    server.wait_for_status(&run_id, "running").await;

    // The server waits up to the grace period plus one second for the end,
    // so `canceled` here means the spinning guest was stopped in that time.
    let reply = server.post(&format!("/v1/runs/{run_id}/cancel"), json!({})).await;

    assert_eq!(reply.body, json!({ "run_id": run_id, "status": "canceled" }));
    let events = server.get(&format!("/v1/runs/{run_id}/events")).await;
    assert_eq!(events.body["events"].as_array().unwrap().last().unwrap()["type"], "run.canceled");
    let again = server.post(&format!("/v1/runs/{run_id}/cancel"), json!({})).await;
    assert_eq!(again.code(), "run_not_active");
}

#[tokio::test]
async fn cooperative_crew_stops_before_grace() {
    // With a grace period of 60 s, a canceled status within the server's
    // wait can only come from the crew reading cancel-requested.
    let server = Server::start_with(&["--cancel-grace-secs", "60"]).await;
    server.deploy("testbed").await;
    let run_id = server.start_run("testbed", json!({ "mode": "spin_cooperative" })).await;
    server.wait_for_status(&run_id, "running").await;

    let reply = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        server.post(&format!("/v1/runs/{run_id}/cancel"), json!({})),
    )
    .await
    .expect("a cooperative crew ends long before the grace period");

    assert_eq!(reply.body["status"], "canceled");
}

#[tokio::test]
async fn cancel_pending_run_before_start() {
    let server = Server::start_with(&["--max-concurrent-runs", "1"]).await;
    server.deploy("testbed").await;
    let blocker = server.start_run("testbed", json!({ "mode": "sleep", "ms": 2000 })).await;
    server.wait_for_status(&blocker, "running").await;
    let pending = server.start_run("testbed", json!({ "mode": "ok" })).await;

    let reply = server.post(&format!("/v1/runs/{pending}/cancel"), json!({})).await;

    assert_eq!(reply.body["status"], "canceled");
    let run = server.get(&format!("/v1/runs/{pending}")).await;
    assert_eq!(run.body["started_at"], serde_json::Value::Null, "it never started");
    let events = server.get(&format!("/v1/runs/{pending}/events")).await;
    let types: Vec<&str> = events.body["events"].as_array().unwrap().iter().map(|event| event["type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["run.canceled"]);
    assert_eq!(server.wait_for_end(&blocker).await["status"], "succeeded");
}

#[tokio::test]
async fn cancel_thread_run_frees_thread_and_keeps_values() {
    let server = Server::start_with(&["--cancel-grace-secs", "1"]).await;
    server.deploy("testbed").await;
    let created = server.post("/v1/threads", json!({ "deployment_id": "testbed", "values": { "count": 1 } })).await;
    let thread_id = created.body["thread_id"].as_str().unwrap();
    let accepted = server
        .post(&format!("/v1/threads/{thread_id}/runs"), json!({ "input": { "mode": "spin", "values": { "count": 99 } } }))
        .await;
    let run_id = accepted.body["run_id"].as_str().unwrap();
    server.wait_for_status(run_id, "running").await;

    let reply = server.post(&format!("/v1/runs/{run_id}/cancel"), json!({})).await;

    assert_eq!(reply.body["status"], "canceled");
    let thread = server.get(&format!("/v1/threads/{thread_id}")).await;
    assert_eq!(thread.body["status"], "idle");
    assert_eq!(thread.body["values"], json!({ "count": 1 }));
    let history = server.get(&format!("/v1/threads/{thread_id}/history")).await;
    assert_eq!(history.body["checkpoints"], json!([]));
    let next = server.post(&format!("/v1/threads/{thread_id}/runs/wait"), json!({ "input": { "mode": "ok" } })).await;
    assert_eq!(next.body["status"], "succeeded");
}

#[tokio::test]
async fn client_disconnect_does_not_cancel_run() {
    let server = Server::start().await;
    server.deploy("testbed").await;
    let run_id = server.start_run("testbed", json!({ "mode": "emit", "count": 4, "pause_ms": 100 })).await;

    let mut stream = server.stream(&format!("/v1/runs/{run_id}/events"), None).await;
    stream.next().await.unwrap();
    drop(stream);

    assert_eq!(server.wait_for_end(&run_id).await["status"], "succeeded");
}

#[tokio::test]
async fn cancel_stops_guest_waiting_in_host_call() {
    let server = Server::start_with(&["--cancel-grace-secs", "1"]).await;
    server.deploy("testbed").await;
    let run_id = server.start_run("testbed", json!({ "mode": "sleep_uncooperative", "ms": 120000 })).await;
    server.wait_for_status(&run_id, "running").await;

    let reply = server.post(&format!("/v1/runs/{run_id}/cancel"), json!({})).await;

    assert_eq!(reply.body["status"], "canceled");
}
