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
//! | `run/*` except `run/lock`, `tmp/*` | runtime state a script left; `run/lock` stays because `var/lock` points to it (Policy 9.1.4), as mmdebstrap |
//! | `etc/fstab` written when absent (`# UNCONFIGURED FSTAB FOR BASE SYSTEM`) | as debootstrap and mmdebstrap: tools expect the file |
//! | `etc/machine-id` | unlinked and made anew, empty, 0644: systemd makes an id at first boot, and an empty file can be bind-mounted over on a read-only root (machine-id(5)) |
//! | `var/lib/dbus/machine-id` | removed: derived from the machine id at first boot |
//! | `etc/hostname` | written from `build.hostname` when the profile sets one; never the host's |
//! | `var/lib/apt/lists/{lock,partial/}`, `var/cache/apt/archives/{lock,partial/}` | made as apt's first run makes them (`partial` owned by `_apt`, 0700): a root built by apt, as mmdebstrap's, has them |
//!
//! Afterwards every mtime newer than the epoch is set to the epoch (`pipeline`).

use std::fs;
use std::path::Path;

use crate::error::{Failure, io_at};
use crate::profile::{Mode, Profile};

/// The version of the cleanup list.
pub const VERSION: u32 = 1;

const POLICY_RC_D: &str = "#!/bin/sh\n# Written by debroot during the build: services are not started in a build.\nexit 101\n";
const FAKE_START_STOP_DAEMON: &str =
    "#!/bin/sh\necho \"Warning: fake start-stop-daemon called, doing nothing\" >&2\nexit 0\n";
/// Marks the policy-rc.d debroot wrote (a package may ship its own).
const OURS: &str = "/var/lib/dpkg/debroot-policy-rc.d";

/// Puts `policy-rc.d` and the no-op `start-stop-daemon` in place before scripts run.
pub fn install_guards(root: &Path) -> Result<(), Failure> {
    let policy = root.join("usr/sbin/policy-rc.d");
    if fs::symlink_metadata(&policy).is_err() {
        fs::write(&policy, POLICY_RC_D).map_err(io_at("clean up", &policy))?;
        fs::set_permissions(&policy, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(io_at("clean up", &policy))?;
        let marker = root.join(OURS.trim_start_matches('/'));
        fs::write(&marker, b"").map_err(io_at("clean up", &marker))?;
    }
    let daemon = root.join("usr/sbin/start-stop-daemon");
    let real = root.join("usr/sbin/start-stop-daemon.REAL");
    if fs::symlink_metadata(&daemon).is_ok_and(|m| m.is_file())
        && fs::symlink_metadata(&real).is_err()
    {
        fs::rename(&daemon, &real).map_err(io_at("clean up", &daemon))?;
        fs::write(&daemon, FAKE_START_STOP_DAEMON).map_err(io_at("clean up", &daemon))?;
        fs::set_permissions(&daemon, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(io_at("clean up", &daemon))?;
    }
    Ok(())
}

fn remove_file(path: &Path) -> Result<(), Failure> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            Ok(crate::workdir::remove(path).map_err(io_at("clean up", path))?)
        }
        Ok(_) => Ok(fs::remove_file(path).map_err(io_at("clean up", path))?),
        Err(_) => Ok(()),
    }
}

/// Removes the entries of directory `dir` whose names `select` picks.
fn remove_matching(dir: &Path, select: impl Fn(&str) -> bool) -> Result<(), Failure> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    // Names are bytes: a name that is not UTF-8 is matched on its lossy form but removed by
    // its real name.
    let mut names: Vec<std::ffi::OsString> = entries
        .flatten()
        .map(|e| e.file_name())
        .filter(|name| select(&name.to_string_lossy()))
        .collect();
    names.sort();
    for name in names {
        remove_file(&dir.join(name))?;
    }
    Ok(())
}

/// Runs the cleanup list on a built root, confined to it (see `confine`). Without privilege
/// (extract mode as a normal user) no script ran, so only what packages may ship is cleaned,
/// in direct children of the root that are real directories.
pub fn run(root: &Path, profile: &Profile, mode: Mode) -> Result<(), Failure> {
    if rustix::process::geteuid().is_root() {
        return crate::confine::in_root(root, |root| run_confined(root, profile, mode));
    }
    for (dir, keep) in [("run", Some("lock")), ("tmp", None)] {
        let path = root.join(dir);
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            remove_matching(&path, |n| Some(n) != keep)?;
        }
    }
    if let Some(hostname) = &profile.build.hostname
        && fs::symlink_metadata(root.join("etc")).is_ok_and(|m| m.is_dir())
    {
        write_hostname(root, hostname)?;
    }
    Ok(())
}

