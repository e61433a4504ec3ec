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
//!
//! Files of a root that debroot reads (`etc/passwd`, `etc/group`, dpkg's database) are read with
//! [`read_file`], confined or not: resolved inside the root (`openat2(RESOLVE_IN_ROOT)`), opened
//! without blocking, and read only if they are regular files of bounded size. A package or a
//! script that makes one of them a symlink to `/dev/zero`, a FIFO or a host file gets an error
//! naming the file, never a read on the host, an endless read or a hang.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::BorrowedFd;
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};

/// Most bytes debroot reads of one file of a root (dpkg's `status` of a large system is a few
/// MiB).
pub const MAX_ROOT_FILE: u64 = 64 << 20;

/// Why a file of the root was not read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{path}` of the root: {reason}")]
pub struct RootFileError {
    /// The file, relative to the root.
    pub path: String,
    pub reason: String,
    #[source]
    pub source: Option<io::Error>,
}

impl crate::error::Classify for RootFileError {
    fn class(&self) -> crate::error::ExitClass {
        crate::error::ExitClass::Output
    }
}

/// Reads `relative` (a path inside the root at `root`), resolved inside the root; `Ok(None)`
/// when it does not exist. Refused: anything but a regular file (a FIFO would block, a device
/// never end), and a file of more than `cap` bytes.
pub fn read_file(root: &Path, relative: &str, cap: u64) -> Result<Option<Vec<u8>>, RootFileError> {
    let error = |reason: &str, source: Option<io::Error>| RootFileError {
        path: relative.to_owned(),
        reason: reason.to_owned(),
        source,
    };
    let dir = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| error("cannot open the root", Some(e.into())))?;
    read_file_at(std::os::fd::AsFd::as_fd(&dir), relative, cap)
}

/// [`read_file`] in the root open at `root`.
pub fn read_file_at(
    root: BorrowedFd<'_>,
    relative: &str,
    cap: u64,
) -> Result<Option<Vec<u8>>, RootFileError> {
    let error = |reason: String, source: Option<io::Error>| RootFileError {
        path: relative.to_owned(),
        reason,
        source,
    };
    let fd = match rustix::fs::openat2(
        root,
        OsStr::new(relative),
        // Non-blocking: opening a FIFO for reading would wait for a writer.
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => return Ok(None),
        Err(errno) => return Err(error("cannot open it".into(), Some(errno.into()))),
    };
    let stat =
        rustix::fs::fstat(&fd).map_err(|e| error("cannot inspect it".into(), Some(e.into())))?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::RegularFile {
        let what = match kind {
            FileType::Directory => "a directory",
            FileType::Fifo => "a FIFO",
            FileType::CharacterDevice | FileType::BlockDevice => "a device",
            FileType::Socket => "a socket",
            _ => "something else",
        };
        return Err(error(format!("not a regular file ({what})"), None));
    }
    if stat.st_size as u64 > cap {
        return Err(error(
            format!("{} bytes, more than the {cap} debroot reads", stat.st_size),
            None,
        ));
    }
    let mut bytes = Vec::with_capacity(stat.st_size as usize);
    std::fs::File::from(fd)
        .take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| error("cannot read it".into(), Some(e)))?;
    if bytes.len() as u64 > cap {
        return Err(error(
            format!("more than the {cap} bytes debroot reads"),
            None,
        ));
    }
    Ok(Some(bytes))
}

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
    confined(root, work).map_err(crate::error::io_at("enter the root", root))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_files_are_read_inside_the_root_and_only_when_regular() {
        let outside = tempfile::tempdir().unwrap();
        let host_file = outside.path().join("passwd");
        std::fs::write(&host_file, b"host:x:4242:4242::/:/bin/sh\n").unwrap();
        let root = tempfile::tempdir().unwrap();
        let etc = root.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        std::fs::write(etc.join("passwd"), b"root:x:0:0::/root:/bin/sh\n").unwrap();
        let read = |name: &str| read_file(root.path(), name, 1024);
        assert_eq!(
            read("etc/passwd").unwrap().unwrap(),
            b"root:x:0:0::/root:/bin/sh\n"
        );
        assert_eq!(read("etc/missing").unwrap(), None);
        // Links to a host file, by absolute path and climbing: resolved in the root, where
        // there is no such file.
        std::os::unix::fs::symlink(&host_file, etc.join("abs")).unwrap();
        let climbing = format!(
            "{}{}",
            "../".repeat(32),
            host_file.to_str().unwrap().trim_start_matches('/')
        );
        std::os::unix::fs::symlink(&climbing, etc.join("climbing")).unwrap();
        assert_eq!(read("etc/abs").unwrap(), None);
        assert_eq!(read("etc/climbing").unwrap(), None);
        // A link inside the root is followed.
        std::os::unix::fs::symlink("/etc/passwd", etc.join("inside")).unwrap();
        assert!(read("etc/inside").unwrap().is_some());
        // `/dev/zero` (the root's, when it has one), a FIFO, a folder, a large file: refused.
        std::os::unix::fs::symlink("/dev/zero", etc.join("zero")).unwrap();
        assert_eq!(read("etc/zero").unwrap(), None);
        std::os::unix::fs::symlink("../../../../../../dev/zero", etc.join("up-zero")).unwrap();
        assert_eq!(read("etc/up-zero").unwrap(), None);
        rustix::fs::mknodat(
            rustix::fs::CWD,
            etc.join("fifo"),
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let error = read("etc/fifo").unwrap_err().to_string();
        assert_eq!(
            error,
            "cannot read `etc/fifo` of the root: not a regular file (a FIFO)"
        );
        let error = read("etc").unwrap_err().to_string();
        assert!(error.contains("(a directory)"), "{error}");
        std::fs::write(etc.join("big"), vec![b'x'; 1025]).unwrap();
        let error = read("etc/big").unwrap_err().to_string();
        assert!(error.contains("1025 bytes, more than the 1024"), "{error}");
    }

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
