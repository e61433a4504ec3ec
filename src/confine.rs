//! debroot's own file operations on a root after its packages are unpacked (the dpkg database,
//! the build guards, the cleanup), confined to the root.
//!
//! The tree holds symlinks its packages and scripts made, absolute ones included
//! (`var/run -> /run`), so a host path such as `ROOT/var/run/x` may leave the root. Rather than
//! resolving every path by hand, the operations run on a thread of debroot's own that has a
//! filesystem context of its own (`unshare(CLONE_FS)`) and is chrooted into the root: every path
//! it uses, `..` and absolute symlink targets included, resolves inside the root, as
//! `openat2(RESOLVE_IN_ROOT)` does for extraction. The thread sees the root as `/`; nothing else
//! in the process is affected. Needs root (of the host, or of the build's user namespace).

use std::io;
use std::path::Path;

/// Runs `work` with `/` being `root`, on a thread confined to it, and returns its result.
pub fn confined<T: Send>(root: &Path, work: impl FnOnce(&Path) -> T + Send) -> io::Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: FS only: the thread gets its own root, working directory and umask;
                // descriptors stay shared.
                unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS) }?;
                rustix::process::chroot(root)?;
                std::env::set_current_dir("/")?;
                Ok(work(Path::new("/")))
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the confined thread panicked")))
    })
}

/// [`confined`], with a failure to confine reported as a build failure naming the root.
pub fn in_root<T: Send>(
    root: &Path,
    work: impl FnOnce(&Path) -> Result<T, crate::error::Failure> + Send,
) -> Result<T, crate::error::Failure> {
    confined(root, work).map_err(|e| {
        crate::error::Failure::new(crate::error::ExitClass::Output, e)
            .context(format!("cannot enter the root `{}`", root.display()))
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_links_and_dotdot_stay_inside() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: chroot needs root");
            return;
        }
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../..", root.path().join("up")).unwrap();
        let wrote = confined(root.path(), |root| {
            let a = std::fs::write(root.join("abs/x"), b"a");
            let b = std::fs::write(root.join("up/y"), b"b");
            (a.is_ok(), b.is_ok())
        })
        .unwrap();
        // `abs` points to a folder that does not exist inside the root; `up` is the root.
        assert_eq!(wrote, (false, true));
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        assert_eq!(std::fs::read(root.path().join("y")).unwrap(), b"b");
        // The rest of the process is not confined.
        assert!(Path::new("/proc/self").exists() && outside.path().exists());
    }
}
