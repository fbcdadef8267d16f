use crewhost_guest::Level;
use crewhost_guest::http::{HttpErrorKind, Method, Response};
use crewhost_guest::testing::{Outcome, TestRun};

use super::*;

const KEY: &str = "sk-research-test-5f2a9c";
const URL: &str = "http://127.0.0.1:8080/v1/chat/completions";
const FINDINGS: &str = "- Components isolate memory.\n- Imports are capabilities.";
const REPORT: &str = "WebAssembly components run with isolated memory and explicit imports.";

fn completion(text: &str, prompt_tokens: u64, completion_tokens: u64) -> Response {
    Response::new(200).with_json(&json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": text },
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }))
}

/// Returns a run with the three settings, with the base URL written with a
/// trailing slash, as people often do.
fn research(topic: &str) -> TestRun {
    TestRun::new(json!({ "topic": topic }))
        .config("LLM_BASE_URL", "http://127.0.0.1:8080/v1/")
        .config("LLM_MODEL", "local-model")
        .config("LLM_API_KEY", KEY)
}

/// Runs the crew with canned responses for the researcher and writer calls,
/// in order.
fn run_with_replies(topic: &str) -> Outcome {
    research(topic)
        .http_response(Method::Post, URL, completion(FINDINGS, 40, 12))
        .http_response(Method::Post, URL, completion(REPORT, 70, 15))
        .run::<LlmResearch>()
}

#[test]
fn output_has_findings_report_and_usage() {
    let outcome = run_with_replies("  WebAssembly sandboxing ");

    assert_eq!(
        outcome.expect_output(),
        &json!({
            "topic": "WebAssembly sandboxing",
            "findings": FINDINGS,
            "report": REPORT,
            "usage": { "prompt_tokens": 110, "completion_tokens": 27, "total_tokens": 137 },
        })
    );
}

#[test]
fn researcher_request_names_model_and_topic() {
    let outcome = run_with_replies("WebAssembly sandboxing");

    let request = &outcome.http_requests[0];
    assert_eq!(request.method(), Method::Post);
    assert_eq!(request.url(), URL);
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    assert_eq!(
        request.json::<Value>().unwrap(),
        json!({
            "model": "local-model",
            "messages": [
                { "role": "system", "content": RESEARCHER_PROMPT },
                { "role": "user", "content": "Topic: WebAssembly sandboxing" },
            ],
        })
    );
}

#[test]
fn writer_request_quotes_findings() {
    let outcome = run_with_replies("WebAssembly sandboxing");

    let request = &outcome.http_requests[1];
    assert_eq!(request.url(), URL);
    let body: Value = request.json().unwrap();
    assert_eq!(body["model"], "local-model");
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][0]["content"], WRITER_PROMPT);
    assert_eq!(body["messages"][1]["role"], "user");
    let user_message = body["messages"][1]["content"].as_str().unwrap();
    assert!(user_message.contains(FINDINGS), "{user_message}");
    assert!(
        user_message.starts_with("Topic: WebAssembly sandboxing\n"),
        "{user_message}"
    );
}

#[test]
fn both_requests_send_bearer_key() {
    let outcome = run_with_replies("WebAssembly sandboxing");

    assert_eq!(outcome.http_requests.len(), 2);
    for request in &outcome.http_requests {
        assert_eq!(
            request.header("Authorization"),
            Some("Bearer sk-research-test-5f2a9c")
        );
    }
}

