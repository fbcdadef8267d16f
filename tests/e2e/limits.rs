use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Server, crew};

#[tokio::test]
async fn deploy_limits_are_shown_and_enforced() {
    let server = Server::start().await;
    let query = "timeout_secs=1&memory_mib=64&stack_kib=256&max_output_bytes=200&max_values_bytes=100&max_concurrent_runs=3";
    let reply = server.upload(&format!("testbed&{query}"), crew("testbed")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);

    let shown = server.get("/v1/deployments/testbed").await;
    let spin = server.run_wait("testbed", json!({ "mode": "spin" })).await;
    let big_output = server.run_wait("testbed", json!({ "mode": "ok", "pad": "x".repeat(300) })).await;
    let thread_id = server.create_thread("testbed").await;
    let big_values = server
        .post(&format!("/v1/threads/{thread_id}/runs/wait"), json!({ "input": { "mode": "ok", "values": "v".repeat(150) } }))
        .await;

    assert_eq!(
        shown.body["limits"],
        json!({
            "timeout_secs": 1, "memory_mib": 64, "stack_kib": 256, "max_output_bytes": 200,
            "max_values_bytes": 100, "fuel": null, "max_concurrent_runs": 3,
            "http_timeout_secs": 30, "http_max_response_bytes": 16777216, "http_max_requests": 100
        })
    );
    assert_eq!(spin["error"]["code"], "timeout");
    assert!(spin["error"]["message"].as_str().unwrap().contains("timeout of 1 seconds"), "{spin}");
    assert_eq!(big_output["error"]["code"], "output_too_large");
    assert!(big_output["error"]["message"].as_str().unwrap().contains("200 bytes"), "{big_output}");
    assert_eq!(big_values.body["error"]["code"], "values_too_large");
    assert!(big_values.body["error"]["message"].as_str().unwrap().contains("max_values_bytes"));
}

#[tokio::test]
async fn patch_changes_only_given_limits() {
    let server = Server::start().await;
    server.upload("testbed&fuel=5000000&timeout_secs=60", crew("testbed")).await;

    let patched = server.patch("/v1/deployments/testbed", json!({ "limits": { "timeout_secs": 1, "fuel": null } })).await;
    let spin = server.run_wait("testbed", json!({ "mode": "spin" })).await;

    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    assert_eq!(patched.body["limits"]["timeout_secs"], 1);
    assert_eq!(patched.body["limits"]["fuel"], serde_json::Value::Null, "null clears the fuel budget");
    assert_eq!(patched.body["limits"]["memory_mib"], 256, "fields left out keep their value");
    assert_eq!(spin["error"]["code"], "timeout", "{spin}");
    let shown = server.get("/v1/deployments/testbed").await;
    assert_eq!(shown.body["limits"], patched.body["limits"]);
}

#[tokio::test]
async fn fuel_budget_ends_spinning_run() {
    let server = Server::start().await;
    server.upload("testbed&fuel=20000000", crew("testbed")).await;

    let spin = server.run_wait("testbed", json!({ "mode": "spin" })).await;
    let ok = server.run_wait("testbed", json!({ "mode": "ok" })).await;

    assert_eq!(spin["status"], "failed");
    assert_eq!(spin["error"]["code"], "fuel_exhausted");
    assert!(spin["error"]["message"].as_str().unwrap().contains("20000000"), "{spin}");
    assert_eq!(ok["status"], "succeeded", "a small run fits in the budget: {ok}");
}

