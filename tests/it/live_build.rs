//! Live builds against the Debian mirror of the host's apt sources, as root: minbase trixie
//! and bookworm built twice (same bytes), checked from inside with apt and dpkg, compared with
//! mmdebstrap's tarball for the same package set and epoch, and built again in `unshare` mode
//! by a normal user (same bytes as root mode). `bash tests/run` runs these when the mirror
//! answers and it runs as root.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::tree::{self, MMDEBSTRAP_DIFFERENCES};
use common::{debroot, stderr};

/// The host's Debian archives, as debroot reads them (never written into the code).
pub(crate) fn host_archives() -> (String, String) {
    let host = debroot::repo::source::read_host_sources(Path::new("/etc/apt"));
    let main = host
        .main
        .expect("the host's apt sources list a Debian archive");
    let security = host.security.map(|u| u.to_string()).unwrap_or_else(|| {
        main.as_str()
            .trim_end_matches('/')
            .trim_end_matches("debian")
            .to_owned()
            + "debian-security/"
    });
    (main.to_string(), security)
}

struct Built {
    dir: tempfile::TempDir,
    epoch: i64,
}

impl Built {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn sha256_file(path: &Path) -> String {
    common::repo::sha256_hex(&std::fs::read(path).unwrap())
}

/// Locks the shipped minbase profile for `suite` and builds it twice in root mode.
fn build_twice(suite: &str) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(common::repo_root().join("profiles/minbase.toml")).unwrap();
    let profile = base.replace("suite = \"trixie\"", &format!("suite = \"{suite}\""));
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();
    let cache = dir.path().join("cache");
    let cache = cache.to_str().unwrap();
    let lock = debroot(dir.path(), &["lock", "p.toml", "--cache-dir", cache], &[]);
    assert_eq!(lock.status.code(), Some(0), "{}", stderr(&lock));
    for name in ["a.tar", "b.tar"] {
        let build = debroot(
            dir.path(),
            &[
                "build",
                "p.toml",
                "-o",
                name,
                "--frozen",
                "--mode",
                "root",
                "--cache-dir",
                cache,
            ],
            &[],
        );
        assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
        eprintln!(
            "{suite} {name}: {}",
            stderr(&build).lines().last().unwrap_or("")
        );
    }
    let (a, b) = (
        sha256_file(&dir.path().join("a.tar")),
        sha256_file(&dir.path().join("b.tar")),
    );
    assert_eq!(a, b, "{suite}: two builds from one lock differ");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("a.tar.manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["output_sha256"].as_str(), Some(a.as_str()));
    let epoch = manifest["epoch"].as_i64().unwrap();
    Built { dir, epoch }
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

/// Unpacks the tarball as root and asks apt and dpkg inside whether the system is sound.
fn check_inside(built: &Built) {
    let tree = built.path("tree");
    std::fs::create_dir(&tree).unwrap();
    run(Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "--xattrs-include=*", "-xpf"])
        .arg(built.path("a.tar"))
        .arg("-C")
        .arg(&tree));
    run(Command::new("chroot").arg(&tree).args(["apt-get", "check"]));
    for check in ["--audit", "--verify"] {
        let output = run(Command::new("chroot").arg(&tree).args(["dpkg", check]));
        assert!(
            output.stdout.is_empty() && output.stderr.is_empty(),
            "dpkg {check}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// mmdebstrap's minbase of `suite` from the host mirror, with the same epoch.
fn mmdebstrap(built: &Built, suite: &str) -> PathBuf {
    let (main, security) = host_archives();
    let output = built.path("mm.tar");
    run(Command::new("mmdebstrap")
        .env("SOURCE_DATE_EPOCH", built.epoch.to_string())
        .args(["--quiet", "--variant=minbase", "--mode=root", suite])
        .arg(&output)
        .arg(format!("deb {main} {suite} main"))
        .arg(format!("deb {main} {suite}-updates main"))
        .arg(format!("deb {security} {suite}-security main")));
    output
}

/// The member names of a tarball in archive order, without `./` and a folder's final `/`.
fn member_order(path: &Path) -> Vec<Vec<u8>> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let name = entry.unwrap().path_bytes().into_owned();
            let name = name.strip_prefix(b"./").unwrap_or(&name);
            name.strip_suffix(b"/").unwrap_or(name).to_vec()
        })
        .collect()
}

