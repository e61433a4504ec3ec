//! A base system made of this host's own binaries, so that a `root`-mode build can run dpkg and
//! maintainer scripts with no Debian mirror: the fixture archive serves these packages and the
//! test packages built on top of them.
//!
//! Three `Essential: yes` packages, as small as dpkg and the test scripts allow:
//!
//! - `hostbase-files` (like `base-files` + `base-passwd`): the merged-/usr links (`bin`, `sbin`,
//!   `lib`, `lib64` -> `usr/...`, relative, as Debian ships them), the top directories
//!   (`/tmp` 1777, `/root` 0700, `/var/log` for dpkg's and update-alternatives' logs), and an
//!   `/etc/passwd` and `/etc/group` naming `root` only. The dpkg database itself
//!   (`/var/lib/dpkg/{status,info,triggers,...}`) is not shipped: debroot creates it
//!   (`install::dpkgdb::init`), as it must for a real archive, whose packages do not ship it.
//! - `hostbase-tools`: dash as `/usr/bin/sh`, the programs dpkg looks for in `PATH` before it
//!   runs (`sh`, `rm`, `tar`, `diff`, `ldconfig`; `start-stop-daemon` is in `dpkg`) and those the
//!   test scripts use, and every shared library any program of the base needs (found with
//!   `ldd`, each at its host path under `/usr`, symlinks kept as symlinks).
//! - `dpkg`, at the host dpkg's version (debroot passes it to scripts as
//!   `DPKG_RUNNING_VERSION`): `dpkg`, `dpkg-deb`, `dpkg-divert`, `dpkg-query`, `dpkg-split`
//!   (`dpkg --install` runs it on every archive), `dpkg-trigger`, `update-alternatives`,
//!   `start-stop-daemon` and `/etc/alternatives`.
//!
//! `dpkg` depends on `hostbase-tools`, which depends on `hostbase-files`, so the Essential set
//! is configured in that order. Programs are looked up in the host's `/usr/bin`, `/usr/sbin`,
//! `/bin`, `/sbin`; a missing one fails the test naming the program. The packages are for
//! the host's architecture, which the fixture archive must be (amd64).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use super::deb::{Member, Package};

/// Programs of `hostbase-tools` (dash is added as `/usr/bin/sh` too).
pub const TOOLS: &[&str] = &[
    // dpkg's `PATH` check (dpkg's `checkpath`) and its maintainer-script runner.
    "dash", "rm", "tar", "diff", "ldconfig",
    // What debroot's driver scripts and the test scripts run.
    "mv", "cp", "cat", "ln", "mkdir", "rmdir", "env", "readlink", "setcap",
    // What the hostile scripts of `privileged_threats` run (docs/THREATS.md D2, D3, D5).
    "ls", "sleep", "setsid", "mount", "umount", "mknod", "mkfifo",
];

/// Programs of the `dpkg` package.
pub const DPKG_PROGRAMS: &[&str] = &[
    "dpkg",
    "dpkg-deb",
    "dpkg-divert",
    "dpkg-query",
    "dpkg-split",
    "dpkg-trigger",
    "update-alternatives",
    "start-stop-daemon",
];

/// The host dpkg's version (`dpkg-query -W -f='${Version}' dpkg`).
pub fn dpkg_version() -> String {
    let output = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "dpkg"])
        .output()
        .expect("dpkg-query runs (hostbase needs a Debian host)");
    assert!(output.status.success(), "dpkg-query -W dpkg failed");
    String::from_utf8(output.stdout).expect("a UTF-8 version")
}

/// `/bin/x`, `/sbin/x`, `/lib/x`, `/lib64/x` -> `/usr/...` (the same file on a merged-/usr host).
fn under_usr(path: &Path) -> PathBuf {
    for top in ["/bin", "/sbin", "/lib", "/lib64"] {
        if let Ok(rest) = path.strip_prefix(top) {
            return Path::new("/usr")
                .join(top.trim_start_matches('/'))
                .join(rest);
        }
    }
    path.to_path_buf()
}

