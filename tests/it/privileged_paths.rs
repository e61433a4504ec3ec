//! `packages.path-exclude` / `path-include` in root mode, against dpkg itself: the fixture's
//! Essential base (the host's own dpkg, `common::hostbase`) plus a package with documentation,
//! man pages, a catalog and a conffile, built by debroot with filters; then the same package
//! installed by dpkg (`dpkg -i`, reading the filters from the `99debroot` file debroot wrote)
//! into a base debroot built with the same filters. The two trees hold the same paths; the
//! root debroot built passes `dpkg --verify` with nothing to say, where dpkg's own install
//! reports every filtered path `missing` (dpkg keeps them in its `.list`).
//!
//! Needs root (chroot, namespaces, chown); `bash tests/run` runs it as root.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::deb::Package;
use common::fixture::Fixture;
use common::{hostbase, repo, stderr};

use super::path_filters::{FILTERED, FILTERS, docs_package};

const EPOCH: &str = "1700000000";

fn package() -> Package {
    let mut package = docs_package().file("./etc/t-docs.conf", "setting = 1\n");
    let sums: String = package
        .files
        .iter()
        .filter(|m| m.kind == b'0')
        .map(|m| {
            format!(
                "{}  {}\n",
                md5_hex(&m.data),
                String::from_utf8_lossy(&m.name).trim_start_matches("./")
            )
        })
        .collect();
    for (name, body) in [
        ("conffiles", "/etc/t-docs.conf\n".to_owned()),
        ("md5sums", sums),
    ] {
        package.control_files.push((name.into(), body, 0o644));
    }
    package
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(data))
}

/// Every path under `root` (relative), but dpkg's database and logs, which differ by design.
fn paths(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        for entry in std::fs::read_dir(root.join(&relative)).unwrap() {
            let entry = entry.unwrap();
            let path = relative.join(entry.file_name());
            let shown = path.to_string_lossy().into_owned();
            if shown.starts_with("var/lib/dpkg") || shown.starts_with("var/log") {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            }
            out.insert(shown);
        }
    }
    out
}

fn dpkg_in(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new("chroot")
        .arg(root)
        .arg("dpkg")
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap()
}

fn conffiles_of(root: &Path, package: &str) -> String {
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    let stanza = status
        .split("\n\n")
        .find(|s| s.starts_with(&format!("Package: {package}\n")))
        .unwrap_or_else(|| panic!("no status stanza of `{package}`"));
    stanza
        .split_once("Conffiles:\n")
        .map(|(_, rest)| {
            rest.lines()
                .take_while(|l| l.starts_with(' '))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn root_mode_filters_as_dpkg_does_and_dpkg_verify_is_quiet() {
    let mut all = hostbase::packages();
    all.push(package());
    let fixture = Fixture::new(repo::trixie(all));
    let filters = FILTERS.replace(
        "\"/usr/share/locale/*\"]",
        "\"/usr/share/locale/*\", \"/etc/t-docs.conf\"]",
    );
    fixture.write_profile(
        "",
        &format!("[packages]\nvariant = \"minbase\"\ninclude = [\"t-docs\"]\n{filters}"),
    );
    std::fs::write(
        fixture.path().join("base.toml"),
        repo::profile(
            "",
            &format!(
                "[packages]\nvariant = \"custom\"\ninclude = [\"hostbase-files\", \"hostbase-tools\", \"dpkg\"]\n{filters}"
            ),
        ),
    )
    .unwrap();
    let build = |profile: &str, output: &str| {
        let out = fixture.run(
            &["build", profile, "-o", output, "--mode", "root"],
            &[("SOURCE_DATE_EPOCH", EPOCH)],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        fixture.path().join(output)
    };
    let built = build("p.toml", "out");
    let reference = build("base.toml", "reference");

    // dpkg installs the package into the filtered base, with the filters debroot wrote.
    let config = std::fs::read_to_string(reference.join("etc/dpkg/dpkg.cfg.d/99debroot")).unwrap();
    assert!(
        config.contains("path-exclude=/etc/t-docs.conf\n"),
        "{config}"
    );
    let deb = &fixture
        .written
        .debs
        .iter()
        .find(|(name, _, _)| name == "t-docs")
        .unwrap()
        .2;
    std::fs::write(reference.join("t-docs.deb"), deb).unwrap();
    let install = dpkg_in(&reference, &["-i", "/t-docs.deb"]);
    assert!(install.status.success(), "{}", stderr(&install));
    std::fs::remove_file(reference.join("t-docs.deb")).unwrap();

    // The same paths on disk.
    let (ours, theirs) = (paths(&built), paths(&reference));
    let only_ours: Vec<_> = ours.difference(&theirs).collect();
    let only_theirs: Vec<_> = theirs.difference(&ours).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "only in debroot's root: {only_ours:?}\nonly in dpkg's: {only_theirs:?}"
    );
    for path in FILTERED.iter().chain(&["etc/t-docs.conf"]) {
        assert!(!ours.contains(*path), "`{path}` was filtered out");
    }
    assert!(ours.contains("usr/share/doc/t-docs/copyright"));

    // dpkg's own filter lists the filtered paths and `--verify` reports them missing.
    let theirs_verify = dpkg_in(&reference, &["--verify", "t-docs"]);
    let report = String::from_utf8_lossy(&theirs_verify.stdout);
    assert!(
        report.contains("missing     /usr/share/doc/t-docs/README")
            && report.contains("missing   c /etc/t-docs.conf"),
        "dpkg's own filter:\n{report}"
    );
    // debroot's root: nothing to report, for any package.
    let verify = dpkg_in(&built, &["--verify"]);
    assert!(
        verify.status.success() && verify.stdout.is_empty() && verify.stderr.is_empty(),
        "`dpkg --verify` in debroot's root:\n{}{}",
        String::from_utf8_lossy(&verify.stdout),
        stderr(&verify)
    );
    let audit = dpkg_in(&built, &["--audit"]);
    assert!(
        audit.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
    let list = std::fs::read_to_string(built.join("var/lib/dpkg/info/t-docs.list")).unwrap();
    assert!(list.contains("/usr/share/doc/t-docs/copyright\n"), "{list}");
    assert!(
        !list.contains("README") && !list.contains("man1") && !list.contains("t-docs.conf"),
        "{list}"
    );
    let sums = std::fs::read_to_string(built.join("var/lib/dpkg/info/t-docs.md5sums")).unwrap();
    assert!(
        sums.contains("usr/share/doc/t-docs/copyright") && !sums.contains("README"),
        "{sums}"
    );
    // The filtered conffile is recorded as dpkg records it: never installed.
    assert_eq!(
        conffiles_of(&built, "t-docs"),
        conffiles_of(&reference, "t-docs")
    );
    assert_eq!(
        conffiles_of(&built, "t-docs"),
        " /etc/t-docs.conf newconffile"
    );
}
