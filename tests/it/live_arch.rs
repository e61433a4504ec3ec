//! Live builds of other architectures against the Debian mirror of the host's apt sources, as
//! root (issue 16, item 4):
//!
//! - arm64 minbase trixie, a foreign native architecture run through qemu-user (binfmt_misc with
//!   the `F` flag): built in root mode and, at the same time, in unshare mode by a normal user
//!   (the same bytes), sound inside (dpkg and apt, themselves run through qemu), and its package set
//!   equal to mmdebstrap's `--architectures=arm64`;
//! - amd64 with i386 as a second architecture and `libc6:i386`: dpkg's `arch` file and
//!   `dpkg --print-foreign-architectures` as `dpkg --add-architecture` leaves them, the two
//!   instances of each Multi-Arch: same package installed, and the package set equal to
//!   mmdebstrap's `--architectures=amd64,i386 --include=libc6:i386`.
//!
//! mmdebstrap's package sets come from `--simulate` (apt's `Inst` lines with `--verbose`): a full
//! arm64 mmdebstrap build would run every maintainer script through qemu a second time. The
//! `.deb`s are kept in the content-addressed cache the kiosk tests use (concurrent use is safe),
//! so a second run downloads nothing. The arm64 test needs qemu-user registered for arm64 with
//! the `F` flag (`binfmt:qemu-aarch64` in tests/tools: `bash tests/run` leaves it out without,
//! and says so); `.ci/run` installs qemu-user-static or qemu-user-binfmt and mounts binfmt_misc.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{debroot, stderr};

