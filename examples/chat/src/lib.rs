//! A thread crew that remembers the conversation.
//!
//! Each run is one turn. The thread's values contain every message so far, so
//! the reply can refer to earlier turns although the crew's instance, like
//! every crew instance, lives for one run only.

use crewhost_guest::{Context, Crew, Error, export_crew};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Replies to a message, quoting the conversation's first message from the
/// second turn on.
pub struct Chat;

/// The run's input.
#[derive(Debug, Deserialize)]
pub struct ChatInput {
    /// The user's message for this turn.
    pub message: String,
}

/// The run's output.
#[derive(Debug, Serialize)]
pub struct ChatOutput {
    /// The assistant's reply.
    pub reply: String,
    /// This turn's number, counted from 1.
    pub turn: u32,
}

/// The thread's values: the conversation so far.
///
/// Each turn adds two messages, so the values grow with the thread.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatValues {
    /// Every message of the thread, oldest first.
    pub messages: Vec<Message>,
    /// How many turns the thread has had.
    pub turns: u32,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The message's author.
    pub role: Role,
    /// The message text.
    pub content: String,
}

/// The author of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person talking to the crew.
    User,
    /// The crew.
    Assistant,
}

impl Crew for Chat {
    type Input = ChatInput;
    type Output = ChatOutput;
    type Values = ChatValues;

    fn run(ctx: &Context, input: ChatInput, values: &mut ChatValues) -> Result<ChatOutput, Error> {
        if input.message.trim().is_empty() {
            return Err(Error::invalid_input("`message` must not be empty"));
        }

        let turn = values.turns + 1;
        ctx.emit(
            "message.received",
            &json!({ "turn": turn, "characters": input.message.chars().count() }),
        )?;

        let reply = compose_reply(values, &input.message, turn);
        values.messages.push(Message {
            role: Role::User,
            content: input.message,
        });
        values.messages.push(Message {
            role: Role::Assistant,
            content: reply.clone(),
        });
        values.turns = turn;
        ctx.info(format_args!(
            "answered turn {turn}, the thread now has {} messages",
            values.messages.len()
        ));

        Ok(ChatOutput { reply, turn })
    }
}

export_crew!(Chat);

/// Composes the assistant's reply to `message` from the history in `values`,
/// before `message` joins it.
fn compose_reply(values: &ChatValues, message: &str, turn: u32) -> String {
    let first = values
        .messages
        .iter()
        .find(|message| message.role == Role::User);

    match first {
        None => format!("Hello! You said \"{message}\". Tell me more and I will remember it."),
        Some(first) => format!(
            "You first said \"{}\". Now you say \"{message}\". This is turn {turn} of our conversation.",
            first.content
        ),
    }
}

#[cfg(test)]
mod tests {
    use crewhost_guest::testing::{Outcome, TestRun};
    use serde_json::{Value, json};

    use super::*;

    fn say(message: &str, values: Option<&Value>) -> Outcome {
        let run = TestRun::new(json!({ "message": message })).thread_id("thr_test");
        match values {
            Some(values) => run.values(values.clone()).run::<Chat>(),
            None => run.run::<Chat>(),
        }
    }

    #[test]
    fn first_turn_greets_and_counts() {
        let outcome = say("hello", None);

        let output = outcome.expect_output();
        assert_eq!(output["turn"], 1);
        assert_eq!(
            output["reply"],
            "Hello! You said \"hello\". Tell me more and I will remember it."
        );
    }

    #[test]
    fn second_turn_quotes_first_message() {
        let first = say("hello there", None);

        let second = say("how are you?", Some(first.expect_values()));

        let output = second.expect_output();
        assert_eq!(output["turn"], 2);
        assert!(
            output["reply"]
                .as_str()
                .unwrap()
                .starts_with("You first said \"hello there\"."),
            "{}",
            output["reply"]
        );
    }

    #[test]
    fn third_turn_still_quotes_first_message() {
        let first = say("one", None);
        let second = say("two", Some(first.expect_values()));

        let third = say("three", Some(second.expect_values()));

        assert_eq!(
            third.expect_output()["reply"],
            "You first said \"one\". Now you say \"three\". This is turn 3 of our conversation."
        );
    }

    #[test]
    fn values_grow_each_turn() {
        let first = say("hello", None);
        let second = say("again", Some(first.expect_values()));

        let values = second.expect_values();
        assert_eq!(values["turns"], 2);
        let messages = values["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 4);
        assert_eq!(messages[0], json!({ "role": "user", "content": "hello" }));
        assert_eq!(messages[1]["role"], "assistant");
        assert_eq!(messages[2], json!({ "role": "user", "content": "again" }));
        assert_eq!(messages[3]["content"], second.expect_output()["reply"]);
    }

    #[test]
    fn missing_message_is_invalid_input() {
        let outcome = TestRun::new(json!({ "text": "hello" })).run::<Chat>();

        let error = outcome.expect_error();
        assert!(error.is_invalid_input());
        assert!(
            error.message().contains("missing field `message`"),
            "{}",
            error.message()
        );
        assert_eq!(outcome.values, None);
    }

    #[test]
    fn blank_message_is_invalid_input() {
        let outcome = say("  ", None);

        assert_eq!(
            outcome.expect_error(),
            &Error::invalid_input("`message` must not be empty")
        );
    }

    #[test]
    fn emitted_event_is_captured() {
        let first = say("hello", None);
        let second = say("héllo", Some(first.expect_values()));

        assert_eq!(
            second.events,
            vec![(
                "message.received".to_owned(),
                json!({ "turn": 2, "characters": 5 })
            )]
        );
        assert_eq!(second.logs.len(), 1);
        assert_eq!(
            second.logs[0].1,
            "answered turn 2, the thread now has 4 messages"
        );
    }

    #[test]
    fn malformed_values_fail() {
        let outcome = TestRun::new(json!({ "message": "hi" }))
            .values(json!({ "messages": "not a list" }))
            .run::<Chat>();

        let error = outcome.expect_error();
        assert!(error.is_failed());
        assert!(
            error.message().contains("ChatValues`"),
            "{}",
            error.message()
        );
    }
}