#[tokio::test]
async fn invalid_limits_return_400() {
    let server = Server::start().await;
    server.deploy("echo").await;

    let query = server.upload("echo&memory_mib=0", crew("echo")).await;
    let stack = server.upload("echo&stack_kib=1", crew("echo")).await;
    let unknown_query = server.upload("echo&timeout=5", crew("echo")).await;
    let patch = server.patch("/v1/deployments/echo", json!({ "limits": { "timeout_secs": 0 } })).await;
    let unknown_field = server.patch("/v1/deployments/echo", json!({ "limits": { "memory": 5 } })).await;

    assert_eq!(query.status, StatusCode::BAD_REQUEST);
    assert_eq!(query.code(), "invalid_limit");
    assert!(query.message().contains("memory_mib=0"), "{}", query.message());
    assert_eq!(stack.code(), "invalid_limit");
    assert_eq!(unknown_query.code(), "invalid_parameter");
    assert!(unknown_query.message().contains("timeout"), "{}", unknown_query.message());
    assert_eq!(patch.code(), "invalid_limit");
    assert!(patch.message().contains("timeout_secs=0"));
    assert_eq!(unknown_field.code(), "invalid_field");
    assert!(unknown_field.message().contains("memory"), "{}", unknown_field.message());
    let shown = server.get("/v1/deployments/echo").await;
    assert_eq!(shown.body["latest_version"], 1, "rejected deploys add no version");
}

#[tokio::test]
async fn full_queue_returns_429_then_accepts() {
    let server = Server::start_with(&["--max-concurrent-runs", "1", "--max-pending-runs", "2"]).await;
    server.deploy("testbed").await;
    let running = server.start_run("testbed", json!({ "mode": "sleep", "ms": 1500 })).await;
    server.wait_for_status(&running, "running").await;
    let queued = [
        server.start_run("testbed", json!({ "mode": "ok" })).await,
        server.start_run("testbed", json!({ "mode": "ok" })).await,
    ];

    let rejected = server.post("/v1/runs", json!({ "deployment_id": "testbed", "input": { "mode": "ok" } })).await;

    assert_eq!(rejected.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(rejected.code(), "queue_full");
    assert_eq!(rejected.headers["retry-after"], "2");
    for run_id in queued.iter().chain([&running]) {
        assert_eq!(server.wait_for_end(run_id).await["status"], "succeeded", "accepted runs are never dropped");
    }
    let accepted = server.post("/v1/runs", json!({ "deployment_id": "testbed", "input": { "mode": "ok" } })).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn deployment_concurrency_limit_queues_runs() {
    let server = Server::start().await;
    server.upload("testbed&max_concurrent_runs=1", crew("testbed")).await;
    server.deploy("echo").await;

    let first = server.start_run("testbed", json!({ "mode": "sleep", "ms": 1500 })).await;
    server.wait_for_status(&first, "running").await;
    let second = server.start_run("testbed", json!({ "mode": "ok" })).await;
    let other = server.run_wait("echo", json!("not limited")).await;

    assert_eq!(server.get(&format!("/v1/runs/{second}")).await.body["status"], "pending");
    assert_eq!(other["status"], "succeeded", "other deployments are not held back");
    assert_eq!(server.wait_for_end(&second).await["status"], "succeeded");
}

#[tokio::test]
async fn echo_runs_finish_while_crews_spin() {
    let server = std::sync::Arc::new(Server::start().await);
    server.upload("testbed&timeout_secs=30", crew("testbed")).await;
    server.deploy("echo").await;
    let mut spinners = Vec::new();
    for _ in 0..4 {
        let run_id = server.start_run("testbed", json!({ "mode": "spin" })).await;
        server.wait_for_status(&run_id, "running").await;
        spinners.push(run_id);
    }

    let mut echoes = Vec::new();
    for n in 0..20 {
        let server = server.clone();
        echoes.push(tokio::spawn(async move { server.run_wait("echo", json!(n)).await }));
    }
    for echo in echoes {
        assert_eq!(echo.await.unwrap()["status"], "succeeded");
    }

    for run_id in &spinners {
        let spinner = server.get(&format!("/v1/runs/{run_id}")).await;
        assert_eq!(spinner.body["status"], "running", "the echo runs ended before the spinners' timeout");
        server.post(&format!("/v1/runs/{run_id}/cancel"), json!({})).await;
    }
}
