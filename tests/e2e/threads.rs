use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::Server;

#[tokio::test]
async fn chat_thread_remembers_first_message() {
    let server = Server::start().await;
    server.deploy("chat").await;
    let thread_id = server.create_thread("chat").await;

    let first = server.post(&format!("/v1/threads/{thread_id}/runs/wait"), json!({ "input": { "message": "I grow tomatoes" } })).await;
    let second = server.post(&format!("/v1/threads/{thread_id}/runs/wait"), json!({ "input": { "message": "What do I grow?" } })).await;

    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["status"], "succeeded", "{:?}", first.body);
    assert_eq!(first.body["thread_id"], thread_id.as_str());
    assert_eq!(first.body["output"]["turn"], 1);
    assert_eq!(second.body["output"]["turn"], 2);
    let reply = second.body["output"]["reply"].as_str().unwrap();
    assert!(reply.contains("\"I grow tomatoes\""), "the second answer quotes the first message: {reply}");

    let history = server.get(&format!("/v1/threads/{thread_id}/history")).await;
    let checkpoints = history.body["checkpoints"].as_array().unwrap();
    assert_eq!(checkpoints.len(), 2);
    assert_eq!(history.body["has_more"], false);
    assert_eq!(checkpoints[0]["run_id"], second.body["id"], "newest first");
    assert_eq!(checkpoints[1]["run_id"], first.body["id"]);
    assert_eq!(checkpoints[1]["values"]["turns"], 1);
    assert_eq!(checkpoints[1]["values"]["messages"][0]["content"], "I grow tomatoes");
    assert_eq!(checkpoints[0]["values"]["turns"], 2);
    assert_eq!(checkpoints[0]["values"]["messages"].as_array().unwrap().len(), 4);
    assert!(checkpoints[0]["checkpoint_id"].as_str().unwrap().starts_with("ckpt_"));

    let thread = server.get(&format!("/v1/threads/{thread_id}")).await;
    assert_eq!(thread.body["values"], checkpoints[0]["values"], "the thread's values equal the newest checkpoint");
    assert_eq!(thread.body["status"], "idle");

    let checkpoint_id = checkpoints[1]["checkpoint_id"].as_str().unwrap();
    let one = server.get(&format!("/v1/threads/{thread_id}/checkpoints/{checkpoint_id}")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body, checkpoints[1]);
}

