//! The wasmtime side of crewhost: one [`Engine`], a compiled component and an
//! instance-pre per deployment version, and a fresh [`wasmtime::Store`] for
//! every run.
//!
//! A run never reuses an instance, so nothing a crew leaves in memory reaches
//! the next run. Guests are interrupted on every epoch tick: they yield to the
//! async executor, which keeps spinning crews from starving other runs and
//! lets the host drop a run that hit its timeout or was canceled.

mod compile;
mod events;
mod execute;
mod host;
mod http;
mod limits;
mod output;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{OnceCell, Semaphore};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

pub use compile::{Compiled, DeployError};
pub use events::{EventSink, SinkError};
pub use execute::{CancelSignal, RunInfo, RunOutcome, RunRequest};
pub use http::{AllowEntry, AllowEntryError, HttpPolicy};
pub use limits::RunLimits;
pub use events::Redactor;

pub(crate) use host::RunState;

/// Rust types and traits generated from `wit/crew.wit`.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "crew",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

use bindings::Crew;
pub use bindings::CrewPre;

/// How often the epoch advances. Each tick makes running guests yield to the
/// executor, so this bounds how long one guest keeps a worker thread.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Room on a run's fiber stack beyond the wasm stack limit, for the host
/// functions the guest calls.
const HOST_STACK_HEADROOM: usize = 1024 * 1024;

/// Counters that show whether versions were compiled or loaded from disk.
#[derive(Debug, Default, serde::Serialize)]
pub struct RuntimeStats {
    pub components_compiled: u64,
    pub components_loaded_from_disk: u64,
}

/// The engine settings a deployment needs. wasmtime fixes the wasm stack
/// size and fuel metering per engine, so the runtime keeps one engine for
/// each combination in use, and compiles a version once for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EngineKey {
    pub stack_kib: u64,
    pub fuel: bool,
}

impl EngineKey {
    fn suffix(self) -> String {
        format!("{}k{}", self.stack_kib, if self.fuel { "-fuel" } else { "" })
    }
}

/// An engine and the linker with the host's imports for it.
struct EngineSet {
    engine: Engine,
    linker: Linker<RunState>,
}

impl EngineSet {
    fn new(key: EngineKey) -> wasmtime::Result<Self> {
        let stack_bytes = usize::try_from(key.stack_kib).unwrap_or(usize::MAX / 1024).saturating_mul(1024);
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        config.max_wasm_stack(stack_bytes);
        config.async_stack_size(stack_bytes + HOST_STACK_HEADROOM);
        config.consume_fuel(key.fuel);
        let engine = Engine::new(&config)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        Crew::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
        Ok(Self { engine, linker })
    }
}

/// Compiles components and executes runs.
pub struct Runtime {
    engines: Mutex<HashMap<EngineKey, Arc<EngineSet>>>,
    /// Every engine, for the epoch ticker.
    ticked: Arc<Mutex<Vec<Engine>>>,
    artifact_dir: PathBuf,
    prepared: Mutex<HashMap<(String, EngineKey), Arc<OnceCell<CrewPre<RunState>>>>>,
    compiled: AtomicU64,
    loaded_from_disk: AtomicU64,
    ticker_stop: Arc<AtomicBool>,
    /// Lanes for runs that execute longer than a short run. There is one
    /// lane fewer than worker threads, so however many crews spin, one
    /// worker stays free for short runs and for the API.
    long_run_lanes: Arc<Semaphore>,
}

impl Runtime {
    /// Starts the epoch ticker thread. Compiled artifacts are kept in
    /// `artifact_dir`.
    pub fn new(artifact_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(artifact_dir)
            .with_context(|| format!("could not create the artifact directory {}", artifact_dir.display()))?;

        let ticked = Arc::new(Mutex::new(Vec::new()));
        let ticker_stop = Arc::new(AtomicBool::new(false));
        start_epoch_ticker(ticked.clone(), ticker_stop.clone());

        Ok(Self {
            engines: Mutex::new(HashMap::new()),
            ticked,
            artifact_dir: artifact_dir.to_path_buf(),
            prepared: Mutex::new(HashMap::new()),
            compiled: AtomicU64::new(0),
            loaded_from_disk: AtomicU64::new(0),
            ticker_stop,
            long_run_lanes: Arc::new(Semaphore::new(long_run_lanes())),
        })
    }

    pub fn stats(&self) -> RuntimeStats {
        RuntimeStats {
            components_compiled: self.compiled.load(Ordering::Relaxed),
            components_loaded_from_disk: self.loaded_from_disk.load(Ordering::Relaxed),
        }
    }

    fn engine_set(&self, key: EngineKey) -> anyhow::Result<Arc<EngineSet>> {
        let mut engines = self.engines.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(set) = engines.get(&key) {
            return Ok(set.clone());
        }
        let set = Arc::new(EngineSet::new(key)?);
        self.ticked.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(set.engine.clone());
        engines.insert(key, set.clone());
        tracing::info!(stack_kib = key.stack_kib, fuel = key.fuel, "created an engine");
        Ok(set)
    }

