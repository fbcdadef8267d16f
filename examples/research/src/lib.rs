//! A deterministic research pipeline of three agents: a researcher collects
//! findings on a topic, an analyst weighs them and a writer turns them into a
//! report.
//!
//! The agents are plain functions in [`agents`], so the same topic always
//! yields the same report. The crew around them shows what a real crew does
//! between steps: it emits `agent.started` and `task.completed` events, logs
//! progress, reads a config entry and stops early when the run is canceled.

pub mod agents;

use crewhost_guest::{Context, Crew, Error, export_crew};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::agents::{ANGLES, Analysis, Finding};

/// The config entry that sets how many angles the researcher covers.
pub const FINDINGS_CONFIG: &str = "findings";

/// How many angles the researcher covers when `findings` is not set.
pub const DEFAULT_FINDINGS: usize = 3;

/// The maximum topic length, in characters. The topic appears in every
/// finding, so a bound keeps the output and the events small.
pub const MAX_TOPIC_CHARS: usize = 200;

/// Runs the researcher, the analyst and the writer in order.
pub struct Research;

/// The run's input.
#[derive(Debug, Deserialize)]
pub struct ResearchInput {
    /// The subject to research, such as `"WebAssembly sandboxing"`.
    pub topic: String,
}

/// The run's output: every agent's result.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The topic, trimmed.
    pub topic: String,
    /// The researcher's findings.
    pub findings: Vec<Finding>,
    /// The analyst's view of the findings.
    pub analysis: Analysis,
    /// The writer's report text.
    pub report: String,
    /// How many agents ran.
    pub steps: u32,
}

impl Crew for Research {
    type Input = ResearchInput;
    type Output = Report;
    // The crew keeps no state, and `Value` returns a thread's values unchanged.
    type Values = Value;

    fn run(ctx: &Context, input: ResearchInput, _values: &mut Value) -> Result<Report, Error> {
        let topic = check_topic(&input.topic)?;
        let count = findings_count(ctx)?;

        let task = format!("collect {count} findings on {topic}");
        start_step(ctx, "researcher", &task)?;
        let findings = agents::research(topic, count);
        ctx.emit(
            "task.completed",
            &json!({ "agent": "researcher", "task": task, "findings": findings.len() }),
        )?;
        ctx.info(format_args!(
            "researcher collected {} findings",
            findings.len()
        ));

        let task = format!("analyze {} findings", findings.len());
        start_step(ctx, "analyst", &task)?;
        let analysis = agents::analyze(topic, &findings);
        ctx.emit(
            "task.completed",
            &json!({
                "agent": "analyst",
                "task": task,
                "strongest_angle": analysis.strongest_angle,
                "average_score": analysis.average_score,
            }),
        )?;
        ctx.info(format_args!(
            "analyst rated {} as the strongest angle",
            analysis.strongest_angle
        ));

        let task = "write the report".to_owned();
        start_step(ctx, "writer", &task)?;
        let report = agents::write(topic, &findings, &analysis);
        let words = report.split_whitespace().count();
        ctx.emit(
            "task.completed",
            &json!({ "agent": "writer", "task": task, "words": words }),
        )?;
        ctx.info(format_args!("writer wrote {words} words"));

        Ok(Report {
            topic: topic.to_owned(),
            findings,
            analysis,
            report,
            steps: 3,
        })
    }
}

export_crew!(Research);

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

/// Reads the `findings` config entry, which the deployment sets, so a bad
/// value fails the run instead of blaming the input.
fn findings_count(ctx: &Context) -> Result<usize, Error> {
    let Some(text) = ctx.config(FINDINGS_CONFIG) else {
        return Ok(DEFAULT_FINDINGS);
    };

    match text.trim().parse::<usize>() {
        Ok(count) if (1..=ANGLES.len()).contains(&count) => Ok(count),
        _ => Err(Error::failed(format!(
            "config `{FINDINGS_CONFIG}` is `{text}`, but it must be a whole number from 1 to {}",
            ANGLES.len()
        ))),
    }
}

/// Stops the run if it was canceled, then announces the agent's step.
fn start_step(ctx: &Context, agent: &str, task: &str) -> Result<(), Error> {
    if ctx.cancel_requested() {
        ctx.warn(format_args!("canceled before the {agent} step"));
        return Err(Error::failed(format!(
            "the run was canceled before the {agent} step"
        )));
    }

    ctx.emit("agent.started", &json!({ "agent": agent, "task": task }))
}

