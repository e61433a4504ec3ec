//! The hook helpers that move files across the root's boundary: `copy-in`, `copy-out`,
//! `sync-in`, `sync-out`, `tar-in`, `tar-out` (mmdebstrap's names and meanings).
//!
//! Every path inside the root is resolved with `openat2(RESOLVE_IN_ROOT)`: `..` and absolute
//! symlinks (`etc/resolv.conf -> /run/...`, or one a package or script planted pointing at a
//! host path) resolve inside the root, as the root's own programs would see them after
//! `chroot`, never to the host (docs/THREATS.md D6). On both sides, what is copied is never
//! followed: a symlink is copied as a symlink; a directory's entries are walked in byte order,
//! depth-capped.
//!
//! Into the root (`copy-in`, `sync-in`), a regular file is written through an existing symlink
//! at its destination, resolved in the root, as `cp` does (`etc/resolv.conf ->
//! ../run/systemd/resolve/stub-resolv.conf` gets the file where the root's programs will read
//! it); `tar-in` replaces such a symlink instead, as `tar` does.
//!
//! Out to the host (`copy-out`, `sync-out`), only the folder the user named is looked up as a
//! path (a symlink there is the user's choice and followed). Everything below it is reached
//! from that folder's descriptor with `openat2(RESOLVE_NO_SYMLINKS)`, and a symlink found at
//! any name below it, left there by an earlier run (docs/THREATS.md G5) or by anyone, is replaced,
//! never written through: a file is written under a temporary name (`O_EXCL`, mode 0, never
//! through a link) and renamed over the name; a symlink is made under a temporary name and
//! renamed over it; where a directory goes, a symlink is removed and the directory made, as
//! `tar` does without `--keep-directory-symlink` and `rsync` without `--keep-dirlinks`. A
//! directory where a file or symlink goes, or a file where a directory goes, is an error.
//! `tar-out` writes its tarball the same way (a temporary file beside it, renamed over it).
//!
//! Modes (setuid included) and mtimes are kept. Owners: what `copy-in` and `sync-in` bring into
//! the root is root's (the build machine's uids mean nothing in the image, and would make it
//! depend on who built it); what `copy-out` and `sync-out` bring out is the caller's; `tar-in`
//! keeps the tarball's numeric owners (when running as root of the host or of the build's user
//! namespace). Device nodes, FIFOs and sockets are refused: none belongs in a build's inputs.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

use crate::error::{Classify, ExitClass, IoError, io_at};
use crate::profile::OutputFormat;

/// Deepest directory nesting copied.
const MAX_DEPTH: usize = 256;

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// `cannot ACTION `PATH``.
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("`{path}` is {what}; only files, directories and symlinks are copied")]
    Special { path: String, what: &'static str },
    #[error("`{path}` is not a directory")]
    NotDirectory { path: String },
    #[error("`{path}` is nested deeper than {MAX_DEPTH} directories")]
    TooDeep { path: String },
    #[error("`{path}`: {message}")]
    Archive { path: String, message: String },
}

impl Classify for TransferError {
    fn class(&self) -> ExitClass {
        ExitClass::Script
    }
}

/// Where a side's paths lead.
enum Place {
    /// The root: paths absolute in it, resolved inside it.
    Root,
    /// The host, as the user names paths there (sources): relative to the working directory.
    Host,
    /// Below the host folder the user named as a destination (this path): paths relative to
    /// it, no symlink followed.
    Below(PathBuf),
}

/// One side of a transfer: the host, the root (paths resolved inside it), or a host folder
/// written below (no symlink followed).
pub struct Side {
    dir: OwnedFd,
    place: Place,
}

impl Side {
    /// The host's filesystem; relative paths from the working directory.
    pub fn host() -> Result<Side, TransferError> {
        let dir = rustix::fs::open(
            ".",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_at("open", Path::new(".")))?;
        Ok(Side {
            dir,
            place: Place::Host,
        })
    }