    /// Validates and compiles an uploaded component on a blocking thread.
    ///
    /// # Errors
    ///
    /// A [`DeployError`] that names what is wrong with the bytes.
    pub async fn compile(self: &Arc<Self>, bytes: bytes::Bytes, key: EngineKey) -> Result<Compiled, DeployError> {
        let set = self.engine_set(key).map_err(|error| DeployError::Internal(format!("{error:#}")))?;
        let compiled = tokio::task::spawn_blocking(move || compile::validate_and_compile(&set.engine, &set.linker, &bytes))
            .await
            .map_err(|error| DeployError::Internal(format!("the compile task failed: {error}")))??;
        self.compiled.fetch_add(1, Ordering::Relaxed);
        Ok(compiled)
    }

    /// Keeps a compiled version: its artifact on disk for restarts, and its
    /// instance-pre in memory for runs.
    pub async fn install(self: &Arc<Self>, version_id: &str, key: EngineKey, compiled: Compiled) -> anyhow::Result<()> {
        let path = self.artifact_path(version_id, key);
        let artifact = compiled.artifact;
        tokio::task::spawn_blocking(move || write_atomically(&path, &artifact)).await??;

        let cell = self.cell(version_id, key);
        let _ = cell.set(compiled.pre);
        Ok(())
    }

    /// Returns the instance-pre of a version for an engine, loading the
    /// artifact from disk or, when that fails, compiling the component that
    /// `load_component` reads from storage.
    pub async fn prepare<F>(self: &Arc<Self>, version_id: &str, key: EngineKey, load_component: F) -> anyhow::Result<CrewPre<RunState>>
    where
        F: FnOnce() -> anyhow::Result<Vec<u8>> + Send + 'static,
    {
        let cell = self.cell(version_id, key);
        let pre = cell
            .get_or_try_init(|| {
                let runtime = self.clone();
                let version_id = version_id.to_string();
                async move {
                    tokio::task::spawn_blocking(move || runtime.load_or_compile(&version_id, key, load_component))
                        .await
                        .context("the component loading task failed")?
                }
            })
            .await?;
        Ok(pre.clone())
    }

    /// Drops a version's instance-pres and artifacts.
    pub fn forget(&self, version_id: &str) {
        let keys: Vec<EngineKey> = {
            let mut prepared = self.prepared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let keys = prepared.keys().filter(|(id, _)| id == version_id).map(|(_, key)| *key).collect();
            prepared.retain(|(id, _), _| id != version_id);
            keys
        };
        for key in keys {
            let path = self.artifact_path(version_id, key);
            if let Err(error) = std::fs::remove_file(&path)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(%error, path = %path.display(), "could not remove a compiled artifact");
            }
        }
    }

    fn cell(&self, version_id: &str, key: EngineKey) -> Arc<OnceCell<CrewPre<RunState>>> {
        let mut prepared = self.prepared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        prepared.entry((version_id.to_string(), key)).or_default().clone()
    }

    fn artifact_path(&self, version_id: &str, key: EngineKey) -> PathBuf {
        self.artifact_dir.join(format!("{version_id}-{}.cwasm", key.suffix()))
    }

    fn load_or_compile(
        &self,
        version_id: &str,
        key: EngineKey,
        load_component: impl FnOnce() -> anyhow::Result<Vec<u8>>,
    ) -> anyhow::Result<CrewPre<RunState>> {
        let set = self.engine_set(key)?;
        let path = self.artifact_path(version_id, key);
        if path.exists() {
            // SAFETY: the artifact was written by `install` from a component
            // an engine with these settings compiled, into the data directory
            // that only this host writes. wasmtime still checks that its
            // header matches the engine's version and settings and returns an
            // error otherwise.
            match unsafe { Component::deserialize_file(&set.engine, &path) } {
                Ok(component) => {
                    self.loaded_from_disk.fetch_add(1, Ordering::Relaxed);
                    let pre = set.linker.instantiate_pre(&component)?;
                    return Ok(CrewPre::new(pre)?);
                }
                Err(error) => {
                    tracing::warn!(%error, version_id, "the compiled artifact is unusable; compiling again");
                }
            }
        }

        let bytes = load_component()?;
        let compiled = compile::validate_and_compile(&set.engine, &set.linker, &bytes)
            .map_err(|error| anyhow::anyhow!("the stored component no longer compiles: {error}"))?;
        self.compiled.fetch_add(1, Ordering::Relaxed);
        write_atomically(&path, &compiled.artifact)?;
        tracing::info!(version_id, stack_kib = key.stack_kib, fuel = key.fuel, "compiled a stored component");
        Ok(compiled.pre)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Returns one lane fewer than the CPUs tokio uses for worker threads, and
/// at least one.
fn long_run_lanes() -> usize {
    let workers = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    workers.saturating_sub(1).max(1)
}

fn start_epoch_ticker(engines: Arc<Mutex<Vec<Engine>>>, stop: Arc<AtomicBool>) {
    thread::Builder::new()
        .name("crewhost-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(EPOCH_TICK);
                for engine in engines.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter() {
                    engine.increment_epoch();
                }
            }
        })
        .expect("starting the epoch ticker thread failed");
}

/// Writes `bytes` to a temporary file and renames it over `path`, so a crash
/// never leaves a half-written artifact behind.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, bytes).with_context(|| format!("could not write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("could not rename {} to {}", temporary.display(), path.display()))?;
    Ok(())
}
