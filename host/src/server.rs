//! Starting and stopping the server: open the data directory, recover, make
//! sure an API key exists, serve until a signal arrives.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use std::future::IntoFuture;

use anyhow::Context as _;

use crate::api::{self, AppState, BodyLimits};
use crate::runtime::Runtime;
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::storage::{DeploymentLimits, SledStore, Store};

/// The file in the data directory that contains the key `serve` created.
pub const API_KEY_FILE: &str = "api-key";

/// Settings of `crewhost serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub scheduler: SchedulerConfig,
    pub body_limits: BodyLimits,
    /// The limits of a new deployment that sets none.
    pub default_limits: DeploymentLimits,
    /// A key to accept in addition to the stored ones, stored hashed.
    pub env_api_key: Option<String>,
    /// How long a shutdown waits for running runs.
    pub shutdown_grace: Duration,
    /// Size of the store's page cache, in bytes.
    pub store_cache_bytes: u64,
}

/// Opens the data directory, recovers unfinished runs and serves the API
/// until SIGINT or SIGTERM.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("could not create the data directory {}", config.data_dir.display()))?;
    let db_path = config.data_dir.join("db");
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&db_path, config.store_cache_bytes).with_context(|| {
        format!("could not open the store in {} (is another crewhost using this data directory?)", db_path.display())
    })?);
    let runtime = Arc::new(Runtime::new(&config.data_dir.join("compiled"))?);

    ensure_api_key(store.as_ref(), &config.data_dir, config.env_api_key.as_deref()).await?;

    // Bind before recovering, so a taken port fails the start before any
    // recovered run executes crew code.
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("could not listen on {}", config.addr))?;
    let addr = listener.local_addr()?;

    let scheduler = Scheduler::new(store.clone(), runtime.clone(), config.scheduler.clone());
    scheduler.recover().await.context("recovering unfinished runs failed")?;

    let state = AppState {
        store: store.clone(),
        scheduler: scheduler.clone(),
        runtime,
        body_limits: config.body_limits,
        default_limits: config.default_limits,
        patch_lock: Arc::default(),
    };
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "crewhost started");
    println!("crewhost listening on http://{addr}");
    let _ = std::io::stdout().flush();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut server = tokio::spawn(
        axum::serve(listener, api::router(state))
            .with_graceful_shutdown(async move {
                let mut stopped = stopped;
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .into_future(),
    );
    tokio::select! {
        result = &mut server => {
            result.context("the HTTP server task failed")?.context("the HTTP server failed")?;
        }
        () = shutdown_signal() => {
            tracing::info!("shutdown requested; closing connections");
            let _ = stop.send(true);
            // Open event streams and long waits would hold a graceful
            // shutdown forever; past the grace period they are dropped.
            if tokio::time::timeout(config.shutdown_grace, &mut server).await.is_err() {
                tracing::warn!("connections still open after the shutdown grace period; closing them");
                server.abort();
            }
        }
    }

    tracing::info!("shutting down");
    scheduler.shutdown(config.shutdown_grace).await;
    store.flush().await?;
    tracing::info!("crewhost stopped");
    Ok(())
}

/// Makes sure a client can authenticate: stores the key from the
/// environment if one is given, and on a first start without keys creates
/// one, prints it once and saves it for the CLI.
async fn ensure_api_key(store: &dyn Store, data_dir: &Path, env_key: Option<&str>) -> anyhow::Result<()> {
    if let Some(secret) = env_key {
        api::keys::store_key(store, "CREWHOST_API_KEY", secret)?;
        store.flush().await?;
        return Ok(());
    }
    if !store.api_keys()?.is_empty() {
        return Ok(());
    }

    let (key, secret) = api::keys::create_key(store, "default")?;
    let path = data_dir.join(API_KEY_FILE);
    write_private_file(&path, &secret)?;
    store.flush().await?;
    tracing::info!(key_id = %key.key_id, "created the first API key");
    println!("Created the API key {secret}");
    println!("It is saved in {} (mode 0600), where the crewhost CLI finds it.", path.display());
    println!("This is the only time the server prints it.");
    Ok(())
}

/// Writes a file that only its owner can read.
fn write_private_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("could not create {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "could not listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

