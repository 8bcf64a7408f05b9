//! shoal-compose: the pure compose-file layer of `stack deploy`.
//!
//! It owns parsing compose v3 files with docker/cli's rules (`cli/compose/loader`), variable
//! interpolation (`cli/compose/template`), merging several `-c` files, the warnings and errors
//! `docker stack deploy` prints for unsupported, deprecated and forbidden keys, and the
//! conversion of the result into Engine API specs (`cli/compose/convert`) with the
//! `com.docker.stack.namespace` label. Errors that point at a key name the file and line it
//! came from (`docker-compose.yml:12: services.web.deploy.replicas: …`).
//!
//! It must not depend on IO or async: no tokio, no network, no Docker client. The only file
//! access is the thin [`load`] function; everything else takes strings or values and returns
//! values, so the shell (CLI) decides where files and the environment come from.

#![forbid(unsafe_code)]

mod convert;
mod error;
mod interpolate;
mod load;
mod marked;
mod merge;
mod model;
mod normalize;
mod origin;
mod syntax;
mod typed;
mod units;

pub use convert::{
    ConfigToCreate, NetworkToCreate, STACK_IMAGE_LABEL, STACK_NAMESPACE_LABEL, SecretToCreate,
    Stack, VolumeToCreate, convert,
};
pub use error::Error;
pub use interpolate::{TemplateError, interpolate, parse_env_file, substitute};
pub use load::{ConfigFile, Loaded, load, load_files, parse_files};
pub use model::{
    Compose, DependsOn, Deploy, FileObject, FileRef, Healthcheck, Logging, Network, Placement,
    Port, ResourceSpec, Resources, RestartPolicy, Service, ServiceNetwork, ServiceVolume, Ulimit,
    UpdateConfig, Volume,
};
pub use origin::{FileLines, Origins};
pub use units::{parse_bytes, parse_cpus, parse_duration, shell_split};