    /// The host folder `dir`, named by the user as a destination (a symlink there followed):
    /// what is written goes below it, with no symlink followed.
    pub fn below(dir: &Path) -> Result<Side, TransferError> {
        let shown = dir.display().to_string();
        let fd = rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            rustix::io::Errno::NOTDIR => TransferError::NotDirectory {
                path: shown.clone(),
            },
            e => io_at("open", Path::new(&shown))(e).into(),
        })?;
        Ok(Side {
            dir: fd,
            place: Place::Below(dir.to_path_buf()),
        })
    }

    fn is_root(&self) -> bool {
        matches!(self.place, Place::Root)
    }

    fn is_below(&self) -> bool {
        matches!(self.place, Place::Below(_))
    }

    /// The tree at `root`, every path resolved inside it.
    pub fn root(root: &Path) -> Result<Side, TransferError> {
        let dir = rustix::fs::open(
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_at(
            "open the root",
            Path::new(&root.display().to_string()),
        ))?;
        Ok(Side {
            dir,
            place: Place::Root,
        })
    }

    /// How messages name `path` of this side.
    fn shown(&self, path: &Path) -> String {
        match &self.place {
            Place::Root => format!(
                "{} (in the root)",
                Path::new("/").join(relative(path)).display()
            ),
            Place::Host => path.display().to_string(),
            Place::Below(dir) => dir.join(path).display().to_string(),
        }
    }

    fn resolve(&self) -> ResolveFlags {
        match self.place {
            Place::Root => ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            Place::Host => ResolveFlags::empty(),
            Place::Below(_) => ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
        }
    }

    /// The path as this side resolves it: inside the root, relative to its top.
    fn path<'p>(&self, path: &'p Path) -> std::borrow::Cow<'p, Path> {
        if self.is_root() {
            std::borrow::Cow::Owned(relative(path))
        } else {
            std::borrow::Cow::Borrowed(path)
        }
    }

    fn open(&self, path: &Path, flags: OFlags, mode: u32) -> rustix::io::Result<OwnedFd> {
        let path = self.path(path);
        let path: &Path = if path.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &path
        };
        rustix::fs::openat2(
            &self.dir,
            path,
            flags | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
            self.resolve(),
        )
    }

    /// The directory at `path` (`flags` besides `O_DIRECTORY`); "not a directory" said so.
    fn open_dir(&self, path: &Path, flags: OFlags) -> Result<OwnedFd, TransferError> {
        self.open(path, flags | OFlags::DIRECTORY, 0)
            .map_err(|e| match e {
                rustix::io::Errno::NOTDIR => TransferError::NotDirectory {
                    path: self.shown(path),
                },
                e => io_at("open", Path::new(&self.shown(path)))(e).into(),
            })
    }

    /// The directory holding `path`'s last component (symlinks on the way followed, inside the
    /// root for the root) and that component. `path` must end in a name.
    fn parent(&self, path: &Path) -> Result<(OwnedFd, OsString), TransferError> {
        let name = match path.components().next_back() {
            Some(Component::Normal(name)) => name.to_owned(),
            _ => {
                return Err(TransferError::Io(io_at(
                    "use",
                    Path::new(&self.shown(path)),
                )(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the path names no file",
                ))));
            }
        };
        let parent = path.parent().unwrap_or(Path::new(""));
        let fd = self
            .open(parent, OFlags::PATH | OFlags::DIRECTORY, 0)
            .map_err(io_at("open the folder of", Path::new(&self.shown(path))))?;
        Ok((fd, name))
    }
}

/// `path` without its root and `.`/`..` resolution left to the kernel: the components after
/// `/`, for `openat2` relative to the root's descriptor.
fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect()
}

fn is_root_user() -> bool {
    rustix::process::geteuid().is_root()
}

/// What is at `name` in `dir`, not following a symlink; `None` if nothing.
fn lstat_at(dir: &OwnedFd, name: &OsStr) -> rustix::io::Result<Option<rustix::fs::Stat>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(stat)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

