//! A hostile crew that loops forever without calling the host.
//!
//! The loop never yields on its own, so only the host's epoch interruption
//! can stop it. The host should keep serving other runs meanwhile and fail
//! this run with the code `timeout` once the deployment's `timeout_secs`
//! passes. The input is ignored.

use crewhost_guest::{Context, Crew, Error, export_crew};
use serde_json::Value;

/// A crew that spins until the host stops the instance.
pub struct Spin;

impl Crew for Spin {
    type Input = Value;
    type Output = Value;
    type Values = Value;

    fn run(_ctx: &Context, _input: Value, _values: &mut Value) -> Result<Value, Error> {
        spin()
    }
}

export_crew!(Spin);

/// Loops forever. `black_box` keeps the optimizer from deleting the loop,
/// which has no side effects it can see.
fn spin() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = core::hint::black_box(counter.wrapping_add(1));
    }
}