#[tokio::test]
async fn thread_run_while_busy_returns_409() {
    let server = Server::start().await;
    server.deploy("testbed").await;
    let thread_id = server.create_thread("testbed").await;
    let path = format!("/v1/threads/{thread_id}/runs");

    let first = server.post(&path, json!({ "input": { "mode": "sleep", "ms": 1500 } })).await;
    let second = server.post(&path, json!({ "input": { "mode": "ok" } })).await;
    let second_wait = server.post(&format!("{path}/wait"), json!({ "input": { "mode": "ok" } })).await;

    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert_eq!(second.status, StatusCode::CONFLICT);
    assert_eq!(second.code(), "thread_busy");
    assert_eq!(second.body["error"]["details"]["active_run_id"], first.body["run_id"]);
    assert_eq!(second_wait.status, StatusCode::CONFLICT);
    let busy = server.get(&format!("/v1/threads/{thread_id}")).await;
    assert_eq!(busy.body["status"], "busy");
    assert_eq!(server.delete(&format!("/v1/threads/{thread_id}")).await.status, StatusCode::CONFLICT);

    server.wait_for_end(first.body["run_id"].as_str().unwrap()).await;
    let idle = server.get(&format!("/v1/threads/{thread_id}")).await;
    assert_eq!(idle.body["status"], "idle");
    let third = server.post(&path, json!({ "input": { "mode": "ok" } })).await;
    assert_eq!(third.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn failed_thread_run_keeps_values_and_history() {
    let server = Server::start().await;
    server.deploy("testbed").await;
    let created = server.post("/v1/threads", json!({ "deployment_id": "testbed", "values": { "count": 1 } })).await;
    let thread_id = created.body["thread_id"].as_str().unwrap();

    let failed = server.post(&format!("/v1/threads/{thread_id}/runs/wait"), json!({ "input": { "mode": "crew_error" } })).await;

    assert_eq!(failed.body["status"], "failed");
    let thread = server.get(&format!("/v1/threads/{thread_id}")).await;
    assert_eq!(thread.body["values"], json!({ "count": 1 }));
    assert_eq!(thread.body["status"], "idle");
    let history = server.get(&format!("/v1/threads/{thread_id}/history")).await;
    assert_eq!(history.body["checkpoints"], json!([]));
}

#[tokio::test]
async fn thread_run_receives_values_and_none_keeps_them() {
    let server = Server::start().await;
    server.deploy("testbed").await;
    let created = server.post("/v1/threads", json!({ "deployment_id": "testbed", "values": { "seen": ["a"] } })).await;
    let thread_id = created.body["thread_id"].as_str().unwrap();
    let path = format!("/v1/threads/{thread_id}/runs/wait");

    let info = server.post(&path, json!({ "input": { "mode": "info" } })).await;
    let kept = server.post(&path, json!({ "input": { "mode": "ok" } })).await;

    assert_eq!(info.body["output"]["values"], json!({ "seen": ["a"] }));
    assert_eq!(info.body["output"]["thread_id"], thread_id);
    assert_eq!(kept.body["status"], "succeeded");
    let history = server.get(&format!("/v1/threads/{thread_id}/history")).await;
    assert_eq!(history.body["checkpoints"].as_array().unwrap().len(), 2, "every succeeded run writes a checkpoint");
    assert_eq!(history.body["checkpoints"][0]["values"], json!({ "seen": ["a"] }), "values of none keep the current values");
}

#[tokio::test]
async fn thread_created_without_values_passes_null() {
    let server = Server::start().await;
    server.deploy("testbed").await;
    let thread_id = server.create_thread("testbed").await;

    let run = server.post(&format!("/v1/threads/{thread_id}/runs/wait"), json!({ "input": { "mode": "info" } })).await;

    assert_eq!(run.body["output"]["values"], Value::Null);
}

#[tokio::test]
async fn thread_metadata_patch_and_listing() {
    let server = Server::start().await;
    server.deploy("echo").await;
    let created = server
        .post("/v1/threads", json!({ "deployment_id": "echo", "metadata": { "user": "ada", "topic": "tides" } }))
        .await;
    let thread_id = created.body["thread_id"].as_str().unwrap();
    assert_eq!(created.body["status"], "idle");
    assert_eq!(created.body["values"], Value::Null);

    let patched = server.patch(&format!("/v1/threads/{thread_id}"), json!({ "metadata": { "topic": null, "lang": "en" } })).await;

    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["metadata"], json!({ "user": "ada", "lang": "en" }));
    let other = server.create_thread("echo").await;
    let listed = server.get("/v1/threads?deployment_id=echo&limit=1").await;
    assert_eq!(listed.body["threads"][0]["thread_id"], other.as_str());
    assert_eq!(listed.body["has_more"], true);
    let idle = server.get("/v1/threads?status=busy").await;
    assert_eq!(idle.body["threads"], json!([]));

    let deleted = server.delete(&format!("/v1/threads/{thread_id}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(server.get(&format!("/v1/threads/{thread_id}")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn runs_listed_by_thread() {
    let server = Server::start().await;
    server.deploy("chat").await;
    let thread_id = server.create_thread("chat").await;
    for message in ["one", "two"] {
        server.post(&format!("/v1/threads/{thread_id}/runs/wait"), json!({ "input": { "message": message } })).await;
    }
    server.run_wait("chat", json!({ "message": "stateless" })).await;

    let listed = server.get(&format!("/v1/runs?thread_id={thread_id}")).await;

    let runs = listed.body["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|run| run["thread_id"] == thread_id.as_str()));
    assert_eq!(runs[0]["input"]["message"], "two");
}
