//! A hostile crew that allocates memory until the host stops its growth.
//!
//! It allocates 16 MiB chunks forever, writes a byte to every page of each
//! so the memory is really in use, and keeps every chunk alive. The host
//! should deny the linear memory growth past the deployment's `memory_mib`
//! limit and fail the run with the code `memory_limit`. The denied growth
//! makes the allocator fail, and the Rust runtime then aborts, which traps.
//! The input is ignored.

use crewhost_guest::{Context, Crew, Error, export_crew};
use serde_json::Value;

/// Size of each allocation, in bytes.
const CHUNK_BYTES: usize = 16 * 1024 * 1024;

/// Stride of the writes, in bytes. It matches a 4 KiB native page and so
/// also touches every 64 KiB wasm page.
const PAGE_BYTES: usize = 4096;

/// A crew that allocates until the allocator fails.
pub struct MemoryBomb;

impl Crew for MemoryBomb {
    type Input = Value;
    type Output = Value;
    type Values = Value;

    fn run(_ctx: &Context, _input: Value, _values: &mut Value) -> Result<Value, Error> {
        allocate_forever()
    }
}

export_crew!(MemoryBomb);

fn allocate_forever() -> ! {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        chunks.push(touched_chunk());
        // Keeps the optimizer from dropping chunks that are never read.
        core::hint::black_box(&chunks);
    }
}

/// Allocates one chunk and writes a non-zero byte to each of its pages.
fn touched_chunk() -> Vec<u8> {
    let mut chunk = vec![0u8; CHUNK_BYTES];
    for offset in (0..CHUNK_BYTES).step_by(PAGE_BYTES) {
        chunk[offset] = 0xA5;
    }
    chunk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touched_chunk_writes_every_page() {
        let chunk = touched_chunk();

        assert_eq!(chunk.len(), CHUNK_BYTES);
        assert!(chunk.iter().step_by(PAGE_BYTES).all(|&byte| byte == 0xA5));
    }
}
