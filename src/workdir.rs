//! The build's private work directory, its removal, and cleanup on interruption.
//!
//! A work directory is created with mode 0700 (so setuid programs of an old snapshot are never
//! reachable by other users of the host, docs/THREATS.md §1 rule 11) beside the output, so the
//! output can be renamed into place. It is removed with `openat`/`unlinkat` only (`fdwalk`: a tree
//! of any depth, a few descriptors open, no path longer than a name), never crossing into another
//! filesystem, and only after checking `/proc/self/mountinfo` that nothing is mounted under it
//! (rule 13): debroot's own mounts live in private namespaces and vanish with them, but a
//! leftover mount must stop the removal, not be deleted through.
//!
//! Paths registered here are removed when debroot is interrupted (SIGINT, SIGTERM, SIGHUP),
//! before it exits with 130 (143 for SIGTERM).

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rustix::fs::{AtFlags, Mode, OFlags};

static REGISTERED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The id maps of an `unshare` build: set, a tree the user alone cannot remove is removed by a
/// debroot child in a user namespace with the same maps.
static NAMESPACE: Mutex<Option<(crate::userns::IdMap, crate::userns::IdMap)>> = Mutex::new(None);

/// Held while a tree is being removed.
static REMOVING: Mutex<()> = Mutex::new(());

/// debroot children to kill before removing anything on interruption.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Removal of trees made in a user namespace goes through one with `uids` and `gids`.
pub fn use_namespace(uids: crate::userns::IdMap, gids: crate::userns::IdMap) {
    if let Ok(mut namespace) = NAMESPACE.lock() {
        *namespace = Some((uids, gids));
    }
}

/// Registers (or, with `false`, forgets) a child that works in a registered path.
pub fn track_child(pid: u32, running: bool) {
    if let Ok(mut children) = CHILDREN.lock() {
        children.retain(|&p| p != pid);
        if running {
            children.push(pid);
        }
    }
}

/// Removes `path` as [`remove`] does, from a user namespace when the build made the tree in
/// one and the user alone may not delete it.
pub fn remove_anywhere(path: &Path) -> io::Result<()> {
    // One removal at a time: the signal handler and the failing build may both try.
    let _guard = REMOVING.lock();
    let error = match remove(path) {
        Ok(()) => return Ok(()),
        Err(error) => error,
    };
    let Some((uids, gids)) = NAMESPACE.lock().ok().and_then(|n| *n) else {
        return Err(error);
    };
    let args = [OsStr::new("remove").to_owned(), path.as_os_str().to_owned()];
    let mut child = crate::userns::Namespaced::spawn(&args, uids, gids)
        .map_err(|failure| io::Error::other(failure.to_string()))?
        .child;
    let status = child.wait()?;
    if status.success() {
        unregister(path);
        Ok(())
    } else {
        Err(error)
    }
}

/// Stops the tracked children and waits (briefly) until they are gone: SIGTERM first, so
/// that a reaper (a hook run without namespaces) kills what it adopted before it exits (a
/// namespace helper dies of it at once, and its namespace with it), then SIGKILL.
fn kill_children() {
    use rustix::process::{Pid, Signal};
    let pids: Vec<u32> = CHILDREN.lock().map(|c| c.clone()).unwrap_or_default();
    for &pid in &pids {
        if let Some(pid) = Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process(pid, Signal::TERM);
        }
    }
    let alive = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(") ")
                .next()
                .is_some_and(|s| !s.starts_with('Z'))
        })
    };
    wait_until_gone(&pids, alive, 100);
    for &pid in pids.iter().filter(|pid| alive(pid)) {
        if let Some(pid) = Pid::from_raw(pid as i32) {
            // A hook's reaper leads a process group of its own: the group goes too (for the
            // others there is no such group, and this does nothing).
            let _ = rustix::process::kill_process_group(pid, Signal::KILL);
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
    }
    wait_until_gone(&pids, alive, 200);
}

