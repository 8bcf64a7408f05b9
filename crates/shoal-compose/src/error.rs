//! The crate's one error type. Texts follow docker/cli where it has one.

/// Everything that can go wrong loading or converting compose files.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A file could not be read (only from [`crate::load`]).
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// Malformed YAML, with the parser's location.
    #[error("{file}: {message}")]
    Yaml { file: String, message: String },
    /// A `${...}` that could not be expanded (docker/cli `newPathError`).
    #[error(
        "invalid interpolation format for {path}: {template:?}; you may need to escape any $ with another $"
    )]
    Interpolation { path: String, template: String },
    /// Forbidden service keys (docker/cli `ForbiddenPropertiesError` as `stack deploy` prints it).
    #[error("Compose file contains unsupported options:\n\n{0}\n")]
    Forbidden(String),
    /// Schema-like validation errors (`(root) Additional property x is not allowed`, wrong
    /// types, bad values), with the key path in the message.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }
}