fn set_attributes(
    fd: impl AsFd,
    stat: &rustix::fs::Stat,
    shown: &str,
) -> Result<(), TransferError> {
    if is_root_user() {
        rustix::fs::fchown(
            &fd,
            Some(rustix::fs::Uid::from_raw(stat.st_uid)),
            Some(rustix::fs::Gid::from_raw(stat.st_gid)),
        )
        .map_err(io_at("set the owner of", Path::new(shown)))?;
    }
    // After the owner: chown clears setuid and setgid.
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(stat.st_mode & 0o7777))
        .map_err(io_at("set the mode of", Path::new(shown)))?;
    let time = rustix::fs::Timespec {
        tv_sec: stat.st_mtime,
        tv_nsec: 0,
    };
    rustix::fs::futimens(
        &fd,
        &rustix::fs::Timestamps {
            last_access: time,
            last_modification: time,
        },
    )
    .map_err(io_at("set the time of", Path::new(shown)))?;
    Ok(())
}

/// The directory at `path` of `side`, made if missing. In the root an existing symlink to a
/// directory is kept and used (resolved in the root), as `tar --keep-directory-symlink` does;
/// below a host destination it is replaced by the directory, never followed.
fn ensure_dir(side: &Side, path: &Path, mode: u32) -> Result<OwnedFd, TransferError> {
    let shown = side.shown(path);
    if relative(path).as_os_str().is_empty() {
        return side
            .open(path, OFlags::RDONLY | OFlags::DIRECTORY, 0)
            .map_err(|e| TransferError::from(io_at("open", Path::new(&shown))(e)));
    }
    let (parent, name) = side.parent(path)?;
    match lstat_at(&parent, &name).map_err(io_at("inspect", Path::new(&shown)))? {
        None => rustix::fs::mkdirat(&parent, &name, Mode::from_raw_mode(mode & 0o7777))
            .map_err(io_at("create the directory", Path::new(&shown)))?,
        Some(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => {}
        Some(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
            if side.is_below() {
                rustix::fs::unlinkat(&parent, &name, AtFlags::empty())
                    .map_err(io_at("replace the symlink", Path::new(&shown)))?;
                rustix::fs::mkdirat(&parent, &name, Mode::from_raw_mode(mode & 0o7777))
                    .map_err(io_at("create the directory", Path::new(&shown)))?;
            }
        }
        Some(_) => return Err(TransferError::NotDirectory { path: shown }),
    }
    side.open(path, OFlags::RDONLY | OFlags::DIRECTORY, 0)
        .map_err(|e| match e {
            rustix::io::Errno::NOTDIR => TransferError::NotDirectory {
                path: shown.clone(),
            },
            e => io_at("open", Path::new(&shown))(e).into(),
        })
}

/// [`ensure_dir`] for `path` and every folder above it (`mkdir -p`).
fn ensure_dir_all(side: &Side, path: &Path, mode: u32) -> Result<OwnedFd, TransferError> {
    let mut prefix = PathBuf::new();
    for component in path.components() {
        prefix.push(component);
        if matches!(component, Component::Normal(_)) {
            ensure_dir(side, &prefix, mode)?;
        }
    }
    ensure_dir(side, path, mode)
}

/// How a regular file meets an existing symlink at its destination.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnSymlink {
    /// Write through it (`cp`).
    Follow,
    /// Replace it (`tar`).
    Replace,
}