/// Polls every 10 ms, at most `polls` times, until none of `pids` is `alive`.
fn wait_until_gone(pids: &[u32], alive: impl Fn(&u32) -> bool, polls: u32) {
    for _ in 0..polls {
        if !pids.iter().any(&alive) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Registers `path` for removal on interruption.
pub fn register(path: &Path) {
    if let Ok(mut list) = REGISTERED.lock() {
        list.push(path.to_path_buf());
    }
}

/// Forgets `path` (it was removed or kept on purpose).
pub fn unregister(path: &Path) {
    if let Ok(mut list) = REGISTERED.lock() {
        list.retain(|p| p != path);
    }
}

/// Set once a signal arrived: the handler owns the exit from then on.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a signal arrived: code that writes into a registered path stops when it sees this,
/// so that the handler's removal is not raced by new files.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Once interrupted, waits for the handler to clean up and exit: the failure the main thread
/// sees (its commands killed by the handler) is a consequence, not the cause, and must not be
/// reported as one.
pub fn yield_to_interruption() {
    while interrupted() {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Installs the handler: on SIGINT, SIGTERM or SIGHUP, remove what is registered, say so, and
/// exit 130 (143 for SIGTERM). A second signal during cleanup is ignored.
pub fn install_signal_handler() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
            kill_children();
            let paths: Vec<PathBuf> = REGISTERED.lock().map(|l| l.clone()).unwrap_or_default();
            for path in paths.iter().rev() {
                // The build's writers stop at their next entry once they see the flag; until
                // then a removal can fail on a file made meanwhile: try again, for 5 s at most.
                for _ in 0..100 {
                    if remove_anywhere(path).is_ok() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
            eprintln!("error: interrupted, cleaned up");
            std::process::exit(if signal == SIGTERM { 143 } else { 130 });
        }
    });
}

/// Removes the work directories and temporary outputs (`.NAME.debroot-PID-N[.tmp]`) of output
/// `name` in `parent` whose debroot process is gone (killed with SIGKILL, or the machine went
/// down) and that belong to this user: their namespaces died with them, so nothing is mounted
/// there any more, and the removal still refuses to cross a mount. Another user's files are
/// never touched. Returns each removed path with the process id it named, and each one that
/// could not be removed with the reason.
pub fn remove_stale(parent: &Path, name: &str) -> Vec<(PathBuf, u32, Option<io::Error>)> {
    let prefix = format!(".{name}.debroot-");
    let mut stale = Vec::new();
    let Ok(entries) = std::fs::read_dir(parent) else {
        return stale;
    };
    let mut found: Vec<(PathBuf, u32)> = entries
        .flatten()
        .filter_map(|entry| {
            let file_name = entry.file_name();
            let rest = file_name.to_str()?.strip_prefix(&prefix)?;
            let (pid, serial) = rest.split_once('-')?;
            serial
                .strip_suffix(".tmp")
                .unwrap_or(serial)
                .parse::<u32>()
                .ok()?;
            let owner = std::os::unix::fs::MetadataExt::uid(&entry.metadata().ok()?);
            if owner != rustix::process::geteuid().as_raw() {
                return None;
            }
            Some((entry.path(), pid.parse::<u32>().ok()?))
        })
        .collect();
    found.sort();
    for (path, pid) in found {
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let error = remove_anywhere(&path).err();
        stale.push((path, pid, error));
    }
    stale
}

/// Creates `parent/.NAME.debroot-PID/` with mode 0700.
pub fn create(parent: &Path, name: &str) -> io::Result<PathBuf> {
    for attempt in 0..100 {
        let path = parent.join(format!(".{name}.debroot-{}-{attempt}", std::process::id()));
        // Created 0700 (the umask can only take bits away), never observable as more.
        match std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .create(&path)
        {
            Ok(()) => {
                std::fs::set_permissions(
                    &path,
                    std::os::unix::fs::PermissionsExt::from_mode(0o700),
                )?;
                register(&path);
                return Ok(path);
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::other("cannot create a unique work directory"))
}

/// Mount points at or below `path`, from `/proc/thread-self/mountinfo`: those of the calling
/// thread's mount namespace (the root phases may run in one of their own, `pipeline::scratch`).
pub fn mounts_below(path: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string("/proc/thread-self/mountinfo") else {
        return Vec::new();
    };
    let prefix = path.as_os_str().as_bytes();
    text.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| PathBuf::from(point.replace("\\040", " ")))
        .filter(|point| {
            let bytes = point.as_os_str().as_bytes();
            bytes == prefix || (bytes.starts_with(prefix) && bytes.get(prefix.len()) == Some(&b'/'))
        })
        .collect()
}

/// Removes `path` and everything below it without crossing a filesystem boundary, refusing if
/// anything is mounted below it.
pub fn remove(path: &Path) -> io::Result<()> {
    let mounts = mounts_below(path);
    if !mounts.is_empty() {
        return Err(io::Error::other(format!(
            "refusing to remove `{}`: `{}` is mounted below it",
            path.display(),
            mounts[0].display()
        )));
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            unregister(path);
            return Ok(());
        }
        Err(error) => return Err(error),
    };
    if !meta.is_dir() {
        std::fs::remove_file(path)?;
        unregister(path);
        return Ok(());
    }
    let dir = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    crate::fdwalk::walk(dir, true, &mut Remover).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!(
                "cannot remove `{}`: {error}",
                crate::error::shown_path(path)
            ),
        )
    })?;
    std::fs::remove_dir(path)?;
    unregister(path);
    Ok(())
}

