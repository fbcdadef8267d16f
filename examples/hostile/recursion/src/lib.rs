//! A hostile crew that recurses without bound until its stack overflows.
//!
//! Each call keeps eight values alive across the next call, so every frame
//! takes space on the wasm call stack and the compiler cannot turn the
//! recursion into a loop. The host should stop the instance when the wasm
//! stack reaches wasmtime's `max_wasm_stack` (512 KiB by default) and fail
//! the run with the code `stack_overflow`. The input is ignored.
//!
//! The frames hold scalars and not a local array on purpose. On wasm32,
//! Rust keeps arrays and other addressed locals on a separate stack in
//! linear memory (1 MiB by default), which has no guard. Overflowing that
//! stack ends in an `out of bounds memory access` trap, reported as `trap`,
//! and not in a `stack_overflow`.

use core::hint::black_box;

use crewhost_guest::{Context, Crew, Error, export_crew};
use serde_json::Value;

/// A crew that recurses until the host stops the instance.
pub struct Recursion;

impl Crew for Recursion {
    type Input = Value;
    type Output = Value;
    type Values = Value;

    fn run(_ctx: &Context, _input: Value, _values: &mut Value) -> Result<Value, Error> {
        Ok(Value::from(descend(0)))
    }
}

export_crew!(Recursion);

/// Calls itself with `depth + 1` and combines the result with values from
/// its own frame, so the call is not in tail position.
///
/// NOTE: each `black_box` may also take a few bytes of the linear-memory
/// stack. With wasmtime's default `max_wasm_stack`, the wasm stack
/// overflows first (checked with `crewhost exec`). A host that raises
/// `max_wasm_stack` far above 1 MiB could see a `trap` instead.
fn descend(depth: u64) -> u64 {
    let a = black_box(depth);
    let b = black_box(depth ^ 1);
    let c = black_box(depth ^ 2);
    let d = black_box(depth ^ 3);
    let e = black_box(depth ^ 4);
    let f = black_box(depth ^ 5);
    let g = black_box(depth ^ 6);
    let h = black_box(depth ^ 7);

    // Never true, but the compiler cannot know that, so it does not flag
    // the recursion as unconditional.
    if black_box(depth == u64::MAX) {
        return 0;
    }

    let below = descend(depth + 1);
    black_box(a ^ b ^ c ^ d ^ e ^ f ^ g ^ h).wrapping_add(below)
}