/// Distinguishes the temporary names of one process.
static TEMPORARIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Makes a new entry under a temporary name in `parent` with `make` (which must fail with
/// `EEXIST` when the name is taken), then renames it over `name`: whatever was at `name` (a
/// symlink included) is replaced, never followed. The temporary is removed on failure.
fn replace_at<T>(
    parent: &OwnedFd,
    name: &OsStr,
    shown: &str,
    make: &mut dyn FnMut(&OsStr) -> Result<T, TransferError>,
    finish: &mut dyn FnMut(&OsStr, T) -> Result<(), TransferError>,
) -> Result<(), TransferError> {
    for _ in 0..100 {
        let serial = TEMPORARIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let temporary = OsString::from(format!(".debroot-{}-{serial}.tmp", std::process::id()));
        let made = match make(&temporary) {
            Ok(made) => made,
            Err(TransferError::Io(error)) if error.kind() == io::ErrorKind::AlreadyExists => {
                continue;
            }
            Err(error) => return Err(error),
        };
        let result = finish(&temporary, made).and_then(|()| {
            rustix::fs::renameat(parent, &temporary, parent, name)
                .map_err(|e| TransferError::from(io_at("replace", Path::new(shown))(e)))
        });
        if result.is_err() {
            let _ = rustix::fs::unlinkat(parent, &temporary, AtFlags::empty());
        }
        return result;
    }
    Err(TransferError::Io(io_at(
        "create a temporary file beside",
        Path::new(shown),
    )(io::Error::other(
        "no free temporary name",
    ))))
}

/// Creates the regular file `path` of `side` with `data`, attributes from `stat`.
fn write_file(
    side: &Side,
    path: &Path,
    data: &mut dyn Read,
    stat: &rustix::fs::Stat,
    on_symlink: OnSymlink,
) -> Result<(), TransferError> {
    let shown = side.shown(path);
    let (parent, name) = side.parent(path)?;
    let existing = lstat_at(&parent, &name).map_err(io_at("inspect", Path::new(&shown)))?;
    if side.is_below() {
        if let Some(existing) = existing
            && FileType::from_raw_mode(existing.st_mode) == FileType::Directory
        {
            return Err(TransferError::Io(io_at("replace", Path::new(&shown))(
                io::Error::new(io::ErrorKind::IsADirectory, "it is a directory"),
            )));
        }
        return replace_at(
            &parent,
            &name,
            &shown,
            &mut |temporary| {
                rustix::fs::openat(
                    &parent,
                    temporary,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| TransferError::from(io_at("create", Path::new(&shown))(e)))
            },
            &mut |_, fd| {
                let mut file = std::fs::File::from(fd);
                io::copy(data, &mut file).map_err(|source| {
                    TransferError::Io(io_at("write", Path::new(&shown))(source))
                })?;
                set_attributes(&file, stat, &shown)
            },
        );
    }
    match existing {
        Some(existing) if FileType::from_raw_mode(existing.st_mode) == FileType::Directory => {
            return Err(TransferError::Io(io_at("replace", Path::new(&shown))(
                io::Error::new(io::ErrorKind::IsADirectory, "it is a directory"),
            )));
        }
        Some(existing)
            if FileType::from_raw_mode(existing.st_mode) == FileType::Symlink
                && on_symlink == OnSymlink::Replace =>
        {
            rustix::fs::unlinkat(&parent, &name, AtFlags::empty())
                .map_err(io_at("replace", Path::new(&shown)))?;
        }
        _ => {}
    }
    let fd = side
        .open(path, OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC, 0o600)
        .map_err(io_at("create", Path::new(&shown)))?;
    let mut file = std::fs::File::from(fd);
    io::copy(data, &mut file)
        .map_err(|source| TransferError::Io(io_at("write", Path::new(&shown))(source)))?;
    set_attributes(&file, stat, &shown)
}

fn write_symlink(
    side: &Side,
    path: &Path,
    target: &OsStr,
    stat: &rustix::fs::Stat,
) -> Result<(), TransferError> {
    let shown = side.shown(path);
    let (parent, name) = side.parent(path)?;
    let existing = lstat_at(&parent, &name).map_err(io_at("inspect", Path::new(&shown)))?;
    if let Some(existing) = existing
        && FileType::from_raw_mode(existing.st_mode) == FileType::Directory
    {
        return Err(TransferError::Io(io_at("replace", Path::new(&shown))(
            io::Error::new(io::ErrorKind::IsADirectory, "it is a directory"),
        )));
    }
    let owner = |name: &OsStr| -> Result<(), TransferError> {
        if is_root_user() {
            rustix::fs::chownat(
                &parent,
                name,
                Some(rustix::fs::Uid::from_raw(stat.st_uid)),
                Some(rustix::fs::Gid::from_raw(stat.st_gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(io_at("set the owner of", Path::new(&shown)))?;
        }
        Ok(())
    };
    if side.is_below() {
        return replace_at(
            &parent,
            &name,
            &shown,
            &mut |temporary| {
                rustix::fs::symlinkat(target, &parent, temporary).map_err(|e| {
                    TransferError::from(io_at("create the symlink", Path::new(&shown))(e))
                })
            },
            &mut |temporary, ()| owner(temporary),
        );
    }
    if existing.is_some() {
        rustix::fs::unlinkat(&parent, &name, AtFlags::empty())
            .map_err(io_at("replace", Path::new(&shown)))?;
    }
    rustix::fs::symlinkat(target, &parent, &name)
        .map_err(io_at("create the symlink", Path::new(&shown)))?;
    owner(&name)
}

fn kind_name(file_type: FileType) -> &'static str {
    match file_type {
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        _ => "of an unknown type",
    }
}

/// Copies `from` of `source` to `to` of `target`, recursively, never following what it copies.
fn copy(
    source: &Side,
    from: &Path,
    target: &Side,
    to: &Path,
    depth: usize,
) -> Result<(), TransferError> {
    let shown = source.shown(from);
    if depth > MAX_DEPTH {
        return Err(TransferError::TooDeep { path: shown });
    }
    let (parent, name) = source.parent(from)?;
    let mut stat = lstat_at(&parent, &name)
        .map_err(io_at("inspect", Path::new(&shown)))?
        .ok_or_else(|| {
            TransferError::Io(io_at("copy", Path::new(&shown))(io::Error::from(
                io::ErrorKind::NotFound,
            )))
        })?;
    // Who owned a file on the build machine means nothing in the image (and would make it
    // depend on the machine): what is copied in is root's; what is copied out is the caller's.
    if target.is_root() {
        (stat.st_uid, stat.st_gid) = (0, 0);
    } else {
        stat.st_uid = rustix::process::geteuid().as_raw();
        stat.st_gid = rustix::process::getegid().as_raw();
    }
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::Directory => {
            ensure_dir(target, to, stat.st_mode)?;
            copy_entries(source, from, target, to, depth)?;
            let dir = target
                .open(to, OFlags::RDONLY | OFlags::DIRECTORY, 0)
                .map_err(io_at("open", Path::new(&target.shown(to))))?;
            set_attributes(&dir, &stat, &target.shown(to))
        }
        FileType::RegularFile => {
            let fd = rustix::fs::openat(
                &parent,
                &name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(io_at("read", Path::new(&shown)))?;
            let mut file = std::fs::File::from(fd);
            write_file(target, to, &mut file, &stat, OnSymlink::Follow)
        }
        FileType::Symlink => {
            let link = rustix::fs::readlinkat(&parent, &name, Vec::new())
                .map_err(io_at("read the symlink", Path::new(&shown)))?;
            write_symlink(target, to, OsStr::from_bytes(link.as_bytes()), &stat)
        }
        other => Err(TransferError::Special {
            path: shown,
            what: kind_name(other),
        }),
    }
}

/// Copies the entries of the directory `from` into the directory `to`, in byte order.
fn copy_entries(
    source: &Side,
    from: &Path,
    target: &Side,
    to: &Path,
    depth: usize,
) -> Result<(), TransferError> {
    let shown = source.shown(from);
    let dir = source.open_dir(from, OFlags::RDONLY)?;
    let mut names: Vec<OsString> = Vec::new();
    let mut reader = rustix::fs::Dir::read_from(&dir).map_err(io_at("read", Path::new(&shown)))?;
    for entry in reader.by_ref() {
        let entry = entry.map_err(io_at("read", Path::new(&shown)))?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_owned());
        }
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        copy(
            source,
            &from.join(&name),
            target,
            &to.join(&name),
            depth + 1,
        )?;
    }
    Ok(())
}

/// The last component of `path`, for `copy-in`/`copy-out` (`a/b/` is `b`).
fn base_name(side: &Side, path: &Path) -> Result<OsString, TransferError> {
    match path.components().next_back() {
        Some(Component::Normal(name)) => Ok(name.to_owned()),
        _ => Err(TransferError::Io(io_at(
            "copy",
            Path::new(&side.shown(path)),
        )(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path names no file",
        )))),
    }
}

