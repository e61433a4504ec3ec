//! Path filters on a real minbase trixie root (issue 16, item 5), as root against the host's
//! Debian mirror: the shipped minbase profile with documentation, man pages and locales
//! excluded but copyright files kept. `dpkg --verify` run inside with trixie's own dpkg says
//! nothing about what was excluded, and the same dpkg, reinstalling a package with the filters
//! debroot wrote to `/etc/dpkg/dpkg.cfg.d/99debroot`, filters as the build did (and, being
//! dpkg, lists the filtered paths and reports them `missing`: the evidence for why debroot
//! leaves them out of the `.list`). Packages come from the content-addressed cache the kiosk
//! live tests share, so a second run downloads nothing.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{debroot, stderr};

use super::path_filters::FILTERS;

fn cache() -> PathBuf {
    std::env::temp_dir().join("debroot-live-kiosk-cache")
}

fn run(command: &mut Command) -> std::process::Output {
    let output = command.output().expect("command runs");
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn chroot(tree: &Path, args: &[&str]) -> std::process::Output {
    Command::new("chroot")
        .arg(tree)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap()
}

/// The `.deb` of `name` in the cache, by the SHA256 the lock gives it.
fn deb_of(lock: &str, name: &str) -> PathBuf {
    let stanza = lock
        .split("[[package]]")
        .find(|s| s.contains(&format!("\nname = \"{name}\"\n")))
        .unwrap_or_else(|| panic!("`{name}` is not in the lock"));
    let sha256 = stanza
        .lines()
        .find_map(|l| l.strip_prefix("sha256 = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap();
    cache().join(format!("v1/sha256/{}/{sha256}", &sha256[..2]))
}

#[test]
#[ignore = "live: needs the host's Debian mirror and root"]
fn live_minbase_trixie_with_path_filters_verifies_clean() {
    assert!(
        rustix::process::geteuid().is_root(),
        "run as root (bash tests/run skips this group otherwise)"
    );
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(common::repo_root().join("profiles/minbase.toml")).unwrap();
    let profile = base.replacen("\n[build]\n", &format!("\n{FILTERS}\n[build]\n"), 1);
    assert_ne!(profile, base);
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();
    let cache = cache();
    let cache = cache.to_str().unwrap();
    let build = debroot(
        dir.path(),
        &[
            "build",
            "p.toml",
            "-o",
            "a.tar",
            "--mode",
            "root",
            "--cache-dir",
            cache,
        ],
        &[],
    );
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
    let filtered_line = stderr(&build)
        .lines()
        .find(|l| l.contains("Filtered"))
        .map(str::to_owned)
        .unwrap_or_default();
    eprintln!("{filtered_line}");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("a.tar.manifest.json")).unwrap(),
    )
    .unwrap();
    let filtered = manifest["path_filters"]["filtered_paths"].as_u64().unwrap();
    assert!(filtered > 1000, "{filtered} paths filtered");

    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    run(Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "--xattrs-include=*", "-xpf"])
        .arg(dir.path().join("a.tar"))
        .arg("-C")
        .arg(&tree));

    // Only copyright files (and the directories and symlinks dpkg's rule keeps) under doc;
    // no man page, no catalog.
    let mut files = Vec::new();
    let mut stack = vec![tree.join("usr/share/doc")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    assert!(files.len() > 50, "{} copyright files", files.len());
    let other: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.file_name().unwrap() != "copyright")
        .collect();
    assert!(other.is_empty(), "left under /usr/share/doc: {other:?}");
    for gone in ["usr/share/man/man1", "usr/share/locale/de"] {
        assert!(!tree.join(gone).exists(), "`/{gone}` was filtered out");
    }
    assert!(tree.join("usr/share/doc/dpkg/copyright").is_file());

    // dpkg inside: content.
    for check in ["--audit", "--verify"] {
        let output = chroot(&tree, &["dpkg", check]);
        assert!(
            output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
            "dpkg {check}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let config = std::fs::read_to_string(tree.join("etc/dpkg/dpkg.cfg.d/99debroot")).unwrap();
    assert!(
        config.contains("path-include=/usr/share/doc/*/copyright\n"),
        "{config}"
    );

    // trixie's dpkg reinstalling `sed` with the filters of `99debroot`: the files stay out, the
    // `.list` names them, and `--verify` reports them missing.
    let lock = std::fs::read_to_string(dir.path().join("p.lock")).unwrap();
    std::fs::copy(deb_of(&lock, "sed"), tree.join("sed.deb")).unwrap();
    let version = chroot(&tree, &["dpkg", "--version"]);
    eprintln!(
        "{}",
        String::from_utf8_lossy(&version.stdout)
            .lines()
            .next()
            .unwrap_or("")
    );
    let install = chroot(&tree, &["dpkg", "-i", "/sed.deb"]);
    assert!(install.status.success(), "{}", stderr(&install));
    assert!(!tree.join("usr/share/man/man1/sed.1.gz").exists());
    assert!(tree.join("usr/share/doc/sed/copyright").is_file());
    let list = std::fs::read_to_string(tree.join("var/lib/dpkg/info/sed.list")).unwrap();
    let verify = chroot(&tree, &["dpkg", "--verify", "sed"]);
    let report = String::from_utf8_lossy(&verify.stdout);
    eprintln!("trixie's dpkg --verify sed after its own filtered install:\n{report}");
    assert!(list.contains("/usr/share/man/man1/sed.1.gz\n"), "{list}");
    assert!(
        report.contains("missing     /usr/share/man/man1/sed.1.gz"),
        "{report}"
    );
}
