//! Following a run's event stream from the CLI: `invoke --stream` and
//! `runs events --follow`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::StreamExt;
use serde_json::Value;

use super::client::Client;

/// How many times a dropped stream is resumed before giving up.
const MAX_RECONNECTS: u32 = 5;

/// One Server-Sent Event: the `id`, `event` and `data` fields.
#[derive(Debug, Default)]
struct SseMessage {
    id: Option<String>,
    data: String,
}

/// Splits a byte stream into SSE messages; comment lines are dropped.
#[derive(Default)]
struct SseParser {
    line: Vec<u8>,
    message: SseMessage,
}

impl SseParser {
    fn push(&mut self, bytes: &[u8], messages: &mut Vec<SseMessage>) {
        for &byte in bytes {
            if byte != b'\n' {
                self.line.push(byte);
                continue;
            }
            let line = String::from_utf8_lossy(&self.line).trim_end_matches('\r').to_string();
            self.line.clear();
            if line.is_empty() {
                if !self.message.data.is_empty() {
                    messages.push(std::mem::take(&mut self.message));
                }
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((&line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => self.message.id = Some(value.to_string()),
                "data" => {
                    if !self.message.data.is_empty() {
                        self.message.data.push('\n');
                    }
                    self.message.data.push_str(value);
                }
                _ => {}
            }
        }
    }
}

/// Prints each event of a run as it arrives and returns the terminal event.
/// On a terminal, one progress line shows the elapsed time, the current agent
/// or task and the event count. Otherwise every event is one plain line.
pub async fn follow(client: &Client, run_id: &str) -> anyhow::Result<Value> {
    let progress = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut last_seq = 0u64;
    let mut count = 0u64;
    let mut current = String::new();
    let mut reconnects = 0;

    loop {
        let response = client.open_stream(&format!("/v1/runs/{run_id}/events"), last_seq).await?;
        let mut body = response.bytes_stream();
        let mut parser = SseParser::default();
        let mut messages = Vec::new();

        while let Some(chunk) = body.next().await {
            let Ok(chunk) = chunk else { break };
            parser.push(&chunk, &mut messages);
            for message in messages.drain(..) {
                let event: Value = serde_json::from_str(&message.data).context("the server sent an event that is not JSON")?;
                last_seq = message.id.and_then(|id| id.parse().ok()).unwrap_or(last_seq + 1);
                count += 1;
                let kind = event["type"].as_str().unwrap_or("").to_string();
                if let Some(step) = describe_step(&event) {
                    current = step;
                }

                if progress {
                    let elapsed = started.elapsed().as_secs_f64();
                    eprint!("\r\x1b[2K[{elapsed:6.1}s] {count:>5} events  {kind:<16} {current}");
                    let _ = std::io::stderr().flush();
                } else {
                    println!("{} {} {}", event["seq"], kind, event["data"]);
                }
                if matches!(kind.as_str(), "run.completed" | "run.failed" | "run.canceled") {
                    if progress {
                        eprintln!();
                    }
                    return Ok(event);
                }
            }
        }

        reconnects += 1;
        if reconnects > MAX_RECONNECTS {
            bail!("the event stream of run {run_id} broke {MAX_RECONNECTS} times; see `crewhost runs get {run_id}`");
        }
        tokio::time::sleep(Duration::from_millis(200 * u64::from(reconnects))).await;
    }
}

/// Returns the agent or task an event names, for the progress line.
fn describe_step(event: &Value) -> Option<String> {
    let data = &event["data"];
    let agent = data["agent"].as_str();
    let task = data["task"].as_str();
    match (agent, task) {
        (Some(agent), Some(task)) => Some(format!("{agent}: {task}")),
        (Some(agent), None) => Some(agent.to_string()),
        (None, Some(task)) => Some(task.to_string()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_joins_split_chunks_and_skips_comments() {
        let mut parser = SseParser::default();
        let mut messages = Vec::new();

        parser.push(b": keep-alive\n\nid: 4\nevent: log\nda", &mut messages);
        parser.push(b"ta: {\"seq\":4}\n\n", &mut messages);

        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].id.as_deref(), Some("4"));
        assert_eq!(messages[0].data, "{\"seq\":4}");
    }
}
