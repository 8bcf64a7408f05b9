//! `shoal swarm unlock` and `shoal swarm unlock-key [-q] [--rotate]`, as docker/cli's
//! `cli/command/swarm/unlock.go` and `unlock_key.go`.

use std::io::BufRead;

use clap::Args;
use serde::Deserialize;

use crate::client::{Client, query};
use crate::error::CliError;

/// `swarm unlock-key` flags.
#[derive(Debug, Args)]
pub struct UnlockKeyArgs {
    /// Rotate unlock key
    #[arg(long)]
    pub rotate: bool,
    /// Only display token
    #[arg(short, long)]
    pub quiet: bool,
}

/// Reads the key (docker prompts "Please enter unlock key: " and reads one line of stdin).
pub async fn unlock(c: &Client) -> Result<(), CliError> {
    eprint!("Please enter unlock key: ");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::msg(format!("could not read the unlock key: {e}")))?;
    let body = serde_json::json!({ "UnlockKey": line.trim() });
    c.post_raw("/swarm/unlock", &body).await?;
    Ok(())
}

pub async fn unlock_key(c: &Client, a: UnlockKeyArgs) -> Result<(), CliError> {
    if a.rotate {
        #[derive(Deserialize)]
        struct Swarm {
            #[serde(rename = "Version")]
            version: Version,
            #[serde(rename = "Spec")]
            spec: serde_json::Value,
        }
        #[derive(Deserialize)]
        struct Version {
            #[serde(rename = "Index")]
            index: u64,
        }
        let swarm: Swarm = c.get_json("/swarm").await?;
        if swarm.spec["EncryptionConfig"]["AutoLockManagers"] != true {
            return Err(CliError::msg(
                "cannot rotate because autolock is not turned on",
            ));
        }
        let q = query(&[
            ("version", swarm.version.index.to_string()),
            ("rotateManagerUnlockKey", "true".into()),
        ]);
        c.post_raw(&format!("/swarm/update{q}"), &swarm.spec)
            .await?;
        if !a.quiet {
            println!("Successfully rotated manager unlock key.\n");
        }
    }
    let key = super::swarm::unlock_key(c).await?;
    if key.is_empty() {
        return Err(CliError::msg("no unlock key is set"));
    }
    if a.quiet {
        println!("{key}");
    } else {
        print!("{}", super::swarm::unlock_text(&key));
    }
    Ok(())
}
