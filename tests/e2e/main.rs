//! End-to-end tests: the real `crewhost` binary on a loopback port, a sled
//! data directory in a temp folder, and example crews built from source.

mod auth;
mod deployments;
mod errors;
mod restart;
mod runs;
mod support;
mod threads;
