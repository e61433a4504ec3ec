//! `packages.path-exclude` / `path-include` on the fixture archive in extract mode (no
//! privilege): filtered members are not written (dpkg's rules: last match wins, directories
//! and symlinks kept under an include's literal prefix), the filters land in
//! `/etc/dpkg/dpkg.cfg.d/99debroot` and in the manifest, and the output is reproducible. The
//! root-mode build, its dpkg database and `dpkg --verify` are in `privileged_paths`.

use crate::common;

use common::deb::{Member, Package};
use common::fixture::Fixture;
use common::{repo, stderr, tree};

pub const FILTERS: &str = "path-exclude = [\"/usr/share/doc/*\", \"/usr/share/man/*\", \"/usr/share/locale/*\"]\npath-include = [\"/usr/share/doc/*/copyright\"]\n";

/// What the filters in [`FILTERS`] leave out of [`docs_package`] (files, directories, symlinks):
/// the README, the man page, its symlink and its section directory, the catalog and its two
/// directories. The symlink under `/usr/share/doc` stays (the include's prefix keeps it).
pub const FILTERED: [&str; 7] = [
    "usr/share/doc/t-docs/README",
    "usr/share/man/man1",
    "usr/share/man/man1/t-docs.1.gz",
    "usr/share/man/man1/t-docs-alias.1.gz",
    "usr/share/locale/de",
    "usr/share/locale/de/LC_MESSAGES",
    "usr/share/locale/de/LC_MESSAGES/t-docs.mo",
];

/// A package with documentation, a man page, a message catalog and a program.
pub fn docs_package() -> Package {
    Package::new("t-docs", "1.0")
        .member(Member::file("./usr/bin/t-docs", 0o755, b"#!/bin/sh\n"))
        .file("./usr/share/doc/t-docs/README", "read me\n")
        .file("./usr/share/doc/t-docs/copyright", "free\n")
        .member(Member::symlink(
            "./usr/share/doc/t-docs/changelog.gz",
            "../../../bin/t-docs",
        ))
        .file("./usr/share/man/man1/t-docs.1.gz", "man\n")
        .member(Member::symlink(
            "./usr/share/man/man1/t-docs-alias.1.gz",
            "t-docs.1.gz",
        ))
        .file("./usr/share/locale/de/LC_MESSAGES/t-docs.mo", "mo\n")
}

fn fixture() -> Fixture {
    let fixture = Fixture::new(repo::trixie(vec![
        Package::new("base-files", "13.8")
            .essential()
            .file("./etc/debian_version", "13.8\n")
            .file("./usr/share/doc/base-files/README", "base\n")
            .file("./usr/share/doc/base-files/copyright", "base copyright\n"),
        docs_package(),
    ]));
    fixture.write_profile(
        "",
        &format!("[packages]\nvariant = \"minbase\"\ninclude = [\"t-docs\"]\n{FILTERS}"),
    );
    fixture
}

fn build(fixture: &Fixture, output: &str) -> std::process::Output {
    fixture.run(
        &["build", "p.toml", "-o", output, "--mode", "extract"],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    )
}

