//! What the CLI prints, as snapshots (`tests/it/snapshots/`): every subcommand's normal run on
//! the fixture archive, and one failure of every exit class (README "Exit codes"), each with
//! its exit code, stdout and stderr together. The other modules check what a run does (files,
//! caches, invariants); these check what it says.
//!
//! `common::snapshot` replaces what changes from run to run (the test's folders, the loopback
//! port, digests, times, durations); CONTRIBUTING.md says how to review a changed snapshot.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::assert_cli;
use crate::common;
use common::deb::{Member, Package};
use common::fixture::Fixture;
use common::repo;
use common::server::Fault;
use debroot::error::ExitClass;

const EPOCH: (&str, &str) = ("SOURCE_DATE_EPOCH", "1700000000");

fn packages() -> Vec<Package> {
    vec![
        Package::new("base-files", "13.8")
            .essential()
            .file("./etc/debian_version", "13.8\n"),
        Package::new("libc6", "2.41-12")
            .priority("required")
            .field("Multi-Arch", "same")
            .file("./usr/lib/libc.so.6", "libc\n"),
        Package::new("hello", "2.10-3")
            .depends("libc6 (>= 2.34)")
            .member(Member::file(
                "./usr/bin/hello",
                0o755,
                b"#!/bin/sh\necho hello\n",
            )),
        Package::new("vim", "2:9.1.1230-2").file("./usr/bin/vim", "vim\n"),
    ]
}

/// The fixture archive, a profile of minbase plus `hello`, and its lock.
fn fixture() -> Fixture {
    let fixture = Fixture::new(repo::trixie(packages()));
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"hello\"]\n",
    );
    fixture
}

/// Locked with `SOURCE_DATE_EPOCH`, so that locking downloads nothing (the packages' epoch is
/// read from the `.deb`s): the tests that follow see the first download.
fn locked() -> Fixture {
    let fixture = fixture();
    let lock = fixture.run(&["lock", "p.toml"], &[EPOCH]);
    assert_eq!(lock.status.code(), Some(0), "{}", common::stderr(&lock));
    fixture
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn pool(fixture: &Fixture, name: &str) -> String {
    let (_, pool, _) = fixture
        .written
        .debs
        .iter()
        .find(|(n, _, _)| n == name)
        .expect("package written");
    format!("/debian/{pool}")
}

/// Every exit class has a snapshot below (the README's table is checked by `cli_profile`).
#[test]
fn every_exit_class_has_a_snapshot_here() {
    let source = std::fs::read_to_string(common::repo_root().join("tests/it/cli.rs")).unwrap();
    for class in ExitClass::ALL {
        let name = format!("fn exit_{}_", class.code());
        assert!(
            source.contains(&name),
            "no `{name}...` test for {class:?} in tests/it/cli.rs"
        );
    }
}

// ----- Normal runs -----

#[test]
fn help() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::debroot(dir.path(), &["--help"], &[]);
    assert_cli!("help", &output, &[dir.path()]);
}

#[test]
fn version() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::debroot(dir.path(), &["--version"], &[]);
    assert_eq!(code(&output), 0);
    assert_cli!("version", &output, &[dir.path()]);
}

/// The suites load concurrently, and the fixture's two empty suites share one index: on a cold
/// cache, whether the second says `fetched` or `cached` is a race. On a warm cache every index
/// is `cached`, so the snapshots are of a second run.
fn indexed() -> Fixture {
    let fixture = fixture();
    let cold = fixture.run(&["index", "p.toml"], &[]);
    assert_eq!(code(&cold), 0, "{}", common::stderr(&cold));
    fixture
}

#[test]
fn index_text() {
    let fixture = indexed();
    let output = fixture.run(&["index", "p.toml"], &[]);
    assert_eq!(code(&output), 0);
    assert_cli!("index_text", &output, &[fixture.path()]);
}

#[test]
fn lock_text_check_and_print() {
    let fixture = fixture();
    let output = fixture.run(&["lock", "p.toml"], &[]);
    assert_eq!(code(&output), 0);
    assert_cli!("lock_text", &output, &[fixture.path()]);
    let output = fixture.run(&["lock", "p.toml", "--check"], &[]);
    assert_eq!(code(&output), 0);
    assert_cli!("lock_check_unchanged", &output, &[fixture.path()]);
    let output = fixture.run(&["lock", "p.toml", "--print"], &[]);
    assert_eq!(code(&output), 0);
    assert_cli!("lock_print", &output, &[fixture.path()]);
}

