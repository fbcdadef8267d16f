//! End-to-end tests: the real `crewhost` binary on a loopback port, a sled
//! data directory in a temp folder, and example crews built from source.

mod auth;
mod cancel;
mod crash;
mod deployments;
mod errors;
mod hostile;
mod http;
mod events;
mod limits;
mod mock;
mod restart;
mod runs;
mod support;
mod threads;
