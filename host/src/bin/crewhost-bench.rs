//! Benchmarks of crewhost: the in-process floor, stateless and thread runs
//! over HTTP, fairness while crews spin, memory and start-up time.
//!
//! Run it with `scripts/bench.sh`, which builds the release host and the
//! crews first. Each latency is also printed as a ratio to the floor measured
//! in the same invocation, because absolute times on a shared machine drift.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use crewhost::runtime::{EventSink, RunLimits, RunRequest, Runtime, SinkError};
use serde_json::{Value, json};

const KEY: &str = "chk_benchmark_key";

/// Benchmarks crewhost and writes the results into BENCHMARKS.md.
#[derive(Debug, Parser)]
struct Args {
    /// The crewhost binary to benchmark.
    #[arg(long, default_value = "target/release/crewhost")]
    host: PathBuf,
    /// Folder with crew_echo.wasm, crew_testbed.wasm, http_echo.wasm and
    /// hostile_memory_bomb.wasm.
    #[arg(long, default_value = "target/crews/wasm32-wasip2/release")]
    crews: PathBuf,
    /// Markdown file whose results section is replaced.
    #[arg(long, default_value = "BENCHMARKS.md")]
    write: PathBuf,
    /// Smaller counts, for a quick look; the results are not written.
    #[arg(long)]
    quick: bool,
}

/// One row of the results table.
struct Row {
    name: String,
    result: String,
    target: String,
    met: Option<bool>,
}

