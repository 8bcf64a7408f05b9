//! `shoal image build`: a local Docker image of shoal's own binary, so the docker driver has
//! something to run without a registry (`shoal service create --name web shoal-demo:latest
//! demo-app whoami`). The binary is dynamically linked, so the image is `FROM scratch` plus
//! the binary, the shared libraries `ldd` lists and the dynamic loader, each at the path the
//! binary looks for it. The build context is an in-memory tar sent to the engine's `/build`.

mod tar;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use futures::StreamExt;

#[derive(Debug, Subcommand)]
pub enum ImageCmd {
    /// Build a FROM-scratch image holding this shoal binary (entrypoint /shoal)
    Build(BuildArgs),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Name and tag of the image
    #[arg(short, long, default_value = "shoal-demo:latest")]
    pub tag: String,
    /// Only print the image ID
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(cmd: ImageCmd) -> i32 {
    let ImageCmd::Build(args) = cmd;
    match crate::runtime().block_on(build(&args)) {
        Ok(id) => {
            if args.quiet {
                println!("{id}");
            } else {
                println!("built {} ({id})", args.tag);
            }
            0
        }
        Err(e) => {
            eprintln!("shoal image build: {e:#}");
            1
        }
    }
}

const DOCKERFILE: &str = "FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"/shoal\"]\n";

/// Builds the image and returns its ID.
async fn build(args: &BuildArgs) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("locate the shoal binary")?;
    let context = build_context(&exe)?;
    let docker = bollard::Docker::connect_with_local_defaults()
        .context("connect to the Docker Engine")?
        .negotiate_version()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "no Docker Engine reachable ({}): {e}",
                std::env::var("DOCKER_HOST")
                    .unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
            )
        })?;
    let opts = bollard::query_parameters::BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&args.tag)
        .rm(true)
        .forcerm(true)
        .build();
    let mut stream = docker.build_image(opts, None, Some(bollard::body_full(context.into())));
    while let Some(item) = stream.next().await {
        let info = item.context("build the image")?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            bail!("build the image: {err}");
        }
        if !args.quiet
            && let Some(s) = info.stream
        {
            eprint!("{s}");
        }
    }
    let image = docker
        .inspect_image(&args.tag)
        .await
        .with_context(|| format!("inspect {}", args.tag))?;
    Ok(image.id.unwrap_or_default())
}

/// The build context: the Dockerfile, `rootfs/shoal` and `rootfs/<lib path>` for each shared
/// library (symbolic links followed, so each is a regular file at the path the loader wants).
fn build_context(exe: &Path) -> anyhow::Result<Vec<u8>> {
    let libs = shared_libraries(exe)?;
    let mut dirs = BTreeSet::new();
    for lib in &libs {
        let rel = lib.strip_prefix("/").unwrap_or(lib);
        for a in rel.ancestors().skip(1) {
            if !a.as_os_str().is_empty() {
                dirs.insert(PathBuf::from("rootfs").join(a));
            }
        }
    }
    let mut t = tar::Builder::default();
    t.file("Dockerfile", 0o644, DOCKERFILE.as_bytes());
    t.dir("rootfs");
    for d in dirs {
        t.dir(&d.display().to_string());
    }
    let bin = std::fs::read(exe).with_context(|| format!("read {}", exe.display()))?;
    t.file("rootfs/shoal", 0o755, &bin);
    for lib in &libs {
        let rel = lib.strip_prefix("/").unwrap_or(lib);
        let data = std::fs::read(lib).with_context(|| format!("read {}", lib.display()))?;
        t.file(&format!("rootfs/{}", rel.display()), 0o755, &data);
    }
    t.dir("rootfs/tmp");
    Ok(t.finish())
}

/// The absolute paths `ldd` lists for `exe` (libraries and the loader; not the vDSO).
fn shared_libraries(exe: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let out = std::process::Command::new("ldd")
        .arg(exe)
        .output()
        .context("run ldd")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // A static binary: ldd says "not a dynamic executable" and there is nothing to add.
        return Ok(Vec::new());
    }
    Ok(parse_ldd(&text))
}

fn parse_ldd(text: &str) -> Vec<PathBuf> {
    let mut libs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            let p = PathBuf::from(p);
            if !libs.contains(&p) {
                libs.push(p);
            }
        }
    }
    libs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_libraries_and_loader() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
            \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f1)\n\
            \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2)\n\
            \t/lib64/ld-linux-x86-64.so.2 (0x00007f3)\n";
        assert_eq!(
            parse_ldd(text),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libgcc_s.so.1"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }
}
