//! Guest stdout and stderr, turned into `log` events one line at a time.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use serde_json::json;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use super::events::RunEvents;

/// A line longer than this is split into several events, so that one
/// newline-free write cannot grow the buffer without bound.
const MAX_LINE_BYTES: usize = 16 * 1024;

/// One of the guest's two output streams.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }

    /// Lines on stdout become `info` logs and lines on stderr `warn` logs.
    fn level(self) -> &'static str {
        match self {
            Self::Stdout => "info",
            Self::Stderr => "warn",
        }
    }
}

/// One of the guest's output streams. Clones share the line buffer.
#[derive(Clone)]
pub(crate) struct GuestOutput {
    stream: Stream,
    events: Arc<RunEvents>,
    pending: Arc<Mutex<Vec<u8>>>,
}

impl GuestOutput {
    pub(crate) fn new(stream: Stream, events: Arc<RunEvents>) -> Self {
        Self { stream, events, pending: Arc::new(Mutex::new(Vec::new())) }
    }

    fn write_bytes(&self, bytes: &[u8]) -> Result<(), super::events::HostFault> {
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.extend_from_slice(bytes);
        while let Some(end) = pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            self.emit_line(&line[..line.len() - 1])?;
        }
        while pending.len() >= MAX_LINE_BYTES {
            let line: Vec<u8> = pending.drain(..MAX_LINE_BYTES).collect();
            self.emit_line(&line)?;
        }
        Ok(())
    }

    /// Emits what remains after the last newline; called when the run ends.
    pub(crate) fn finish(&self) {
        let rest = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        if !rest.is_empty() {
            let _ = self.emit_line(&rest);
        }
    }

    fn emit_line(&self, line: &[u8]) -> Result<(), super::events::HostFault> {
        let line = String::from_utf8_lossy(line);
        let message = line.strip_suffix('\r').unwrap_or(&line);
        if let Stream::Stderr = self.stream {
            self.events.remember_stderr(message);
        }
        let data = json!({ "level": self.stream.level(), "message": message, "stream": self.stream.name() });
        self.events.append("log", data, message.len())
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.write_bytes(&bytes).map_err(|fault| StreamError::Trap(fault.into()))
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(MAX_LINE_BYTES)
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.write_bytes(buf) {
            Ok(()) => Poll::Ready(Ok(buf.len())),
            Err(fault) => Poll::Ready(Err(io::Error::other(fault))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
