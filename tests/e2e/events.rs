use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Server, seqs};

#[tokio::test]
async fn stream_delivers_events_while_running() {
    let server = Server::start().await;
    server.deploy("testbed").await;
    let run_id = server.start_run("testbed", json!({ "mode": "emit", "count": 5, "pause_ms": 300 })).await;

    let mut stream = server.stream(&format!("/v1/runs/{run_id}/events"), None).await;
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        if event.event == "step" && event.data["data"]["i"] == 0 {
            let run = server.get(&format!("/v1/runs/{run_id}")).await;
            assert_eq!(run.body["status"], "running", "the first step arrives while the run is running");
        }
        events.push(event);
    }

    assert_eq!(seqs(&events), (1..=7).collect::<Vec<u64>>());
    assert_eq!(events[0].event, "run.started");
    assert_eq!(events.last().unwrap().event, "run.completed", "the stream closes after the terminal event");
    assert!(events.iter().all(|event| event.id == event.data["seq"].as_u64()));
    assert!(events.iter().all(|event| event.event == event.data["type"].as_str().unwrap()));
}

#[tokio::test]
async fn stream_after_end_replays_whole_log() {
    let server = Server::start().await;
    server.deploy("research").await;
    let run = server.run_wait("research", json!({ "topic": "kelp" })).await;
    let run_id = run["id"].as_str().unwrap();

    let streamed = server.stream(&format!("/v1/runs/{run_id}/events"), None).await.collect().await;
    let listed = server.get(&format!("/v1/runs/{run_id}/events")).await;

    let streamed_data: Vec<_> = streamed.iter().map(|event| event.data.clone()).collect();
    assert_eq!(json!(streamed_data), listed.body["events"]);
    assert_eq!(streamed.last().unwrap().event, "run.completed");
}

#[tokio::test]
async fn reconnect_mid_run_resumes_without_gap() {
    let server = Server::start().await;
    server.deploy("testbed").await;
    let run_id = server.start_run("testbed", json!({ "mode": "emit", "count": 6, "pause_ms": 200 })).await;
    let path = format!("/v1/runs/{run_id}/events");

    let mut first = server.stream(&path, None).await;
    let mut received = Vec::new();
    while received.len() < 3 {
        received.push(first.next().await.expect("the run emits more than three events"));
    }
    drop(first);
    let run = server.get(&format!("/v1/runs/{run_id}")).await;
    assert_eq!(run.body["status"], "running", "the reconnect happens mid-run");

    let rest = server.stream(&path, Some(3)).await.collect().await;
    received.extend(rest);

    assert_eq!(seqs(&received), (1..=8).collect::<Vec<u64>>(), "no duplicate and no gap");
    assert_eq!(received.last().unwrap().event, "run.completed");
    let by_query = server.stream(&format!("{path}?after=6"), None).await.collect().await;
    assert_eq!(seqs(&by_query), vec![7, 8]);
}

#[tokio::test]
async fn fifty_subscribers_each_get_everything() {
    let server = std::sync::Arc::new(Server::start().await);
    server.deploy("testbed").await;
    let run_id = server.start_run("testbed", json!({ "mode": "emit", "count": 20, "pause_ms": 20 })).await;

    let mut subscribers = Vec::new();
    for _ in 0..50 {
        let server = server.clone();
        let path = format!("/v1/runs/{run_id}/events");
        subscribers.push(tokio::spawn(async move { server.stream(&path, None).await.collect().await }));
    }

    for subscriber in subscribers {
        let events = subscriber.await.unwrap();
        assert_eq!(seqs(&events), (1..=22).collect::<Vec<u64>>());
        assert_eq!(events.last().unwrap().event, "run.completed");
    }
}

