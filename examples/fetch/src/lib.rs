//! Fetches URLs with `GET` and reports what came back: the smallest crew
//! that uses outbound HTTP. The host's tests use it to check the allow-list
//! and the HTTP limits.

use crewhost_guest::{Context, Crew, Error, export_crew};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct Fetch;

#[derive(Deserialize)]
pub struct Input {
    /// The URLs to fetch, in order.
    urls: Vec<String>,
}

/// Outcome of one request.
#[derive(Debug, Serialize, PartialEq)]
pub struct Fetched {
    url: String,
    /// The HTTP status, when a response arrived.
    status: Option<u16>,
    /// The body's size in bytes, when a response arrived.
    bytes: Option<usize>,
    /// The first 200 characters of the body.
    preview: Option<String>,
    /// Reason no response arrived.
    error: Option<String>,
}

impl Crew for Fetch {
    type Input = Input;
    type Output = Vec<Fetched>;
    type Values = Value;

    fn run(ctx: &Context, input: Input, _values: &mut Value) -> Result<Vec<Fetched>, Error> {
        let mut fetched = Vec::with_capacity(input.urls.len());
        for url in input.urls {
            ctx.info(format_args!("fetching {url}"));
            let result = match ctx.http().get(&url) {
                Ok(response) => Fetched {
                    status: Some(response.status()),
                    bytes: Some(response.body().len()),
                    preview: Some(String::from_utf8_lossy(response.body()).chars().take(200).collect()),
                    error: None,
                    url,
                },
                Err(error) => Fetched { url, status: None, bytes: None, preview: None, error: Some(error.to_string()) },
            };
            fetched.push(result);
        }
        Ok(fetched)
    }
}

export_crew!(Fetch);
