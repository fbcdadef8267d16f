//! crewhost runs AI crews compiled to WebAssembly components as a service.
//!
//! A client uploads a component that targets the `crew` world in `wit/`, then
//! requests runs: stateless ones, or runs inside a thread whose `values`
//! persist as checkpoints. The parts, from the socket inwards:
//!
//! - [`api`]: the HTTP API (axum): authentication, validation, one JSON error
//!   shape.
//! - [`scheduler`]: the queue of pending runs, the concurrency limit, one
//!   active run per thread, cancellation and recovery at start-up. It is the
//!   only writer of run status.
//! - [`runtime`]: wasmtime. One engine, a compiled component per version, a
//!   fresh store and instance per run.
//! - [`storage`]: everything persisted, behind the [`storage::Store`] trait,
//!   with sled as the embedded implementation.

pub mod api;
pub mod cli;
pub mod ids;
pub mod runtime;
pub mod scheduler;
pub mod server;
pub mod storage;
