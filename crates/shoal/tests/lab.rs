//! `shoal lab`: a practice swarm of real daemons on this machine, each in its own network
//! namespace, built and removed by one command each.

use std::process::Command;
use std::time::Duration;

use shoal_testkit::{success, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_shoal");

fn shoal(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().expect("run shoal")
}

/// A lab left by a run that was killed (its `lab.json` went with its temp dir) would block
/// `lab up`: one lab per machine. Remove its network pieces first.
fn remove_stale_lab() {
    let netns = success(Command::new("ip").args(["netns", "list"]).output().unwrap());
    for ns in netns
        .split_whitespace()
        .filter(|n| n.starts_with("shoal-lab-"))
    {
        let _ = Command::new("ip").args(["netns", "del", ns]).status();
    }
    let _ = Command::new("ip").args(["link", "del", "shlab0"]).status();
}

#[test]
fn lab_up_builds_a_swarm_and_down_removes_it() {
    remove_stale_lab();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let d = dir.to_str().unwrap();
    let up = success(shoal(&[
        "lab",
        "up",
        "--managers",
        "1",
        "--workers",
        "1",
        "--dir",
        d,
    ]));
    assert!(
        up.contains("A practice swarm of 1 managers and 1 workers is up."),
        "{up}"
    );
    let host = format!("unix://{}", dir.join("node-1.sock").display());
    let ls = wait_for("two ready nodes", Duration::from_secs(30), || {
        let out = Command::new(BIN)
            .env("SHOAL_HOST", &host)
            .args(["node", "ls"])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        (text.matches("Ready").count() == 2).then_some(text)
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n{}",
            std::fs::read_to_string(dir.join("node-2.log")).unwrap_or_default()
        )
    });
    assert!(ls.contains("Leader"), "{ls}");
    // The worker has its own address on the lab's network.
    let info = success(
        Command::new(BIN)
            .env(
                "SHOAL_HOST",
                format!("unix://{}", dir.join("node-2.sock").display()),
            )
            .args(["info"])
            .output()
            .unwrap(),
    );
    assert!(info.contains("Node Address: 10.214.0.12"), "{info}");
    let status = success(shoal(&["lab", "status", "--dir", d]));
    assert_eq!(status.matches("running").count(), 2, "{status}");
    // One lab at a time.
    let again = shoal(&["lab", "up", "--dir", d]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already up"));

    let down = success(shoal(&["lab", "down", "--dir", d]));
    assert!(down.contains("2 nodes stopped"), "{down}");
    assert!(!dir.exists());
    let netns = success(Command::new("ip").args(["netns", "list"]).output().unwrap());
    assert!(!netns.contains("shoal-lab-"), "{netns}");
    assert!(
        !Command::new("ip")
            .args(["link", "show", "shlab0"])
            .output()
            .unwrap()
            .status
            .success(),
        "the lab bridge is gone"
    );
}
