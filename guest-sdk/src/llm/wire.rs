//! The JSON of the chat completions API: the request body, the response
//! body and the error bodies that OpenAI-compatible servers send.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Completion, Message, Usage};

/// The maximum length, in characters, of a server error message that an
/// error repeats.
/// Some servers put a whole HTML page or stack trace in an error body, and
/// the run's error message should stay readable.
pub(super) const MAX_SERVER_MESSAGE_CHARS: usize = 500;

/// The request body: the fields every OpenAI-compatible server accepts.
#[derive(Debug, Serialize)]
pub(super) struct ChatRequest<'a> {
    pub(super) model: &'a str,
    pub(super) messages: &'a [Message],
}

#[derive(Debug, Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<ChoiceMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<String>,
    /// Set by OpenAI in place of `content` when the model refuses the request.
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Self {
        let prompt_tokens = usage.prompt_tokens.unwrap_or(0);
        let completion_tokens = usage.completion_tokens.unwrap_or(0);
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: usage
                .total_tokens
                .unwrap_or(prompt_tokens + completion_tokens),
        }
    }
}

/// A 2xx body that is not a usable completion, and the usage it reported.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Unusable {
    pub(super) problem: String,
    pub(super) usage: Usage,
}

/// Reads the completion from a 2xx response body.
pub(super) fn parse_completion(body: &[u8]) -> Result<Completion, Unusable> {
    let unusable = |problem: String| Unusable {
        problem,
        usage: Usage::default(),
    };

    let value: Value = serde_json::from_slice(body)
        .map_err(|error| unusable(format!("the body is not JSON: {error}")))?;
    if value.get("choices").is_none() {
        // Some servers send an error body with status 200.
        return Err(unusable(match error_field(&value) {
            Some(message) => format!("the body is an error: {}", truncate(message)),
            None => "the body has no `choices`".to_owned(),
        }));
    }
    let response: ChatResponse = serde_json::from_value(value)
        .map_err(|error| unusable(format!("the body is not a chat completion: {error}")))?;

    let usage = Usage::from(response.usage.unwrap_or_default());
    let Some(choice) = response.choices.into_iter().next() else {
        return Err(Unusable {
            problem: "the body has no choices".to_owned(),
            usage,
        });
    };
    let (content, refusal) = match choice.message {
        Some(message) => (message.content, message.refusal),
        None => (None, None),
    };
    match (content, refusal) {
        (Some(text), _) => Ok(Completion {
            text,
            usage,
            finish_reason: choice.finish_reason,
        }),
        (None, Some(refusal)) => Err(Unusable {
            problem: format!("the model refused the request: {}", truncate(&refusal)),
            usage,
        }),
        (None, None) => Err(Unusable {
            problem: "the first choice has no message text".to_owned(),
            usage,
        }),
    }
}

/// Returns the error message in an error body, truncated to
/// [`MAX_SERVER_MESSAGE_CHARS`]. Servers put it in `error.message` (OpenAI),
/// `error` as a string, `message` or `detail` (vLLM and other FastAPI
/// servers). A body in none of these shapes counts as the message itself.
/// Returns `None` for an empty body.
pub(super) fn server_message(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }

    let from_json = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|value| error_field(&value).map(str::to_owned));
    Some(truncate(from_json.as_deref().unwrap_or(text)))
}

/// Returns the first string among the fields that servers put an error
/// message in.
fn error_field(value: &Value) -> Option<&str> {
    [
        value.pointer("/error/message"),
        value.get("error"),
        value.get("message"),
        value.get("detail"),
    ]
    .into_iter()
    .flatten()
    .find_map(Value::as_str)
}

/// Cuts `text` to [`MAX_SERVER_MESSAGE_CHARS`] characters and marks the cut
/// with `…`.
pub(super) fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_SERVER_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(value: Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap()
    }

    #[test]
    fn parse_reads_text_usage_and_finish_reason() {
        let completion = parse_completion(&body(json!({
            "id": "chatcmpl-1",
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Hi" }, "finish_reason": "stop" }],
            "usage": { "prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11 },
        })))
        .unwrap();

        assert_eq!(completion.text, "Hi");
        assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            completion.usage,
            Usage {
                prompt_tokens: 9,
                completion_tokens: 2,
                total_tokens: 11,
            }
        );
    }

    #[test]
    fn parse_without_usage_counts_zero() {
        let completion = parse_completion(&body(json!({
            "choices": [{ "message": { "content": "Hi" } }],
            "usage": null,
        })))
        .unwrap();

        assert_eq!(completion.usage, Usage::default());
        assert_eq!(completion.finish_reason, None);
    }

    #[test]
    fn parse_sums_missing_total() {
        let completion = parse_completion(&body(json!({
            "choices": [{ "message": { "content": "Hi" } }],
            "usage": { "prompt_tokens": 4, "completion_tokens": 3 },
        })))
        .unwrap();

        assert_eq!(completion.usage.total_tokens, 7);
    }

    #[test]
    fn parse_reports_unusable_bodies() {
        let cases = [
            (b"<html>".to_vec(), "the body is not JSON: "),
            (
                body(json!({ "object": "list" })),
                "the body has no `choices`",
            ),
            (
                body(json!({ "error": { "message": "overloaded" } })),
                "the body is an error: overloaded",
            ),
            (body(json!({ "choices": [] })), "the body has no choices"),
            (
                body(json!({ "choices": [{ "message": { "content": null } }] })),
                "the first choice has no message text",
            ),
            (
                body(json!({ "choices": [{ "message": { "refusal": "I can't" } }] })),
                "the model refused the request: I can't",
            ),
            (
                body(json!({ "choices": "many" })),
                "the body is not a chat completion: ",
            ),
        ];

        for (body, problem) in cases {
            let unusable = parse_completion(&body).unwrap_err();
            assert!(
                unusable.problem.starts_with(problem),
                "{problem}: {}",
                unusable.problem
            );
        }
    }

    #[test]
    fn parse_keeps_usage_of_unusable_body() {
        let unusable = parse_completion(&body(json!({
            "choices": [{ "message": { "content": null } }],
            "usage": { "prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5 },
        })))
        .unwrap_err();

        assert_eq!(unusable.usage.total_tokens, 5);
    }

    #[test]
    fn server_message_reads_common_shapes() {
        let cases = [
            (
                body(
                    json!({ "error": { "message": "bad model", "type": "invalid_request_error" } }),
                ),
                "bad model",
            ),
            (body(json!({ "error": "rate limited" })), "rate limited"),
            (body(json!({ "message": "no route" })), "no route"),
            (body(json!({ "detail": "Not Found" })), "Not Found"),
            (b"  upstream timeout \n".to_vec(), "upstream timeout"),
            (body(json!({ "status": 500 })), r#"{"status":500}"#),
        ];

        for (body, expected) in cases {
            assert_eq!(server_message(&body).as_deref(), Some(expected));
        }
        assert_eq!(server_message(b" "), None);
    }

    #[test]
    fn truncate_cuts_at_character_limit() {
        let long = "é".repeat(MAX_SERVER_MESSAGE_CHARS + 10);

        let cut = truncate(&long);

        assert_eq!(cut.chars().count(), MAX_SERVER_MESSAGE_CHARS + 1);
        assert!(cut.ends_with("é…"));
        assert_eq!(truncate("short"), "short");
    }
}
