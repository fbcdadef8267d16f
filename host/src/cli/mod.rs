//! The `crewhost` command line: the server, client commands for the HTTP
//! API, and `exec` for running a component locally.

mod client;
mod exec;
mod stream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use crate::api::BodyLimits;
use crate::scheduler::SchedulerConfig;
use crate::server::{self, ServeConfig};
use crate::storage::DeploymentLimits;
use client::Client;

const MIB: usize = 1024 * 1024;

/// crewhost: a self-hosted WebAssembly host for sandboxed AI crews.
///
/// Start the server with `crewhost serve`, deploy a crew component with
/// `crewhost deploy`, and run it with `crewhost invoke`.
#[derive(Debug, Parser)]
#[command(name = "crewhost", version, propagate_version = true)]
pub struct Cli {
    /// Base URL of the server, for client commands.
    #[arg(long, global = true, env = "CREWHOST_URL", default_value = "http://127.0.0.1:8080")]
    url: String,

    /// API key, for client commands; `serve` also accepts it. Without it,
    /// client commands read the key `serve` saved in the data directory.
    #[arg(long, global = true, env = "CREWHOST_API_KEY", hide_env_values = true)]
    api_key: Option<String>,

    /// Data directory: the store, compiled components and the saved API key.
    #[arg(long, global = true, env = "CREWHOST_DATA_DIR", default_value = "./.crewhost")]
    data_dir: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Upload a component as a new version of the deployment NAME.
    Deploy {
        /// The component file, built with `cargo build --release --target wasm32-wasip2`.
        file: PathBuf,
        /// Deployment name: letters, digits, `-`, `_` or `.`.
        #[arg(long)]
        name: String,
    },
    /// List, show or delete deployments.
    #[command(subcommand)]
    Deployments(DeploymentsCommand),
    /// Run a deployment, wait for the run to end and print its output.
    Invoke {
        /// Deployment id or name.
        deployment: String,
        /// Input as JSON, or @FILE to read it from a file.
        #[arg(short, long, default_value = "null")]
        input: String,
        /// Run inside this thread, which then keeps the returned values.
        #[arg(long)]
        thread: Option<String>,
        /// Version to run; the newest when left out.
        #[arg(long = "version-number")]
        version_number: Option<u32>,
        /// Seconds to wait for the run to end.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Print events as they arrive; Ctrl-C cancels the run.
        #[arg(long)]
        stream: bool,
    },
    /// Create, show and list threads, and read their history.
    #[command(subcommand)]
    Threads(ThreadsCommand),
    /// Show, list and cancel runs, and read their events.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Read and change a deployment's settings, secrets and allowed hosts.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run a component once on this machine, with no server, and print the
    /// result; events go to stderr as they happen.
    Exec {
        /// The component file.
        file: PathBuf,
        /// Input as JSON, or @FILE to read it from a file.
        #[arg(short, long, default_value = "null")]
        input: String,
        /// Thread values to pass in, as JSON or @FILE.
        #[arg(long, default_value = "null")]
        values: String,
        /// Seconds the run may take.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address and port to listen on; port 0 picks a free port.
    #[arg(long, env = "CREWHOST_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Runs that may execute at once; the rest wait as `pending`.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    max_concurrent_runs: u64,
    /// Largest JSON request body, in MiB.
    #[arg(long, default_value_t = 16)]
    max_json_body_mib: usize,
    /// Largest component upload, in MiB.
    #[arg(long, default_value_t = 128)]
    max_component_mib: usize,
    /// Runs that may wait as `pending`; beyond it new runs get 429.
    #[arg(long, default_value_t = 10_000)]
    max_pending_runs: usize,
    /// Wall-clock time a run may take, in seconds, for deployments that set
    /// no timeout_secs.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    run_timeout_secs: u64,
    /// Linear memory a run may use, in MiB, for deployments that set no
    /// memory_mib.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=16_384))]
    run_memory_mib: u64,
    /// Wasm stack a run may use, in KiB, for deployments that set no
    /// stack_kib.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u64).range(64..=8_192))]
    run_stack_kib: u64,
    /// Largest data of one event, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    max_event_bytes: u64,
    /// Maximum number of events in one run's log.
    #[arg(long, default_value_t = 10_000)]
    max_events: u64,
    /// Seconds a canceled run may keep running before the host stops it.
    #[arg(long, default_value_t = 2)]
    cancel_grace_secs: u64,
    /// Seconds a shutdown waits for running runs.
    #[arg(long, default_value_t = 10)]
    shutdown_grace_secs: u64,
    /// Size of the store's page cache, in MiB; the host's memory grows with
    /// stored data up to about this much.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(8..=65_536))]
    store_cache_mib: u64,
}

#[derive(Debug, Subcommand)]
enum DeploymentsCommand {
    /// List deployments.
    List,
    /// Show a deployment with its versions and limits.
    Get { deployment: String },
    /// Delete a deployment with its versions and threads.
    Delete { deployment: String },
}

#[derive(Debug, Subcommand)]
enum ThreadsCommand {
    /// Create a thread of a deployment.
    Create {
        /// Deployment id or name.
        deployment: String,
        /// Metadata, a JSON object.
        #[arg(long)]
        metadata: Option<String>,
        /// Initial values, as JSON.
        #[arg(long)]
        values: Option<String>,
    },
    /// Show a thread with its values.
    Get { thread_id: String },
    /// List threads, newest first.
    List {
        #[arg(long)]
        deployment: Option<String>,
        /// idle or busy.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// List a thread's checkpoints, newest first.
    History {
        thread_id: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
enum RunsCommand {
    /// Show a run.
    Get { run_id: String },
    /// List runs, newest first.
    List {
        #[arg(long)]
        deployment: Option<String>,
        #[arg(long)]
        thread: Option<String>,
        /// pending, running, succeeded, failed or canceled.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Print a run's events.
    Events {
        run_id: String,
        /// Keep printing new events until the run ends.
        #[arg(long)]
        follow: bool,
    },
    /// Cancel a pending or running run.
    Cancel { run_id: String },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Set settings, as NAME=VALUE; VALUE `-` reads the value from stdin.
    Set {
        deployment: String,
        #[arg(required = true)]
        entries: Vec<String>,
        /// Store the entries as secrets: readable by the crew, never shown.
        #[arg(long)]
        secret: bool,
    },
    /// Remove settings or secrets by name.
    Unset {
        deployment: String,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Allow outbound HTTP to scheme://host[:port], such as https://api.openai.com.
    Allow {
        deployment: String,
        #[arg(required = true)]
        urls: Vec<String>,
    },
    /// Remove entries from the allowed hosts.
    Disallow {
        deployment: String,
        #[arg(required = true)]
        urls: Vec<String>,
    },
    /// Show settings, secret names and allowed hosts.
    List { deployment: String },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key and print it once.
    Create {
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by its id.
    Revoke { key_id: String },
}

/// Runs the parsed command; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve(args) => {
            server::serve(serve_config(args, cli.data_dir, cli.api_key)).await?;
            Ok(0)
        }
        Command::Exec { file, input, values, timeout } => {
            let succeeded = exec::exec(&file, parse_json("--input", &input)?, parse_json("--values", &values)?, timeout).await?;
            Ok(if succeeded { 0 } else { 1 })
        }
        command => {
            let client = Client::new(&cli.url, cli.api_key.as_deref(), &cli.data_dir)?;
            run_client(&client, command).await
        }
    }
}

fn serve_config(args: ServeArgs, data_dir: PathBuf, api_key: Option<String>) -> ServeConfig {
    ServeConfig {
        addr: args.addr,
        data_dir,
        scheduler: SchedulerConfig {
            max_concurrent_runs: args.max_concurrent_runs as usize,
            max_pending_runs: args.max_pending_runs,
            max_event_bytes: args.max_event_bytes,
            max_events: args.max_events,
            cancel_grace: Duration::from_secs(args.cancel_grace_secs),
        },
        default_limits: DeploymentLimits {
            timeout_secs: args.run_timeout_secs,
            memory_mib: args.run_memory_mib,
            stack_kib: args.run_stack_kib,
            ..DeploymentLimits::default()
        },
        body_limits: BodyLimits {
            json_bytes: args.max_json_body_mib.saturating_mul(MIB),
            component_bytes: args.max_component_mib.saturating_mul(MIB),
        },
        env_api_key: api_key,
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
        store_cache_bytes: args.store_cache_mib * MIB as u64,
    }
}

/// Parses a JSON argument; `@FILE` reads it from a file.
fn parse_json(flag: &str, text: &str) -> anyhow::Result<Value> {
    let text = match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("could not read {path} for {flag}"))?,
        None => text.to_string(),
    };
    serde_json::from_str(&text)
        .with_context(|| format!("{flag} is not valid JSON; quote it for the shell, as in {flag} '{{\"topic\": \"tides\"}}'"))
}

fn print(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Builds `?a=1&b=2` from the parameters that are set.
fn query(pairs: &[(&str, Option<String>)]) -> String {
    let set: Vec<String> = pairs
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|value| format!("{name}={}", encode(value))))
        .collect();
    if set.is_empty() { String::new() } else { format!("?{}", set.join("&")) }
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn run_client(client: &Client, command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Deploy { file, name } => {
            let bytes = std::fs::read(&file).with_context(|| format!("could not read {}", file.display()))?;
            print(&client.post_wasm(&format!("/v1/deployments{}", query(&[("name", Some(name))])), bytes).await?)?;
        }
        Command::Deployments(command) => match command {
            DeploymentsCommand::List => print(&client.get("/v1/deployments").await?)?,
            DeploymentsCommand::Get { deployment } => print(&client.get(&format!("/v1/deployments/{}", encode(&deployment))).await?)?,
            DeploymentsCommand::Delete { deployment } => {
                client.delete(&format!("/v1/deployments/{}", encode(&deployment))).await?;
                println!("deleted {deployment}");
            }
        },
        Command::Invoke { deployment, input, thread, version_number, timeout, stream } => {
            let input = parse_json("--input", &input)?;
            if stream {
                return invoke_streaming(client, deployment, input, thread, version_number).await;
            }
            return invoke(client, deployment, input, thread, version_number, timeout).await;
        }
        Command::Threads(command) => run_threads(client, command).await?,
        Command::Runs(command) => run_runs(client, command).await?,
        Command::Keys(command) => match command {
            KeysCommand::Create { name } => print(&client.post("/v1/keys", &json!({ "name": name })).await?)?,
            KeysCommand::List => print(&client.get("/v1/keys").await?)?,
            KeysCommand::Revoke { key_id } => {
                client.delete(&format!("/v1/keys/{}", encode(&key_id))).await?;
                println!("revoked {key_id}");
            }
        },
        Command::Config(command) => run_config(client, command).await?,
        Command::Serve(_) | Command::Exec { .. } => unreachable!("handled before a client is built"),
    }
    Ok(0)
}

/// Runs a deployment (in a thread when one is given) and prints the output,
/// or the error on stderr with exit code 1.
async fn invoke(
    client: &Client,
    deployment: String,
    input: Value,
    thread: Option<String>,
    version_number: Option<u32>,
    timeout: u64,
) -> anyhow::Result<i32> {
    let run = match thread {
        Some(thread_id) => {
            let body = json!({ "input": input, "version_number": version_number });
            client.post(&format!("/v1/threads/{}/runs/wait?timeout={timeout}", encode(&thread_id)), &body).await?
        }
        None => {
            let body = json!({ "deployment_id": deployment, "input": input, "version_number": version_number });
            client.post(&format!("/v1/runs/wait?timeout={timeout}"), &body).await?
        }
    };

    match run["status"].as_str() {
        Some("succeeded") => {
            print(&run["output"])?;
            Ok(0)
        }
        Some("failed") => {
            eprintln!("run {} failed: {} ({})", run["id"].as_str().unwrap_or("?"), run["error"]["message"].as_str().unwrap_or("?"), run["error"]["code"].as_str().unwrap_or("?"));
            Ok(1)
        }
        Some(status) => {
            eprintln!("run {} is {status}; follow it with `crewhost runs get {}`", run["id"].as_str().unwrap_or("?"), run["id"].as_str().unwrap_or("?"));
            Ok(1)
        }
        None => bail!("the server returned a run without a status: {run}"),
    }
}

/// Starts a run, prints its events as they arrive, and prints the output at
/// the end. Ctrl-C cancels the run.
async fn invoke_streaming(
    client: &Client,
    deployment: String,
    input: Value,
    thread: Option<String>,
    version_number: Option<u32>,
) -> anyhow::Result<i32> {
    let accepted = match thread {
        Some(thread_id) => {
            let body = json!({ "input": input, "version_number": version_number });
            client.post(&format!("/v1/threads/{}/runs", encode(&thread_id)), &body).await?
        }
        None => {
            let body = json!({ "deployment_id": deployment, "input": input, "version_number": version_number });
            client.post("/v1/runs", &body).await?
        }
    };
    let run_id = accepted["run_id"].as_str().context("the server returned no run_id")?.to_string();
    eprintln!("run {run_id} started; Ctrl-C cancels it");

    let terminal = tokio::select! {
        terminal = stream::follow(client, &run_id) => terminal?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\ncanceling run {run_id}...");
            let reply = client.post(&format!("/v1/runs/{}/cancel", encode(&run_id)), &json!({})).await?;
            eprintln!("run {run_id} is {}", reply["status"].as_str().unwrap_or("?"));
            return Ok(130);
        }
    };

