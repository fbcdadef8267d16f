use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Server, crew};

#[tokio::test]
async fn deploy_returns_201_with_version() {
    let server = Server::start().await;

    let reply = server.upload("echo", crew("echo")).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert!(reply.body["deployment_id"].as_str().unwrap().starts_with("dep_"));
    assert!(reply.body["version_id"].as_str().unwrap().starts_with("ver_"));
    assert_eq!(reply.body["name"], "echo");
    assert_eq!(reply.body["version_number"], 1);
    assert!(reply.body["created_at"].is_string());
}

#[tokio::test]
async fn deploy_same_name_adds_version() {
    let server = Server::start().await;
    let first = server.deploy("echo").await;

    let second = server.upload("echo", crew("echo")).await;

    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.body["deployment_id"], first["deployment_id"]);
    assert_eq!(second.body["version_number"], 2);
    let shown = server.get("/v1/deployments/echo").await;
    assert_eq!(shown.body["latest_version"], 2);
    assert_eq!(shown.body["versions"].as_array().unwrap().len(), 2);
    assert_eq!(shown.body["versions"][0]["version_number"], 2, "versions are listed newest first");
}

#[tokio::test]
async fn run_uses_requested_version() {
    let server = Server::start().await;
    server.deploy("echo").await;
    server.upload("echo", crew("testbed")).await;

    let newest = server.run_wait("echo", json!({ "mode": "ok" })).await;
    let pinned = server
        .post("/v1/runs/wait", json!({ "deployment_id": "echo", "input": { "mode": "ok" }, "version_number": 1 }))
        .await;

    assert_eq!(newest["version_number"], 2);
    assert_eq!(pinned.body["version_number"], 1);
    assert_eq!(pinned.body["output"], json!({ "mode": "ok" }));
    let missing = server.post("/v1/runs", json!({ "deployment_id": "echo", "version_number": 9 })).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.message().contains('9'), "{}", missing.message());
}

#[tokio::test]
async fn deployment_found_by_id_or_name() {
    let server = Server::start().await;
    let deployed = server.deploy("echo").await;
    let id = deployed["deployment_id"].as_str().unwrap();

    let by_id = server.get(&format!("/v1/deployments/{id}")).await;
    let by_name = server.get("/v1/deployments/echo").await;

    assert_eq!(by_id.status, StatusCode::OK);
    assert_eq!(by_id.body, by_name.body);
    assert_eq!(by_id.body["limits"]["timeout_secs"], 300);
    let listed = server.get("/v1/deployments").await;
    assert_eq!(listed.body["deployments"][0]["deployment_id"], id);
}

#[tokio::test]
async fn delete_deployment_removes_it() {
    let server = Server::start().await;
    server.deploy("echo").await;
    let thread_id = server.create_thread("echo").await;

    let deleted = server.delete("/v1/deployments/echo").await;

    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(server.get("/v1/deployments/echo").await.status, StatusCode::NOT_FOUND);
    assert_eq!(server.get(&format!("/v1/threads/{thread_id}")).await.status, StatusCode::NOT_FOUND);
    let run = server.post("/v1/runs", json!({ "deployment_id": "echo" })).await;
    assert_eq!(run.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn delete_deployment_with_active_run_returns_409() {
    let server = Server::start().await;
    server.deploy("testbed").await;
    let run = server.post("/v1/runs", json!({ "deployment_id": "testbed", "input": { "mode": "sleep", "ms": 3000 } })).await;

    let deleted = server.delete("/v1/deployments/testbed").await;

    assert_eq!(deleted.status, StatusCode::CONFLICT);
    assert_eq!(deleted.code(), "deployment_busy");
    assert_eq!(deleted.body["error"]["details"]["active_run_id"], run.body["run_id"]);
}
