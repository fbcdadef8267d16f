//! Write crewhost crews in Rust.
//!
//! A crew is a WebAssembly component that targets the `crew` world in
//! `wit/crew.wit`. This crate hides that contract behind plain Rust: an
//! author implements [`Crew`] on a type with serde input, output and values
//! types, exports it with [`export_crew!`] and never touches the generated
//! bindings.
//!
//! # The model
//!
//! - **One fresh instance per run.** The host instantiates the component for
//!   each run and drops the instance afterwards, so statics, caches and
//!   anything else in guest memory are gone by the next run.
//! - **Values carry state between runs.** A thread's values are JSON that the
//!   host stores as a checkpoint after each successful run. The SDK decodes
//!   them into [`Crew::Values`] before [`Crew::run`] (a JSON `null` becomes
//!   `Values::default()`) and encodes whatever `run` leaves in them as the
//!   thread's new values. A stateless run gets `null` and the host ignores the
//!   values it returns.
//! - **Events report progress.** [`Context::emit`] appends an event to the
//!   run's event log, and the logging methods such as [`Context::info`]
//!   append `log` events. Clients see both while the run is going.
//! - **Errors name the cause.** [`Error::invalid_input`] rejects the input and
//!   [`Error::failed`] reports that the crew could not finish. Input that does not decode into
//!   [`Crew::Input`] fails as invalid input without any code from the author.
//! - **The network is opt-in.** [`Context::http`] sends HTTP requests through
//!   the host's wasi:http, which only reaches origins in the deployment's
//!   `allowed_hosts`. The [`llm`] module builds OpenAI-compatible chat
//!   completions on it. The linker drops the client from crews that never
//!   call it, so their components do not import wasi:http.
//!
//! # Example
//!
//! A crew that counts the words it has seen on a thread:
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! use crewhost_guest::{Context, Crew, Error, export_crew};
//! use serde::{Deserialize, Serialize};
//!
//! pub struct WordCount;
//!
//! #[derive(Deserialize)]
//! pub struct Input {
//!     word: String,
//! }
//!
//! #[derive(Serialize)]
//! pub struct Output {
//!     word: String,
//!     seen: u32,
//! }
//!
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Values {
//!     counts: BTreeMap<String, u32>,
//! }
//!
//! impl Crew for WordCount {
//!     type Input = Input;
//!     type Output = Output;
//!     type Values = Values;
//!
//!     fn run(ctx: &Context, input: Input, values: &mut Values) -> Result<Output, Error> {
//!         if input.word.is_empty() {
//!             return Err(Error::invalid_input("`word` must not be empty"));
//!         }
//!
//!         let seen = values.counts.entry(input.word.clone()).or_default();
//!         *seen += 1;
//!         ctx.emit("word.counted", &serde_json::json!({ "word": input.word, "seen": *seen }))?;
//!         ctx.info(format_args!("counted `{}`", input.word));
//!
//!         Ok(Output { word: input.word, seen: *seen })
//!     }
//! }
//!
//! export_crew!(WordCount);
//!
//! // A unit test with the native harness: no host, no component.
//! # fn main() {
//! use crewhost_guest::testing::TestRun;
//! use serde_json::json;
//!
//! let first = TestRun::new(json!({ "word": "crew" })).run::<WordCount>();
//! assert_eq!(first.expect_output(), &json!({ "word": "crew", "seen": 1 }));
//!
//! let second = TestRun::new(json!({ "word": "crew" }))
//!     .values(first.expect_values().clone())
//!     .run::<WordCount>();
//! assert_eq!(second.expect_output()["seen"], 2);
//! assert_eq!(second.events[0].0, "word.counted");
//!
//! let missing = TestRun::new(json!({})).run::<WordCount>();
//! assert_eq!(
//!     missing.expect_error().message(),
//!     "invalid input: missing field `word` at line 1 column 2"
//! );
//! # }
//! ```
//!
//! # Building
//!
//! A crew crate has `crate-type = ["cdylib", "rlib"]`: the `cdylib` becomes the
//! component and the `rlib` lets `cargo test` link the crew natively.
//! `cargo build --release --target wasm32-wasip2` then writes the component to
//! `target/wasm32-wasip2/release/<crate_name>.wasm`.
//!
//! # Testing
//!
//! The [`testing`] module runs a crew natively through the same JSON path
//! as the component and records its events, logs and HTTP requests in
//! memory. HTTP requests get canned responses instead of a network.
//!
//! # Modules
//!
//! - [`http`]: the blocking HTTP client that [`Context::http`] returns, with
//!   its request, response and error types.
//! - [`llm`]: chat completions from any OpenAI-compatible server, configured
//!   by deployment settings.
//! - [`testing`]: the native test harness.

// Lets the generated bindings name this crate by the same path from inside
// it as from a crew crate that expands `export_crew!`.
extern crate self as crewhost_guest;

mod context;
mod crew;
mod error;
pub mod http;
pub mod llm;
pub mod testing;

pub use context::{Context, Level, RunInfo};
pub use crew::Crew;
pub use error::{Error, ErrorKind};

#[doc(hidden)]
pub use wit_bindgen;

/// The wit-bindgen bindings of the `crew` world.
///
/// Crews built on [`Crew`] do not need them. They are public for crews that
/// must implement the raw `Guest` trait, such as the host's test crew, which
/// export it with `crewhost_guest::bindings::export!(MyType)`.
#[doc(hidden)]
// The generated ABI glue passes every flattened parameter of `run` separately.
#[allow(clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "crew",
        pub_export_macro: true,
        default_bindings_module: "crewhost_guest::bindings",
        runtime_path: "crewhost_guest::wit_bindgen::rt",
    });
}

