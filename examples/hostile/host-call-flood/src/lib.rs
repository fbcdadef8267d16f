//! A hostile crew that calls the host's `cancel-requested` import in a
//! tight loop forever and ignores the result.
//!
//! Every iteration enters the host, so the host must stay responsive while
//! the guest spends nearly all its time in host calls. The host should fail
//! the run with the code `timeout` once the deployment's `timeout_secs`
//! passes. A client that cancels the run gets it canceled after the grace
//! period, because the crew never stops on its own. The input is ignored.

use crewhost_guest::{Context, Crew, Error, export_crew};
use serde_json::Value;

/// A crew that calls the host until the host stops the instance.
pub struct HostCallFlood;

impl Crew for HostCallFlood {
    type Input = Value;
    type Output = Value;
    type Values = Value;

    fn run(ctx: &Context, _input: Value, _values: &mut Value) -> Result<Value, Error> {
        loop {
            // `black_box` keeps the call and its result from being treated
            // as dead code.
            core::hint::black_box(ctx.cancel_requested());
        }
    }
}

export_crew!(HostCallFlood);
