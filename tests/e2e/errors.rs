//! Every kind of bad request gets its status and error code, never a 5xx.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::Server;

/// The smallest valid component: a header with no sections, so no exports.
const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";
/// The smallest valid core module.
const EMPTY_MODULE: &[u8] = b"\0asm\x01\x00\x00\x00";

#[tokio::test]
async fn deploy_rejects_bad_components() {
    let server = Server::start().await;
    let foreign_import = wat::parse_str(r#"(component (import "acme:db/query@1.0.0" (instance (export "get" (func)))))"#)
        .expect("the test component is valid text");
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("text", b"hello, I am not wasm".to_vec(), "invalid_component", "00 61 73 6d"),
        ("truncated", b"\0asm\x0d\x00\x01\x00\x01\xff".to_vec(), "invalid_component", ""),
        ("module", EMPTY_MODULE.to_vec(), "not_a_component", "wasm32-wasip2"),
        ("no-run", EMPTY_COMPONENT.to_vec(), "world_mismatch", "run"),
        ("foreign-import", foreign_import, "unsupported_import", "acme:db/query@1.0.0"),
    ];

    for (name, bytes, code, mentions) in cases {
        let reply = server.upload(name, bytes).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}: {:?}", reply.body);
        assert_eq!(reply.code(), code, "{name}: {:?}", reply.body);
        assert!(reply.message().contains(mentions), "{name}: the message should mention {mentions:?}: {}", reply.message());
    }
    let listed = server.get("/v1/deployments").await;
    assert_eq!(listed.body["deployments"], json!([]), "nothing was deployed");
}

#[tokio::test]
async fn deploy_rejects_bad_name_and_content_type() {
    let server = Server::start().await;

    let missing_name = server
        .send_raw(server.request(Method::POST, "/v1/deployments").header("content-type", "application/wasm").body(EMPTY_COMPONENT))
        .await;
    let bad_name = server.upload("no%20spaces", EMPTY_COMPONENT.to_vec()).await;
    let wrong_type = server
        .send_raw(server.request(Method::POST, "/v1/deployments?name=echo").header("content-type", "text/plain").body("x"))
        .await;

    assert_eq!(missing_name.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing_name.code(), "missing_parameter");
    assert_eq!(bad_name.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_name.code(), "invalid_name");
    assert!(bad_name.message().contains("no spaces"), "{}", bad_name.message());
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(wrong_type.code(), "unsupported_media_type");
}

#[tokio::test]
async fn malformed_json_returns_400() {
    let server = Server::start().await;
    server.deploy("echo").await;

    let syntax = server
        .send_raw(server.request(Method::POST, "/v1/runs").header("content-type", "application/json").body("{\"deployment_id\": "))
        .await;
    let wrong_type = server.post("/v1/runs", json!({ "deployment_id": 42 })).await;
    let missing = server.post("/v1/runs", json!({ "input": {} })).await;
    let unknown = server.post("/v1/runs", json!({ "deployment_id": "echo", "inputs": {} })).await;
    let bad_metadata = server.post("/v1/threads", json!({ "deployment_id": "echo", "metadata": [1] })).await;

    assert_eq!(syntax.status, StatusCode::BAD_REQUEST);
    assert_eq!(syntax.code(), "invalid_json");
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_type.code(), "invalid_field");
    assert!(wrong_type.message().contains("deployment_id"), "{}", wrong_type.message());
    assert_eq!(missing.code(), "invalid_field");
    assert!(missing.message().contains("deployment_id"), "{}", missing.message());
    assert_eq!(unknown.code(), "invalid_field");
    assert!(unknown.message().contains("inputs"), "{}", unknown.message());
    assert_eq!(bad_metadata.code(), "invalid_field");
    assert!(bad_metadata.message().contains("metadata"), "{}", bad_metadata.message());
}

#[tokio::test]
async fn json_route_without_content_type_returns_415() {
    let server = Server::start().await;

    let reply = server.send_raw(server.request(Method::POST, "/v1/runs").body("{}")).await;

    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(reply.code(), "unsupported_media_type");
}