/// An entry that is already gone is removed.
fn ignore_gone(result: rustix::io::Result<()>) -> io::Result<()> {
    match result {
        Err(rustix::io::Errno::NOENT) => Ok(()),
        other => other.map_err(io::Error::from),
    }
}

/// Empties a tree (`fdwalk`: by descriptors, a bounded number of them open, never crossing a
/// filesystem boundary), each directory removed once empty.
struct Remover;

impl crate::fdwalk::Visitor for Remover {
    fn enter(&mut self, dir: &OwnedFd, _path: &[u8]) -> io::Result<()> {
        // Make the directory writable and searchable (a package may ship a 0555 directory).
        let _ = rustix::fs::fchmod(dir, Mode::from_raw_mode(0o700));
        Ok(())
    }

    fn entry(
        &mut self,
        dir: &OwnedFd,
        _path: &[u8],
        name: &[u8],
        kind: rustix::fs::FileType,
    ) -> io::Result<bool> {
        let name = OsStr::from_bytes(name);
        let is_dir = match kind {
            rustix::fs::FileType::Directory => true,
            rustix::fs::FileType::Unknown => {
                rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|s| {
                    rustix::fs::FileType::from_raw_mode(s.st_mode)
                        == rustix::fs::FileType::Directory
                })
            }
            _ => false,
        };
        if !is_dir {
            ignore_gone(rustix::fs::unlinkat(dir, name, AtFlags::empty()))?;
        }
        Ok(is_dir)
    }

    fn leave(
        &mut self,
        parent: &OwnedFd,
        name: &[u8],
        _dir: &OwnedFd,
        _path: &[u8],
    ) -> io::Result<()> {
        ignore_gone(rustix::fs::unlinkat(
            parent,
            OsStr::from_bytes(name),
            AtFlags::REMOVEDIR,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_a_tree_with_read_only_directories_and_dangling_links() {
        let dir = tempfile::tempdir().unwrap();
        let work = create(dir.path(), "out.tar").unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&work).unwrap().permissions()
            ) & 0o777,
            0o700
        );
        std::fs::create_dir_all(work.join("root/usr/bin")).unwrap();
        std::fs::write(work.join("root/usr/bin/x"), b"x").unwrap();
        std::os::unix::fs::symlink("/nonexistent", work.join("root/link")).unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"keep").unwrap();
        std::os::unix::fs::symlink(&outside, work.join("root/usr/escape")).unwrap();
        std::fs::set_permissions(
            work.join("root/usr/bin"),
            std::os::unix::fs::PermissionsExt::from_mode(0o555),
        )
        .unwrap();
        remove(&work).unwrap();
        assert!(!work.exists());
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
    }
}
