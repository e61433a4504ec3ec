//! Walking a directory tree through descriptors, depth-first, with few of them open.
//!
//! The work directory's removal and the final mtime clamp walk trees a package shaped: 2,000
//! nested directories fit the name cap. Host paths of that depth are longer than the kernel
//! takes (`File name too long`), and a descriptor per level is more than a process may hold
//! (`ulimit -n 1024`: `Too many open files`). So every operation here names an entry by its
//! directory's descriptor and its own name, and only the deepest [`OPEN_LEVELS`] directories of
//! the walk keep their descriptors: going back up to one that let its descriptor go opens `..`
//! of its child and checks that it is the same directory (device and inode) as on the way
//! down, so that a tree changed under the walk stops it instead of leading it elsewhere.
//! Symlinks are never followed; with `one_device`, a directory on another filesystem (a mount)
//! stops the walk.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{FileType, Mode, OFlags};

/// Most directory descriptors a walk keeps open.
pub const OPEN_LEVELS: usize = 16;

/// What a walk does at each entry and each directory it finishes.
pub trait Visitor {
    /// Called once for a directory, on its descriptor, before its entries are read (to make a
    /// read-only directory readable, for one).
    fn enter(&mut self, _dir: &OwnedFd, _path: &[u8]) -> io::Result<()> {
        Ok(())
    }

    /// Called for each entry `name` of the directory `dir` (at `path`, relative to the top),
    /// `kind` as the directory listing says (`Unknown` when the filesystem does not say).
    /// Returns whether to walk into it, which only a directory allows.
    fn entry(
        &mut self,
        dir: &OwnedFd,
        path: &[u8],
        name: &[u8],
        kind: FileType,
    ) -> io::Result<bool>;

    /// Called once a subdirectory's entries are all visited: `dir` is it, `parent` its parent,
    /// `name` its name there.
    fn leave(
        &mut self,
        parent: &OwnedFd,
        name: &[u8],
        dir: &OwnedFd,
        path: &[u8],
    ) -> io::Result<()>;
}

/// A directory of the walk's current path.
struct Level {
    fd: Option<OwnedFd>,
    identity: (u64, u64),
    /// Its name in its parent, and the length of the current path up to it.
    name: Vec<u8>,
    path_len: usize,
    /// Entries not visited yet (popped from the end).
    pending: Vec<(Vec<u8>, FileType)>,
}

fn identity(fd: &OwnedFd) -> io::Result<(u64, u64)> {
    let stat = rustix::fs::fstat(fd)?;
    Ok((stat.st_dev, stat.st_ino))
}

fn entries(dir: &OwnedFd) -> io::Result<Vec<(Vec<u8>, FileType)>> {
    let mut out = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            out.push((name.to_vec(), entry.file_type()));
        }
    }
    // Popped from the end: visited in byte order.
    out.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(out)
}

/// `error` of `action` on the walk's `path`, as the `io::Error` the walk returns.
fn at<E: std::error::Error + Send + Sync + 'static>(
    action: &'static str,
    path: &[u8],
    error: E,
) -> io::Error {
    crate::error::io_at(action, crate::error::bytes_path(path))(error).into_io()
}

