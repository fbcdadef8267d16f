//! The `files` mode: attempts that a sandboxed crew must not be able to make.

use std::fmt::Display;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use std::{env, fs};

use serde_json::{Value, json};

/// How long the TCP attempt waits, so a host that allows sockets but drops
/// the packets cannot hang the run.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Makes each attempt and reports its outcome, without panicking.
///
/// Every attempt maps to `{"ok": true, "detail": ...}` when it succeeded and
/// `{"ok": false, "error": ...}` when it failed. `env_var_count` is the
/// number of environment variables the crew can see.
pub fn probe() -> Value {
    let loopback_http = SocketAddr::from(([127, 0, 0, 1], 80));

    json!({
        "read_etc_passwd": outcome(fs::read("/etc/passwd").map(|bytes| format!("read {} bytes", bytes.len()))),
        "read_parent_etc_passwd": outcome(
            fs::read("../../etc/passwd").map(|bytes| format!("read {} bytes", bytes.len()))
        ),
        "list_root": outcome(fs::read_dir("/").map(|entries| format!("listed {} entries", entries.count()))),
        "env_home": outcome(env::var("HOME").map(|_| "HOME is set".to_owned())),
        // `env::vars` panics on a variable that is not valid Unicode and
        // `env::vars_os` does not, so it counts the same variables safely.
        "env_var_count": env::vars_os().count(),
        "tcp_connect": outcome(
            TcpStream::connect_timeout(&loopback_http, CONNECT_TIMEOUT)
                .map(|_| "connected to 127.0.0.1:80".to_owned())
        ),
    })
}

fn outcome<E: Display>(attempt: Result<String, E>) -> Value {
    match attempt {
        Ok(detail) => json!({ "ok": true, "detail": detail }),
        Err(error) => json!({ "ok": false, "error": error.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_reports_every_attempt() {
        let report = probe();

        for key in [
            "read_etc_passwd",
            "read_parent_etc_passwd",
            "list_root",
            "env_home",
            "tcp_connect",
        ] {
            let ok = report[key]["ok"].as_bool();
            assert!(ok.is_some(), "{key}: {}", report[key]);
            let field = if ok == Some(true) { "detail" } else { "error" };
            assert!(report[key][field].is_string(), "{key}: {}", report[key]);
        }
        assert!(report["env_var_count"].is_u64());
    }

    #[test]
    fn outcome_keeps_error_text() {
        let failed = outcome::<&str>(Err("permission denied"));

        assert_eq!(failed, json!({ "ok": false, "error": "permission denied" }));
    }
}
