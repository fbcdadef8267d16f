//! Outbound HTTP: the allow-list, address checks, limits, settings and
//! secrets, against mock servers on loopback.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::mock::{ConnectionCounter, MockLlm, canned_answer};
use crate::support::Server;

const SECRET: &str = "sk-test-4242-do-not-leak";

/// Returns the events of a run.
async fn event_types(server: &Server, run_id: &str) -> Vec<Value> {
    let events = server.get(&format!("/v1/runs/{run_id}/events")).await;
    events.body["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn llm_research_calls_allowed_mock() {
    let mock = MockLlm::start().await;
    let server = Server::start().await;
    server.deploy("llm-research").await;
    let base = format!("http://127.0.0.1:{}", mock.port);
    let config = server
        .send_raw(server.request(reqwest::Method::PUT, "/v1/deployments/llm-research/config").json(&json!({
            "env": { "LLM_BASE_URL": format!("{base}/v1"), "LLM_MODEL": "mock-model" },
            "secrets": { "LLM_API_KEY": SECRET },
            "allowed_hosts": [base],
        })))
        .await;
    assert_eq!(config.status, StatusCode::OK, "{:?}", config.body);

    let run = server.run_wait("llm-research", json!({ "topic": "tidal power" })).await;

    assert_eq!(run["status"], "succeeded", "{run}");
    let requests = mock.requests();
    assert_eq!(requests.len(), 2, "a researcher call and a writer call");
    for request in &requests {
        assert_eq!(request.authorization.as_deref(), Some(format!("Bearer {SECRET}").as_str()));
        assert_eq!(request.body["model"], "mock-model");
    }
    assert!(requests[0].body["messages"].to_string().contains("tidal power"), "{:?}", requests[0].body);
    assert!(requests[1].body["messages"].to_string().contains(&canned_answer(1)), "the writer sees the research");
    let output = run["output"].to_string();
    assert!(output.contains(&canned_answer(1)), "{output}");
    assert!(output.contains(&canned_answer(2)), "{output}");
    let events = event_types(&server, run["id"].as_str().unwrap()).await;
    let llm_calls: Vec<&Value> = events.iter().filter(|event| event["type"] == "llm.call").collect();
    assert_eq!(llm_calls.len(), 2);
    assert_eq!(llm_calls[0]["data"]["model"], "mock-model");
    assert_eq!(llm_calls[0]["data"]["total_tokens"], 18);
}

#[tokio::test]
async fn secret_never_leaves_the_host() {
    let mock = MockLlm::start().await;
    let server = Server::start().await;
    server.deploy("llm-research").await;
    server.deploy("testbed").await;
    let base = format!("http://127.0.0.1:{}", mock.port);
    for deployment in ["llm-research", "testbed"] {
        let reply = server
            .patch(&format!("/v1/deployments/{deployment}/config"), json!({
                "env": { "LLM_BASE_URL": format!("{base}/v1"), "LLM_MODEL": "mock-model" },
                "secrets": { "LLM_API_KEY": SECRET },
                "add_allowed_hosts": [base],
            }))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }

    let llm = server.run_wait("llm-research", json!({ "topic": "kelp" })).await;
    // The testbed reads the secret and returns it as output, as a crew
    // that tries to publish it would.
    let leak = server.run_wait("testbed", json!({ "mode": "config", "name": "LLM_API_KEY" })).await;

    let mut seen = Vec::new();
    for path in [
        format!("/v1/runs/{}", llm["id"].as_str().unwrap()),
        format!("/v1/runs/{}/events", llm["id"].as_str().unwrap()),
        format!("/v1/runs/{}", leak["id"].as_str().unwrap()),
        format!("/v1/runs/{}/events", leak["id"].as_str().unwrap()),
        "/v1/runs".to_string(),
        "/v1/deployments/llm-research".to_string(),
        "/v1/deployments/llm-research/config".to_string(),
        "/v1/deployments".to_string(),
    ] {
        let reply = server.get(&path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        seen.push((path, reply.body.to_string()));
    }
    for (path, body) in &seen {
        assert!(!body.contains(SECRET), "{path} shows the secret: {body}");
    }
    assert_eq!(leak["output"]["value"], "[redacted]");
    let config = server.get("/v1/deployments/llm-research/config").await;
    assert_eq!(config.body["secrets"], json!(["LLM_API_KEY"]), "only secret names are listed");
    let log = std::fs::read_to_string(server.data_dir().join("server.log")).unwrap();
    assert!(!log.contains(SECRET), "the server log shows the secret");
}

#[tokio::test]
async fn request_to_unlisted_host_is_denied() {
    let mock = MockLlm::start().await;
    let counter = ConnectionCounter::start().await;
    let server = Server::start().await;
    server.deploy("fetch").await;
    server
        .patch("/v1/deployments/fetch/config", json!({ "allowed_hosts": [format!("http://127.0.0.1:{}", mock.port)] }))
        .await;
    let denied_url = format!("http://127.0.0.1:{}/secret-admin", counter.port);

    let run = server.run_wait("fetch", json!({ "urls": [denied_url, format!("http://127.0.0.1:{}/ok", mock.port)] })).await;

    assert_eq!(run["status"], "succeeded", "{run}");
    let denied = &run["output"][0];
    assert_eq!(denied["status"], Value::Null);
    assert!(denied["error"].as_str().unwrap().contains("allowed_hosts"), "{denied}");
    assert_eq!(run["output"][1]["status"], 200, "the allowed host still works");
    assert_eq!(run["output"][1]["preview"], "hello from the mock");
    let events = event_types(&server, run["id"].as_str().unwrap()).await;
    let refusals: Vec<&Value> = events.iter().filter(|event| event["type"] == "capability.denied").collect();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0]["data"]["url"], denied_url);
    assert_eq!(counter.connections(), 0, "no connection reached the host that is not allowed");
}

