//! The messages of a chat and the completion that the model returns for them.

use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

/// One message of a chat, as the chat completions API takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The message's author.
    pub role: Role,
    /// The message text.
    pub content: String,
}

impl Message {
    /// Creates a system message, which sets the model's instructions.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    /// Creates a user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    /// Creates an assistant message, such as an earlier reply of the model.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// The author of a [`Message`], serialized in lower case as the API expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The person or program that sends the prompt.
    User,
    /// The model.
    Assistant,
}

/// The model's reply to one [`Llm::chat`](super::Llm::chat) call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Completion {
    /// The text of the assistant message in the first choice.
    pub text: String,
    /// The tokens that the call used, as the server counted them.
    pub usage: Usage,
    /// The reason the model stopped, such as `stop` or `length` (the reply
    /// hit the token limit), or `None` when the server gives none.
    pub finish_reason: Option<String>,
}

/// Token counts of one or more calls.
///
/// Counts that the server omits are zero, except that a missing
/// `total_tokens` is the sum of the other two. `+` and `+=` add the counts
/// of several calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the request's messages.
    pub prompt_tokens: u64,
    /// Tokens in the model's answer.
    pub completion_tokens: u64,
    /// All tokens of the call.
    pub total_tokens: u64,
}

impl Add for Usage {
    type Output = Usage;

    fn add(self, other: Usage) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens + other.prompt_tokens,
            completion_tokens: self.completion_tokens + other.completion_tokens,
            total_tokens: self.total_tokens + other.total_tokens,
        }
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        *self = *self + other;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn message_serializes_role_in_lower_case() {
        let messages = [
            Message::system("be brief"),
            Message::user("hi"),
            Message::assistant("hello"),
        ];

        assert_eq!(
            serde_json::to_value(messages).unwrap(),
            json!([
                { "role": "system", "content": "be brief" },
                { "role": "user", "content": "hi" },
                { "role": "assistant", "content": "hello" },
            ])
        );
    }

    #[test]
    fn usage_adds_each_count() {
        let mut usage = Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
            total_tokens: 15,
        };

        usage += Usage {
            prompt_tokens: 1,
            completion_tokens: 2,
            total_tokens: 3,
        };

        assert_eq!(
            usage,
            Usage {
                prompt_tokens: 11,
                completion_tokens: 7,
                total_tokens: 18,
            }
        );
    }
}
