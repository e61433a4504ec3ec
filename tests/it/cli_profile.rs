//! `debroot profile show` and profile errors, through the real binary: exit codes, messages
//! naming `file:line:column` and the key, nothing on stdout when it fails.

use crate::common;

use std::path::Path;

use crate::assert_cli;
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
    let output = debroot(&root, &["profile", "show", "profiles/minbase.toml"], &[]);
    // The whole profile as shown (suite trixie, variant minbase, mirror host, the defaults).
    assert_cli!("shows_the_shipped_minbase_profile", &output, &[&root]);
    let (code, out, err) = show(&root, "profiles/minbase.toml");
    assert_eq!(code, 0, "{err}");
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
    // Each message names `file:line:column` and the key (the snapshots hold them whole).
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "unknown.toml",
            b"[source]\nsuite = \"trixie\"\n[packages]\npakages = [\"vim\"]\n".to_vec(),
        ),
        (
            "type.toml",
            b"[source]\nsuite = \"trixie\"\nupdates = \"yes\"\n".to_vec(),
        ),
        ("syntax.toml", b"[source]\nsuite = \"trixie\n".to_vec()),
        (
            "duplicate.toml",
            b"[source]\nsuite = \"a\"\nsuite = \"b\"\n".to_vec(),
        ),
        ("utf8.toml", b"[source]\nsuite = \"\xff\"\n".to_vec()),
        ("cycle-a.toml", b"extends = \"cycle-b.toml\"\n".to_vec()),
        (
            "value.toml",
            b"[source]\nsuite = \"trixie\"\narchitectures = [\"amd64;rm -rf /\"]\n".to_vec(),
        ),
        (
            "snapshot.toml",
            b"[source]\nsuite = \"trixie\"\nsnapshot = \"2024-13-45\"\n".to_vec(),
        ),
        (
            "future.toml",
            b"[source]\nsuite = \"trixie\"\nsnapshot = \"29991231T000000Z\"\n".to_vec(),
        ),
        (
            "missing-base.toml",
            b"extends = \"nowhere.toml\"\n".to_vec(),
        ),
        ("empty.toml", b"".to_vec()),
        // Every error of a file at once, in file order, "did you mean" for misspelt keys.
        (
            "many.toml",
            b"[sourse]\nsuite = \"trixie\"\n[packages]\ninclde = [\"vim\"]\nvariant = \"tiny\"\n[build]\nhook-timeout = \"10\"\n".to_vec(),
        ),
    ];
    write(d, "cycle-b.toml", b"extends = \"cycle-a.toml\"\n");
    for (name, text) in cases {
        write(d, name, &text);
        let output = debroot(d, &["profile", "show", name], &[]);
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        // Exit 2, nothing on stdout, and the whole message: `error: FILE:LINE:COLUMN: `KEY`:
        // ...`, and its `caused by:` and `hint:` lines.
        assert_cli!(&format!("profile_error_{name}"), &output, &[d]);
    }
}

#[test]
fn oversized_and_absent_profiles() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "big.toml", &vec![b'#'; 2 << 20]);
    for name in ["big.toml", "absent.toml"] {
        let output = debroot(dir.path(), &["profile", "show", name], &[]);
        // Exit 2, nothing on stdout; "is larger than 1048576 bytes"; "cannot read profile",
        // "caused by: No such file or directory" and a hint.
        assert_cli!(&format!("profile_error_{name}"), &output, &[dir.path()]);
    }
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let output = debroot(dir.path(), &["no-such-command"], &[]);
    assert_cli!("usage_error_no_such_command", &output, &[dir.path()]);
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

// --- Gaps of the corpus (tests/THREATS-COVERAGE.md) ------------------------------------------

/// A fixture archive to count requests against, and the arguments of a build of `profile` in
/// its folder.
fn build_args(fixture: &common::fixture::Fixture, profile: &str) -> Vec<String> {
    vec![
        "build".into(),
        profile.into(),
        "-o".into(),
        "out".into(),
        "--mode".into(),
        "extract".into(),
        "--mirror".into(),
        fixture.mirror(),
        "--cache-dir".into(),
        fixture.path().join("cache").to_str().unwrap().into(),
    ]
}

/// What a refused build left in its folder besides the test's files: nothing (no output, no
/// work directory, no lock, no cache).
fn left_by_build(dir: &Path, before: &[String]) -> Vec<String> {
    let mut left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !before.contains(name))
        .collect();
    left.sort();
    left
}

fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// docs/THREATS.md F1 through `debroot build`: an unclosed string, a duplicate key, invalid UTF-8
/// and an oversized file exit 2 naming `file:line:column` (the size: the file and the limit), with
/// no request to the mirror and nothing written (no work directory, no lock, no output).
#[test]
fn f1_malformed_profiles_stop_a_build_before_the_network() {
    let fixture = common::fixture::Fixture::new(common::repo::trixie(vec![]));
    let base = fixture.path().to_str().unwrap().to_owned();
    let mut oversized = b"[source]\nsuite = \"trixie\"\n".to_vec();
    oversized.resize(100 << 20, b'#');
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "unclosed.toml",
            b"[source]\nsuite = \"trixie\n".to_vec(),
            format!("{base}/unclosed.toml:2:"),
        ),
        (
            "duplicate.toml",
            b"[source]\nsuite = \"trixie\"\nsuite = \"trixie\"\n".to_vec(),
            format!("{base}/duplicate.toml:3:1: duplicate key"),
        ),
        (
            "utf8.toml",
            b"[source]\nsuite = \"trixie\"\n# \xc3\x28\n".to_vec(),
            format!("{base}/utf8.toml:3:3: profile is not valid UTF-8"),
        ),
        (
            "big.toml",
            oversized,
            format!("{base}/big.toml` is larger than 1048576 bytes"),
        ),
    ];
    for (name, text, expected) in cases {
        write(fixture.path(), name, &text);
        let before = names_in(fixture.path());
        let args = build_args(&fixture, name);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = debroot(fixture.path(), &args, &[]);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.matches("error:").count(), 1, "{name}: {err}");
        assert!(
            err.contains(&expected),
            "{name}:\n got: {err}\nwant: {expected}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(
            fixture.server.requests().is_empty(),
            "{name}: no network: {:?}",
            fixture.server.requests()
        );
        assert_eq!(
            left_by_build(fixture.path(), &before),
            Vec::<String>::new(),
            "{name}"
        );
    }
}

/// docs/THREATS.md F2: wrong types at each level (`packages = "vim"`, `include = "vim"`), an
/// unknown key, an unknown mode and an unknown output format exit 2 naming the key path and what
/// was expected, in TOML's words rather than the program's.
#[test]
fn f2_schema_violations_name_the_key_and_the_expected_type() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = d.to_str().unwrap();
    let cases: Vec<(&str, &[u8], Vec<String>)> = vec![
        (
            "table.toml",
            b"packages = \"vim\"\n[source]\nsuite = \"trixie\"\n",
            vec![format!(
                "{base}/table.toml:1:12: `packages`: invalid type: string \"vim\", expected a table"
            )],
        ),
        (
            "list.toml",
            b"[source]\nsuite = \"trixie\"\n[packages]\ninclude = \"vim\"\n",
            vec![format!(
                "{base}/list.toml:4:11: `packages.include`: invalid type: string \"vim\", expected an array of strings"
            )],
        ),
        (
            "nested.toml",
            b"[source]\nsuite = \"trixie\"\n[build.env]\nX = 1\n",
            vec![format!(
                "{base}/nested.toml:4:5: `build.env.X`: invalid type: integer `1`, expected a string"
            )],
        ),
        (
            "source.toml",
            b"source = []\n",
            // (serde reads a struct from a sequence too: "invalid length 0".)
            vec![
                format!("{base}/source.toml:1:10: `source`: "),
                "expected a table".to_owned(),
            ],
        ),
        (
            "mode.toml",
            b"[source]\nsuite = \"trixie\"\n[build]\nmode = \"chroot\"\n",
            vec![
                format!("{base}/mode.toml:4:8: `build.mode`: unknown mode `chroot`"),
                "`root`, `unshare`, `extract`".to_owned(),
            ],
        ),
        (
            "format.toml",
            b"[source]\nsuite = \"trixie\"\n[output]\nformat = \"ext2\"\n",
            vec![format!(
                "{base}/format.toml:4:10: `output.format`: unknown format `ext2`"
            )],
        ),
    ];
    for (name, text, expected) in cases {
        write(d, name, text);
        let (code, out, err) = show(d, name);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(out.is_empty(), "{name}: {out}");
        for needle in &expected {
            assert!(
                err.contains(needle.as_str()),
                "{name}:\n got: {err}\nwant: {needle}"
            );
        }
        assert!(
            !err.contains("Raw"),
            "{name}: a type of the program's in: {err}"
        );
    }
}

