//! The one error type of the client commands, with docker's texts.

use std::fmt;

/// Everything a client command can fail with. `Display` gives the line the binary prints to
/// stderr, worded as the docker CLI words it so scripts that grep docker's errors keep working.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A non-2xx answer; `message` is the `{"message": …}` text (or the plain body).
    #[error("Error response from daemon: {message}")]
    Daemon { status: u16, message: String },
    /// Nothing listens at the address (missing socket, refused connection).
    #[error("Cannot connect to the shoal daemon at {host}. Is the shoal daemon running?")]
    Connect { host: String },
    /// The socket exists but this user may not open it.
    #[error(
        "permission denied while trying to connect to the shoal daemon socket at {host}: {detail}"
    )]
    PermissionDenied { host: String, detail: String },
    /// The `-H` value is not `unix://`, `tcp://` or `http://`.
    #[error("unable to parse shoal host `{0}`")]
    InvalidHost(String),
    /// The connection broke mid-request (after connecting).
    #[error("error during connect: {0}")]
    Transport(String),
    /// A 2xx body that is not the JSON we expected.
    #[error("error reading response from daemon: {0}")]
    Decode(String),
    /// A client-side refusal, already worded (e.g. `unknown role X`).
    #[error("{0}")]
    Message(String),
    /// Several independent failures (e.g. `node rm a b` with both failing), one per line.
    #[error("{}", JoinLines(.0))]
    Multiple(Vec<CliError>),
}

impl CliError {
    /// Shorthand for a client-side error message.
    pub fn msg(text: impl Into<String>) -> Self {
        CliError::Message(text.into())
    }

    /// The process exit status docker uses for this error: 1 for every runtime failure
    /// (125 is reserved for flag parsing, which clap handles in the binary).
    pub fn exit_code(&self) -> i32 {
        1
    }

    /// The HTTP status of a daemon error, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            CliError::Daemon { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Displays errors one per line, as Go's `errors.Join` does.
struct JoinLines<'a>(&'a [CliError]);

impl fmt::Display for JoinLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_docker() {
        let e = CliError::Daemon {
            status: 404,
            message: "node x not found".into(),
        };
        assert_eq!(
            e.to_string(),
            "Error response from daemon: node x not found"
        );
        assert_eq!(e.exit_code(), 1);
        let e = CliError::Connect {
            host: "unix:///run/shoal/shoal.sock".into(),
        };
        assert_eq!(
            e.to_string(),
            "Cannot connect to the shoal daemon at unix:///run/shoal/shoal.sock. \
             Is the shoal daemon running?"
        );
        let e = CliError::Multiple(vec![CliError::msg("a"), CliError::msg("b")]);
        assert_eq!(e.to_string(), "a\nb");
    }
}
