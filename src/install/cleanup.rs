//! What is put in place for the build and taken out after, and the cleanup that removes what
//! varies between runs. The list is versioned: a change to it changes outputs, so it is a
//! change of [`VERSION`], noted in the manifest.
//!
//! During the build (`install_guards`), as mmdebstrap does:
//! - `usr/sbin/policy-rc.d` answering 101: no service is started by a maintainer script;
//! - `start-stop-daemon` replaced by a no-op (the real one kept as `start-stop-daemon.REAL`),
//!   restored byte for byte before cleanup.
//!
//! Cleanup (`run`), each entry with its reason:
//!
//! | path | why |
//! | --- | --- |
//! | `usr/sbin/policy-rc.d` (when debroot made it) | build-time guard only |
//! | `var/log/dpkg.log`, `var/log/alternatives.log`, `var/log/apt/*.log`, `var/log/bootstrap.log` | timestamps of the build |
//! | `var/log/fontconfig.log` | timestamps of the build |
//! | `var/cache/ldconfig/aux-cache` | inode numbers and mtimes of the build machine |
//! | `var/lib/dpkg/*-old`, `var/cache/debconf/*-old` | backups of the previous database state |
//! | `var/lib/dpkg/triggers/Unincorp` (when empty), `var/lib/dpkg/lock*`, `var/lib/dpkg/triggers/Lock` | left empty, kept as dpkg makes them |
//! | `var/lib/apt/lists/*` (not `lock`, `partial`), `var/cache/apt/*.bin`, `var/cache/apt/archives/*.deb` | package indexes and downloads, not part of a system |
//! | `run/*`, `tmp/*`: files no package ships (directories are kept, emptied) | runtime state |
//! | `etc/fstab` written when absent (`# UNCONFIGURED FSTAB FOR BASE SYSTEM`) | as debootstrap and mmdebstrap: tools expect the file |
//! | `etc/machine-id` | emptied (present, empty): systemd makes a new one at first boot |
//! | `var/lib/dbus/machine-id` | removed: derived from the machine id at first boot |
//! | `etc/hostname` | written from `build.hostname` when the profile sets one; never the host's |
//!
//! Afterwards every mtime newer than the epoch is set to the epoch (`pipeline`).

use std::fs;
use std::path::Path;

use crate::error::{ExitClass, Failure};
use crate::profile::{Mode, Profile};

/// The version of the cleanup list.
pub const VERSION: u32 = 1;

const POLICY_RC_D: &str = "#!/bin/sh\n# Written by debroot during the build: services are not started in a build.\nexit 101\n";
const FAKE_START_STOP_DAEMON: &str =
    "#!/bin/sh\necho \"Warning: fake start-stop-daemon called, doing nothing\" >&2\nexit 0\n";
/// Marks the policy-rc.d debroot wrote (a package may ship its own).
const OURS: &str = "/var/lib/dpkg/debroot-policy-rc.d";

fn io_failure(path: &Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |e| {
        Failure::new(ExitClass::Output, e).context(format!("cannot clean up `{}`", path.display()))
    }
}

/// Puts `policy-rc.d` and the no-op `start-stop-daemon` in place before scripts run.
pub fn install_guards(root: &Path) -> Result<(), Failure> {
    let policy = root.join("usr/sbin/policy-rc.d");
    if fs::symlink_metadata(&policy).is_err() {
        fs::write(&policy, POLICY_RC_D).map_err(io_failure(&policy))?;
        fs::set_permissions(&policy, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(io_failure(&policy))?;
        let marker = root.join(OURS.trim_start_matches('/'));
        fs::write(&marker, b"").map_err(io_failure(&marker))?;
    }
    let daemon = root.join("usr/sbin/start-stop-daemon");
    let real = root.join("usr/sbin/start-stop-daemon.REAL");
    if fs::symlink_metadata(&daemon).is_ok_and(|m| m.is_file())
        && fs::symlink_metadata(&real).is_err()
    {
        fs::rename(&daemon, &real).map_err(io_failure(&daemon))?;
        fs::write(&daemon, FAKE_START_STOP_DAEMON).map_err(io_failure(&daemon))?;
        fs::set_permissions(&daemon, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(io_failure(&daemon))?;
    }
    Ok(())
}

fn remove_file(path: &Path) -> Result<(), Failure> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => crate::workdir::remove(path).map_err(io_failure(path)),
        Ok(_) => fs::remove_file(path).map_err(io_failure(path)),
        Err(_) => Ok(()),
    }
}

/// Removes the entries of directory `dir` whose names `select` picks.
fn remove_matching(dir: &Path, select: impl Fn(&str) -> bool) -> Result<(), Failure> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| select(name))
        .collect();
    names.sort();
    for name in names {
        remove_file(&dir.join(name))?;
    }
    Ok(())
}

