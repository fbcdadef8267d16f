//! Deploy-time validation: every way an upload can fail is caught here, once,
//! with a message that names the problem, so runs never meet a broken
//! component.

use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};

use super::{CrewPre, RunState};

const WASM_MAGIC: &[u8; 4] = b"\0asm";
/// Version and layer fields of a core module (version 1, layer 0).
const CORE_MODULE_HEADER: [u8; 4] = [0x01, 0x00, 0x00, 0x00];

const BUILD_HINT: &str = "build the crew with `cargo build --release --target wasm32-wasip2` \
    (a Rust crate using the crewhost-guest SDK), or wrap a core module with `wasm-tools component new`";

/// A component that passed validation and compilation.
pub struct Compiled {
    pub(crate) pre: CrewPre<RunState>,
    /// The serialized compilation, for loading without compiling again.
    pub(crate) artifact: Vec<u8>,
}

impl Compiled {
    /// Returns the instance-pre to pass to [`super::Runtime::execute`].
    pub fn pre(&self) -> &CrewPre<RunState> {
        &self.pre
    }
}

/// Error for an upload that cannot be deployed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("the body is not a WebAssembly component: {0}")]
    InvalidComponent(String),
    #[error("the body is a core WebAssembly module, not a component; {BUILD_HINT}")]
    NotAComponent,
    #[error("the component does not implement the world crewhost:crew/crew@0.1.0: {0}")]
    WorldMismatch(String),
    #[error(
        "the component imports `{name}`, which crewhost does not provide; crews may import \
         crewhost:crew/host and the WASI 0.2 interfaces ({detail})"
    )]
    UnsupportedImport { name: String, detail: String },
    #[error("compiling the component failed inside the host: {0}")]
    Internal(String),
}

impl DeployError {
    /// The stable error code the API returns.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidComponent(_) => "invalid_component",
            Self::NotAComponent => "not_a_component",
            Self::WorldMismatch(_) => "world_mismatch",
            Self::UnsupportedImport { .. } => "unsupported_import",
            Self::Internal(_) => "internal",
        }
    }
}

/// Checks the header, compiles, links against the host's imports and checks
/// the `run` export, in that order.
pub(crate) fn validate_and_compile(
    engine: &Engine,
    linker: &Linker<RunState>,
    bytes: &[u8],
) -> Result<Compiled, DeployError> {
    check_header(bytes)?;

    let component = Component::new(engine, bytes).map_err(|error| DeployError::InvalidComponent(format!("{error:#}")))?;

    let instance_pre = linker.instantiate_pre(&component).map_err(|error| unsupported_import(engine, &component, &error))?;
    check_run_export(engine, &component)?;
    let pre = CrewPre::new(instance_pre).map_err(|error| DeployError::WorldMismatch(format!("{error:#}")))?;

    let artifact = component
        .serialize()
        .map_err(|error| DeployError::Internal(format!("serializing the compiled component failed: {error:#}")))?;
    Ok(Compiled { pre, artifact })
}

fn check_header(bytes: &[u8]) -> Result<(), DeployError> {
    if bytes.len() < 8 || &bytes[..4] != WASM_MAGIC {
        return Err(DeployError::InvalidComponent(format!(
            "a WebAssembly binary starts with the bytes 00 61 73 6d, but this body ({} bytes) does not; \
             upload the .wasm file itself, for example with `--data-binary @crew.wasm`",
            bytes.len()
        )));
    }
    if bytes[4..8] == CORE_MODULE_HEADER {
        return Err(DeployError::NotAComponent);
    }
    Ok(())
}

fn check_run_export(engine: &Engine, component: &Component) -> Result<(), DeployError> {
    let component_type = component.component_type();
    let exports: Vec<(&str, ComponentItem)> = component_type.exports(engine).map(|(name, item)| (name, item.ty)).collect();
    match exports.iter().find(|(name, _)| *name == "run") {
        Some((_, ComponentItem::ComponentFunc(_))) => Ok(()),
        Some(_) => Err(DeployError::WorldMismatch("the export `run` is not a function".into())),
        None => {
            let names: Vec<&str> = exports.iter().map(|(name, _)| *name).collect();
            let found = if names.is_empty() { "no exports".to_string() } else { format!("exports {}", names.join(", ")) };
            Err(DeployError::WorldMismatch(format!(
                "it has {found} but no function `run`; build it against wit/crew.wit, which the crewhost-guest SDK does"
            )))
        }
    }
}

/// Names the first import that the linker cannot satisfy.
fn unsupported_import(engine: &Engine, component: &Component, error: &wasmtime::Error) -> DeployError {
    let detail = format!("{error:#}");
    let name = backticked(&detail).unwrap_or_else(|| {
        let component_type = component.component_type();
        let imports: Vec<&str> = component_type.imports(engine).map(|(name, _)| name).collect();
        imports.join(", ")
    });
    DeployError::UnsupportedImport { name, detail }
}

/// Returns the first text between backticks in `message`.
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let length = message[start..].find('`')?;
    Some(message[start..start + length].to_string())
}