fn row(name: &str, result: String, target: &str, met: Option<bool>) -> Row {
    Row { name: name.to_string(), result, target: target.to_string(), met }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let scale = if args.quick { 10 } else { 1 };
    let echo = std::fs::read(args.crews.join("crew_echo.wasm")).context("build the crews first: scripts/bench.sh")?;
    let testbed = std::fs::read(args.crews.join("crew_testbed.wasm"))?;
    let mut rows = Vec::new();

    eprintln!("floor: in-process instantiate and call of echo");
    let floor = floor_micros(&echo, 20_000 / scale).await?;
    rows.push(row("floor: fresh store, instantiate and call `echo` in-process", format!("{floor:.1} µs per run"), "-", None));

    let server = BenchServer::start(&args.host, &[]).await?;
    server.deploy("echo", &echo, "").await?;
    server.deploy("testbed", &testbed, "timeout_secs=600").await?;

    eprintln!("stateless latency, one client");
    let alone = latency(&server, 5_000 / scale).await?;
    let p50_ratio = alone.0 / floor;
    rows.push(row(
        "stateless `POST /v1/runs/wait`, one client: p50 / p99",
        format!("{:.0} µs / {:.0} µs ({p50_ratio:.1}× / {:.1}× floor)", alone.0, alone.1, alone.1 / floor),
        "p50 ≤ 20× floor",
        Some(p50_ratio <= 20.0),
    ));

    eprintln!("stateless throughput, 64 clients");
    let throughput = stateless_throughput(&server, 64, Duration::from_secs(10 / scale as u64)).await?;
    rows.push(row(
        "stateless runs per second, 64 clients",
        format!("{throughput:.0} runs/s"),
        "≥ 5,000 runs/s",
        Some(throughput >= 5_000.0),
    ));

    eprintln!("thread runs, 1,000 threads");
    let thread_rate = thread_throughput(&server, 1_000 / scale, 64, Duration::from_secs(10 / scale as u64)).await?;
    rows.push(row(
        "durable thread runs per second, 1,000 threads, 64 clients",
        format!("{thread_rate:.0} runs/s"),
        "≥ 2,000 runs/s",
        Some(thread_rate >= 2_000.0),
    ));

    eprintln!("reference: wasmtime serve with a wasi:http echo component");
    match wasmtime_serve_reference(&args.crews.join("http_echo.wasm"), 5_000 / scale, Duration::from_secs(10 / scale as u64)).await? {
        Some((p50, p99, rate)) => {
            rows.push(row(
                "reference: `wasmtime serve` echo, one client: p50 / p99",
                format!("{p50:.0} µs / {p99:.0} µs ({:.1}× / {:.1}× floor)", p50 / floor, p99 / floor),
                "-",
                None,
            ));
            rows.push(row(
                "reference: `wasmtime serve` requests per second, 64 clients",
                format!("{rate:.0} requests/s (crewhost stateless: {:.2}× of it)", throughput / rate),
                "-",
                None,
            ));
        }
        None => rows.push(row(
            "reference: `wasmtime serve`",
            "not measured: `wasmtime` is not on PATH (`cargo install wasmtime-cli`)".into(),
            "-",
            None,
        )),
    }

    eprintln!("fairness: echo while 8 crews spin");
    let spinners = start_spinners(&server, 8).await?;
    let busy = latency(&server, 2_000 / scale).await?;
    for run_id in spinners {
        server.post(&format!("/v1/runs/{run_id}/cancel"), &json!({})).await?;
    }
    let fairness = busy.1 / alone.1;
    rows.push(row(
        "`echo` while 8 crews spin: p50 / p99",
        format!("{:.0} µs / {:.0} µs (p99 {fairness:.1}× idle p99)", busy.0, busy.1),
        "p99 ≤ 5× idle p99",
        Some(fairness <= 5.0),
    ));

    eprintln!("memory: RSS across 100,000 runs");
    let before = server.rss_kib()?;
    run_many(&server, 100_000 / scale as u64, 64).await?;
    let after = server.rss_kib()?;
    rows.push(row(
        "host RSS before / after 100,000 `echo` runs",
        format!("{:.1} MiB / {:.1} MiB", before as f64 / 1024.0, after as f64 / 1024.0),
        "no growth beyond caches",
        None,
    ));

    eprintln!("memory: RSS across 1,000 runs that each fill 64 MiB");
    let bomb = std::fs::read(args.crews.join("hostile_memory_bomb.wasm"))?;
    server.deploy("memory-bomb", &bomb, "memory_mib=64").await?;
    let before_bombs = server.rss_kib()?;
    run_many_of(&server, "memory-bomb", 1_000 / scale as u64, 8).await?;
    let after_bombs = server.rss_kib()?;
    rows.push(row(
        "host RSS before / after 1,000 runs that each grow linear memory to 64 MiB",
        format!("{:.1} MiB / {:.1} MiB", before_bombs as f64 / 1024.0, after_bombs as f64 / 1024.0),
        "guest memory released",
        Some(after_bombs < before_bombs + 64 * 1024),
    ));
    drop(server);

    eprintln!("memory: 1,000 sleeping runs in flight");
    let per_run = sleeping_runs_rss(&args.host, &testbed, 1_000 / scale).await?;
    rows.push(row(
        "host RSS per sleeping run in flight (1,000 at once)",
        format!("{per_run:.0} KiB"),
        "< 2 MiB",
        Some(per_run < 2048.0),
    ));

    eprintln!("start-up with 50 deployments, 10,000 threads, 100,000 checkpoints");
    let startup = startup_time(&args.host, &echo, scale).await?;
    rows.push(row(
        "start-up to first served request (50 deployments, 10,000 threads, 100,000 checkpoints)",
        format!("{:.0} ms", startup.as_secs_f64() * 1000.0),
        "< 1 s",
        Some(startup < Duration::from_secs(1)),
    ));

    let table = render(&rows);
    println!("{table}");
    if !args.quick {
        write_results(&args.write, &table)?;
        eprintln!("wrote the results into {}", args.write.display());
    }
    Ok(())
}

/// An event sink that drops every event.
struct NullSink;

