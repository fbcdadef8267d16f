//! A `wasi:http/proxy` component that responds to every request with its own
//! body. It is not a crew: the benchmarks serve it with `wasmtime serve` as
//! the reference for a host that creates a fresh instance per request and
//! persists nothing.

use std::io::Write as _;

use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

/// Largest chunk read from the request body at a time, in bytes.
const CHUNK_BYTES: u64 = 64 * 1024;

struct Echo;

impl wasi::exports::http::incoming_handler::Guest for Echo {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let body = read_body(&request);

        let response = OutgoingResponse::new(Fields::new());
        let Ok(outgoing) = response.body() else { return };
        ResponseOutparam::set(response_out, Ok(response));
        if let Ok(mut stream) = outgoing.write() {
            let _ = stream.write_all(&body);
            let _ = stream.flush();
        }
        let _ = OutgoingBody::finish(outgoing, None);
    }
}

/// Reads the whole request body; an unreadable body counts as empty.
fn read_body(request: &IncomingRequest) -> Vec<u8> {
    let mut body = Vec::new();
    let Ok(incoming) = request.consume() else { return body };
    let Ok(stream) = incoming.stream() else { return body };
    while let Ok(chunk) = stream.blocking_read(CHUNK_BYTES) {
        body.extend_from_slice(&chunk);
    }
    body
}

wasi::http::proxy::export!(Echo);
