//! The chat call end to end, through the test harness's canned HTTP responses.

use serde_json::{Value, json};

use super::*;
use crate::Crew;
use crate::http::HttpErrorKind;
use crate::testing::{Outcome, TestRun};

const KEY: &str = "sk-test-0123456789";
const URL: &str = "https://llm.example.com/v1/chat/completions";

/// Sends the input as one user message and returns the completion.
struct Ask;

impl Crew for Ask {
    type Input = String;
    type Output = Completion;
    type Values = Value;

    fn run(ctx: &Context, question: String, _values: &mut Value) -> Result<Completion, Error> {
        let llm = Llm::from_config(ctx)?;
        llm.chat(&[Message::system("Be brief."), Message::user(question)])
    }
}

fn configured() -> TestRun {
    TestRun::new(json!("What is WASI?"))
        .config(BASE_URL_SETTING, "https://llm.example.com/v1/")
        .config(MODEL_SETTING, "small-1")
        .config(API_KEY_SETTING, KEY)
}

fn completion_body(text: &str) -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "small-1-2025",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17 },
    })
}

fn answered(response: Response) -> Outcome {
    configured()
        .http_response(Method::Post, URL, response)
        .run::<Ask>()
}

fn assert_no_key(outcome: &Outcome) {
    for (kind, data) in &outcome.events {
        assert!(
            !data.to_string().contains(KEY),
            "event {kind} contains the key"
        );
    }
    if let Err(error) = &outcome.result {
        assert!(
            !error.message().contains(KEY),
            "the error contains the key: {error}"
        );
    }
}

#[test]
fn chat_posts_model_and_messages() {
    let outcome = answered(Response::new(200).with_json(&completion_body("A system interface.")));

    let request = &outcome.http_requests[0];
    assert_eq!(request.method(), Method::Post);
    assert_eq!(request.url(), URL);
    assert_eq!(
        request.header("Authorization"),
        Some("Bearer sk-test-0123456789")
    );
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    assert_eq!(
        request.json::<Value>().unwrap(),
        json!({
            "model": "small-1",
            "messages": [
                { "role": "system", "content": "Be brief." },
                { "role": "user", "content": "What is WASI?" },
            ],
        })
    );
}

#[test]
fn chat_returns_text_and_usage() {
    let outcome = answered(Response::new(200).with_json(&completion_body("A system interface.")));

    assert_eq!(
        outcome.expect_output(),
        &json!({
            "text": "A system interface.",
            "usage": { "prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17 },
            "finish_reason": "stop",
        })
    );
}

#[test]
fn chat_emits_one_call_event() {
    let outcome = answered(Response::new(200).with_json(&completion_body("A system interface.")));

    let calls: Vec<_> = outcome.events_of_kind(CALL_EVENT).collect();
    assert_eq!(calls.len(), 1);
    let call = calls[0];
    assert_eq!(call["model"], "small-1");
    assert_eq!(call["status"], 200);
    assert_eq!(call["prompt_tokens"], 12);
    assert_eq!(call["completion_tokens"], 5);
    assert_eq!(call["total_tokens"], 17);
    assert!(call["duration_ms"].is_u64());
    let mut fields: Vec<_> = call.as_object().unwrap().keys().cloned().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "completion_tokens",
            "duration_ms",
            "model",
            "prompt_tokens",
            "status",
            "total_tokens"
        ]
    );
    assert_no_key(&outcome);
}

#[test]
fn chat_without_usage_reports_zero() {
    let outcome = answered(Response::new(200).with_json(&json!({
        "choices": [{ "message": { "content": "ok" } }],
    })));

    assert_eq!(outcome.expect_output()["usage"]["total_tokens"], 0);
    let call = outcome.events_of_kind(CALL_EVENT).next().unwrap();
    assert_eq!(call["prompt_tokens"], 0);
    assert_eq!(call["total_tokens"], 0);
}

#[test]
fn error_status_names_status_and_server_message() {
    let outcome = answered(Response::new(401).with_json(&json!({
        "error": { "message": "Incorrect API key provided: sk-test-0123456789.", "type": "invalid_request_error" },
    })));

    assert_eq!(
        outcome.expect_error(),
        &Error::failed(
            "the LLM server at https://llm.example.com returned HTTP 401 for model `small-1`: \
             Incorrect API key provided: ***."
        )
    );
    let call = outcome.events_of_kind(CALL_EVENT).next().unwrap();
    assert_eq!(call["status"], 401);
    assert_eq!(call["total_tokens"], 0);
    assert_no_key(&outcome);
}