#[test]
fn filtered_members_are_not_written_and_the_filters_are_recorded() {
    let fixture = fixture();
    let out = build(&fixture, "a.tar");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Filtered 8 package paths left out by `packages.path-exclude`"),
        "{}",
        stderr(&out)
    );
    let entries = tree::read_tar(&fixture.path().join("a.tar"));
    let has = |path: &str| entries.contains_key(path.as_bytes());
    for path in FILTERED {
        assert!(!has(path), "`{path}` was filtered out");
    }
    assert!(!has("usr/share/doc/base-files/README"));
    for kept in [
        "usr/bin/t-docs",
        "usr/share/doc/t-docs/copyright",
        "usr/share/doc/base-files/copyright",
        // Directories: excluded by `/usr/share/doc/*`, kept under the include's prefix.
        "usr/share/doc/t-docs",
        // A symlink, kept the same way.
        "usr/share/doc/t-docs/changelog.gz",
        // Not matched: `/usr/share/man/*` does not match `/usr/share/man`.
        "usr/share/man",
        "usr/share/locale",
        "etc/debian_version",
    ] {
        assert!(has(kept), "`{kept}` is kept");
    }
    let config = &entries[&b"etc/dpkg/dpkg.cfg.d/99debroot"[..]];
    assert_eq!((config.kind, config.mode, config.uid), ('f', 0o644, 0));
    let mut tar = tar::Archive::new(std::fs::File::open(fixture.path().join("a.tar")).unwrap());
    let text = tar
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.path().unwrap().ends_with("99debroot"))
        .map(|mut e| {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            s
        })
        .unwrap();
    assert!(
        text.ends_with("path-exclude=/usr/share/doc/*\npath-exclude=/usr/share/man/*\npath-exclude=/usr/share/locale/*\npath-include=/usr/share/doc/*/copyright\n"),
        "{text}"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&fixture.read("a.tar.manifest.json")).unwrap();
    assert_eq!(
        manifest["path_filters"],
        serde_json::json!({
            "rules": [
                { "path-exclude": "/usr/share/doc/*" },
                { "path-exclude": "/usr/share/man/*" },
                { "path-exclude": "/usr/share/locale/*" },
                { "path-include": "/usr/share/doc/*/copyright" },
            ],
            "filtered_paths": 8,
        })
    );

    // Reproducible: a second build is the same bytes.
    let again = build(&fixture, "b.tar");
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let a = std::fs::read(fixture.path().join("a.tar")).unwrap();
    assert_eq!(a, std::fs::read(fixture.path().join("b.tar")).unwrap());

    // Without privilege (extract mode as `nobody`, when the tests run as root): the same bytes.
    if rustix::process::geteuid().is_root() {
        let shared = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            shared.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        for file in ["p.toml", "p.lock", "keyring.gpg"] {
            std::fs::copy(fixture.path().join(file), shared.path().join(file)).unwrap();
        }
        let output = shared.path().join("user.tar");
        let run = std::process::Command::new("runuser")
            .args(["-u", "nobody", "--", env!("CARGO_BIN_EXE_debroot"), "build"])
            .args(["p.toml", "--frozen", "--mode", "extract", "--mirror"])
            .arg(fixture.mirror())
            .arg("-o")
            .arg(&output)
            .arg("--cache-dir")
            .arg(shared.path().join("cache"))
            .current_dir(shared.path())
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0), "as nobody: {}", stderr(&run));
        assert!(
            std::fs::read(&output).unwrap() == a,
            "built as nobody, the tarball differs"
        );
    }
}

#[test]
fn a_build_without_filters_has_no_trace_of_them() {
    let fixture = fixture();
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"t-docs\"]\n",
    );
    let out = build(&fixture, "a.tar");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Filtered"));
    let entries = tree::read_tar(&fixture.path().join("a.tar"));
    assert!(entries.contains_key(&b"usr/share/doc/t-docs/README"[..]));
    assert!(!entries.contains_key(&b"etc/dpkg/dpkg.cfg.d/99debroot"[..]));
    let manifest: serde_json::Value =
        serde_json::from_str(&fixture.read("a.tar.manifest.json")).unwrap();
    assert!(manifest.get("path_filters").is_none());
}

#[test]
fn a_pattern_that_is_not_absolute_is_a_usage_error_at_its_place() {
    let fixture = fixture();
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\npath-exclude = [\"usr/share/doc/*\"]\n",
    );
    let out = build(&fixture, "a.tar");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("p.toml:")
            && text.contains("`packages.path-exclude`: `usr/share/doc/*` must start with `/`"),
        "{text}"
    );
    assert!(!fixture.path().join("a.tar").exists());
}
