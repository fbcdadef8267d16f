//! The in-process floor: a fresh store, instantiation and call of the `echo`
//! crew, with no HTTP and no storage. Every HTTP latency in BENCHMARKS.md is
//! compared with this.
//!
//! Build the crew first (`scripts/bench.sh` does), then run
//! `cargo bench -p crewhost --bench floor`.

use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use crewhost::runtime::{EventSink, RunLimits, RunOutcome, RunRequest, Runtime, SinkError};
use serde_json::{Value, json};

/// An event sink that drops every event.
struct NullSink;

impl EventSink for NullSink {
    fn append(&self, _kind: &str, _data: Value) -> Result<(), SinkError> {
        Ok(())
    }
}

fn floor(criterion: &mut Criterion) {
    let crew = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/crews/wasm32-wasip2/release/crew_echo.wasm");
    let bytes = std::fs::read(&crew).unwrap_or_else(|error| panic!("build the crews first ({}): {error}", crew.display()));
    let executor = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let artifacts = tempfile::tempdir().expect("a temp folder");
    let runtime = Arc::new(Runtime::new(artifacts.path()).expect("the runtime starts"));
    let limits = RunLimits::default();
    let compiled = executor
        .block_on(runtime.compile(bytes.into(), limits.engine_key()))
        .unwrap_or_else(|error| panic!("echo compiles: {error}"));
    let sink: Arc<dyn EventSink> = Arc::new(NullSink);

    criterion.bench_function("fresh store, instantiate and call echo", |bencher| {
        bencher.to_async(&executor).iter(|| {
            let request = RunRequest::local("run_bench", json!({ "hello": "world" }), Value::Null, limits);
            let (runtime, compiled, sink) = (runtime.clone(), &compiled, sink.clone());
            async move {
                let outcome = runtime.execute(compiled.pre(), request, sink).await;
                assert!(matches!(outcome, RunOutcome::Succeeded { .. }));
            }
        });
    });
}

criterion_group!(benches, floor);
criterion_main!(benches);