#[test]
fn error_status_truncates_long_message() {
    let outcome = answered(Response::new(500).with_body("x".repeat(2000)));

    let message = outcome.expect_error().message();
    let server_part = message.rsplit(": ").next().unwrap();
    assert_eq!(
        server_part.chars().count(),
        wire::MAX_SERVER_MESSAGE_CHARS + 1
    );
    assert!(server_part.ends_with('…'));
}

#[test]
fn error_status_with_empty_body() {
    let outcome = answered(Response::new(502));

    assert_eq!(
        outcome.expect_error().message(),
        "the LLM server at https://llm.example.com returned HTTP 502 for model `small-1` with an empty body"
    );
}

#[test]
fn unusable_body_fails_with_problem() {
    let outcome = answered(Response::new(200).with_json(&json!({ "choices": [] })));

    assert_eq!(
        outcome.expect_error().message(),
        "the LLM server at https://llm.example.com returned HTTP 200 for model `small-1`, \
         but the body has no choices"
    );
    assert_eq!(outcome.events_of_kind(CALL_EVENT).count(), 1);
}

#[test]
fn denied_request_emits_event_without_status() {
    let outcome = configured().run::<Ask>();

    let message = outcome.expect_error().message();
    assert!(
        message.starts_with(
            "the chat request for model `small-1` failed: the host denied the request POST \
             https://llm.example.com/v1/chat/completions. Add https://llm.example.com to the \
             deployment's allowed_hosts with `crewhost config allow dep_test https://llm.example.com`"
        ),
        "{message}"
    );
    let call = outcome.events_of_kind(CALL_EVENT).next().unwrap();
    assert_eq!(call["status"], Value::Null);
    assert_no_key(&outcome);
}

#[test]
fn timeout_names_model() {
    let outcome = configured()
        .http_failure(Method::Post, URL, HttpErrorKind::Timeout)
        .run::<Ask>();

    assert_eq!(
        outcome.expect_error().message(),
        "the chat request for model `small-1` failed: the request POST \
         https://llm.example.com/v1/chat/completions timed out: llm.example.com did not respond in time"
    );
}

#[test]
fn missing_settings_are_named_with_commands() {
    let outcome = TestRun::new(json!("q"))
        .config(BASE_URL_SETTING, "https://llm.example.com/v1")
        .config(MODEL_SETTING, "  ")
        .run::<Ask>();

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
fn missing_base_url_suggests_example() {
    let outcome = TestRun::new(json!("q"))
        .config(MODEL_SETTING, "small-1")
        .config(API_KEY_SETTING, KEY)
        .run::<Ask>();

    assert_eq!(
        outcome.expect_error().message(),
        "the setting `LLM_BASE_URL` is not set. Set it with \
         `crewhost config set dep_test LLM_BASE_URL=https://api.openai.com/v1`"
    );
}

#[test]
fn invalid_base_url_fails() {
    let outcome = configured()
        .config(BASE_URL_SETTING, "llm.example.com/v1")
        .run::<Ask>();

    assert_eq!(
        outcome.expect_error().message(),
        "the setting `LLM_BASE_URL` is invalid: invalid URL `llm.example.com/v1`: it must start \
         with http:// or https://. Set it with `crewhost config set dep_test \
         LLM_BASE_URL=https://api.openai.com/v1` or the base URL of another OpenAI-compatible server"
    );
}

#[test]
fn base_url_user_info_stays_hidden() {
    let outcome = configured()
        .config(BASE_URL_SETTING, "https://me:pa55word@llm.example.com/v1")
        .run::<Ask>();

    let message = outcome.expect_error().message();
    assert!(
        message.contains("https://***@llm.example.com/v1"),
        "{message}"
    );
    assert!(!message.contains("pa55word"), "{message}");
}

#[test]
fn debug_hides_key() {
    struct Show;

    impl Crew for Show {
        type Input = Value;
        type Output = String;
        type Values = Value;

        fn run(ctx: &Context, _input: Value, _values: &mut Value) -> Result<String, Error> {
            let llm = Llm::new(ctx, "https://llm.example.com/v1", "small-1", KEY)?;
            Ok(format!("{llm:?}"))
        }
    }

    let outcome = TestRun::new(json!(null)).run::<Show>();

    let debug_text = outcome.expect_output().as_str().unwrap();
    assert!(!debug_text.contains(KEY), "{debug_text}");
    assert!(
        debug_text.contains("https://llm.example.com"),
        "{debug_text}"
    );
}
