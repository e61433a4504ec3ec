//! Tests that need root and namespaces. Ignored by plain `cargo test`; `bash tests/run` runs
//! them (with `--run-ignored only`) as root when `unshare` works.

use std::path::{Path, PathBuf};
use std::process::Command;

use debroot::sandbox::{Sandbox, Status};

/// A minimal root with the host's `sh`, `sleep`, `ls`, `cat`, `hostname` and their libraries.
fn host_tools_root(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
    for tool in [
        "sh", "sleep", "ls", "cat", "hostname", "mount", "mkdir", "env", "setsid", "id", "grep",
        "sort", "wc", "tr", "ps",
    ] {
        let path = String::from_utf8(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let path = path.trim();
        let mut files = vec![PathBuf::from(path)];
        let ldd = Command::new("ldd").arg(path).output().unwrap();
        for line in String::from_utf8_lossy(&ldd.stdout).lines() {
            if let Some(lib) = line.split_whitespace().find(|w| w.starts_with('/')) {
                files.push(PathBuf::from(lib));
            }
        }
        for file in files {
            let real = std::fs::canonicalize(&file).unwrap();
            for target in [file.clone(), real.clone()] {
                let inside = root.join(target.strip_prefix("/").unwrap());
                std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
                if !inside.exists() {
                    std::fs::copy(&real, &inside).unwrap();
                }
            }
        }
    }
    root
}

fn sandbox(root: &Path) -> Sandbox {
    Sandbox {
        root: root.to_path_buf(),
        hostname: "debroot-test".into(),
        env: Sandbox::default_env(1_700_000_000),
        binds: Vec::new(),
        helper: Some(PathBuf::from(env!("CARGO_BIN_EXE_debroot"))),
        instant_sleep: false,
    }
}

#[test]
#[ignore = "privileged: needs root and namespaces"]
fn sandbox_runs_sealed_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = host_tools_root(dir.path());
    let sandbox = sandbox(&root);
    let mounts_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let outcome = sandbox
        .run(&["/bin/sh", "-c", "hostname; echo pid=$$; echo fds=$(ls /proc/$$/fd | sort | tr '\\n' ,); env | sort; cat /dev/null && echo devnull-ok"])
        .unwrap();
    let text = String::from_utf8_lossy(&outcome.output).into_owned();
    assert!(outcome.status.success(), "{text}");
    assert!(text.contains("debroot-test"), "UTS namespace: {text}");
    assert!(
        text.contains("pid=2"),
        "PID namespace (the shell is PID 2 under our init): {text}"
    );
    assert!(text.contains("SOURCE_DATE_EPOCH=1700000000"), "{text}");
    assert!(
        !text.contains("HOSTNAME=") && !text.contains("SSH_AUTH_SOCK"),
        "no host variables: {text}"
    );
    assert!(text.contains("devnull-ok"), "{text}");
    assert!(
        text.contains("fds=0,1,2,"),
        "only stdin, stdout and stderr are open: {text}"
    );
    // A daemon that double-forks is gone when the command ends (D2).
    let outcome = sandbox
        .run(&[
            "/bin/sh",
            "-c",
            "setsid sh -c 'sleep 1000 &' ; echo started",
        ])
        .unwrap();
    assert!(outcome.status.success());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let leftovers = Command::new("sh")
        .args(["-c", "ps -eo args | grep -c '^sleep 1000$' || true"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&leftovers.stdout).trim(),
        "0",
        "no process survives"
    );
    // Mounts made inside never reach the host (D3).
    let outcome = sandbox
        .run(&[
            "/bin/sh",
            "-c",
            "mkdir -p /mnt && mount -t tmpfs tmpfs /mnt && echo mounted",
        ])
        .unwrap();
    assert!(String::from_utf8_lossy(&outcome.output).contains("mounted"));
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo").unwrap(),
        mounts_before
    );
    assert!(debroot::workdir::mounts_below(dir.path()).is_empty());
    // Failures report status; signals too (D1).
    assert_eq!(
        sandbox.run(&["/bin/sh", "-c", "exit 3"]).unwrap().status,
        Status::Exited(3)
    );
    assert_eq!(
        sandbox
            .run(&["/bin/sh", "-c", "kill -SEGV $$"])
            .unwrap()
            .status,
        Status::Signaled(11)
    );
    let timed = sandbox
        .run_with_timeout(
            &["/bin/sh", "-c", "sleep 100"],
            Some(std::time::Duration::from_millis(300)),
        )
        .unwrap();
    assert_eq!(timed.status, Status::Signaled(9));
}

/// With `instant_sleep` (what dpkg runs in a build) a command's sleeps return at once and the
/// command goes on; without it (hooks) a sleep sleeps.
#[test]
#[ignore = "privileged: needs root and namespaces"]
fn instant_sleep_only_where_asked() {
    let dir = tempfile::tempdir().unwrap();
    let root = host_tools_root(dir.path());
    let instant = Sandbox {
        instant_sleep: true,
        ..sandbox(&root)
    };
    let started = std::time::Instant::now();
    let outcome = instant
        .run(&["/bin/sh", "-c", "sleep 30 && sleep 30 && echo slept"])
        .unwrap();
    let took = started.elapsed();
    assert!(outcome.status.success(), "{:?}", outcome.status);
    assert!(String::from_utf8_lossy(&outcome.output).contains("slept"));
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");

    let started = std::time::Instant::now();
    let outcome = sandbox(&root).run(&["/bin/sh", "-c", "sleep 1"]).unwrap();
    assert!(outcome.status.success(), "{:?}", outcome.status);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "a sleep without instant_sleep sleeps"
    );
}

/// `debroot hook chroot --root DIR CMD` on a plain tree, as snapshots: CMD's output relayed,
/// exit 0; and when CMD fails, exit 8 naming its status (the one hook helper `cli` cannot run
/// without namespaces).
#[test]
#[ignore = "privileged: needs root and namespaces"]
fn hook_chroot_output_and_failure() {
    let dir = tempfile::tempdir().unwrap();
    let root = host_tools_root(dir.path());
    let root_arg = root.to_str().unwrap();
    let output = crate::common::debroot(
        dir.path(),
        &[
            "hook",
            "chroot",
            "--root",
            root_arg,
            "--",
            "/bin/sh",
            "-c",
            "echo out; hostname; id -u",
        ],
        &[],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        crate::common::stderr(&output)
    );
    crate::assert_cli!("hook_chroot", &output, &[dir.path()]);
    // What CMD writes to stderr is relayed too. Apart: stdout and stderr are two pipes, read as
    // they come, so their relative order is not fixed.
    let output = crate::common::debroot(
        dir.path(),
        &[
            "hook",
            "chroot",
            "--root",
            root_arg,
            "--",
            "/bin/sh",
            "-c",
            "echo err >&2",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(crate::common::stdout(&output), "err\n");
    let output = crate::common::debroot(
        dir.path(),
        &[
            "hook", "chroot", "--root", root_arg, "--", "/bin/sh", "-c", "exit 3",
        ],
        &[],
    );
    crate::assert_cli!("exit_8_hook_chroot_fails", &output, &[dir.path()]);
}
