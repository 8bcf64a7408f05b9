//! Images of shoal's own binary, for tests whose tasks run the built-in demo apps
//! (`shoal demo-app …`) with the docker driver: `FROM scratch` with the binary and the shared
//! libraries `ldd` names, at their paths.

use std::path::Path;
use std::process::Command;

/// Builds `tag` holding `bin` as `/shoal` (the entrypoint) and its libraries, in the engine at
/// `host` (`unix://…`), else the machine's.
pub fn build_shoal_image(host: Option<&str>, bin: &Path, tag: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut dockerfile = String::from("FROM scratch\nCOPY shoal /shoal\n");
    std::fs::copy(bin, dir.path().join("shoal"))?;
    for (i, lib) in libraries(bin)?.iter().enumerate() {
        let name = format!("lib{i}");
        std::fs::copy(lib, dir.path().join(&name))?;
        dockerfile.push_str(&format!("COPY {name} {lib}\n"));
    }
    dockerfile.push_str("ENTRYPOINT [\"/shoal\"]\n");
    std::fs::write(dir.path().join("Dockerfile"), dockerfile)?;
    let mut cmd = Command::new("docker");
    if let Some(host) = host {
        cmd.env("DOCKER_HOST", host).env_remove("DOCKER_CONTEXT");
    }
    let out = cmd
        .args(["build", "-q", "-t", tag])
        .arg(dir.path())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// The absolute paths of the shared libraries (and the loader) `bin` needs.
fn libraries(bin: &Path) -> anyhow::Result<Vec<String>> {
    let out = Command::new("ldd").arg(bin).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('/')))
        .map(str::to_string)
        .collect())
}