/// Issue 15, item 1: the members both tarballs hold come in the same order (mmdebstrap's is
/// `tar --sort=name`: depth-first). `/dev` aside: mmdebstrap writes its device nodes first.
fn assert_same_member_order(ours: &Path, theirs: &Path, suite: &str) {
    let not_dev = |name: &Vec<u8>| name != b"dev" && !name.starts_with(b"dev/");
    let ours: Vec<Vec<u8>> = member_order(ours).into_iter().filter(not_dev).collect();
    let theirs: Vec<Vec<u8>> = member_order(theirs).into_iter().filter(not_dev).collect();
    let in_theirs: std::collections::BTreeSet<&Vec<u8>> = theirs.iter().collect();
    let in_ours: std::collections::BTreeSet<&Vec<u8>> = ours.iter().collect();
    let ours: Vec<&Vec<u8>> = ours.iter().filter(|n| in_theirs.contains(n)).collect();
    let theirs: Vec<&Vec<u8>> = theirs.iter().filter(|n| in_ours.contains(n)).collect();
    let first = ours.iter().zip(&theirs).position(|(a, b)| a != b);
    assert!(
        first.is_none() && ours.len() == theirs.len(),
        "{suite}: member order differs from mmdebstrap's at {:?}: ours {:?}, theirs {:?}",
        first,
        first.map(|i| String::from_utf8_lossy(ours[i]).into_owned()),
        first.map(|i| String::from_utf8_lossy(theirs[i]).into_owned())
    );
    eprintln!(
        "{suite}: {} common members in the same order as mmdebstrap's",
        ours.len()
    );
}

fn assert_equals_mmdebstrap(built: &Built, suite: &str) {
    let ours = tree::read_tar(&built.path("a.tar"));
    let theirs_path = mmdebstrap(built, suite);
    assert_same_member_order(&built.path("a.tar"), &theirs_path, suite);
    let theirs = tree::read_tar(&theirs_path);
    let differences = tree::compare(&ours, &theirs);
    let allowed = |line: &String| {
        MMDEBSTRAP_DIFFERENCES
            .iter()
            .any(|(path, _)| line == path || line.starts_with(&format!("{path}: ")))
    };
    let unexplained: Vec<&String> = differences.paths().filter(|l| !allowed(l)).collect();
    eprintln!(
        "{suite}: {} entries; differences from mmdebstrap (all documented): {:?}",
        ours.len(),
        differences
            .paths()
            .map(|l| l.split(':').next().unwrap_or(l))
            .collect::<Vec<_>>()
    );
    assert!(
        unexplained.is_empty(),
        "{suite}: undocumented differences: {unexplained:#?}"
    );
}

/// Builds the same lock in `unshare` mode as a normal user: the same bytes as root mode.
fn assert_unshare_equals_root(built: &Built) {
    let user = common::user::unprivileged_user();
    let home = built.path("user");
    std::fs::create_dir(&home).unwrap();
    // The user's own copy of debroot, profile, lock and cache (the checkout may not be
    // readable by others).
    let exe = home.join("debroot");
    std::fs::copy(env!("CARGO_BIN_EXE_debroot"), &exe).unwrap();
    for name in ["p.toml", "p.lock"] {
        std::fs::copy(built.path(name), home.join(name)).unwrap();
    }
    run(Command::new("cp")
        .arg("-r")
        .arg(built.path("cache"))
        .arg(&home));
    run(Command::new("chown").args(["-R", user]).arg(&home));
    run(Command::new("chmod")
        .arg("755")
        .arg(built.dir.path())
        .arg(&home));
    let build = Command::new("runuser")
        .args(["-u", user, "--"])
        .arg(&exe)
        .args([
            "build",
            "p.toml",
            "-o",
            "u.tar",
            "--frozen",
            "--mode",
            "unshare",
            "--cache-dir",
            "cache",
        ])
        .current_dir(&home)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", &home)
        .output()
        .unwrap();
    assert!(build.status.success(), "unshare build: {}", stderr(&build));
    let manifest = std::fs::read_to_string(home.join("u.tar.manifest.json")).unwrap();
    assert!(manifest.contains("\"mode\": \"unshare\""), "{manifest}");
    assert_eq!(
        sha256_file(&home.join("u.tar")),
        sha256_file(&built.path("a.tar")),
        "unshare mode as `{user}` built other bytes than root mode"
    );
    // Nothing left beside the output: the work directory is gone.
    let left: Vec<_> = std::fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".debroot-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn root_and_namespaces() -> bool {
    rustix::process::geteuid().is_root()
}

#[test]
#[ignore = "live: needs the host's Debian mirror, root and mmdebstrap"]
fn minbase_trixie_root_reproducible_sound_equals_mmdebstrap_and_unshare() {
    common::tools::require("mmdebstrap");
    common::tools::require("newuidmap");
    common::tools::require("newgidmap");
    assert!(
        root_and_namespaces(),
        "run as root (bash tests/run skips this group otherwise)"
    );
    let built = build_twice("trixie");
    check_inside(&built);
    assert_equals_mmdebstrap(&built, "trixie");
    assert_unshare_equals_root(&built);
}

#[test]
#[ignore = "live: needs the host's Debian mirror, root and mmdebstrap"]
fn minbase_bookworm_root_reproducible_sound_equals_mmdebstrap() {
    common::tools::require("mmdebstrap");
    assert!(
        root_and_namespaces(),
        "run as root (bash tests/run skips this group otherwise)"
    );
    let built = build_twice("bookworm");
    check_inside(&built);
    assert_equals_mmdebstrap(&built, "bookworm");
}
