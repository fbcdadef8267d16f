use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::Server;

#[tokio::test]
async fn missing_or_wrong_key_returns_401() {
    let server = Server::start().await;
    let url = format!("{}/v1/runs", server.url);

    let missing = server.send_raw(server.http.get(&url)).await;
    let wrong = server.send_raw(server.http.get(&url).bearer_auth("chk_wrong")).await;
    let health = server.send_raw(server.http.get(format!("{}/healthz", server.url))).await;

    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.code(), "unauthorized");
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(health.status, StatusCode::OK, "healthz needs no key");
    assert_eq!(health.body["status"], "ok");
}

#[tokio::test]
async fn keys_created_listed_and_revoked() {
    let server = Server::start().await;

    let created = server.post("/v1/keys", json!({ "name": "ci" })).await;
    let secret = created.body["key"].as_str().unwrap().to_string();
    let key_id = created.body["key_id"].as_str().unwrap().to_string();
    let with_new_key = server.send_raw(server.http.get(format!("{}/v1/runs", server.url)).bearer_auth(&secret)).await;
    let listed = server.get("/v1/keys").await;
    let revoked = server.delete(&format!("/v1/keys/{key_id}")).await;
    let after_revoke = server.send_raw(server.http.get(format!("{}/v1/runs", server.url)).bearer_auth(&secret)).await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert!(key_id.starts_with("key_"));
    assert_eq!(with_new_key.status, StatusCode::OK);
    let keys = listed.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "the key from the environment and the new one");
    assert!(keys.iter().all(|key| key.get("hash").is_none() && key.get("key").is_none()), "{keys:?}");
    assert!(!listed.body.to_string().contains(&secret), "a listing never shows a secret");
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(after_revoke.status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.delete(&format!("/v1/keys/{key_id}")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn first_start_creates_and_saves_key() {
    let (server, stdout) = Server::start_without_key();

    let path = server.data_dir().join("api-key");
    let saved = std::fs::read_to_string(&path).expect("serve saves the key it created");
    let secret = saved.trim();
    let reply = server.send_raw(server.http.get(format!("{}/v1/runs", server.url)).bearer_auth(secret)).await;

    assert!(secret.starts_with("chk_"));
    assert!(stdout.iter().any(|line| line.contains(secret)), "the key is printed once: {stdout:?}");
    assert_eq!(reply.status, StatusCode::OK);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[tokio::test]
async fn env_key_is_stored_hashed() {
    let server = Server::start().await;

    let keys = server.get("/v1/keys").await;

    assert_eq!(keys.body["keys"][0]["name"], "CREWHOST_API_KEY");
    let database = server.data_dir().join("db");
    let mut raw = Vec::new();
    for entry in walk(&database) {
        raw.extend(std::fs::read(entry).unwrap_or_default());
    }
    let needle = crate::support::KEY.as_bytes();
    assert!(!raw.windows(needle.len()).any(|window| window == needle), "the plain key is not in the store");
    let _ = server.send_raw(server.request(Method::GET, "/healthz")).await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