    match terminal["type"].as_str() {
        Some("run.completed") => {
            print(&terminal["data"]["output"])?;
            Ok(0)
        }
        Some("run.failed") => {
            let error = &terminal["data"]["error"];
            eprintln!("run {run_id} failed: {} ({})", error["message"].as_str().unwrap_or("?"), error["code"].as_str().unwrap_or("?"));
            Ok(1)
        }
        _ => {
            eprintln!("run {run_id} was canceled");
            Ok(1)
        }
    }
}

async fn run_config(client: &Client, command: ConfigCommand) -> anyhow::Result<()> {
    let (deployment, body) = match command {
        ConfigCommand::List { deployment } => {
            return print(&client.get(&format!("/v1/deployments/{}/config", encode(&deployment))).await?);
        }
        ConfigCommand::Set { deployment, entries, secret } => {
            let mut values = serde_json::Map::new();
            for entry in entries {
                let Some((name, value)) = entry.split_once('=') else {
                    bail!("{entry:?} is not NAME=VALUE; write it as LLM_MODEL=gpt-4o-mini");
                };
                let value = if value == "-" {
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
                    text.trim_end_matches(['\r', '\n']).to_string()
                } else {
                    value.to_string()
                };
                values.insert(name.to_string(), Value::String(value));
            }
            let field = if secret { "secrets" } else { "env" };
            (deployment, json!({ field: values }))
        }
        ConfigCommand::Unset { deployment, names } => {
            let cleared: serde_json::Map<String, Value> = names.iter().map(|name| (name.clone(), Value::Null)).collect();
            (deployment, json!({ "env": cleared, "secrets": cleared }))
        }
        ConfigCommand::Allow { deployment, urls } => (deployment, json!({ "add_allowed_hosts": urls })),
        ConfigCommand::Disallow { deployment, urls } => (deployment, json!({ "remove_allowed_hosts": urls })),
    };
    print(&client.patch(&format!("/v1/deployments/{}/config", encode(&deployment)), &body).await?)
}

