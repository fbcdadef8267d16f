//! The HTTP client behind the CLI's client commands.

use std::path::Path;

use anyhow::{Context as _, bail};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::server::API_KEY_FILE;

/// A client for one crewhost server.
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
}

impl Client {
    /// Uses `api_key`, or else the key that `serve` saved in `data_dir`.
    pub fn new(base_url: &str, api_key: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        let api_key = match api_key {
            Some(key) => key.to_string(),
            None => {
                let path = data_dir.join(API_KEY_FILE);
                std::fs::read_to_string(&path)
                    .with_context(|| {
                        format!(
                            "no API key: set CREWHOST_API_KEY or --api-key, or run this where `crewhost serve` \
                             saved its key ({} could not be read)",
                            path.display()
                        )
                    })?
                    .trim()
                    .to_string()
            }
        };
        Ok(Self {
            http: reqwest::Client::new(),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base_url)).bearer_auth(&self.api_key)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.request(Method::PATCH, path).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.request(Method::DELETE, path)).await
    }

    pub async fn post_wasm(&self, path: &str, bytes: Vec<u8>) -> anyhow::Result<Value> {
        let request = self.request(Method::POST, path).header("content-type", "application/wasm").body(bytes);
        self.send(request).await
    }

    /// Opens a Server-Sent Events stream, resuming after `last_seq`.
    pub async fn open_stream(&self, path: &str, last_seq: u64) -> anyhow::Result<Response> {
        let request = self
            .request(Method::GET, path)
            .header("accept", "text/event-stream")
            .header("last-event-id", last_seq.to_string());
        let response = request.send().await.map_err(|error| {
            anyhow::anyhow!("could not reach crewhost at {}: {error}", self.base_url)
        })?;
        if !response.status().is_success() {
            decode(response).await?;
            bail!("the server rejected the event stream request");
        }
        Ok(response)
    }

    async fn send(&self, request: RequestBuilder) -> anyhow::Result<Value> {
        let response = request.send().await.map_err(|error| {
            anyhow::anyhow!(
                "could not reach crewhost at {}: {error}; start it with `crewhost serve` or set CREWHOST_URL",
                self.base_url
            )
        })?;
        decode(response).await
    }
}

/// Returns the JSON body of a success, or an error with the API's code and
/// message.
async fn decode(response: Response) -> anyhow::Result<Value> {
    let status = response.status();
    if status == StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    let text = response.text().await.context("reading the response failed")?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status.is_success() {
        return Ok(body);
    }
    match (body["error"]["code"].as_str(), body["error"]["message"].as_str()) {
        (Some(code), Some(message)) => bail!("{message} ({code}, HTTP {})", status.as_u16()),
        _ => bail!("the server returned HTTP {}: {body}", status.as_u16()),
    }
}