/// Exports a [`Crew`] type as the component's `run` function.
///
/// Use it once per crate, at the top level of the crate that builds the
/// component.
///
/// # Examples
///
/// ```
/// use crewhost_guest::{Context, Crew, Error, export_crew};
/// use serde_json::Value;
///
/// struct Echo;
///
/// impl Crew for Echo {
///     type Input = Value;
///     type Output = Value;
///     type Values = Value;
///
///     fn run(_ctx: &Context, input: Value, _values: &mut Value) -> Result<Value, Error> {
///         Ok(input)
///     }
/// }
///
/// export_crew!(Echo);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_crew {
    ($crew:ty) => {
        const _: () = {
            struct CrewhostExport;

            impl $crate::bindings::Guest for CrewhostExport {
                fn run(
                    info: $crate::bindings::RunInfo,
                    input: $crate::bindings::Json,
                    values: $crate::bindings::Json,
                ) -> ::core::result::Result<$crate::bindings::RunOutput, $crate::bindings::CrewError> {
                    $crate::__private::run_component::<$crew>(info, input, values)
                }
            }

            $crate::bindings::export!(CrewhostExport with_types_in $crate::bindings);
        };
    };
}

/// Items that [`export_crew!`] expands to. They are not part of the public API.
#[doc(hidden)]
pub mod __private {
    use crate::bindings::{CrewError, Json, RunInfo, RunOutput};
    use crate::crew::run_json;
    use crate::{Context, Crew};

    /// Runs crew `C` for the component's `run` export, with a context backed
    /// by the host imports. Returns values on every success, so the thread's
    /// new values are always what the crew left behind.
    pub fn run_component<C: Crew>(
        info: RunInfo,
        input: Json,
        values: Json,
    ) -> Result<RunOutput, CrewError> {
        let ctx = Context::host(info.into());

        match run_json::<C>(&ctx, &input, &values) {
            Ok(encoded) => Ok(RunOutput {
                output: encoded.output,
                values: Some(encoded.values),
            }),
            Err(error) => Err(error.into_crew_error()),
        }
    }
}