async fn run_threads(client: &Client, command: ThreadsCommand) -> anyhow::Result<()> {
    match command {
        ThreadsCommand::Create { deployment, metadata, values } => {
            let mut body = json!({ "deployment_id": deployment });
            if let Some(metadata) = metadata {
                body["metadata"] = parse_json("--metadata", &metadata)?;
            }
            if let Some(values) = values {
                body["values"] = parse_json("--values", &values)?;
            }
            print(&client.post("/v1/threads", &body).await?)
        }
        ThreadsCommand::Get { thread_id } => print(&client.get(&format!("/v1/threads/{}", encode(&thread_id))).await?),
        ThreadsCommand::List { deployment, status, limit } => {
            let query = query(&[("deployment_id", deployment), ("status", status), ("limit", Some(limit.to_string()))]);
            print(&client.get(&format!("/v1/threads{query}")).await?)
        }
        ThreadsCommand::History { thread_id, limit } => {
            print(&client.get(&format!("/v1/threads/{}/history?limit={limit}", encode(&thread_id))).await?)
        }
    }
}

async fn run_runs(client: &Client, command: RunsCommand) -> anyhow::Result<()> {
    match command {
        RunsCommand::Get { run_id } => print(&client.get(&format!("/v1/runs/{}", encode(&run_id))).await?),
        RunsCommand::List { deployment, thread, status, limit } => {
            let query = query(&[
                ("deployment_id", deployment),
                ("thread_id", thread),
                ("status", status),
                ("limit", Some(limit.to_string())),
            ]);
            print(&client.get(&format!("/v1/runs{query}")).await?)
        }
        RunsCommand::Events { run_id, follow: true } => {
            stream::follow(client, &run_id).await?;
            Ok(())
        }
        RunsCommand::Events { run_id, follow: false } => {
            let events = client.get(&format!("/v1/runs/{}/events", encode(&run_id))).await?;
            for event in events["events"].as_array().into_iter().flatten() {
                println!("{} {} {} {}", event["seq"], event["timestamp"].as_str().unwrap_or(""), event["type"].as_str().unwrap_or(""), event["data"]);
            }
            Ok(())
        }
        RunsCommand::Cancel { run_id } => print(&client.post(&format!("/v1/runs/{}/cancel", encode(&run_id)), &json!({})).await?),
    }
}

impl Cli {
    /// Returns true for `crewhost serve`.
    pub fn is_serve(&self) -> bool {
        matches!(self.command, Command::Serve(_))
    }
}