/// `a/b/../c` -> `a/c`, lexically (symlink targets in library folders are plain names).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Where the host keeps `program`, as a `/usr` path.
fn find_program(program: &str) -> PathBuf {
    ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.exists())
        .map(|path| under_usr(&path))
        .unwrap_or_else(|| {
            panic!("hostbase: the host has no `{program}` in /usr/bin, /usr/sbin, /bin or /sbin")
        })
}

/// The shared libraries `program` loads (`ldd`), as host paths; none for a static program.
fn libraries(program: &Path) -> Vec<PathBuf> {
    let output = Command::new("ldd").arg(program).output().expect("ldd runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            line.split_whitespace()
                .find(|word| word.starts_with('/'))
                .map(PathBuf::from)
        })
        .collect()
}

/// Adds the host file at `path` (a `/usr` path) to `files` as a member: a regular file with its
/// host mode, or a symlink with its host target, followed to what it points to.
fn add_host_file(files: &mut BTreeMap<PathBuf, Member>, path: &Path) {
    let mut path = under_usr(path);
    for _ in 0..16 {
        if files.contains_key(&path) {
            return;
        }
        let name = format!(".{}", path.display());
        let meta = std::fs::symlink_metadata(&path)
            .unwrap_or_else(|e| panic!("hostbase: `{}`: {e}", path.display()));
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).unwrap();
            files.insert(
                path.clone(),
                Member::symlink(&name, target.to_str().expect("a UTF-8 link")),
            );
            let parent = path.parent().unwrap_or(Path::new("/"));
            path = under_usr(&normalize(&parent.join(target)));
            continue;
        }
        assert!(
            meta.is_file(),
            "hostbase: `{}` is not a file",
            path.display()
        );
        let data = std::fs::read(&path).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        files.insert(path.clone(), Member::file(&name, mode, &data));
        return;
    }
    panic!("hostbase: too many links from `{}`", path.display());
}

/// The three packages of the host base; see the module documentation.
pub fn packages() -> Vec<Package> {
    // The one program of TOOLS outside Debian's Essential packages (tests/tools).
    super::tools::require("setcap");
    let tools: Vec<PathBuf> = TOOLS.iter().map(|p| find_program(p)).collect();
    let dpkg_programs: Vec<PathBuf> = DPKG_PROGRAMS.iter().map(|p| find_program(p)).collect();

    let mut tool_files = BTreeMap::new();
    for program in tools.iter().chain(&dpkg_programs) {
        for library in libraries(program) {
            add_host_file(&mut tool_files, &library);
        }
    }
    for program in &tools {
        add_host_file(&mut tool_files, program);
    }
    let sh = Member::symlink("./usr/bin/sh", "dash");
    let mut dpkg_files = BTreeMap::new();
    for program in &dpkg_programs {
        add_host_file(&mut dpkg_files, program);
    }

    let files = Package::new("hostbase-files", "1")
        .essential()
        .member(Member::dir("./etc/", 0o755))
        .member(Member::dir("./root/", 0o700))
        .member(Member::dir("./tmp/", 0o1777))
        .member(Member::dir("./usr/", 0o755))
        .member(Member::dir("./usr/bin/", 0o755))
        .member(Member::dir("./usr/lib/", 0o755))
        .member(Member::dir("./usr/lib64/", 0o755))
        .member(Member::dir("./usr/sbin/", 0o755))
        .member(Member::dir("./var/", 0o755))
        .member(Member::dir("./var/lib/", 0o755))
        .member(Member::dir("./var/log/", 0o755))
        .file("./etc/group", "root:x:0:\n")
        .file("./etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        .member(Member::symlink("./bin", "usr/bin"))
        .member(Member::symlink("./lib", "usr/lib"))
        .member(Member::symlink("./lib64", "usr/lib64"))
        .member(Member::symlink("./sbin", "usr/sbin"));
    let mut tools_package = Package::new("hostbase-tools", "1")
        .essential()
        .depends("hostbase-files");
    for member in tool_files.into_values() {
        tools_package = tools_package.member(member);
    }
    tools_package = tools_package.member(sh);
    let mut dpkg = Package::new("dpkg", &dpkg_version())
        .essential()
        .depends("hostbase-tools")
        .member(Member::dir("./etc/alternatives/", 0o755));
    for member in dpkg_files.into_values() {
        dpkg = dpkg.member(member);
    }
    vec![files, tools_package, dpkg]
}