impl EventSink for NullSink {
    fn append(&self, _kind: &str, _data: Value) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Microseconds per in-process run of `echo` with a fresh store each time.
async fn floor_micros(echo: &[u8], runs: usize) -> anyhow::Result<f64> {
    let artifacts = tempfile::tempdir()?;
    let runtime = Arc::new(Runtime::new(artifacts.path())?);
    let limits = RunLimits::default();
    let compiled = runtime.compile(echo.to_vec().into(), limits.engine_key()).await.map_err(|error| anyhow::anyhow!("{error}"))?;
    let sink: Arc<dyn EventSink> = Arc::new(NullSink);

    let request = || RunRequest::local("run_bench", json!({ "hello": "world" }), Value::Null, limits);
    for _ in 0..runs / 10 {
        runtime.execute(compiled.pre(), request(), sink.clone()).await;
    }
    let started = Instant::now();
    for _ in 0..runs {
        runtime.execute(compiled.pre(), request(), sink.clone()).await;
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / runs as f64)
}

/// A crewhost process on a loopback port with a temp data directory.
struct BenchServer {
    child: Child,
    url: String,
    http: reqwest::Client,
    _data: Option<tempfile::TempDir>,
}

impl BenchServer {
    async fn start(host: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        let data = tempfile::tempdir()?;
        let mut server = Self::start_in(host, data.path(), extra).await?;
        server._data = Some(data);
        Ok(server)
    }