/// The direction of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the host into the root.
    In,
    /// From the root out to the host.
    Out,
}

/// `copy-in PATH... DIR` / `copy-out PATH... DIR`: each path (with what it holds) into the
/// directory `dir`, which must exist.
pub fn copy_paths(
    root: &Path,
    direction: Direction,
    paths: &[PathBuf],
    dir: &Path,
) -> Result<(), TransferError> {
    // Out: `dir` is the host folder written below; paths are relative to it.
    let (source, target, base) = match direction {
        Direction::In => {
            let target = Side::root(root)?;
            target.open_dir(dir, OFlags::PATH)?;
            (Side::host()?, target, dir)
        }
        Direction::Out => (Side::root(root)?, Side::below(dir)?, Path::new("")),
    };
    for path in paths {
        let name = base_name(&source, path)?;
        copy(&source, path, &target, &base.join(name), 0)?;
    }
    Ok(())
}

/// `sync-in DIR DIR` / `sync-out DIR DIR`: what the first directory holds into the second
/// (made, with its parents, if missing), as `rsync -a FROM/ TO/` without deleting.
pub fn sync(
    root: &Path,
    direction: Direction,
    from: &Path,
    to: &Path,
) -> Result<(), TransferError> {
    match direction {
        Direction::In => {
            let target = Side::root(root)?;
            ensure_dir_all(&target, to, 0o755)?;
            copy_entries(&Side::host()?, from, &target, to, 0)
        }
        Direction::Out => {
            // The folder the user named, and its parents, as a path (`mkdir -p`).
            std::os::unix::fs::DirBuilderExt::mode(
                std::fs::DirBuilder::new().recursive(true),
                0o755,
            )
            .create(to)
            .map_err(|source| {
                TransferError::Io(io_at(
                    "create the directory",
                    Path::new(&to.display().to_string()),
                )(source))
            })?;
            copy_entries(
                &Side::root(root)?,
                from,
                &Side::below(to)?,
                Path::new(""),
                0,
            )
        }
    }
}

