//! `debroot profile show` and profile errors, through the real binary: exit codes, messages
//! naming `file:line:column` and the key, nothing on stdout when it fails.

mod common;

use std::path::Path;

use common::{debroot, stderr, stdout};

fn write(dir: &Path, name: &str, text: &[u8]) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Runs `profile show NAME` in `dir` and returns (exit code, stdout, stderr).
fn show(dir: &Path, name: &str) -> (i32, String, String) {
    let output = debroot(dir, &["profile", "show", name], &[]);
    (
        output.status.code().unwrap_or(-1),
        stdout(&output),
        stderr(&output),
    )
}

#[test]
fn shows_the_shipped_minbase_profile() {
    let root = common::repo_root();
    let (code, out, err) = show(&root, "profiles/minbase.toml");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("suite = \"trixie\""), "{out}");
    assert!(out.contains("variant = \"minbase\""), "{out}");
    assert!(out.contains("mirror = \"host\""), "{out}");
    // What is shown is itself a profile that loads.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "shown.toml", out.as_bytes());
    let (code, again, err) = show(dir.path(), "shown.toml");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        again.lines().skip(3).collect::<Vec<_>>(),
        out.lines().skip(3).collect::<Vec<_>>()
    );
}

#[test]
fn extends_merges_relative_to_the_profile_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write(
        dir.path(),
        "sub/kiosk.toml",
        b"extends = \"../base.toml\"\n[packages]\ninclude = [\"sway\"]\n",
    );
    write(
        dir.path(),
        "base.toml",
        b"[source]\nsuite = \"trixie\"\n[packages]\ninclude = [\"systemd-sysv\"]\n",
    );
    let (code, out, err) = show(dir.path(), "sub/kiosk.toml");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("include = [\n    \"systemd-sysv\",\n    \"sway\",\n]")
            || out.contains("include = [\"systemd-sysv\", \"sway\"]"),
        "{out}"
    );
}

#[test]
fn profile_errors_exit_2_naming_file_line_column_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = d.to_str().unwrap();
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "unknown.toml",
            b"[source]\nsuite = \"trixie\"\n[packages]\npakages = [\"vim\"]\n".to_vec(),
            format!("error: {base}/unknown.toml:4:1: `packages.pakages`: unknown field `pakages`"),
        ),
        (
            "type.toml",
            b"[source]\nsuite = \"trixie\"\nupdates = \"yes\"\n".to_vec(),
            format!(
                "error: {base}/type.toml:3:11: `source.updates`: invalid type: string \"yes\", expected a boolean"
            ),
        ),
        (
            "syntax.toml",
            b"[source]\nsuite = \"trixie\n".to_vec(),
            format!("error: {base}/syntax.toml:2:"),
        ),
        (
            "duplicate.toml",
            b"[source]\nsuite = \"a\"\nsuite = \"b\"\n".to_vec(),
            format!("error: {base}/duplicate.toml:3:1: duplicate key"),
        ),
        (
            "utf8.toml",
            b"[source]\nsuite = \"\xff\"\n".to_vec(),
            format!("error: {base}/utf8.toml:2:10: profile is not valid UTF-8"),
        ),
        (
            "cycle-a.toml",
            b"extends = \"cycle-b.toml\"\n".to_vec(),
            format!(
                "error: {base}/cycle-b.toml:1:11: `extends`: cycle `{base}/cycle-a.toml` -> `{base}/cycle-b.toml` -> `{base}/cycle-a.toml`"
            ),
        ),
        (
            "value.toml",
            b"[source]\nsuite = \"trixie\"\narchitectures = [\"amd64;rm -rf /\"]\n".to_vec(),
            format!(
                "error: {base}/value.toml:3:18: `source.architectures`: invalid architecture `amd64;rm -rf /`"
            ),
        ),
        (
            "snapshot.toml",
            b"[source]\nsuite = \"trixie\"\nsnapshot = \"2024-13-45\"\n".to_vec(),
            format!(
                "error: {base}/snapshot.toml:3:12: `source.snapshot`: invalid snapshot timestamp"
            ),
        ),
        (
            "future.toml",
            b"[source]\nsuite = \"trixie\"\nsnapshot = \"29991231T000000Z\"\n".to_vec(),
            format!(
                "error: {base}/future.toml:3:12: `source.snapshot`: snapshot `29991231T000000Z` is in the future"
            ),
        ),
        (
            "missing-base.toml",
            b"extends = \"nowhere.toml\"\n".to_vec(),
            format!("error: cannot read profile `{base}/nowhere.toml`"),
        ),
        (
            "empty.toml",
            b"".to_vec(),
            format!("error: `{base}/empty.toml`: `source.suite` is required"),
        ),
    ];
    write(d, "cycle-b.toml", b"extends = \"cycle-a.toml\"\n");
    for (name, text, expected) in cases {
        write(d, name, &text);
        let (code, out, err) = show(d, name);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(out.is_empty(), "{name}: stdout must stay empty, got {out}");
        assert!(
            err.starts_with(&expected),
            "{name}:\n got: {err}\nwant: {expected}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
}

#[test]
fn oversized_and_absent_profiles() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "big.toml", &vec![b'#'; 2 << 20]);
    let (code, _, err) = show(dir.path(), "big.toml");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is larger than 1048576 bytes"), "{err}");
    let (code, _, err) = show(dir.path(), "absent.toml");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read profile"), "{err}");
    assert!(
        err.contains("caused by: No such file or directory"),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let output = debroot(dir.path(), &["no-such-command"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let output = debroot(dir.path(), &["--help"], &[]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("profile"));
    let output = debroot(dir.path(), &["--version"], &[]);
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let output = debroot(
        dir.path(),
        &["--color", "always", "profile", "show", "x.toml"],
        &[],
    );
    assert!(stderr(&output).contains("\x1b["), "{}", stderr(&output));
    let output = debroot(
        dir.path(),
        &["--color", "never", "profile", "show", "x.toml"],
        &[],
    );
    assert!(!stderr(&output).contains("\x1b["));
    // Off a terminal `auto` never colours; NO_COLOR is honoured even when it would.
    let output = debroot(
        dir.path(),
        &["profile", "show", "x.toml"],
        &[("NO_COLOR", "1")],
    );
    assert!(!stderr(&output).contains("\x1b["));
}

#[test]
fn readme_exit_code_table_matches_the_code() {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    for class in debroot::error::ExitClass::ALL {
        let row = format!("| {} | {} |", class.code(), class.meaning());
        assert!(readme.contains(&row), "README lacks the row `{row}`");
    }
}

/// Every difference from mmdebstrap the live build test accepts is documented in the README's
/// "Differences from mmdebstrap" table.
#[test]
fn readme_documents_every_accepted_difference_from_mmdebstrap() {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    let section = readme
        .split("### Differences from mmdebstrap")
        .nth(1)
        .expect("README has a `Differences from mmdebstrap` section");
    let section = section.split("\n#").next().unwrap_or(section);
    for (path, _) in common::tree::MMDEBSTRAP_DIFFERENCES {
        assert!(
            section.contains(&format!("`{path}`")),
            "README does not document `{path}`"
        );
    }
}
