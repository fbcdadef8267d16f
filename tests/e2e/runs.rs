use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::Server;

#[tokio::test]
async fn echo_run_returns_input_as_output() {
    let server = Server::start().await;
    let deployed = server.deploy("echo").await;
    let input = json!({ "question": "what is a tide?", "numbers": [1, 2.5, -3], "nested": { "ok": true } });

    let accepted = server.post("/v1/runs", json!({ "deployment_id": "echo", "input": input })).await;

    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
    let run_id = accepted.body["run_id"].as_str().unwrap();
    assert!(run_id.starts_with("run_"));
    assert_eq!(accepted.headers["location"], format!("/v1/runs/{run_id}").as_str());
    assert_eq!(accepted.body["deployment_id"], deployed["deployment_id"]);
    assert_eq!(accepted.body["version_id"], deployed["version_id"]);
    assert_eq!(accepted.body["version_number"], 1);
    assert!(matches!(accepted.body["status"].as_str(), Some("pending" | "running")));

    let run = server.wait_for_end(run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"], input, "output is a JSON value equal to the input");
    assert_eq!(run["input"], input);
    assert_eq!(run["error"], Value::Null);
    assert_eq!(run["thread_id"], Value::Null);
    assert!(run["started_at"].is_string());
    assert!(run["completed_at"].is_string());
    assert!(run["duration_ms"].is_u64());
}

#[tokio::test]
async fn run_wait_returns_finished_run() {
    let server = Server::start().await;
    server.deploy("echo").await;

    let run = server.run_wait("echo", json!("plain string")).await;

    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["output"], "plain string");
}

