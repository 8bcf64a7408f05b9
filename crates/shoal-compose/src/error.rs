//! The crate's one error type. Texts follow docker/cli where it has one. Errors that point at
//! a key carry its path (dotted, list items by index: `services.web.ports.0`); the loader
//! wraps them in [`Error::At`] with the file and line that key came from.

/// Everything that can go wrong loading or converting compose files.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A file could not be read (only from [`crate::load`]).
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// Malformed YAML: the file, the line the parser stopped at, and its message.
    #[error("{file}:{line}: {message}")]
    Yaml {
        file: String,
        line: u64,
        message: String,
    },
    /// A `${...}` that could not be expanded (docker/cli `newPathError`). `path` is docker's
    /// (`services.web.environment.[]`); `at` has list indices, to find the value's line.
    #[error(
        "invalid interpolation format for {path}: {template:?}; you may need to escape any $ with another $"
    )]
    Interpolation {
        path: String,
        template: String,
        at: String,
    },
    /// Forbidden service keys (docker/cli `ForbiddenPropertiesError` as `stack deploy` prints
    /// it); `at` is the path of the first one in the file.
    #[error("Compose file contains unsupported options:\n\n{list}\n")]
    Forbidden { list: String, at: String },
    /// A key docker's schema does not allow, in docker's words; `parent` is empty at the root.
    #[error("{} Additional property {key} is not allowed", root_or(.parent))]
    UnknownKey { parent: String, key: String },
    /// A key whose value is wrong, and what is wrong with it.
    #[error("{path}: {message}")]
    Value { path: String, message: String },
    /// A service's reference to a network, secret, config or volume the file does not
    /// define; `path` is the list (or mapping) holding the reference.
    #[error("{path}: undefined {kind} {name:?}")]
    Undefined {
        path: String,
        kind: &'static str,
        name: String,
    },
    /// Errors that point at no key.
    #[error("{0}")]
    Invalid(String),
    /// An error located in a compose file.
    #[error("{file}:{line}: {error}")]
    At {
        file: String,
        line: u64,
        error: Box<Error>,
    },
}

fn root_or(parent: &str) -> &str {
    if parent.is_empty() { "(root)" } else { parent }
}

impl Error {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    /// A wrong value at `path`.
    pub(crate) fn value(path: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Value {
            path: path.into(),
            message: msg.into(),
        }
    }

    /// Gives a keyless error (say, from parsing a port spec) the key it was found under.
    pub(crate) fn under(self, path: &str) -> Self {
        match self {
            Error::Invalid(message) => Error::value(path, message),
            other => other,
        }
    }

    /// The key path the error points at, if any, to find its line.
    pub fn key_path(&self) -> Option<String> {
        match self {
            Error::Interpolation { at, .. } | Error::Forbidden { at, .. } => Some(at.clone()),
            Error::UnknownKey { parent, key } => Some(crate::origin::join(parent, key)),
            Error::Value { path, .. } | Error::Undefined { path, .. } => Some(path.clone()),
            Error::Io { .. } | Error::Yaml { .. } | Error::Invalid(_) | Error::At { .. } => None,
        }
    }
}
