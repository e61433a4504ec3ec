//! A normal user for `unshare` mode tests, run as root.

use std::process::Command;

fn run(command: &mut Command) {
    let output = command.output().expect("command runs");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `debroot-test`, a normal user with subordinate uid and gid ranges, made if missing; its
/// name.
pub fn unprivileged_user() -> &'static str {
    const USER: &str = "debroot-test";
    let exists = Command::new("id")
        .arg(USER)
        .output()
        .unwrap()
        .status
        .success();
    if !exists {
        run(Command::new("useradd").args(["--create-home", "--shell", "/bin/sh", USER]));
    }
    let delegated = std::fs::read_to_string("/etc/subuid")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with(&format!("{USER}:")));
    if !delegated {
        run(Command::new("usermod").args([
            "--add-subuids",
            "400000-465535",
            "--add-subgids",
            "400000-465535",
            USER,
        ]));
    }
    USER
}