/// docs/THREATS.md F5: shell metacharacters and traversal in values (a package name `$(touch ...)`,
/// `foo/../../bar`, an architecture `amd64;touch ...`, a suite with a space), a snapshot that
/// is no date or is in the future given on the command line, and a mirror with credentials in
/// the profile: exit 2 quoting the value; the marker file is never created (no shell runs any
/// value) and nothing reaches the network.
#[test]
fn f5_hostile_values_are_quoted_and_never_run() {
    let fixture = common::fixture::Fixture::new(common::repo::trixie(vec![]));
    let marker = fixture.path().join("pwned");
    let touch = format!("$(touch {})", marker.display());
    let profile = |source: &str, packages: &str| {
        format!(
            "[source]\nsuite = \"trixie\"\nkeyring = \"keyring.gpg\"\n{source}\n[packages]\nvariant = \"minbase\"\n{packages}\n"
        )
    };
    let cases: Vec<(String, Vec<&str>, String)> = vec![
        (
            profile("", &format!("include = [\"{touch}\"]")),
            vec![],
            format!("invalid package name `{touch}`"),
        ),
        (
            profile("", "include = [\"foo/../../bar\"]"),
            vec![],
            "invalid package name `foo/../../bar`".to_owned(),
        ),
        (
            profile(
                &format!("architectures = [\"amd64;touch {}\"]", marker.display()),
                "",
            ),
            vec![],
            format!("invalid architecture `amd64;touch {}`", marker.display()),
        ),
        (
            profile("", "").replace("suite = \"trixie\"", "suite = \"trixie; touch pwned\""),
            vec![],
            "invalid suite `trixie; touch pwned`".to_owned(),
        ),
        (
            profile("mirror = \"http://user:secret@127.0.0.1:9/debian\"", ""),
            vec![],
            "credentials do not belong in a profile".to_owned(),
        ),
        (
            profile("", ""),
            vec!["--snapshot", "2024-13-45"],
            "2024-13-45".to_owned(),
        ),
        (
            profile("", ""),
            vec!["--snapshot", "29991231T000000Z"],
            "29991231T000000Z".to_owned(),
        ),
    ];
    for (text, extra, needle) in cases {
        write(fixture.path(), "f5.toml", text.as_bytes());
        let mut args = build_args(&fixture, "f5.toml");
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = debroot(fixture.path(), &args, &[]);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{needle}: {err}");
        assert_eq!(err.matches("error:").count(), 1, "{needle}: {err}");
        assert!(err.contains(&needle), "{needle:?} in: {err}");
        assert!(!err.contains("secret"), "the password is not echoed: {err}");
        assert!(!marker.exists(), "a value ran as a command");
        assert!(
            fixture.server.requests().is_empty(),
            "{needle}: no network: {:?}",
            fixture.server.requests()
        );
        assert!(!fixture.path().join("out").exists());
    }
}

/// docs/THREATS.md F2: relative paths (`keyring`, `build.hooks`, `..` included) resolve from the
/// folder of the file that writes them, not the working directory; a hook phase that does not exist
/// (`--prepare-hook`) is a usage error (exit 2) naming it.
#[test]
fn f2_relative_paths_resolve_from_their_file_and_unknown_phases_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("profiles/sub")).unwrap();
    write(
        dir.path(),
        "profiles/sub/p.toml",
        b"extends = \"../base.toml\"\n[source]\nkeyring = \"../../keys/../keys/k.gpg\"\n",
    );
    write(
        dir.path(),
        "profiles/base.toml",
        b"[source]\nsuite = \"trixie\"\nkeyring = \"base.gpg\"\n[build]\nhooks = [\"hooks/../hooks\"]\n",
    );
    let (code, out, err) = show(dir.path(), "profiles/sub/p.toml");
    assert_eq!(code, 0, "{err}");
    let base = dir.path().to_str().unwrap();
    assert!(
        out.contains(&format!("keyring = \"{base}/keys/k.gpg\"")),
        "{out}"
    );
    assert!(
        out.contains(&format!("hooks = [\"{base}/profiles/hooks\"]")),
        "{out}"
    );
    let output = debroot(
        dir.path(),
        &[
            "build",
            "profiles/sub/p.toml",
            "-o",
            "out",
            "--prepare-hook",
            "true",
        ],
        &[],
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("--prepare-hook"), "{err}");
    assert!(!dir.path().join("out").exists());
}