#[tokio::test]
async fn name_resolving_to_loopback_is_refused() {
    let mock = MockLlm::start().await;
    let server = Server::start().await;
    server.deploy("fetch").await;
    server.patch("/v1/deployments/fetch/config", json!({ "allowed_hosts": [format!("http://localhost:{}", mock.port)] })).await;

    let run = server.run_wait("fetch", json!({ "urls": [format!("http://localhost:{}/ok", mock.port)] })).await;

    assert_eq!(run["output"][0]["status"], Value::Null, "{run}");
    let events = event_types(&server, run["id"].as_str().unwrap()).await;
    let refusal = events.iter().find(|event| event["type"] == "capability.denied").expect("a capability.denied event");
    assert!(refusal["data"]["reason"].as_str().unwrap().contains("loopback"), "{refusal}");
}

#[tokio::test]
async fn response_size_and_request_count_limits_hold() {
    let mock = MockLlm::start().await;
    let server = Server::start().await;
    let reply = server.upload("fetch&http_max_response_bytes=1000&http_max_requests=2", crate::support::crew("fetch")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let base = format!("http://127.0.0.1:{}", mock.port);
    server.patch("/v1/deployments/fetch/config", json!({ "allowed_hosts": [base] })).await;

    let run = server.run_wait("fetch", json!({ "urls": [format!("{base}/big"), format!("{base}/ok"), format!("{base}/ok")] })).await;

    let output = &run["output"];
    assert_eq!(output[0]["status"], Value::Null, "a 5,000-byte body is over the 1,000-byte limit: {output}");
    assert_eq!(output[1]["status"], 200);
    assert_eq!(output[2]["status"], Value::Null, "the third request is over the limit of two: {output}");
    let events = event_types(&server, run["id"].as_str().unwrap()).await;
    let limits: Vec<&str> = events
        .iter()
        .filter(|event| event["type"] == "http.limit_exceeded")
        .map(|event| event["data"]["limit"].as_str().unwrap())
        .collect();
    assert_eq!(limits, vec!["http_max_response_bytes", "http_max_requests"]);
}

#[tokio::test]
async fn cancel_during_slow_response_ends_run() {
    let mock = MockLlm::start().await;
    let server = Server::start_with(&["--cancel-grace-secs", "1"]).await;
    server.deploy("fetch").await;
    let base = format!("http://127.0.0.1:{}", mock.port);
    server.patch("/v1/deployments/fetch/config", json!({ "allowed_hosts": [base] })).await;
    let run_id = server.start_run("fetch", json!({ "urls": [format!("{base}/slow")] })).await;
    server.wait_for_status(&run_id, "running").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let reply = server.post(&format!("/v1/runs/{run_id}/cancel"), json!({})).await;

    assert_eq!(reply.body["status"], "canceled", "{:?}", reply.body);
}

#[tokio::test]
async fn invalid_settings_return_400() {
    let server = Server::start().await;
    server.deploy("fetch").await;

    let bad_host = server.patch("/v1/deployments/fetch/config", json!({ "allowed_hosts": ["api.openai.com"] })).await;
    let bad_name = server.patch("/v1/deployments/fetch/config", json!({ "env": { "9LIVES": "x" } })).await;
    let both = server.patch("/v1/deployments/fetch/config", json!({ "env": { "KEY": "a" }, "secrets": { "KEY": "b" } })).await;
    let shown = server.get("/v1/deployments/fetch").await;

    assert_eq!(bad_host.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_host.code(), "invalid_allowed_host");
    assert!(bad_host.message().contains("api.openai.com"), "{}", bad_host.message());
    assert_eq!(bad_name.code(), "invalid_setting");
    assert_eq!(both.code(), "invalid_setting");
    assert_eq!(shown.body["allowed_hosts"], json!([]));
}

#[tokio::test]
async fn slow_response_hits_http_timeout() {
    let mock = MockLlm::start().await;
    let server = Server::start().await;
    server.upload("fetch&http_timeout_secs=1", crate::support::crew("fetch")).await;
    let base = format!("http://127.0.0.1:{}", mock.port);
    server.patch("/v1/deployments/fetch/config", json!({ "allowed_hosts": [base] })).await;

    let run = server.run_wait("fetch", json!({ "urls": [format!("{base}/slow")] })).await;

    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"][0]["status"], Value::Null);
    let events = event_types(&server, run["id"].as_str().unwrap()).await;
    let timeout = events.iter().find(|event| event["type"] == "http.limit_exceeded").expect("an http.limit_exceeded event");
    assert_eq!(timeout["data"]["limit"], "http_timeout_secs");
}