#[test]
fn index_json() {
    let fixture = indexed();
    let output = fixture.run(&["index", "p.toml", "--format", "json"], &[]);
    assert_eq!(code(&output), 0);
    assert_cli!("index_json", &output, &[fixture.path()]);
}

#[test]
fn lock_json_and_check_json() {
    let fixture = fixture();
    let output = fixture.run(&["lock", "p.toml", "--format", "json"], &[]);
    assert_eq!(code(&output), 0);
    assert_cli!("lock_json", &output, &[fixture.path()]);
    let output = fixture.run(&["lock", "p.toml", "--check", "--format", "json"], &[]);
    assert_eq!(code(&output), 0);
    assert_cli!("lock_check_json", &output, &[fixture.path()]);
}

#[test]
fn why_text() {
    let fixture = locked();
    let output = fixture.run(&["why", "p.toml", "libc6"], &[]);
    assert_eq!(code(&output), 0);
    assert_cli!("why_text", &output, &[fixture.path()]);
}

#[test]
fn why_json() {
    let fixture = locked();
    let output = fixture.run(&["why", "p.toml", "libc6", "--format", "json"], &[]);
    assert_eq!(code(&output), 0);
    assert_cli!("why_json", &output, &[fixture.path()]);
}

#[test]
fn fetch_text_then_cache_info_and_gc() {
    let fixture = locked();
    let output = fixture.run(&["fetch", "p.lock"], &[]);
    assert_eq!(code(&output), 0);
    assert_cli!("fetch_text", &output, &[fixture.path()]);
    let cache = fixture.path().join("cache");
    let cache = cache.to_str().unwrap();
    let output = common::debroot(
        fixture.path(),
        &["cache", "info", "--cache-dir", cache],
        &[],
    );
    assert_eq!(code(&output), 0);
    assert_cli!("cache_info", &output, &[fixture.path()]);
    // A lock of a smaller set: gc removes the packages only the first lock needed.
    std::fs::create_dir(fixture.path().join("small")).unwrap();
    std::fs::copy(
        fixture.path().join("keyring.gpg"),
        fixture.path().join("small/keyring.gpg"),
    )
    .unwrap();
    std::fs::write(
        fixture.path().join("small/p.toml"),
        fixture
            .read("p.toml")
            .replace("include = [\"hello\"]", "include = []"),
    )
    .unwrap();
    let lock = fixture.run(&["lock", "small/p.toml"], &[]);
    assert_eq!(code(&lock), 0, "{}", common::stderr(&lock));
    let output = common::debroot(
        fixture.path(),
        &[
            "cache",
            "gc",
            "--keep",
            "small/p.lock",
            "--cache-dir",
            cache,
        ],
        &[],
    );
    assert_eq!(code(&output), 0);
    assert_cli!("cache_gc", &output, &[fixture.path()]);
}

#[test]
fn build_text() {
    let fixture = locked();
    let output = fixture.run(
        &["build", "p.toml", "-o", "out.tar", "--mode", "extract"],
        &[EPOCH],
    );
    assert_eq!(code(&output), 0);
    assert_cli!("build_text", &output, &[fixture.path()]);
}

#[test]
fn profile_show() {
    let fixture = fixture();
    let output = common::debroot(fixture.path(), &["profile", "show", "p.toml"], &[]);
    assert_eq!(code(&output), 0);
    assert_cli!("profile_show", &output, &[fixture.path()]);
}

#[test]
fn verify_text() {
    let fixture = locked();
    let output = fixture.run(&["verify", "p.toml", "--modes", "extract"], &[EPOCH]);
    assert_eq!(code(&output), 0);
    assert_cli!("verify_text", &output, &[fixture.path()]);
}

#[test]
fn verify_json() {
    let fixture = locked();
    // The runs' outputs are in a work directory under TMPDIR: one of the test's.
    let tmp = fixture.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let output = fixture.run(
        &["verify", "p.toml", "--modes", "extract", "--format", "json"],
        &[EPOCH, ("TMPDIR", tmp.to_str().unwrap())],
    );
    assert_eq!(code(&output), 0);
    assert_cli!("verify_json", &output, &[fixture.path()]);
}

