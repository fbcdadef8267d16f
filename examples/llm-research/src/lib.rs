//! A research crew of two LLM agents: a researcher lists the key findings on
//! a topic and a writer turns them into a short report.
//!
//! Both agents call an OpenAI-compatible chat completions API through
//! [`crewhost_guest::llm`], configured by the deployment settings
//! `LLM_BASE_URL`, `LLM_MODEL` and `LLM_API_KEY`. Like `crew-research`, the
//! crew emits `agent.started` and `task.completed` around each step, logs
//! progress and stops early when the run is canceled. The SDK adds one
//! `llm.call` event per request.

use crewhost_guest::llm::{Completion, Llm, Message, Usage};
use crewhost_guest::{Context, Crew, Error, export_crew};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The maximum topic length, in characters. The topic goes into both
/// prompts, so a bound keeps the requests and their token cost small.
pub const MAX_TOPIC_CHARS: usize = 200;

/// The researcher's instructions.
pub const RESEARCHER_PROMPT: &str = "You are a research assistant. List the key findings \
about the topic the user names as short bullet points: established facts, current practice, \
open questions and risks. Mark anything you are unsure about.";

/// The writer's instructions.
pub const WRITER_PROMPT: &str = "You are a technical writer. Write a short report of at most \
three paragraphs from the findings the user gives you. Use only those findings and do not \
add facts of your own.";

/// Runs the researcher, then the writer.
pub struct LlmResearch;

/// The run's input.
#[derive(Debug, Deserialize)]
pub struct ResearchInput {
    /// The subject to research, such as `"WebAssembly sandboxing"`.
    pub topic: String,
}

/// The run's output.
#[derive(Debug, Serialize)]
pub struct ResearchOutput {
    /// The topic, trimmed.
    pub topic: String,
    /// The text of the researcher's completion.
    pub findings: String,
    /// The text of the writer's completion.
    pub report: String,
    /// The tokens of both calls together.
    pub usage: Usage,
}

impl Crew for LlmResearch {
    type Input = ResearchInput;
    type Output = ResearchOutput;
    // The crew keeps no state, and `Value` returns a thread's values unchanged.
    type Values = Value;

    fn run(
        ctx: &Context,
        input: ResearchInput,
        _values: &mut Value,
    ) -> Result<ResearchOutput, Error> {
        let topic = check_topic(&input.topic)?;
        let llm = Llm::from_config(ctx)?;

        let findings = run_step(
            ctx,
            "researcher",
            &format!("list the key findings on {topic}"),
            || llm.chat(&researcher_messages(topic)),
        )?;

        let report = run_step(ctx, "writer", "write the report", || {
            llm.chat(&writer_messages(topic, &findings.text))
        })?;

        Ok(ResearchOutput {
            topic: topic.to_owned(),
            usage: findings.usage + report.usage,
            findings: findings.text,
            report: report.text,
        })
    }
}

export_crew!(LlmResearch);

/// Returns the researcher's messages for `topic`.
pub fn researcher_messages(topic: &str) -> [Message; 2] {
    [
        Message::system(RESEARCHER_PROMPT),
        Message::user(format!("Topic: {topic}")),
    ]
}

/// Returns the writer's messages, which quote the researcher's findings.
pub fn writer_messages(topic: &str, findings: &str) -> [Message; 2] {
    [
        Message::system(WRITER_PROMPT),
        Message::user(format!(
            "Topic: {topic}\n\nFindings:\n{findings}\n\nWrite the report."
        )),
    ]
}

fn check_topic(topic: &str) -> Result<&str, Error> {
    let topic = topic.trim();
    if topic.is_empty() {
        return Err(Error::invalid_input("`topic` must not be empty"));
    }

    let chars = topic.chars().count();
    if chars > MAX_TOPIC_CHARS {
        return Err(Error::invalid_input(format!(
            "`topic` has {chars} characters, but at most {MAX_TOPIC_CHARS} are allowed"
        )));
    }
    Ok(topic)
}

/// Runs one agent's LLM call between its `agent.started` and
/// `task.completed` events, after checking for cancellation.
fn run_step(
    ctx: &Context,
    agent: &str,
    task: &str,
    call: impl FnOnce() -> Result<Completion, Error>,
) -> Result<Completion, Error> {
    if ctx.cancel_requested() {
        ctx.warn(format_args!("canceled before the {agent} step"));
        return Err(Error::failed(format!(
            "the run was canceled before the {agent} step"
        )));
    }
    ctx.emit("agent.started", &json!({ "agent": agent, "task": task }))?;

    let completion = call()?;

    let characters = completion.text.chars().count();
    ctx.emit(
        "task.completed",
        &json!({
            "agent": agent,
            "task": task,
            "characters": characters,
            "total_tokens": completion.usage.total_tokens,
        }),
    )?;
    ctx.info(format_args!("{agent} wrote {characters} characters"));
    Ok(completion)
}

#[cfg(test)]
mod tests;
