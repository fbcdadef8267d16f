//! Hostile crews: each ends with its own status and code while the server
//! keeps serving everyone else.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Server, hostile};

/// Each hostile crew, the limits it is deployed with, and the status and
/// error code its run must end with.
const CASES: [(&str, &str, &str, Option<&str>); 10] = [
    ("spin", "timeout_secs=3", "failed", Some("timeout")),
    ("sleep", "timeout_secs=3", "failed", Some("timeout")),
    ("host-call-flood", "timeout_secs=3", "failed", Some("timeout")),
    ("memory-bomb", "memory_mib=128", "failed", Some("memory_limit")),
    ("recursion", "stack_kib=256", "failed", Some("stack_overflow")),
    ("huge-output", "max_output_bytes=1048576", "failed", Some("output_too_large")),
    ("log-flood", "timeout_secs=60", "failed", Some("event_limit")),
    ("big-event", "timeout_secs=60", "failed", Some("event_limit")),
    ("panic", "timeout_secs=60", "failed", Some("trap")),
    ("escape", "timeout_secs=60", "succeeded", None),
];

#[tokio::test]
async fn hostile_crews_end_with_their_codes() {
    let server = Arc::new(Server::start().await);
    server.deploy("echo").await;
    for (name, limits, _, _) in CASES {
        let reply = server.upload(&format!("{name}&{limits}"), hostile(name)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "deploying {name}: {:?}", reply.body);
    }

    let done = Arc::new(AtomicBool::new(false));
    let health_failures = Arc::new(AtomicU64::new(0));
    let health_checks = Arc::new(AtomicU64::new(0));
    let health = {
        let (server, done, failures, checks) = (server.clone(), done.clone(), health_failures.clone(), health_checks.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let reply = tokio::time::timeout(Duration::from_secs(2), server.get("/healthz")).await;
                if !matches!(reply, Ok(ref reply) if reply.status == StatusCode::OK) {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
                checks.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    let mut runs = Vec::new();
    for (name, _, status, code) in CASES {
        let server = server.clone();
        runs.push(tokio::spawn(async move { (name, status, code, server.run_wait(name, json!({})).await) }));
    }
    let mut results = Vec::new();
    for run in runs {
        results.push(run.await.unwrap());
    }
    let echo = server.run_wait("echo", json!("still here")).await;
    done.store(true, Ordering::SeqCst);
    health.await.unwrap();

    for (name, status, code, run) in &results {
        assert_eq!(run["status"], *status, "{name}: {run}");
        assert_eq!(run["error"]["code"].as_str(), *code, "{name}: {run}");
    }
    assert_eq!(health_failures.load(Ordering::SeqCst), 0, "/healthz answered every check");
    assert!(health_checks.load(Ordering::SeqCst) > 10);
    assert_eq!(echo["output"], "still here");

    let panic = &results.iter().find(|(name, ..)| *name == "panic").unwrap().3;
    assert!(panic["error"]["message"].as_str().unwrap().contains("hostile panic"), "{panic}");
    let escape = &results.iter().find(|(name, ..)| *name == "escape").unwrap().3["output"];
    let attempts: Vec<(&String, &Value)> = escape.as_object().unwrap().iter().filter(|(_, value)| value.is_object()).collect();
    assert!(attempts.len() >= 10, "{escape}");
    for (attempt, outcome) in attempts {
        // WASI reports `/` as the working directory, but with no preopened
        // directory, no path under it opens; the other attempts check that.
        if attempt == "current_dir" {
            continue;
        }
        assert_eq!(outcome["ok"], false, "{attempt} must fail in the sandbox: {outcome}");
    }
    assert_eq!(escape["env_var_count"], 0);
}