#[tokio::test]
async fn run_wait_timeout_returns_202_with_running_run() {
    let server = Server::start().await;
    server.deploy("testbed").await;

    let reply = server
        .post("/v1/runs/wait?timeout=1", json!({ "deployment_id": "testbed", "input": { "mode": "sleep", "ms": 3000 } }))
        .await;

    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.body["status"], "running");
    let run = server.wait_for_end(reply.body["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "succeeded");
}

#[tokio::test]
async fn research_events_recorded_in_order() {
    let server = Server::start().await;
    server.deploy("research").await;

    let run = server.run_wait("research", json!({ "topic": "tidal energy" })).await;
    let events = server.get(&format!("/v1/runs/{}/events", run["id"].as_str().unwrap())).await;

    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(run["output"]["report"].as_str().unwrap().contains("tidal energy"));
    let events = events.body["events"].as_array().unwrap().clone();
    let seqs: Vec<u64> = events.iter().map(|event| event["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=events.len() as u64).collect();
    assert_eq!(seqs, expected, "sequence numbers start at 1 with no gap");
    assert_eq!(events.first().unwrap()["type"], "run.started");
    assert_eq!(events.last().unwrap()["type"], "run.completed");
    assert_eq!(events.last().unwrap()["data"]["output"], run["output"]);

    let steps: Vec<(String, String)> = events
        .iter()
        .filter(|event| matches!(event["type"].as_str(), Some("agent.started" | "task.completed")))
        .map(|event| (event["type"].as_str().unwrap().to_string(), event["data"]["agent"].as_str().unwrap().to_string()))
        .collect();
    let expected_steps: Vec<(String, String)> = ["researcher", "analyst", "writer"]
        .iter()
        .flat_map(|agent| [("agent.started".to_string(), agent.to_string()), ("task.completed".to_string(), agent.to_string())])
        .collect();
    assert_eq!(steps, expected_steps);
    assert!(events.iter().all(|event| event["timestamp"].is_string()));
}

#[tokio::test]
async fn research_without_topic_fails_invalid_input() {
    let server = Server::start().await;
    server.deploy("research").await;

    let run = server.run_wait("research", json!({ "subject": "tides" })).await;

    assert_eq!(run["status"], "failed");
    assert_eq!(run["error"]["code"], "invalid_input");
    assert!(run["error"]["message"].as_str().unwrap().contains("topic"), "{run}");
}

#[tokio::test]
async fn crew_error_and_trap_fail_with_codes() {
    let server = Server::start().await;
    server.deploy("testbed").await;
    server.deploy("echo").await;

    let crew_error = server.run_wait("testbed", json!({ "mode": "crew_error" })).await;
    let trap = server.run_wait("testbed", json!({ "mode": "trap" })).await;
    let panic = server.run_wait("testbed", json!({ "mode": "panic" })).await;

    assert_eq!(crew_error["status"], "failed");
    assert_eq!(crew_error["error"]["code"], "crew_error");
    assert_eq!(crew_error["error"]["message"], "the testbed failed on purpose");
    assert_eq!(trap["error"]["code"], "trap");
    assert!(trap["error"]["message"].as_str().unwrap().contains("unreachable"), "{trap}");
    assert_eq!(panic["error"]["code"], "trap");
    assert!(panic["error"]["message"].as_str().unwrap().contains("the testbed panicked on purpose"), "{panic}");

    let health = server.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    let echo = server.run_wait("echo", json!({ "still": "serving" })).await;
    assert_eq!(echo["output"], json!({ "still": "serving" }));
}

#[tokio::test]
async fn failed_run_records_run_failed_event_last() {
    let server = Server::start().await;
    server.deploy("testbed").await;

    let run = server.run_wait("testbed", json!({ "mode": "crew_error" })).await;
    let events = server.get(&format!("/v1/runs/{}/events", run["id"].as_str().unwrap())).await;

    let last = events.body["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "run.failed");
    assert_eq!(last["data"]["error"]["code"], "crew_error");
}

#[tokio::test]
async fn invalid_guest_json_fails_invalid_output() {
    let server = Server::start().await;
    server.deploy("testbed").await;

    for mode in ["invalid_output", "invalid_values", "invalid_event"] {
        let run = server.run_wait("testbed", json!({ "mode": mode, "values": {} })).await;
        assert_eq!(run["status"], "failed", "{mode}: {run}");
        assert_eq!(run["error"]["code"], "invalid_output", "{mode}: {run}");
    }
}

#[tokio::test]
async fn guest_stdout_becomes_log_events() {
    let server = Server::start().await;
    server.deploy("testbed").await;

    let run = server.run_wait("testbed", json!({ "mode": "stdout" })).await;
    let events = server.get(&format!("/v1/runs/{}/events", run["id"].as_str().unwrap())).await;

    let logs: Vec<(String, String)> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"] == "log")
        .map(|event| {
            (event["data"]["stream"].as_str().unwrap_or("").to_string(), event["data"]["message"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(logs.contains(&("stdout".into(), "line one from stdout".into())), "{logs:?}");
    assert!(logs.contains(&("stdout".into(), "line two".into())), "{logs:?}");
    assert!(logs.contains(&("stderr".into(), "a line on stderr".into())), "{logs:?}");
}

#[tokio::test]
async fn sandbox_grants_no_files_env_or_sockets() {
    let server = Server::start().await;
    server.deploy("testbed").await;

    let run = server.run_wait("testbed", json!({ "mode": "files" })).await;

    assert_eq!(run["status"], "succeeded", "{run}");
    let output = &run["output"];
    for attempt in ["read_etc_passwd", "read_parent_etc_passwd", "list_root", "env_home", "tcp_connect"] {
        assert_eq!(output[attempt]["ok"], false, "{attempt} must fail inside the sandbox: {output}");
    }
    assert_eq!(output["env_var_count"], 0);
}

#[tokio::test]
async fn run_info_reaches_the_guest() {
    let server = Server::start().await;
    let deployed = server.deploy("testbed").await;

    let run = server.run_wait("testbed", json!({ "mode": "info" })).await;

    assert_eq!(run["output"]["run_id"], run["id"]);
    assert_eq!(run["output"]["deployment_id"], deployed["deployment_id"]);
    assert_eq!(run["output"]["version_number"], 1);
    assert_eq!(run["output"]["thread_id"], Value::Null);
    assert_eq!(run["output"]["attempt"], 1);
    assert_eq!(run["output"]["values"], Value::Null, "a stateless run gets null values");
}

#[tokio::test]
async fn list_runs_filters_and_pages() {
    let server = Server::start().await;
    server.deploy("echo").await;
    server.deploy("testbed").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(server.run_wait("echo", json!(n)).await["id"].as_str().unwrap().to_string());
    }
    server.run_wait("testbed", json!({ "mode": "crew_error" })).await;

    let echo_runs = server.get("/v1/runs?deployment_id=echo&limit=2").await;
    let second_page = server.get("/v1/runs?deployment_id=echo&limit=2&offset=2").await;
    let failed = server.get("/v1/runs?status=failed").await;
    let all = server.get("/v1/runs").await;

    let listed: Vec<&str> = echo_runs.body["runs"].as_array().unwrap().iter().map(|run| run["id"].as_str().unwrap()).collect();
    assert_eq!(listed, vec![ids[2].as_str(), ids[1].as_str()], "newest first");
    assert_eq!(echo_runs.body["has_more"], true);
    assert_eq!(second_page.body["runs"][0]["id"], ids[0].as_str());
    assert_eq!(second_page.body["has_more"], false);
    assert_eq!(failed.body["runs"].as_array().unwrap().len(), 1);
    assert_eq!(all.body["runs"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn concurrency_limit_keeps_runs_pending() {
    let server = Server::start_with(&["--max-concurrent-runs", "1"]).await;
    server.deploy("testbed").await;

    let first = server.post("/v1/runs", json!({ "deployment_id": "testbed", "input": { "mode": "sleep", "ms": 1500 } })).await;
    server.wait_for_status(first.body["run_id"].as_str().unwrap(), "running").await;
    let second = server.post("/v1/runs", json!({ "deployment_id": "testbed", "input": { "mode": "ok" } })).await;
    let second_id = second.body["run_id"].as_str().unwrap();

    let while_blocked = server.get(&format!("/v1/runs/{second_id}")).await;
    assert_eq!(while_blocked.body["status"], "pending");
    let done = server.wait_for_end(second_id).await;
    assert_eq!(done["status"], "succeeded");
}

#[tokio::test]
async fn concurrent_acknowledgements_share_flushes() {
    let server = std::sync::Arc::new(Server::start().await);
    server.deploy("echo").await;
    let before = server.get("/v1/stats").await.body["store"].clone();

    let mut clients = Vec::new();
    for n in 0..64 {
        let server = server.clone();
        clients.push(tokio::spawn(async move { server.start_run("echo", json!(n)).await }));
    }
    for client in clients {
        client.await.unwrap();
    }

    let after = server.get("/v1/stats").await.body["store"].clone();
    let flushes = after["flushes"].as_u64().unwrap() - before["flushes"].as_u64().unwrap();
    let requests = after["flush_requests"].as_u64().unwrap() - before["flush_requests"].as_u64().unwrap();
    assert!(requests >= 64, "every 202 waited for a flush: {requests}");
    assert!(flushes < requests, "{flushes} flushes served {requests} requests; group commit shares them");
}