    async fn start_in(host: &Path, data_dir: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        let mut child = Command::new(host)
            .args(["serve", "--addr", "127.0.0.1:0", "--max-pending-runs", "100000", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("CREWHOST_API_KEY", KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("could not start {}; build it with `cargo build --release -p crewhost`", host.display()))?;
        let stdout = child.stdout.take().context("stdout is piped")?;
        let mut url = None;
        for line in BufReader::new(stdout).lines() {
            if let Some(found) = line?.strip_prefix("crewhost listening on ") {
                url = Some(found.to_string());
                break;
            }
        }
        let url = url.context("the server exited before it listened")?;
        let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
        Ok(Self { child, url, http, _data: None })
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self.http.post(format!("{}{path}", self.url)).bearer_auth(KEY).json(body).send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("POST {path} returned {status}: {body}");
        }
        Ok(body)
    }

    async fn deploy(&self, name: &str, component: &[u8], limits: &str) -> anyhow::Result<()> {
        let url = format!("{}/v1/deployments?name={name}&{limits}", self.url);
        let response = self.http.post(url).bearer_auth(KEY).header("content-type", "application/wasm").body(component.to_vec()).send().await?;
        if !response.status().is_success() {
            bail!("deploying {name} returned {}", response.status());
        }
        Ok(())
    }

    fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status.lines().find(|line| line.starts_with("VmRSS:")).context("no VmRSS line")?;
        Ok(line.split_whitespace().nth(1).context("no VmRSS value")?.parse()?)
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// p50 and p99 in microseconds of sequential `echo` runs.
async fn latency(server: &BenchServer, runs: usize) -> anyhow::Result<(f64, f64)> {
    let body = json!({ "deployment_id": "echo", "input": { "hello": "world" } });
    for _ in 0..runs / 10 {
        server.post("/v1/runs/wait", &body).await?;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        server.post("/v1/runs/wait", &body).await?;
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    Ok((percentile(&samples, 0.50), percentile(&samples, 0.99)))
}

/// Stateless `echo` runs per second with `clients` concurrent clients.
async fn stateless_throughput(server: &BenchServer, clients: usize, duration: Duration) -> anyhow::Result<f64> {
    let body = json!({ "deployment_id": "echo", "input": { "hello": "world" } });
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url, body, done) = (server.http.clone(), server.url.clone(), body.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let response = http.post(format!("{url}/v1/runs/wait")).bearer_auth(KEY).json(&body).send().await?;
                if response.status().is_success() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
                response.bytes().await?;
            }
            anyhow::Ok(())
        }));
    }
    let started = Instant::now();
    for task in tasks {
        task.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Durable thread runs per second, spread over `threads` threads.
async fn thread_throughput(server: &BenchServer, threads: usize, clients: usize, duration: Duration) -> anyhow::Result<f64> {
    let mut thread_ids = Vec::with_capacity(threads);
    for _ in 0..threads {
        let thread = server.post("/v1/threads", &json!({ "deployment_id": "echo", "values": { "turns": 0 } })).await?;
        thread_ids.push(thread["thread_id"].as_str().context("no thread_id")?.to_string());
    }
    let thread_ids = Arc::new(thread_ids);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;

    let mut tasks = Vec::new();
    for client in 0..clients {
        let (http, url, thread_ids, next, done) = (server.http.clone(), server.url.clone(), thread_ids.clone(), next.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            // Each client takes every `clients`-th thread, so no two clients
            // share a thread and none gets 409.
            let mine: Vec<&String> = thread_ids.iter().skip(client).step_by(clients).collect();
            let mut turn = 0;
            while Instant::now() < deadline && !mine.is_empty() {
                let thread_id = mine[turn % mine.len()];
                turn += 1;
                next.fetch_add(1, Ordering::Relaxed);
                let response = http
                    .post(format!("{url}/v1/threads/{thread_id}/runs/wait"))
                    .bearer_auth(KEY)
                    .json(&json!({ "input": { "turn": turn } }))
                    .send()
                    .await?;
                if response.status().is_success() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
                response.bytes().await?;
            }
            anyhow::Ok(())
        }));
    }
    let started = Instant::now();
    for task in tasks {
        task.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

async fn start_spinners(server: &BenchServer, count: usize) -> anyhow::Result<Vec<String>> {
    let mut run_ids = Vec::new();
    for _ in 0..count {
        let run = server.post("/v1/runs", &json!({ "deployment_id": "testbed", "input": { "mode": "spin" } })).await?;
        run_ids.push(run["run_id"].as_str().context("no run_id")?.to_string());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(run_ids)
}

async fn run_many(server: &BenchServer, runs: u64, clients: u64) -> anyhow::Result<()> {
    run_many_of(server, "echo", runs, clients).await
}

/// Runs `deployment` `runs` times from `clients` concurrent clients.
async fn run_many_of(server: &BenchServer, deployment: &str, runs: u64, clients: u64) -> anyhow::Result<()> {
    let body = json!({ "deployment_id": deployment, "input": { "hello": "world" } });
    let remaining = Arc::new(AtomicU64::new(runs));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url, body, remaining) = (server.http.clone(), server.url.clone(), body.clone(), remaining.clone());
        tasks.push(tokio::spawn(async move {
            while remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(1)).is_ok() {
                http.post(format!("{url}/v1/runs/wait")).bearer_auth(KEY).json(&body).send().await?.bytes().await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// KiB of host RSS per run while `count` runs sleep at once.
async fn sleeping_runs_rss(host: &Path, testbed: &[u8], count: usize) -> anyhow::Result<f64> {
    let limit = (count + 10).to_string();
    let server = BenchServer::start(host, &["--max-concurrent-runs", &limit]).await?;
    server.deploy("testbed", testbed, "").await?;
    // Warm up the engine and the HTTP path before the baseline.
    server.post("/v1/runs/wait", &json!({ "deployment_id": "testbed", "input": { "mode": "ok" } })).await?;
    let baseline = server.rss_kib()?;

    for _ in 0..count {
        server.post("/v1/runs", &json!({ "deployment_id": "testbed", "input": { "mode": "sleep_uncooperative", "ms": 5000 } })).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats: Value = server.http.get(format!("{}/v1/stats", server.url)).bearer_auth(KEY).send().await?.json().await?;
        if stats["runs_running"].as_u64() == Some(count as u64) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let loaded = server.rss_kib()?;
    Ok(loaded.saturating_sub(baseline) as f64 / count as f64)
}

/// Time from process start to the first answered request on a store with
/// 50 deployments, 10,000 threads and 100,000 checkpoints (divided by
/// `scale`).
async fn startup_time(host: &Path, echo: &[u8], scale: usize) -> anyhow::Result<Duration> {
    let data = tempfile::tempdir()?;
    {
        let server = BenchServer::start_in(host, data.path(), &[]).await?;
        for n in 0..50 {
            server.deploy(&format!("echo-{n}"), echo, "").await?;
        }
        let threads = 10_000 / scale;
        let mut thread_ids = Vec::with_capacity(threads);
        for n in 0..threads {
            let deployment = format!("echo-{}", n % 50);
            let thread = server.post("/v1/threads", &json!({ "deployment_id": deployment })).await?;
            thread_ids.push(thread["thread_id"].as_str().context("no thread_id")?.to_string());
        }
        let thread_ids = Arc::new(thread_ids);
        let mut tasks = Vec::new();
        let clients = 64;
        for client in 0..clients {
            let (http, url, thread_ids) = (server.http.clone(), server.url.clone(), thread_ids.clone());
            tasks.push(tokio::spawn(async move {
                for thread_id in thread_ids.iter().skip(client).step_by(clients) {
                    for turn in 0..10 {
                        let path = format!("{url}/v1/threads/{thread_id}/runs/wait");
                        http.post(path).bearer_auth(KEY).json(&json!({ "input": { "turn": turn } })).send().await?.bytes().await?;
                    }
                }
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
    }

    let started = Instant::now();
    let server = BenchServer::start_in(host, data.path(), &[]).await?;
    let response = server.http.get(format!("{}/healthz", server.url)).send().await?;
    let elapsed = started.elapsed();
    if !response.status().is_success() {
        bail!("the restarted server did not respond to /healthz");
    }
    Ok(elapsed)
}

/// Measures `wasmtime serve` with `component`: p50 and p99 in microseconds
/// of sequential requests, and requests per second from 64 clients. Returns
/// `None` when no `wasmtime` binary is on PATH.
///
async fn wasmtime_serve_reference(component: &Path, runs: usize, duration: Duration) -> anyhow::Result<Option<(f64, f64, f64)>> {
    let installed = Command::new("wasmtime").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !installed.is_ok_and(|status| status.success()) {
        return Ok(None);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut child = Command::new("wasmtime")
        // `-Scli` gives the component the wasi:cli imports that Rust's
        // standard library links, as crewhost does.
        .args(["serve", "-Scli", "--addr", &format!("127.0.0.1:{port}")])
        .arg(component)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let result = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if Instant::now() > deadline {
                bail!("wasmtime serve did not listen on port {port} within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
        let url = format!("http://127.0.0.1:{port}/");
        let body = json!({ "hello": "world" }).to_string();

        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            http.post(&url).body(body.clone()).send().await?.bytes().await?;
            samples.push(started.elapsed().as_secs_f64() * 1e6);
        }
        samples.sort_by(f64::total_cmp);

        let done = Arc::new(AtomicU64::new(0));
        let until = Instant::now() + duration;
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (http, url, body, done) = (http.clone(), url.clone(), body.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < until {
                    http.post(&url).body(body.clone()).send().await?.bytes().await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            }));
        }
        let started = Instant::now();
        for task in tasks {
            task.await??;
        }
        let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        Ok(Some((percentile(&samples, 0.50), percentile(&samples, 0.99), rate)))
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn render(rows: &[Row]) -> String {
    let mut table = String::from("| measurement | result | target | met |\n| --- | --- | --- | --- |\n");
    for row in rows {
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "-",
        };
        table.push_str(&format!("| {} | {} | {} | {met} |\n", row.name, row.result, row.target));
    }
    table
}

/// Replaces the part of `path` between the result markers with the table,
/// the machine, the date and the commit.
fn write_results(path: &Path, table: &str) -> anyhow::Result<()> {
    const START: &str = "<!-- results:start -->";
    const END: &str = "<!-- results:end -->";
    let text = std::fs::read_to_string(path).unwrap_or_else(|_| format!("# Benchmarks\n\n{START}\n{END}\n"));
    let (Some(start), Some(end)) = (text.find(START), text.find(END)) else {
        bail!("{} has no {START} and {END} markers", path.display());
    };

    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| info.lines().find(|line| line.starts_with("model name")).map(|line| line.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |cores| cores.get());
    let commit = Command::new("git").args(["rev-parse", "--short", "HEAD"]).output().ok().map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string()).unwrap_or_default();
    let date = Command::new("date").arg("-u").arg("+%Y-%m-%d %H:%M UTC").output().ok().map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string()).unwrap_or_default();

    let section = format!("{START}\nMeasured on {cpu}, {cores} cores, on {date}, at commit {commit}.\n\n{table}{END}");
    let updated = format!("{}{section}{}", &text[..start], &text[end + END.len()..]);
    std::fs::write(path, updated)?;
    Ok(())
}