/// `verify --expect` with a digest the builds do not give: an `error:` naming both digests,
/// exit 1; the outputs are not kept without `--keep`.
#[test]
fn exit_1_verify_expect_other_sha256() {
    let fixture = locked();
    let tmp = fixture.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let wrong = "0123456789abcdef".repeat(4);
    let output = fixture.run(
        &["verify", "p.toml", "--modes", "extract", "--expect", &wrong],
        &[EPOCH, ("TMPDIR", tmp.to_str().unwrap())],
    );
    assert_eq!(code(&output), 1, "{}", common::stderr(&output));
    let err = common::stderr(&output);
    let built = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("Run 1 (extract, cold): sha256:"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("run 1's digest")
        .to_owned();
    assert!(
        err.contains(&format!(
            "error: the output is not the expected one: expected sha256:{wrong}, got sha256:{built}"
        )),
        "{err}"
    );
    assert!(!err.contains("warning: the output is not"), "{err}");
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "outputs removed"
    );
    assert_cli!("exit_1_verify_expect_sha256", &output, &[fixture.path()]);
}

/// `verify --expect OTHER.manifest.json` of another build: the error, and `debroot diff` of the
/// expected manifest against run 1's (the package that differs); `--keep` keeps the outputs;
/// the JSON report carries both digests and the diff's records.
#[test]
fn exit_1_verify_expect_manifest_of_another_build() {
    let fixture = locked();
    let tmp = fixture.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::write(
        fixture.path().join("other.toml"),
        repo::profile(
            "",
            "[packages]\nvariant = \"minbase\"\ninclude = [\"hello\", \"vim\"]\n",
        ),
    )
    .unwrap();
    let other = fixture.run(
        &[
            "build",
            "other.toml",
            "-o",
            "other.tar",
            "--mode",
            "extract",
        ],
        &[EPOCH],
    );
    assert_eq!(code(&other), 0, "{}", common::stderr(&other));
    let args = [
        "verify",
        "p.toml",
        "--modes",
        "extract",
        "--expect",
        "other.tar.manifest.json",
        "--keep",
    ];
    let env = [EPOCH, ("TMPDIR", tmp.to_str().unwrap())];
    let output = fixture.run(&args, &env);
    assert_eq!(code(&output), 1, "{}", common::stderr(&output));
    let out = common::stdout(&output);
    assert!(out.contains("vim"), "{out}");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1, "outputs kept");
    assert_cli!("exit_1_verify_expect_manifest", &output, &[fixture.path()]);
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let output = fixture.run(&json_args, &env);
    assert_eq!(code(&output), 1, "{}", common::stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&common::stdout(&output)).unwrap();
    assert_eq!(report["expected_matches"], false);
    assert_eq!(report["expected_from"], "other.tar.manifest.json");
    assert_eq!(report["got"].as_array().unwrap().len(), 1);
    assert_ne!(report["got"][0], report["expected"]);
    let records = report["expected_diff"].as_array().unwrap();
    assert!(
        records
            .iter()
            .any(|r| r["record"] == "package" && r["name"] == "vim" && r["change"] == "removed"),
        "{records:?}"
    );
}

/// Two trees for `diff`: `a` and `b` differ in one file's contents and one link's target;
/// every entry has the same mtime.
fn trees(dir: &Path) {
    for name in ["a", "b"] {
        std::fs::create_dir_all(dir.join(name).join("etc")).unwrap();
        std::fs::write(dir.join(name).join("etc/same"), "same\n").unwrap();
    }
    std::fs::write(dir.join("a/etc/motd"), "hello\nworld\n").unwrap();
    std::fs::write(dir.join("b/etc/motd"), "hello\nthere\n").unwrap();
    symlink("motd", dir.join("a/etc/link")).unwrap();
    symlink("same", dir.join("b/etc/link")).unwrap();
    for name in ["a", "b"] {
        crate::diff::set_times(&dir.join(name), 1_700_000_000, 0);
    }
}

#[test]
fn diff_equal() {
    let dir = tempfile::tempdir().unwrap();
    trees(dir.path());
    let output = common::debroot(dir.path(), &["diff", "a", "a"], &[]);
    assert_eq!(code(&output), 0);
    assert_cli!("diff_equal", &output, &[dir.path()]);
}

#[test]
fn diff_json() {
    let dir = tempfile::tempdir().unwrap();
    trees(dir.path());
    let output = common::debroot(dir.path(), &["diff", "a", "b", "--format", "json"], &[]);
    assert_eq!(code(&output), 1);
    assert_cli!("diff_json", &output, &[dir.path()]);
}