/// `tar-in TARBALL DIR`: unpacks a tarball of the host (plain, gzip, xz or zstd, by its
/// contents) into `dir` of the root (made if missing), with the same strict reader as packages (no `..`, no
/// absolute names, no device nodes); members replace what they meet, symlinks included.
pub fn tar_in(root: &Path, tarball: &Path, dir: &Path) -> Result<(), TransferError> {
    let target = Side::root(root)?;
    let shown = tarball.display().to_string();
    let file = std::fs::File::open(tarball)
        .map_err(|source| TransferError::Io(io_at("open", Path::new(&shown))(source)))?;
    let mut input = io::BufReader::new(file);
    let compression = sniff(&mut input)
        .map_err(|source| TransferError::Io(io_at("read", Path::new(&shown))(source)))?;
    let decoder = compression.decoder(input).map_err(|source| {
        TransferError::Io(io_at("decompress", Path::new(&shown))(io::Error::other(
            source,
        )))
    })?;
    let mut reader = crate::tar::read::TarReader::new(decoder);
    ensure_dir_all(&target, dir, 0o755)?;
    let mut directories: Vec<(PathBuf, rustix::fs::Stat)> = Vec::new();
    let archive_error = |message: String| TransferError::Archive {
        path: shown.clone(),
        message,
    };
    loop {
        let entry = match reader.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(error) => return Err(archive_error(error.to_string())),
        };
        let member = dir.join(OsStr::from_bytes(&entry.path));
        // SAFETY: `Stat` is plain data; every field read below is set.
        let mut stat: rustix::fs::Stat = unsafe { std::mem::zeroed() };
        stat.st_mode = entry.mode;
        stat.st_uid = entry.uid;
        stat.st_gid = entry.gid;
        stat.st_mtime = entry.mtime;
        match entry.kind {
            crate::tar::read::Kind::Dir => {
                ensure_dir(&target, &member, entry.mode)?;
                directories.push((member, stat));
            }
            crate::tar::read::Kind::File => {
                let mut data = TarData {
                    reader: &mut reader,
                };
                write_file(&target, &member, &mut data, &stat, OnSymlink::Replace)?;
            }
            crate::tar::read::Kind::Symlink => {
                write_symlink(&target, &member, OsStr::from_bytes(&entry.link), &stat)?;
            }
            crate::tar::read::Kind::Hardlink => {
                let from = dir.join(OsStr::from_bytes(&entry.link));
                let (from_parent, from_name) = target.parent(&from)?;
                let (parent, name) = target.parent(&member)?;
                let _ = rustix::fs::unlinkat(&parent, &name, AtFlags::empty());
                rustix::fs::linkat(&from_parent, &from_name, &parent, &name, AtFlags::empty())
                    .map_err(io_at(
                        "create the hard link",
                        Path::new(&target.shown(&member)),
                    ))?;
            }
        }
    }
    // Directories last, deepest first: their times and modes after their contents.
    for (path, stat) in directories.iter().rev() {
        let fd = target
            .open(path, OFlags::RDONLY | OFlags::DIRECTORY, 0)
            .map_err(io_at("open", Path::new(&target.shown(path))))?;
        set_attributes(&fd, stat, &target.shown(path))?;
    }
    Ok(())
}