/// The package cache shared with the other live tests (`live_kiosk`).
fn shared_cache() -> PathBuf {
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

fn sha256_file(path: &Path) -> String {
    common::repo::sha256_hex(&std::fs::read(path).unwrap())
}

/// Writes the shipped minbase profile for trixie with `architectures` and `include` into `dir`
/// and locks it; returns the locked set (`name version arch`).
fn lock(dir: &Path, architectures: &[&str], include: &[&str]) -> BTreeSet<String> {
    let base = std::fs::read_to_string(common::repo_root().join("profiles/minbase.toml")).unwrap();
    let quote = |list: &[&str]| {
        list.iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let profile = base
        .replace(
            "# architectures = [\"amd64\"]",
            &format!("architectures = [{}]", quote(architectures)),
        )
        .replace("include = []", &format!("include = [{}]", quote(include)));
    assert!(
        profile.contains("\narchitectures = ["),
        "minbase.toml changed"
    );
    std::fs::write(dir.join("p.toml"), profile).unwrap();
    let cache = shared_cache();
    let out = debroot(
        dir,
        &["lock", "p.toml", "--cache-dir", cache.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.join("p.lock")).unwrap();
    debroot::lock::Lock::parse(&text)
        .unwrap()
        .packages
        .iter()
        .map(|p| format!("{} {} {}", p.name, p.version, p.architecture))
        .collect()
}

/// Builds `dir/p.toml` from its lock in root mode into `dir/NAME`; returns the tarball's path.
fn build_root(dir: &Path, name: &str) -> PathBuf {
    let cache = shared_cache();
    let started = std::time::Instant::now();
    let out = debroot(
        dir,
        &[
            "build",
            "p.toml",
            "-o",
            name,
            "--frozen",
            "--mode",
            "root",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    eprintln!(
        "{name}: root mode in {:.0}s: {}",
        started.elapsed().as_secs_f64(),
        stderr(&out).lines().last().unwrap_or("")
    );
    dir.join(name)
}

/// Starts the build of `dir/p.toml` from its lock in unshare mode as a normal user, from a
/// cache of its own that holds the lock's `.deb`s (copied from the shared cache); [`Unshare::wait`]
/// returns the tarball's path. It runs beside the root-mode build: qemu runs one maintainer
/// script at a time, so the two builds use two cores.
fn start_unshare(dir: &Path) -> Unshare {
    let user = common::user::unprivileged_user();
    let home = dir.join("user");
    std::fs::create_dir(&home).unwrap();
    let exe = home.join("debroot");
    std::fs::copy(env!("CARGO_BIN_EXE_debroot"), &exe).unwrap();
    for name in ["p.toml", "p.lock"] {
        std::fs::copy(dir.join(name), home.join(name)).unwrap();
    }
    let text = std::fs::read_to_string(dir.join("p.lock")).unwrap();
    for package in debroot::lock::Lock::parse(&text).unwrap().packages {
        let hex = package.sha256.to_string();
        let shard = format!("v1/sha256/{}", &hex[..2]);
        std::fs::create_dir_all(home.join("cache").join(&shard)).unwrap();
        std::fs::copy(
            shared_cache().join(&shard).join(&hex),
            home.join("cache").join(&shard).join(&hex),
        )
        .unwrap();
    }
    run(Command::new("chown").args(["-R", user]).arg(&home));
    run(Command::new("chmod").arg("755").arg(dir).arg(&home));
    let child = Command::new("runuser")
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
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    Unshare {
        child: Some(child),
        home,
        user,
        started: std::time::Instant::now(),
    }
}

struct Unshare {
    /// Taken by [`Unshare::wait`]; still here (and killed) when the test fails before.
    child: Option<std::process::Child>,
    home: PathBuf,
    user: &'static str,
    started: std::time::Instant,
}

impl Unshare {
    fn wait(mut self) -> PathBuf {
        let out = self.child.take().unwrap().wait_with_output().unwrap();
        assert!(out.status.success(), "unshare build: {}", stderr(&out));
        eprintln!(
            "u.tar: unshare mode as `{}` in {:.0}s: {}",
            self.user,
            self.started.elapsed().as_secs_f64(),
            stderr(&out).lines().last().unwrap_or("")
        );
        let manifest = std::fs::read_to_string(self.home.join("u.tar.manifest.json")).unwrap();
        assert!(manifest.contains("\"mode\": \"unshare\""), "{manifest}");
        self.home.join("u.tar")
    }
}

impl Drop for Unshare {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Unpacks `tarball` into `dir/tree` and asks dpkg and apt inside whether the system is sound;
/// returns the tree's path.
fn check_inside(dir: &Path, tarball: &Path) -> PathBuf {
    let tree = dir.join("tree");
    std::fs::create_dir(&tree).unwrap();
    run(Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "--xattrs-include=*", "-xpf"])
        .arg(tarball)
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
    tree
}

fn inside(tree: &Path, args: &[&str]) -> String {
    String::from_utf8_lossy(&run(Command::new("chroot").arg(tree).args(args)).stdout).into_owned()
}

/// mmdebstrap's minbase trixie set (`name version arch`) for `architectures` and `include`, from
/// `--simulate`: the `Inst` lines apt prints with `--verbose` (the Essential set, then the rest;
/// a package is listed once per step it is in).
fn mmdebstrap_set(architectures: &[&str], include: &[&str]) -> BTreeSet<String> {
    let (main, security) = crate::live_build::host_archives();
    let mut command = Command::new("mmdebstrap");
    command.args(["--verbose", "--simulate", "--variant=minbase"]);
    command.arg(format!("--architectures={}", architectures.join(",")));
    // mmdebstrap asks arch-test whether the host runs a foreign native architecture; a
    // simulation runs nothing.
    command.arg("--skip=check/qemu");
    if !include.is_empty() {
        command.arg(format!("--include={}", include.join(",")));
    }
    command.args([
        "trixie".to_owned(),
        "/dev/null".to_owned(),
        format!("deb {main} trixie main"),
        format!("deb {main} trixie-updates main"),
        format!("deb {security} trixie-security main"),
    ]);
    let started = std::time::Instant::now();
    let output = run(&mut command);
    eprintln!(
        "mmdebstrap --simulate {architectures:?}: {:.0}s",
        started.elapsed().as_secs_f64()
    );
    // `Inst libc6:i386 (2.41-12+deb13u5 Debian:13.8/stable [i386]) []`
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    let set: BTreeSet<String> = text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("Inst ")?;
            let (name, rest) = rest.split_once(" (")?;
            let version = rest.split(' ').next()?;
            let arch = rest.split_once('[')?.1.split(']').next()?;
            let name = name.split(':').next()?;
            Some(format!("{name} {version} {arch}"))
        })
        .collect();
    assert!(!set.is_empty(), "no `Inst` line from mmdebstrap: {text}");
    set
}

fn assert_same_set(ours: &BTreeSet<String>, theirs: &BTreeSet<String>, what: &str) {
    let only_ours: Vec<&String> = ours.difference(theirs).collect();
    let only_theirs: Vec<&String> = theirs.difference(ours).collect();
    eprintln!(
        "{what}: debroot {} packages, mmdebstrap {}",
        ours.len(),
        theirs.len()
    );
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "{what}: only debroot: {only_ours:#?}\nonly mmdebstrap: {only_theirs:#?}"
    );
}

#[test]
#[ignore = "live: needs the host's Debian mirror, root, mmdebstrap and qemu-user for arm64"]
fn arm64_minbase_trixie_through_qemu_root_and_unshare_same_bytes_equals_mmdebstrap() {
    common::tools::require("mmdebstrap");
    common::tools::require("newuidmap");
    common::tools::require("newgidmap");
    common::tools::require("binfmt:qemu-aarch64");
    assert!(
        rustix::process::geteuid().is_root(),
        "run as root (bash tests/run skips this group otherwise)"
    );
    let arm64 = debroot::debian::Architecture::parse("arm64").unwrap();
    let host = debroot::debian::Architecture::build_default();
    if let Err(error) =
        debroot::binfmt::check(Path::new(debroot::binfmt::BINFMT_MISC), &host, &arm64)
    {
        use debroot::error::Classify;
        panic!("{error}; {}", error.hint().unwrap_or_default());
    }
    let dir = tempfile::tempdir().unwrap();
    let ours = lock(dir.path(), &["arm64"], &[]);
    let unshare = start_unshare(dir.path());
    let root = build_root(dir.path(), "a.tar");
    let unshare = unshare.wait();
    let digest = sha256_file(&root);
    assert_eq!(
        sha256_file(&unshare),
        digest,
        "arm64: unshare mode built other bytes than root mode"
    );
    eprintln!("arm64: root and unshare modes: sha256:{digest}");
    let tree = check_inside(dir.path(), &root);
    assert_eq!(inside(&tree, &["dpkg", "--print-architecture"]), "arm64\n");
    assert_eq!(
        std::fs::read_to_string(tree.join("var/lib/dpkg/arch")).unwrap(),
        "arm64\n"
    );
    assert_same_set(&ours, &mmdebstrap_set(&["arm64"], &[]), "arm64 minbase");
}

#[test]
#[ignore = "live: needs the host's Debian mirror, root and mmdebstrap"]
fn amd64_with_i386_installs_libc6_i386_as_dpkg_and_equals_mmdebstrap() {
    common::tools::require("mmdebstrap");
    assert!(
        rustix::process::geteuid().is_root(),
        "run as root (bash tests/run skips this group otherwise)"
    );
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: amd64 with i386 is built on amd64 hosts");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ours = lock(dir.path(), &["amd64", "i386"], &["libc6:i386"]);
    assert!(
        ours.iter()
            .any(|p| p.starts_with("libc6 ") && p.ends_with(" i386"))
            && ours
                .iter()
                .any(|p| p.starts_with("libc6 ") && p.ends_with(" amd64")),
        "{ours:#?}"
    );
    let root = build_root(dir.path(), "a.tar");
    let tree = check_inside(dir.path(), &root);
    // As `dpkg --add-architecture i386` leaves them.
    assert_eq!(
        std::fs::read_to_string(tree.join("var/lib/dpkg/arch")).unwrap(),
        "amd64\ni386\n"
    );
    assert_eq!(
        inside(&tree, &["dpkg", "--print-foreign-architectures"]),
        "i386\n"
    );
    let installed = inside(
        &tree,
        &["dpkg-query", "-W", "-f", "${binary:Package}\\n", "libc6:*"],
    );
    assert_eq!(installed, "libc6:amd64\nlibc6:i386\n");
    assert_same_set(
        &ours,
        &mmdebstrap_set(&["amd64", "i386"], &["libc6:i386"]),
        "amd64+i386 minbase + libc6:i386",
    );
}