/// The hook helpers on a plain tree (`--root`): every one that needs no namespace (`chroot`
/// needs one: `privileged::hook_chroot_output_and_failure` snapshots it).
#[test]
fn hook_helpers() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let root = base.join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/hostname"), "kiosk\n").unwrap();
    std::fs::create_dir_all(base.join("host/conf")).unwrap();
    std::fs::write(base.join("host/conf/a"), "a\n").unwrap();
    let root_arg = root.to_str().unwrap();
    let mut transcript = String::new();
    for args in [
        &["copy-in", "host/conf/a", "/etc"][..],
        &["copy-out", "/etc/hostname", "host"],
        &["sync-in", "host/conf", "/etc/conf"],
        &["sync-out", "/etc", "host/etc"],
        &["tar-out", "/etc", "host/etc.tar.gz"],
        &["tar-in", "host/etc.tar.gz", "/restored"],
    ] {
        let mut all = vec!["hook", args[0], "--root", root_arg];
        all.extend_from_slice(&args[1..]);
        let output = common::debroot(base, &all, &[]);
        assert_eq!(code(&output), 0, "{args:?}: {}", common::stderr(&output));
        transcript.push_str(&format!(
            "$ debroot hook {}\n{}\n",
            args.join(" "),
            common::snapshot::render(&output)
        ));
    }
    assert_eq!(
        std::fs::read_to_string(root.join("restored/conf/a")).unwrap(),
        "a\n"
    );
    common::snapshot::settings(&[base]).bind(|| {
        insta::assert_snapshot!("hook_helpers", transcript);
    });
}

// ----- One failure of every exit class -----

#[test]
fn exit_1_diff_finds_differences() {
    let dir = tempfile::tempdir().unwrap();
    trees(dir.path());
    let output = common::debroot(dir.path(), &["diff", "a", "b"], &[]);
    assert_cli!("exit_1_diff_text", &output, &[dir.path()]);
}

#[test]
fn exit_1_lock_check_would_change() {
    let fixture = locked();
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"hello\", \"vim\"]\n",
    );
    let output = fixture.run(&["lock", "p.toml", "--check"], &[]);
    assert_cli!("exit_1_lock_check", &output, &[fixture.path()]);
    // The same change as JSON: the package added, exit 1, the lock untouched.
    let output = fixture.run(&["lock", "p.toml", "--check", "--format", "json"], &[]);
    assert_eq!(code(&output), 1);
    assert_cli!("exit_1_lock_check_json", &output, &[fixture.path()]);
}

#[test]
fn exit_2_usage() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::debroot(dir.path(), &["build", "--no-such-flag"], &[]);
    assert_cli!("exit_2_unknown_flag", &output, &[dir.path()]);
    std::fs::write(
        dir.path().join("broken.toml"),
        "[packages]\nvariant = \"minbase\"\npakages = []\n",
    )
    .unwrap();
    let output = common::debroot(dir.path(), &["profile", "show", "broken.toml"], &[]);
    assert_cli!("exit_2_profile_unknown_key", &output, &[dir.path()]);
}

#[test]
fn exit_3_resolution() {
    let fixture = fixture();
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"no-such-package\"]\n",
    );
    let output = fixture.run(&["lock", "p.toml"], &[]);
    assert_cli!("exit_3_unknown_package", &output, &[fixture.path()]);
}

#[test]
fn exit_3_missing_suite() {
    let fixture = fixture();
    fixture.write_profile("", "");
    let profile = fixture.read("p.toml").replace("\"trixie\"", "\"trixe\"");
    std::fs::write(fixture.path().join("p.toml"), profile).unwrap();
    let output = fixture.run(&["index", "p.toml"], &[]);
    assert_cli!("exit_3_missing_suite", &output, &[fixture.path()]);
}

#[test]
fn exit_4_trust() {
    let fixture = fixture();
    fixture.edit_inrelease("trixie", |text| {
        text.replace("Description: debroot fixture", "Description: altered")
    });
    let output = fixture.run(&["index", "p.toml"], &[]);
    assert_cli!("exit_4_altered_inrelease", &output, &[fixture.path()]);
}