/// Every path some package's `info/*.list` names (relative, no leading `/`).
fn packaged_paths(root: &Path) -> std::collections::BTreeSet<Vec<u8>> {
    let mut paths = std::collections::BTreeSet::new();
    let Ok(entries) = fs::read_dir(root.join("var/lib/dpkg/info")) else {
        return paths;
    };
    for entry in entries.flatten() {
        if entry.path().extension().is_some_and(|e| e == "list")
            && let Ok(text) = fs::read(entry.path())
        {
            for line in text.split(|&b| b == b'\n') {
                if let Some(path) = line.strip_prefix(b"/") {
                    paths.insert(path.to_vec());
                }
            }
        }
    }
    paths
}

/// Removes what is under `relative` (contents, not the directory itself) unless a package
/// ships it: runtime state a maintainer script left is not part of an image. Directories are
/// kept (emptied): `base-files` makes `/run/lock`, which `/var/lock` points to.
fn remove_unpackaged(
    root: &Path,
    relative: &Path,
    packaged: &std::collections::BTreeSet<Vec<u8>>,
) -> Result<(), Failure> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(entries) = fs::read_dir(root.join(relative)) else {
        return Ok(());
    };
    let mut children: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
    children.sort();
    for name in children {
        let child = relative.join(&name);
        let key = child.as_os_str().as_bytes().to_vec();
        if fs::symlink_metadata(root.join(&child)).is_ok_and(|m| m.is_dir()) {
            remove_unpackaged(root, &child, packaged)?;
        } else if !packaged.contains(&key) {
            remove_file(&root.join(&child))?;
        }
    }
    Ok(())
}

/// Runs the cleanup list on a built root.
pub fn run(root: &Path, profile: &Profile, mode: Mode) -> Result<(), Failure> {
    // The guards first: the real start-stop-daemon back, byte for byte.
    let daemon = root.join("usr/sbin/start-stop-daemon");
    let real = root.join("usr/sbin/start-stop-daemon.REAL");
    if fs::symlink_metadata(&real).is_ok() {
        fs::rename(&real, &daemon).map_err(io_failure(&daemon))?;
    }
    let marker = root.join(OURS.trim_start_matches('/'));
    if fs::symlink_metadata(&marker).is_ok() {
        remove_file(&root.join("usr/sbin/policy-rc.d"))?;
        remove_file(&marker)?;
    }
    for file in [
        "var/log/dpkg.log",
        "var/log/alternatives.log",
        "var/log/bootstrap.log",
        "var/log/fontconfig.log",
        "var/log/apt/history.log",
        "var/log/apt/term.log",
        "var/log/apt/eipp.log.xz",
        "var/cache/ldconfig/aux-cache",
        "var/lib/dbus/machine-id",
    ] {
        remove_file(&root.join(file))?;
    }
    remove_matching(&root.join("var/lib/dpkg"), |n| n.ends_with("-old"))?;
    remove_matching(&root.join("var/cache/debconf"), |n| n.ends_with("-old"))?;
    let unincorp = root.join("var/lib/dpkg/triggers/Unincorp");
    if fs::metadata(&unincorp).is_ok_and(|m| m.len() == 0) && mode == Mode::Extract {
        remove_file(&unincorp)?;
    }
    remove_matching(&root.join("var/lib/apt/lists"), |n| {
        n != "lock" && n != "partial"
    })?;
    remove_matching(&root.join("var/cache/apt"), |n| n.ends_with(".bin"))?;
    remove_matching(&root.join("var/cache/apt/archives"), |n| {
        n.ends_with(".deb")
    })?;
    let packaged = packaged_paths(root);
    remove_unpackaged(root, Path::new("tmp"), &packaged)?;
    remove_unpackaged(root, Path::new("run"), &packaged)?;
    if mode != Mode::Extract {
        let machine_id = root.join("etc/machine-id");
        if fs::symlink_metadata(&machine_id).is_ok() {
            fs::write(&machine_id, b"").map_err(io_failure(&machine_id))?;
        }
    }
    let fstab = root.join("etc/fstab");
    if mode != Mode::Extract && root.join("etc").is_dir() && fs::symlink_metadata(&fstab).is_err() {
        fs::write(&fstab, b"# UNCONFIGURED FSTAB FOR BASE SYSTEM\n").map_err(io_failure(&fstab))?;
        fs::set_permissions(&fstab, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .map_err(io_failure(&fstab))?;
    }
    if let Some(hostname) = &profile.build.hostname {
        let path = root.join("etc/hostname");
        if root.join("etc").is_dir() {
            remove_file(&path)?;
            fs::write(&path, format!("{hostname}\n")).map_err(io_failure(&path))?;
            fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
                .map_err(io_failure(&path))?;
        }
    }
    Ok(())
}
