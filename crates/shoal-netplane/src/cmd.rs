//! Running the kernel's configuration tools (iproute2, iptables) for [`crate::overlay`] and
//! [`crate::vip`], with their stderr in the error.

use std::io;
use std::process::Command;

/// Runs `program args…`; an error carries the command line and what it printed.
pub(crate) fn run(program: &str, args: &[&str]) -> io::Result<()> {
    let out = Command::new(program).args(args).output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}