/// A regular file's data from the tar reader.
struct TarData<'a, R: Read> {
    reader: &'a mut crate::tar::read::TarReader<R>,
}

impl<R: Read> Read for TarData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf).map_err(io::Error::other)
    }
}

/// The compression of a stream, from its first bytes.
fn sniff(input: &mut impl io::BufRead) -> io::Result<crate::compression::Compression> {
    use crate::compression::Compression;
    let head = input.fill_buf()?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Compression::Xz
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    })
}

/// `tar-out DIR TARBALL`: the directory `dir` of the root as a tarball on the host (compressed
/// as its name says: `.tar`, `.tar.gz`, `.tar.xz`, `.tar.zst`), written beside its path and
/// renamed into place. The walk is the output writer's: byte order, nothing followed.
pub fn tar_out(root: &Path, dir: &Path, tarball: &Path) -> Result<(), TransferError> {
    let inside = Side::root(root)?;
    let shown = inside.shown(dir);
    let fd = inside.open_dir(dir, OFlags::PATH)?;
    // The directory through its descriptor (what it resolved to, inside the root); `/.` makes
    // the walk's own `lstat` of its top see the directory, not the descriptor's magic link.
    let base = PathBuf::from(format!(
        "/proc/self/fd/{}/.",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ));
    let format = crate::output::format_of(tarball)
        .filter(|f| !matches!(f, OutputFormat::Dir | OutputFormat::Null))
        .unwrap_or(OutputFormat::Tar);
    let written = tarball.display().to_string();
    let output_error = |e: crate::output::OutputError| TransferError::Archive {
        path: shown.clone(),
        message: e.to_string(),
    };
    let nodes = crate::output::walk(&base, &crate::output::OnDisk).map_err(output_error)?;
    let mut temporary = crate::atomic::Temporary::beside(tarball, 0o644).map_err(|source| {
        TransferError::Io(io_at(
            "create a temporary file beside",
            Path::new(&written.clone()),
        )(source))
    })?;
    crate::output::write_tarball(&base, &nodes, format, temporary.file()).map_err(output_error)?;
    temporary
        .persist()
        .map_err(|source| TransferError::Io(io_at("write", Path::new(&written))(source)))?;
    drop(fd);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    #[test]
    fn copies_into_the_root_resolve_inside_it() {
        let outside = tempfile::tempdir().unwrap();
        let sentinel = outside.path().join("sentinel");
        std::fs::write(&sentinel, "host\n").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("etc")).unwrap();
        // A planted absolute link at the host's sentinel.
        symlink(&sentinel, root.path().join("etc/resolv.conf")).unwrap();
        let source = tempfile::tempdir().unwrap();
        let file = source.path().join("resolv.conf");
        std::fs::write(&file, "nameserver 192.0.2.1\n").unwrap();
        let result = copy_paths(
            root.path(),
            Direction::In,
            std::slice::from_ref(&file),
            Path::new("/etc"),
        );
        assert_eq!(std::fs::read_to_string(&sentinel).unwrap(), "host\n");
        // The link resolves to ROOT/<sentinel path>, whose folders do not exist: refused.
        assert!(result.is_err());
        // With the folders in the root, the content lands there, inside.
        let inside = root.path().join(relative(&sentinel));
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        copy_paths(root.path(), Direction::In, &[file], Path::new("/etc")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&inside).unwrap(),
            "nameserver 192.0.2.1\n"
        );
        assert_eq!(std::fs::read_to_string(&sentinel).unwrap(), "host\n");
        assert!(
            std::fs::symlink_metadata(root.path().join("etc/resolv.conf"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn sync_keeps_links_modes_and_times_and_never_follows() {
        let outside = tempfile::tempdir().unwrap();
        let source = tempfile::tempdir().unwrap();
        let s = source.path();
        std::fs::create_dir_all(s.join("a/b")).unwrap();
        std::fs::write(s.join("a/b/tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(s.join("a/b/tool"), PermissionsExt::from_mode(0o4755)).unwrap();
        symlink(outside.path(), s.join("a/escape")).unwrap();
        let root = tempfile::tempdir().unwrap();
        // `usr/lib` exists as a symlink to a folder of the root: used, not replaced.
        std::fs::create_dir(root.path().join("real")).unwrap();
        symlink("/real", root.path().join("a")).unwrap();
        sync(root.path(), Direction::In, s, Path::new("/")).unwrap();
        let tool = root.path().join("real/b/tool");
        let meta = std::fs::metadata(&tool).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o4755);
        assert_eq!(
            meta.mtime(),
            std::fs::metadata(s.join("a/b/tool")).unwrap().mtime()
        );
        assert_eq!(
            std::fs::read_link(root.path().join("real/escape")).unwrap(),
            outside.path()
        );
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        // And out again, through a tarball.
        let out = tempfile::tempdir().unwrap();
        let tarball = out.path().join("a.tar.zst");
        tar_out(root.path(), Path::new("/a"), &tarball).unwrap();
        let again = tempfile::tempdir().unwrap();
        tar_in(again.path(), &tarball, Path::new("/x")).unwrap();
        assert_eq!(
            std::fs::read_to_string(again.path().join("x/b/tool")).unwrap(),
            "#!/bin/sh\n"
        );
        assert_eq!(
            std::fs::read_link(again.path().join("x/escape")).unwrap(),
            outside.path()
        );
    }

    #[test]
    fn special_files_are_refused_and_named() {
        let source = tempfile::tempdir().unwrap();
        let fifo = source.path().join("pipe");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let root = tempfile::tempdir().unwrap();
        let error = copy_paths(root.path(), Direction::In, &[fifo], Path::new("/")).unwrap_err();
        assert!(error.to_string().contains("is a FIFO"), "{error}");
    }
}