#[tokio::test]
async fn unknown_ids_return_404_naming_them() {
    let server = Server::start().await;
    server.deploy("echo").await;
    let thread_id = server.create_thread("echo").await;

    let cases = [
        server.get("/v1/runs/run_01JF0000000000000000000000").await,
        server.get("/v1/runs/run_01JF0000000000000000000000/events").await,
        server.get("/v1/threads/thr_01JF0000000000000000000000").await,
        server.get("/v1/deployments/nope").await,
        server.post("/v1/runs", json!({ "deployment_id": "nope" })).await,
        server.post("/v1/threads", json!({ "deployment_id": "nope" })).await,
        server.post("/v1/threads/thr_01JF0000000000000000000000/runs", json!({})).await,
        server.get(&format!("/v1/threads/{thread_id}/checkpoints/ckpt_01JF0000000000000000000000")).await,
        server.post("/v1/runs/run_01JF0000000000000000000000/cancel", json!({})).await,
    ];

    for reply in cases {
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{:?}", reply.body);
        assert_eq!(reply.code(), "not_found");
        let id = reply.body["error"]["details"]["id"].as_str().unwrap();
        assert!(reply.message().contains(id), "{}", reply.message());
    }
}

#[tokio::test]
async fn bad_query_parameters_return_400() {
    let server = Server::start().await;

    let status = server.get("/v1/runs?status=done").await;
    let limit = server.get("/v1/runs?limit=101").await;
    let not_a_number = server.get("/v1/runs?limit=ten").await;
    let thread_status = server.get("/v1/threads?status=sleeping").await;
    let timeout = server.post("/v1/runs/wait?timeout=0", json!({ "deployment_id": "x" })).await;

    for reply in [&status, &limit, &not_a_number, &thread_status] {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
        assert_eq!(reply.code(), "invalid_parameter");
    }
    assert!(status.message().contains("done"));
    assert!(limit.message().contains("101"));
    assert!(not_a_number.message().contains("limit"), "{}", not_a_number.message());
    assert_eq!(timeout.status, StatusCode::BAD_REQUEST, "the wait is checked before anything runs");
    assert!(timeout.message().contains("timeout=0"), "{}", timeout.message());
}

#[tokio::test]
async fn oversized_bodies_return_413() {
    let server = Server::start_with(&["--max-json-body-mib", "1", "--max-component-mib", "8"]).await;
    server.deploy("echo").await;
    let big_text = "x".repeat(2 * 1024 * 1024);

    let json_body = server.post("/v1/runs", json!({ "deployment_id": "echo", "input": big_text })).await;
    let component = server.upload("big", vec![0u8; 9 * 1024 * 1024]).await;

    assert_eq!(json_body.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json_body.code(), "payload_too_large");
    assert_eq!(component.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(component.code(), "payload_too_large");
}

#[tokio::test]
async fn unknown_route_and_method_return_json_errors() {
    let server = Server::start().await;

    let route = server.get("/v1/nothing-here").await;
    let method = server.send_raw(server.request(Method::PUT, "/v1/runs")).await;

    assert_eq!(route.status, StatusCode::NOT_FOUND);
    assert_eq!(route.code(), "route_not_found");
    assert_eq!(method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(method.code(), "method_not_allowed");
}

#[tokio::test]
async fn cancel_finished_run_returns_409() {
    let server = Server::start().await;
    server.deploy("echo").await;
    let run = server.run_wait("echo", json!(1)).await;

    let reply = server.post(&format!("/v1/runs/{}/cancel", run["id"].as_str().unwrap()), json!({})).await;

    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "run_not_active");
    assert_eq!(reply.body["error"]["details"]["status"], "succeeded");
}

#[tokio::test]
async fn rejected_wait_runs_nothing() {
    let server = Server::start().await;
    server.deploy("chat").await;
    let thread_id = server.create_thread("chat").await;

    let stateless = server.post("/v1/runs/wait?timeout=0", json!({ "deployment_id": "chat", "input": { "message": "a" } })).await;
    let thread = server.post(&format!("/v1/threads/{thread_id}/runs/wait?timeout=99999"), json!({ "input": { "message": "b" } })).await;

    assert_eq!(stateless.status, StatusCode::BAD_REQUEST);
    assert_eq!(stateless.code(), "invalid_parameter");
    assert_eq!(thread.status, StatusCode::BAD_REQUEST);
    assert_eq!(server.get("/v1/runs").await.body["runs"], json!([]), "a rejected request creates no run");
    assert_eq!(server.get(&format!("/v1/threads/{thread_id}/history")).await.body["checkpoints"], json!([]));
}

#[tokio::test]
async fn invalid_path_encoding_returns_json_400() {
    let server = Server::start().await;

    let reply = server.get("/v1/threads/%FF").await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "invalid_path");
}