#[test]
fn events_follow_agent_order() {
    let outcome = run_with_replies("WebAssembly sandboxing");

    let kinds: Vec<(&str, Option<&str>)> = outcome
        .events
        .iter()
        .map(|(kind, data)| (kind.as_str(), data["agent"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("agent.started", Some("researcher")),
            ("llm.call", None),
            ("task.completed", Some("researcher")),
            ("agent.started", Some("writer")),
            ("llm.call", None),
            ("task.completed", Some("writer")),
        ]
    );
}

#[test]
fn events_carry_tokens_and_status() {
    let outcome = run_with_replies("WebAssembly sandboxing");

    let calls: Vec<_> = outcome.events_of_kind("llm.call").collect();
    assert_eq!(calls[0]["model"], "local-model");
    assert_eq!(calls[0]["status"], 200);
    assert_eq!(calls[0]["total_tokens"], 52);
    assert_eq!(calls[1]["total_tokens"], 85);
    let completed: Vec<_> = outcome.events_of_kind("task.completed").collect();
    assert_eq!(
        completed[0]["task"],
        "list the key findings on WebAssembly sandboxing"
    );
    assert_eq!(completed[0]["total_tokens"], 52);
    assert_eq!(completed[1]["characters"], REPORT.chars().count());
}

#[test]
fn no_event_or_log_contains_key() {
    let outcome = run_with_replies("WebAssembly sandboxing");

    for (kind, data) in &outcome.events {
        assert!(
            !data.to_string().contains(KEY),
            "event {kind} contains the key"
        );
    }
    for (_, message) in &outcome.logs {
        assert!(!message.contains(KEY), "a log line contains the key");
    }
}

#[test]
fn each_step_logs_an_info_line() {
    let outcome = run_with_replies("WebAssembly sandboxing");

    let lines: Vec<_> = outcome.logs_at(Level::Info).collect();
    assert_eq!(
        lines,
        [
            format!("researcher wrote {} characters", FINDINGS.chars().count()),
            format!("writer wrote {} characters", REPORT.chars().count()),
        ]
    );
}

#[test]
fn missing_settings_fail_before_any_request() {
    let outcome = TestRun::new(json!({ "topic": "WebAssembly sandboxing" }))
        .config("LLM_BASE_URL", "http://127.0.0.1:8080/v1")
        .run::<LlmResearch>();

    assert_eq!(
        outcome.expect_error(),
        &Error::failed(
            "the settings `LLM_MODEL` and `LLM_API_KEY` are not set. Set them with \
             `crewhost config set dep_test LLM_MODEL=<model>` and \
             `crewhost config set dep_test LLM_API_KEY=<key> --secret`"
        )
    );
    assert!(outcome.http_requests.is_empty());
    assert!(outcome.events.is_empty());
}

#[test]
fn writer_error_status_fails_run() {
    let outcome = research("WebAssembly sandboxing")
        .http_response(Method::Post, URL, completion(FINDINGS, 40, 12))
        .http_response(
            Method::Post,
            URL,
            Response::new(429).with_json(&json!({
                "error": { "message": "Rate limit reached for key sk-research-test-5f2a9c", "type": "rate_limit" },
            })),
        )
        .run::<LlmResearch>();

    assert_eq!(
        outcome.expect_error().message(),
        "the LLM server at http://127.0.0.1:8080 returned HTTP 429 for model `local-model`: \
         Rate limit reached for key ***"
    );
    assert_eq!(outcome.events_of_kind("task.completed").count(), 1);
    assert_eq!(
        outcome.events_of_kind("llm.call").nth(1).unwrap()["status"],
        429
    );
}

#[test]
fn unreachable_server_fails_run() {
    let outcome = research("WebAssembly sandboxing")
        .http_failure(Method::Post, URL, HttpErrorKind::Connection)
        .run::<LlmResearch>();

    assert_eq!(
        outcome.expect_error().message(),
        "the chat request for model `local-model` failed: the request POST \
         http://127.0.0.1:8080/v1/chat/completions failed: the connection to 127.0.0.1:8080 failed"
    );
    assert_eq!(outcome.events_of_kind("task.completed").count(), 0);
}

#[test]
fn blank_topic_is_invalid_input() {
    let outcome = research("   ").run::<LlmResearch>();

    assert_eq!(
        outcome.expect_error(),
        &Error::invalid_input("`topic` must not be empty")
    );
    assert!(outcome.http_requests.is_empty());
}

#[test]
fn long_topic_is_invalid_input() {
    let outcome = research(&"x".repeat(MAX_TOPIC_CHARS + 1)).run::<LlmResearch>();

    let error = outcome.expect_error();
    assert!(error.is_invalid_input());
    assert!(
        error
            .message()
            .contains("has 201 characters, but at most 200")
    );
}

#[test]
fn cancel_before_writer_stops_run() {
    let outcome = research("WebAssembly sandboxing")
        .http_response(Method::Post, URL, completion(FINDINGS, 40, 12))
        .cancel_after_checks(1)
        .run::<LlmResearch>();

    assert_eq!(
        outcome.expect_error(),
        &Error::failed("the run was canceled before the writer step")
    );
    assert_eq!(outcome.http_requests.len(), 1);
}