/// Walks the tree below the directory `top` (opened `O_RDONLY | O_DIRECTORY`), calling
/// `visitor`; `top` itself is entered but not left (the caller deals with it).
pub fn walk(top: OwnedFd, one_device: bool, visitor: &mut dyn Visitor) -> io::Result<()> {
    let (device, inode) = identity(&top)?;
    visitor.enter(&top, b"")?;
    let mut path: Vec<u8> = Vec::new();
    let mut stack = vec![Level {
        pending: entries(&top)?,
        fd: Some(top),
        identity: (device, inode),
        name: Vec::new(),
        path_len: 0,
    }];
    loop {
        let Some(level) = stack.last_mut() else {
            return Ok(());
        };
        let Some((name, kind)) = level.pending.pop() else {
            // The directory is done: leave it, from its parent.
            let Some(done) = stack.pop() else {
                return Ok(());
            };
            let Some(parent) = stack.last_mut() else {
                return Ok(());
            };
            let Some(done_fd) = done.fd else {
                return Err(io::Error::other("a walked directory lost its descriptor"));
            };
            if parent.fd.is_none() {
                let up = rustix::fs::openat(
                    &done_fd,
                    "..",
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| at("reopen", &path[..parent.path_len], e))?;
                let (dev, ino) = identity(&up)?;
                if (dev, ino) != parent.identity {
                    return Err(io::Error::other(format!(
                        "`{}` changed while it was walked",
                        crate::error::shown_bytes(&path[..parent.path_len], 256)
                    )));
                }
                parent.fd = Some(up);
            }
            let Some(parent_fd) = parent.fd.as_ref() else {
                return Err(io::Error::other("a walked directory lost its descriptor"));
            };
            visitor.leave(parent_fd, &done.name, &done_fd, &path)?;
            path.truncate(parent.path_len);
            continue;
        };
        let Some(dir) = level.fd.as_ref() else {
            return Err(io::Error::other("a walked directory lost its descriptor"));
        };
        let dir_path_len = level.path_len;
        if !visitor.entry(dir, &path, &name, kind)? {
            continue;
        }
        let child = rustix::fs::openat(
            dir,
            OsStr::from_bytes(&name),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        );
        path.truncate(dir_path_len);
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(&name);
        let child = child.map_err(|e| at("open", &path, e))?;
        let (dev, ino) = identity(&child)?;
        if one_device && dev != device {
            return Err(io::Error::other(format!(
                "refusing to cross a filesystem boundary at `{}`",
                crate::error::shown_bytes(&path, 256)
            )));
        }
        visitor
            .enter(&child, &path)
            .map_err(|e| at("enter", &path, e))?;
        let pending = entries(&child).map_err(|e| at("read", &path, e))?;
        stack.push(Level {
            fd: Some(child),
            identity: (dev, ino),
            name,
            path_len: path.len(),
            pending,
        });
        // Only the deepest levels keep their descriptors.
        if stack.len() > OPEN_LEVELS {
            let old = stack.len() - OPEN_LEVELS - 1;
            stack[old].fd = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every entry and every directory left, in order.
    struct Recorder(Vec<String>);

    impl Visitor for Recorder {
        fn entry(
            &mut self,
            _dir: &OwnedFd,
            path: &[u8],
            name: &[u8],
            kind: FileType,
        ) -> io::Result<bool> {
            self.0.push(format!(
                "entry {}/{}",
                String::from_utf8_lossy(path),
                String::from_utf8_lossy(name)
            ));
            Ok(kind == FileType::Directory)
        }

        fn leave(
            &mut self,
            _parent: &OwnedFd,
            name: &[u8],
            _dir: &OwnedFd,
            path: &[u8],
        ) -> io::Result<()> {
            self.0.push(format!(
                "leave {} ({})",
                String::from_utf8_lossy(name),
                String::from_utf8_lossy(path)
            ));
            Ok(())
        }
    }

    fn open(path: &std::path::Path) -> OwnedFd {
        rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    #[test]
    fn walks_in_order_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        std::fs::write(dir.path().join("b/c/f"), b"").unwrap();
        std::fs::write(dir.path().join("a"), b"").unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("b/link")).unwrap();
        let mut recorder = Recorder(Vec::new());
        walk(open(dir.path()), true, &mut recorder).unwrap();
        assert_eq!(
            recorder.0,
            [
                "entry /a",
                "entry /b",
                "entry b/c",
                "entry b/c/f",
                "leave c (b/c)",
                "entry b/link",
                "leave b (b)",
            ]
        );
    }

    /// Deeper than the descriptors a process may hold, the paths longer than the kernel takes.
    #[test]
    fn walks_deeper_than_descriptors_and_path_lengths_allow() {
        let dir = tempfile::tempdir().unwrap();
        let top = open(dir.path());
        let mut current = rustix::fs::openat(
            &top,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        for _ in 0..3000 {
            rustix::fs::mkdirat(&current, "a", Mode::from_raw_mode(0o755)).unwrap();
            current = rustix::fs::openat(
                &current,
                "a",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .unwrap();
        }
        drop(current);
        struct Remover(usize);
        impl Visitor for Remover {
            fn entry(
                &mut self,
                _dir: &OwnedFd,
                _path: &[u8],
                _name: &[u8],
                kind: FileType,
            ) -> io::Result<bool> {
                Ok(kind == FileType::Directory)
            }
            fn leave(
                &mut self,
                parent: &OwnedFd,
                name: &[u8],
                _dir: &OwnedFd,
                _path: &[u8],
            ) -> io::Result<()> {
                self.0 += 1;
                rustix::fs::unlinkat(
                    parent,
                    OsStr::from_bytes(name),
                    rustix::fs::AtFlags::REMOVEDIR,
                )?;
                Ok(())
            }
        }
        let mut remover = Remover(0);
        walk(top, true, &mut remover).unwrap();
        assert_eq!(remover.0, 3000);
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }
}
