//! A hostile crew that tries to break out of the sandbox and reports each
//! attempt.
//!
//! It tries to read host files (directly, through `..` and through
//! `/proc`), list directories, create a file, read environment variables
//! and the current directory, open TCP connections to loopback ports, bind
//! a UDP socket and resolve a host name. Every attempt is reported and
//! none panics, so the run succeeds. The host grants a crew no files, no
//! environment variables and no sockets, so every attempt in the output
//! should have `"ok": false` and `env_var_count` should be 0. The one
//! exception is `current_dir`: wasi-libc inside the component returns `/`
//! without asking the host, so that attempt reports `"ok": true` with the
//! detail `the current directory is /`, which reveals nothing about the
//! host. The input is ignored.
//!
//! # Output
//!
//! An object with one key per attempt. An attempt that failed maps to
//! `{"ok": false, "error": <the error text>}` and one that succeeded to
//! `{"ok": true, "detail": <what the crew got>}`. A detail gives sizes and
//! counts in place of file contents and variable values. `env_var_count` is
//! the number of environment variables the crew can see.

use std::env;
use std::fmt::Display;
use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use crewhost_guest::{Context, Crew, Error, export_crew};
use serde_json::{Value, json};

/// How long each TCP attempt waits, so that a host that allows sockets but
/// drops the packets cannot hang the run.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The file the crew tries to create.
const TMP_FILE: &str = "/tmp/crewhost-escape";

/// A crew that tries every escape and reports the outcomes.
pub struct Escape;

impl Crew for Escape {
    type Input = Value;
    type Output = Value;
    type Values = Value;

    fn run(_ctx: &Context, _input: Value, _values: &mut Value) -> Result<Value, Error> {
        Ok(probe())
    }
}

export_crew!(Escape);

/// Makes every attempt and returns the report described in the crate docs.
pub fn probe() -> Value {
    json!({
        "read_etc_passwd": outcome(read_file("/etc/passwd")),
        "read_parent_etc_passwd": outcome(read_file("../../../../../../etc/passwd")),
        "read_proc_self_environ": outcome(read_file("/proc/self/environ")),
        "read_cargo_toml": outcome(read_file("./Cargo.toml")),
        "list_root": outcome(list_dir("/")),
        "list_current_dir": outcome(list_dir(".")),
        "create_tmp_file": outcome(create_file(TMP_FILE)),
        "env_home": outcome(read_env_var("HOME")),
        "env_path": outcome(read_env_var("PATH")),
        // `env::vars` panics on a variable that is not valid Unicode, and
        // `env::vars_os` counts the same variables without that risk.
        "env_var_count": env::vars_os().count(),
        "current_dir": outcome(
            env::current_dir().map(|dir| format!("the current directory is {}", dir.display()))
        ),
        "tcp_connect_22": outcome(connect_tcp(SocketAddr::from(([127, 0, 0, 1], 22)))),
        "tcp_connect_8080": outcome(connect_tcp(SocketAddr::from(([127, 0, 0, 1], 8080)))),
        "udp_bind": outcome(
            UdpSocket::bind("0.0.0.0:0").and_then(|socket| socket.local_addr())
                .map(|address| format!("bound to {address}"))
        ),
        "resolve_localhost": outcome(resolve("localhost")),
    })
}

fn read_file(path: &str) -> std::io::Result<String> {
    let bytes = fs::read(path)?;
    Ok(format!("read {} bytes from {path}", bytes.len()))
}

fn list_dir(path: &str) -> std::io::Result<String> {
    let entries = fs::read_dir(path)?.count();
    Ok(format!("listed {entries} entries of {path}"))
}

/// Creates the file and removes it again, so that a host that lets the
/// crew write leaves no file behind.
fn create_file(path: &str) -> std::io::Result<String> {
    File::create(path)?;
    let removed = match fs::remove_file(path) {
        Ok(()) => "removed it again".to_owned(),
        Err(error) => format!("failed to remove it: {error}"),
    };
    Ok(format!("created {path}, then {removed}"))
}

fn read_env_var(name: &str) -> Result<String, env::VarError> {
    let value = env::var(name)?;
    Ok(format!("{name} is set, {} bytes", value.len()))
}

fn connect_tcp(address: SocketAddr) -> std::io::Result<String> {
    TcpStream::connect_timeout(&address, CONNECT_TIMEOUT)?;
    Ok(format!("connected to {address}"))
}

fn resolve(host: &str) -> std::io::Result<String> {
    let addresses: Vec<String> = (host, 0)
        .to_socket_addrs()?
        .map(|address| address.ip().to_string())
        .collect();
    Ok(format!("resolved {host} to {}", addresses.join(", ")))
}

/// Turns one attempt into its report entry.
fn outcome<E: Display>(attempt: Result<String, E>) -> Value {
    match attempt {
        Ok(detail) => json!({ "ok": true, "detail": detail }),
        Err(error) => json!({ "ok": false, "error": error.to_string() }),
    }
}

// `probe` would touch this machine's files and loopback ports, so the
// native tests cover the report entries only. The host's tests run the
// whole probe inside a component.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_reports_failure_with_error() {
        let entry = outcome::<&str>(Err("Permission denied"));

        assert_eq!(entry, json!({ "ok": false, "error": "Permission denied" }));
    }

    #[test]
    fn outcome_reports_success_with_detail() {
        let entry = outcome::<&str>(Ok("read 3 bytes from /x".to_owned()));

        assert_eq!(
            entry,
            json!({ "ok": true, "detail": "read 3 bytes from /x" })
        );
    }

    #[test]
    fn read_file_of_missing_path_fails() {
        let result = read_file("/nonexistent/crewhost-escape-test");

        assert!(result.is_err());
    }
}