#[cfg(test)]
mod tests {
    use crewhost_guest::Level;
    use crewhost_guest::testing::TestRun;

    use super::*;

    fn research(topic: &str) -> TestRun {
        TestRun::new(json!({ "topic": topic }))
    }

    #[test]
    fn report_has_every_part() {
        let outcome = research("WebAssembly sandboxing").run::<Research>();

        let output = outcome.expect_output();
        assert_eq!(output["topic"], "WebAssembly sandboxing");
        assert_eq!(output["steps"], 3);
        assert_eq!(
            output["findings"].as_array().unwrap().len(),
            DEFAULT_FINDINGS
        );
        assert_eq!(
            output["analysis"]["key_terms"],
            json!(["webassembly", "sandboxing"])
        );
        assert!(
            output["report"]
                .as_str()
                .unwrap()
                .starts_with("Research report on WebAssembly sandboxing")
        );
    }

    #[test]
    fn events_follow_agent_order() {
        let outcome = research("edge caching").run::<Research>();

        let steps: Vec<(&str, &str)> = outcome
            .events
            .iter()
            .map(|(kind, data)| (kind.as_str(), data["agent"].as_str().unwrap()))
            .collect();
        assert_eq!(
            steps,
            [
                ("agent.started", "researcher"),
                ("task.completed", "researcher"),
                ("agent.started", "analyst"),
                ("task.completed", "analyst"),
                ("agent.started", "writer"),
                ("task.completed", "writer"),
            ]
        );
    }

    #[test]
    fn events_carry_task_and_summary() {
        let outcome = research("edge caching").run::<Research>();

        let started: Vec<_> = outcome.events_of_kind("agent.started").collect();
        let completed: Vec<_> = outcome.events_of_kind("task.completed").collect();
        assert_eq!(started[0]["task"], "collect 3 findings on edge caching");
        assert_eq!(completed[0]["findings"], 3);
        assert!(completed[1]["strongest_angle"].is_string());
        assert!(completed[2]["words"].as_u64().unwrap() > 10);
    }

    #[test]
    fn each_step_logs_an_info_line() {
        let outcome = research("edge caching").run::<Research>();

        let lines: Vec<_> = outcome.logs_at(Level::Info).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "researcher collected 3 findings");
    }

    #[test]
    fn same_topic_same_output() {
        let first = research("vector databases").run::<Research>();
        let second = research("vector databases").run::<Research>();

        assert_eq!(first.expect_output(), second.expect_output());
        assert_eq!(first.events, second.events);
    }

    #[test]
    fn missing_topic_is_invalid_input() {
        let outcome = TestRun::new(json!({})).run::<Research>();

        let error = outcome.expect_error();
        assert!(error.is_invalid_input());
        assert_eq!(
            error.message(),
            "invalid input: missing field `topic` at line 1 column 2"
        );
        assert!(outcome.events.is_empty());
    }

    #[test]
    fn blank_topic_is_invalid_input() {
        let outcome = research("   ").run::<Research>();

        assert_eq!(
            outcome.expect_error(),
            &Error::invalid_input("`topic` must not be empty")
        );
    }

    #[test]
    fn long_topic_is_invalid_input() {
        let outcome = research(&"x".repeat(MAX_TOPIC_CHARS + 1)).run::<Research>();

        let error = outcome.expect_error();
        assert!(error.is_invalid_input());
        assert!(
            error
                .message()
                .contains("has 201 characters, but at most 200")
        );
    }

    #[test]
    fn findings_config_sets_count() {
        let outcome = research("edge caching")
            .config(FINDINGS_CONFIG, "5")
            .run::<Research>();

        let findings = outcome.expect_output()["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 5);
        assert_eq!(findings[4]["angle"], "outlook");
    }

    #[test]
    fn bad_findings_config_fails() {
        for value in ["0", "6", "three"] {
            let outcome = research("edge caching")
                .config(FINDINGS_CONFIG, value)
                .run::<Research>();

            let error = outcome.expect_error();
            assert!(error.is_failed(), "{value}");
            assert!(error.message().contains("from 1 to 5"), "{value}");
        }
    }

    #[test]
    fn cancel_before_analyst_stops_run() {
        let outcome = research("edge caching")
            .cancel_after_checks(1)
            .run::<Research>();

        assert_eq!(
            outcome.expect_error(),
            &Error::failed("the run was canceled before the analyst step")
        );
        assert_eq!(outcome.events.len(), 2);
        assert_eq!(outcome.cancel_checks, 2);
    }
}