fn write_hostname(root: &Path, hostname: &str) -> Result<(), Failure> {
    let path = root.join("etc/hostname");
    remove_file(&path)?;
    fs::write(&path, format!("{hostname}\n")).map_err(io_at("clean up", &path))?;
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .map_err(io_at("clean up", &path))?;
    Ok(())
}

/// The uid of `name` in the root's `/etc/passwd` (read through the root, a regular file only:
/// `confine::read_file`).
fn uid_of(root: &Path, name: &str) -> Result<Option<u32>, Failure> {
    let passwd = crate::confine::read_file(root, "etc/passwd", crate::confine::MAX_ROOT_FILE)?
        .unwrap_or_default();
    Ok(String::from_utf8_lossy(&passwd).lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    }))
}

/// apt's state as its first run leaves it: its lock files, and its `partial` folders owned
/// by `_apt` (mode 0700). mmdebstrap runs apt in the root and gets these; debroot runs no apt.
fn apt_state(root: &Path) -> Result<(), Failure> {
    if fs::symlink_metadata(root.join("usr/bin/apt-get")).is_err() {
        return Ok(());
    }
    let apt = uid_of(root, "_apt")?;
    for dir in [
        "var/lib/apt/lists/partial",
        "var/cache/apt/archives/partial",
    ] {
        let path = root.join(dir);
        if fs::symlink_metadata(&path).is_err() {
            fs::create_dir_all(&path).map_err(io_at("clean up", &path))?;
        }
        if let Some(uid) = apt {
            std::os::unix::fs::lchown(&path, Some(uid), Some(0))
                .map_err(io_at("clean up", &path))?;
        }
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(io_at("clean up", &path))?;
    }
    for lock in ["var/lib/apt/lists/lock", "var/cache/apt/archives/lock"] {
        let path = root.join(lock);
        if fs::symlink_metadata(&path).is_err() {
            fs::write(&path, b"").map_err(io_at("clean up", &path))?;
            fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o640))
                .map_err(io_at("clean up", &path))?;
        }
    }
    Ok(())
}

fn run_confined(root: &Path, profile: &Profile, mode: Mode) -> Result<(), Failure> {
    // The guards first: the real start-stop-daemon back, byte for byte.
    let daemon = root.join("usr/sbin/start-stop-daemon");
    let real = root.join("usr/sbin/start-stop-daemon.REAL");
    if fs::symlink_metadata(&real).is_ok() {
        fs::rename(&real, &daemon).map_err(io_at("clean up", &daemon))?;
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
    remove_matching(&root.join("run"), |n| n != "lock")?;
    remove_matching(&root.join("tmp"), |_| true)?;
    if mode != Mode::Extract {
        // Unlinked and made anew: empty, 0644, whatever a package or systemd left there.
        let machine_id = root.join("etc/machine-id");
        if fs::symlink_metadata(&machine_id).is_ok() {
            remove_file(&machine_id)?;
            fs::write(&machine_id, b"").map_err(io_at("clean up", &machine_id))?;
            fs::set_permissions(
                &machine_id,
                std::os::unix::fs::PermissionsExt::from_mode(0o644),
            )
            .map_err(io_at("clean up", &machine_id))?;
        }
    }
    let fstab = root.join("etc/fstab");
    if mode != Mode::Extract && root.join("etc").is_dir() && fs::symlink_metadata(&fstab).is_err() {
        fs::write(&fstab, b"# UNCONFIGURED FSTAB FOR BASE SYSTEM\n")
            .map_err(io_at("clean up", &fstab))?;
        fs::set_permissions(&fstab, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .map_err(io_at("clean up", &fstab))?;
    }
    if mode != Mode::Extract {
        apt_state(root)?;
    }
    if let Some(hostname) = &profile.build.hostname
        && root.join("etc").is_dir()
    {
        write_hostname(root, hostname)?;
    }
    Ok(())
}