#[tokio::test]
async fn stalled_subscriber_does_not_block_run() {
    let server = Server::start().await;
    server.deploy("testbed").await;
    let count = 3000;
    let run_id = server.start_run("testbed", json!({ "mode": "emit", "count": count, "pause_ms": 0, "bytes": 4000 })).await;

    let mut stalled = server.stream(&format!("/v1/runs/{run_id}/events"), None).await;
    let first = stalled.next().await.unwrap();
    let run = server.wait_for_end(&run_id).await;
    let mut events = vec![first];
    events.extend(stalled.collect().await);

    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(seqs(&events), (1..=count + 2).collect::<Vec<u64>>(), "the slow reader still gets every event once");
}

#[tokio::test]
async fn thread_stream_follows_each_run() {
    let server = Server::start().await;
    server.deploy("chat").await;
    let thread_id = server.create_thread("chat").await;
    let mut stream = server.stream(&format!("/v1/threads/{thread_id}/events"), None).await;

    let mut run_ids = Vec::new();
    for message in ["first", "second"] {
        let run = server.post(&format!("/v1/threads/{thread_id}/runs/wait"), json!({ "input": { "message": message } })).await;
        run_ids.push(run.body["id"].as_str().unwrap().to_string());
    }
    let mut events = Vec::new();
    while events.iter().filter(|event: &&crate::support::SseEvent| event.event == "run.completed").count() < 2 {
        let event = tokio::time::timeout(Duration::from_secs(30), stream.next()).await.unwrap().unwrap();
        events.push(event);
    }

    let first_run: Vec<_> = events.iter().filter(|event| event.data["run_id"] == run_ids[0].as_str()).collect();
    let second_run: Vec<_> = events.iter().filter(|event| event.data["run_id"] == run_ids[1].as_str()).collect();
    assert_eq!(first_run.len() + second_run.len(), events.len(), "every event carries its run_id");
    assert_eq!(first_run.first().unwrap().event, "run.started");
    assert_eq!(first_run.last().unwrap().event, "run.completed");
    assert_eq!(second_run.first().unwrap().event, "run.started");
    let position = |run_id: &str| events.iter().position(|event| event.data["run_id"] == run_id).unwrap();
    assert!(position(&run_ids[0]) < position(&run_ids[1]), "runs arrive in order");
}

#[tokio::test]
async fn thread_events_without_stream_accept_returns_406() {
    let server = Server::start().await;
    server.deploy("chat").await;
    let thread_id = server.create_thread("chat").await;

    let reply = server.get(&format!("/v1/threads/{thread_id}/events")).await;

    assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(reply.code(), "not_acceptable");
}

#[tokio::test]
async fn event_log_survives_restart() {
    let mut server = Server::start().await;
    server.deploy("research").await;
    let run = server.run_wait("research", json!({ "topic": "coral" })).await;
    let path = format!("/v1/runs/{}/events", run["id"].as_str().unwrap());
    let before = server.get(&path).await.body;

    server.restart();

    let after = server.get(&path).await.body;
    assert_eq!(after, before);
    assert!(after["events"].as_array().unwrap().len() > 6);
}

#[tokio::test]
async fn too_many_events_fail_with_event_limit() {
    let server = Server::start_with(&["--max-events", "10", "--max-event-bytes", "2000"]).await;
    server.deploy("testbed").await;

    let many = server.run_wait("testbed", json!({ "mode": "emit", "count": 50, "pause_ms": 0 })).await;
    let large = server.run_wait("testbed", json!({ "mode": "emit", "count": 1, "pause_ms": 0, "bytes": 5000 })).await;

    assert_eq!(many["status"], "failed");
    assert_eq!(many["error"]["code"], "event_limit");
    assert!(many["error"]["message"].as_str().unwrap().contains("10 events"), "{many}");
    assert_eq!(large["error"]["code"], "event_limit");
    assert!(large["error"]["message"].as_str().unwrap().contains("2000 bytes"), "{large}");
    let events = server.get(&format!("/v1/runs/{}/events", many["id"].as_str().unwrap())).await;
    let events = events.body["events"].as_array().unwrap().clone();
    assert_eq!(events.last().unwrap()["type"], "run.failed", "the terminal event is still last");
    assert_eq!(events.len(), 1 + 10 + 1, "run.started, the events within the limit, run.failed");
}