#[test]
fn exit_5_integrity() {
    let fixture = locked();
    let path = pool(&fixture, "hello");
    let size = fixture
        .written
        .debs
        .iter()
        .find(|(n, _, _)| n == "hello")
        .unwrap()
        .2
        .len();
    fixture.server.fault(
        &path,
        Fault::Replace {
            body: vec![b'x'; size],
        },
    );
    let output = fixture.run(&["fetch", "p.lock", "--retries", "0"], &[]);
    assert_cli!("exit_5_wrong_bytes", &output, &[fixture.path()]);
}

#[test]
fn exit_6_network() {
    let fixture = locked();
    let path = pool(&fixture, "hello");
    fixture.server.fault(
        &path,
        Fault::Status {
            code: 503,
            retry_after: None,
            times: 100,
        },
    );
    let output = fixture.run(&["fetch", "p.lock", "--retries", "0"], &[]);
    assert_cli!("exit_6_server_error", &output, &[fixture.path()]);
}

#[test]
fn exit_7_archive() {
    let fixture = Fixture::new(repo::trixie(vec![
        Package::new("base-files", "13.8")
            .essential()
            .file("./etc/debian_version", "13.8\n"),
        Package::new("evil", "1.0").member(Member::file("./../escape", 0o644, b"x\n")),
    ]));
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"evil\"]\n",
    );
    let output = fixture.run(
        &["build", "p.toml", "-o", "out.tar", "--mode", "extract"],
        &[EPOCH],
    );
    assert_cli!("exit_7_member_climbs_out", &output, &[fixture.path()]);
}

#[test]
fn exit_8_hook_helper_fails() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let root = base.join("root");
    std::fs::create_dir_all(root.join("x/d")).unwrap();
    std::fs::create_dir_all(base.join("out")).unwrap();
    std::fs::write(base.join("out/d"), "keep\n").unwrap();
    let output = common::debroot(
        base,
        &[
            "hook",
            "sync-out",
            "--root",
            root.to_str().unwrap(),
            "/x",
            "out",
        ],
        &[],
    );
    assert_cli!("exit_8_sync_out_over_a_file", &output, &[base]);
}

/// A hook that runs apt-get fails (the image has no apt sources, hooks have no network): the
/// hint says to add the package to `packages.include`. apt is faked by the hook: it prints
/// apt-get's own message and exits 100, as `chroot "$1" apt-get install -y less` does.
#[test]
fn exit_8_hook_runs_apt_get() {
    let fixture = locked();
    // (One stream: the order of lines between stdout and stderr is not the test's subject.)
    let hook = "{ echo 'Reading package lists...'; echo \"E: Package 'less' has no installation candidate\"; } >&2; exit 100";
    let output = fixture.run(
        &[
            "build",
            "p.toml",
            "-o",
            "out.tar",
            "--mode",
            "extract",
            "--customize-hook",
            hook,
        ],
        &[EPOCH],
    );
    assert_eq!(code(&output), 8, "{}", common::stderr(&output));
    assert_cli!("exit_8_hook_runs_apt_get", &output, &[fixture.path()]);
    assert!(!fixture.path().join("out.tar").exists());
}

#[test]
fn exit_9_output() {
    let fixture = locked();
    std::fs::write(fixture.path().join("a-file"), "").unwrap();
    let output = fixture.run(
        &[
            "build",
            "p.toml",
            "-o",
            "a-file/out.tar",
            "--mode",
            "extract",
        ],
        &[EPOCH],
    );
    assert_cli!("exit_9_output_under_a_file", &output, &[fixture.path()]);
}

/// SIGINT while a build downloads: the build's handler cleans up and exits 130.
#[test]
fn exit_130_interrupted() {
    let fixture = locked();
    let path = pool(&fixture, "hello");
    fixture.server.fault(
        &path,
        Fault::Drip {
            interval: Duration::from_secs(5),
        },
    );
    fixture.server.clear_log();
    let mirror = fixture.mirror();
    let cache = fixture.path().join("cache");
    let child = Command::new(env!("CARGO_BIN_EXE_debroot"))
        .args([
            "build",
            "p.toml",
            "-o",
            "out.tar",
            "--mode",
            "extract",
            "--mirror",
            &mirror,
            "--cache-dir",
            cache.to_str().unwrap(),
        ])
        .current_dir(fixture.path())
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env(EPOCH.0, EPOCH.1)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !fixture.server.requests().contains(&path) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the download never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_cli!("exit_130_sigint_during_build", &output, &[fixture.path()]);
    let left: Vec<_> = std::fs::read_dir(fixture.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("out.tar"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
