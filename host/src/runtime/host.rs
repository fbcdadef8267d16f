//! The store data of one run and the `crewhost:crew/host` imports.

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::crewhost::crew::{host, types};
use super::events::{HostFault, RunEvents};
use super::execute::CancelSignal;
use super::limits::MemoryLimiter;
use super::output::{GuestOutput, Stream};
use super::RunLimits;
use super::http::{HttpHooks, HttpPolicy};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Maximum length of an event type a crew may emit, in bytes.
const MAX_EVENT_TYPE_BYTES: usize = 128;

/// Everything a run's [`wasmtime::Store`] holds.
pub struct RunState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    http_hooks: HttpHooks,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) events: Arc<RunEvents>,
    pub(crate) outputs: [GuestOutput; 2],
    config: Arc<HashMap<String, String>>,
    cancel: CancelSignal,
}

impl RunState {
    /// Builds the state of a run whose WASI context grants nothing: no
    /// preopened directories, no environment, no sockets, no stdin.
    pub(crate) fn new(
        events: Arc<RunEvents>,
        limits: &RunLimits,
        config: Arc<HashMap<String, String>>,
        http_policy: Arc<HttpPolicy>,
        cancel: CancelSignal,
    ) -> Self {
        let stdout = GuestOutput::new(Stream::Stdout, events.clone());
        let stderr = GuestOutput::new(Stream::Stderr, events.clone());
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            http_hooks: HttpHooks::new(http_policy, events.clone()),
            limiter: MemoryLimiter::new(limits),
            events,
            outputs: [stdout, stderr],
            config,
            cancel,
        }
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for RunState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.http_hooks }
    }
}

impl types::Host for RunState {}

impl host::Host for RunState {
    async fn emit(&mut self, kind: String, data: String) -> wasmtime::Result<()> {
        if kind.is_empty() || kind.len() > MAX_EVENT_TYPE_BYTES || kind.starts_with("run.") || kind == "log" {
            let fault = HostFault::InvalidOutput(format!(
                "the crew emitted an event with the type {kind:?}; an event type must have 1 to \
                 {MAX_EVENT_TYPE_BYTES} bytes, and `log` and types that start with `run.` are reserved for the host"
            ));
            return Err(self.events.record(fault).into());
        }
        let value: serde_json::Value = match serde_json::from_str(&data) {
            Ok(value) => value,
            Err(error) => {
                let fault = HostFault::InvalidOutput(format!(
                    "the crew emitted an event of type `{kind}` whose data is not valid JSON: {error}"
                ));
                return Err(self.events.record(fault).into());
            }
        };
        self.events.append(&kind, value, data.len())?;
        Ok(())
    }

    async fn log(&mut self, level: types::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            types::Level::Trace => "trace",
            types::Level::Debug => "debug",
            types::Level::Info => "info",
            types::Level::Warn => "warn",
            types::Level::Error => "error",
        };
        let size = message.len();
        let data = serde_json::json!({ "level": level, "message": message });
        self.events.append("log", data, size)?;
        Ok(())
    }

    async fn config(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(self.config.get(&name).cloned())
    }

    async fn cancel_requested(&mut self) -> wasmtime::Result<bool> {
        Ok(self.cancel.is_requested())
    }
}
