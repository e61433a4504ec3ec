//! Writing packages' files into a root, safely (docs/THREATS.md §2, G1–G4).
//!
//! **Resolution.** Every path is resolved inside the root as `openat2(RESOLVE_IN_ROOT)` resolves
//! it (docs/THREATS.md §2 step 5), by debroot's own walk: each component opened with `O_NOFOLLOW`
//! from its parent's descriptor, a symlink read and its target walked from the link's directory
//! (from the root when absolute; at most 40 links), `..` never above the root. So `var/run -> /run`
//! or merged-/usr's `bin -> usr/bin` lead into the root and never reach the host, and the walk
//! knows where each member lands (its *location*, the path in the root with no symlink in it,
//! which the kernel's name for a descriptor cannot give past 4 KiB). The placer keeps the walk
//! of its current directory, so a member costs the components where its parent differs from the
//! previous member's (usually none), with at most 16 directory descriptors open. Every call
//! that creates, links, renames or removes works from a descriptor so resolved (or the root's
//! own), never from a path joined to the root.
//!
//! **Scratch space (G1).** A package's regular files are written, and its symlinks made, in a
//! scratch folder of its own, created fresh in the root under a random name
//! (`.debroot-scratch-` and 128 random bits: `mkdirat` fails if the name exists, and a package
//! cannot know it), checked to be the directory just made, and only ever used through its
//! descriptor; files are created in it with `O_CREAT | O_EXCL | O_NOFOLLOW` and mode 0, given
//! their owner and mode on their descriptor, then renamed over their final name. The rename
//! replaces whatever is there (a planted symlink included) instead of writing through it, as
//! dpkg's `.dpkg-new` discipline does. No name a package can make is ever used as debroot's:
//! the names 37001c2 used (`.debroot-tmp-PID-N`) were predictable, and a package that planted a
//! link there had later packages' files (setuid ones included) created on the host.
//!
//! Why a scratch folder and not `O_TMPFILE` in the destination: an unnamed file can only be
//! given a name with `linkat`, which fails when the final name exists (it never replaces), so
//! replacing a planted symlink still needs a temporary name beside it and a rename; the folder
//! gives the same property with one rename, works on every filesystem (`O_TMPFILE` does not),
//! and keeps the data of a package that is still waiting for its turn (below) out of the tree.
//! Files are created in the folder of their own package, so the threads decoding packages never
//! contend for one directory; the rename (`RENAME_NOREPLACE` first: the final name usually does
//! not exist, and then no lookup of it is needed) costs what 37001c2's did.
//!
//! **Order (G3).** Packages are *decoded* in parallel (decompression, file data, owners and
//! modes: nearly all the work) and *placed* by one placer thread in plan order: their
//! directories made, their files renamed into place, their links made, each member in archive
//! order with the package's symlinks last. Which package holds each location is decided then, by
//! `claims` (pure), as dpkg decides unpacking the packages one by one in plan order; so the tree
//! and every error are the same on every run, whatever the number of threads or CPUs and
//! whichever package's data is decoded first. A member's *location* is where it lands (its
//! parent as the kernel resolved it, then its name), so `bin/tool` through another package's
//! `bin -> usr/bin` collides with `usr/bin/tool`. The first failure in plan order stops the
//! batch: later packages stop decoding, earlier ones are all placed first, so the error reported
//! is the same every time.
//!
//! **Directories stay directories (G4).** A package's symlink never takes the place of a
//! directory, with one explicit exception, merged /usr (see `claims`): then the directory's
//! contents move to the link's target, in the root, and the link replaces it. A directory
//! member where an earlier package's link is follows the link, as dpkg does.
//!
//! Hard links point only at earlier regular members of the same package (their bytes, even when
//! another package's `Replaces` kept that path). A member under a path this package declares as
//! a symlink is refused (RUSTSEC-2021-0080 shape). Directories get the attributes of the earliest
//! package in plan order that ships them, applied once the batch is placed (until then they are
//! 0700, so nothing is ever more open than it ends).
//!
//! Caps (docs/THREATS.md C8): [`MAX_ENTRIES`] entries and [`MAX_NAME_BYTES`] bytes of names per
//! package, and the package's file data may not exceed [`Options::max_bytes`]; a member that would
//! pass it is refused at its header, before anything is written.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use md5::{Digest as _, Md5};
use rustix::fs::{
    AtFlags, FileType, Mode, OFlags, RenameFlags, ResolveFlags, Timespec, Timestamps,
};
use rustix::io::Errno;

pub use super::claims::Claimant;
use super::claims::{self, Decision, Holder, Ledger};
use crate::error::{IoError, bytes_path, io_at};
use crate::tar::read::{Entry, Kind, TarReader};

/// Most entries one package may have.
pub const MAX_ENTRIES: usize = 1_000_000;
/// Most bytes of member names and symlink targets one package may have: they are kept in memory
/// until the package is done (a million names of 4 KiB would be gigabytes).
pub const MAX_NAME_BYTES: u64 = 128 << 20;
/// Most bytes of file data one package may have when nothing better is known (apt's cap).
pub const MAX_BYTES: u64 = crate::tar::read::MAX_MEMBER;
/// Members a decoder hands to the placer at once.
const HANDOVER: usize = 64;

/// Why a package's files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("member `{path}`: {reason}")]
    Unsafe { path: String, reason: String },
    /// Two packages claim one location. Worded from the later package's side in plan order,
    /// naming the location (symlinks resolved), as dpkg words it.
    #[error(
        "package `{package}` is trying to overwrite {existing}`/{path}`, which is also in package `{owner}`{with}"
    )]
    Conflict {
        path: String,
        /// The later package in plan order.
        package: String,
        /// The earlier one.
        owner: String,
        /// `"directory "` when the earlier package's member is a directory.
        existing: &'static str,
        /// `", with a directory"` when the later package's member is one.
        with: &'static str,
    },
    /// Two `Multi-Arch: same` instances of one package ship one file with other contents
    /// (dpkg's words).
    #[error(
        "package `{package}` is trying to overwrite shared `/{path}`, which is different from other instances of package `{package}`"
    )]
    SharedDiffers { path: String, package: String },
    /// `cannot ACTION member `PATH``, the cause the system's error.
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Tar(#[from] crate::tar::read::TarError),
    #[error(transparent)]
    RootFile(#[from] crate::confine::RootFileError),
    /// debroot was interrupted: the signal handler is removing the root, so writing stops.
    #[error("interrupted while unpacking `{package}`")]
    Interrupted { package: String },
    /// A hard link whose target the path filters left out (dpkg fails there too).
    #[error("member `{path}` is a hard link to `{target}`, which `packages.path-exclude` left out")]
    FilteredLinkTarget { path: String, target: String },
    /// An earlier package in plan order failed: this one stopped (never reported: the earlier
    /// failure is).
    #[error("`{package}` stopped: an earlier package failed")]
    Stopped { package: String },
}

fn shown(path: &[u8]) -> String {
    crate::tar::header::shown_name(path)
}

fn unsafe_member(path: &[u8], reason: impl Into<String>) -> ExtractError {
    ExtractError::Unsafe {
        path: shown(path),
        reason: reason.into(),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::File => "regular file",
        Kind::Dir => "directory",
        Kind::Symlink => "symlink",
        Kind::Hardlink => "hard link",
    }
}

/// `parent` and `name` of `path` (`""` for a top-level name).
fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&b""[..], path),
    }
}

/// `parent/name` (`name` when `parent` is the root).
fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut path = Vec::with_capacity(parent.len() + 1 + name.len());
    path.extend_from_slice(parent);
    if !parent.is_empty() {
        path.push(b'/');
    }
    path.extend_from_slice(name);
    path
}

/// Whether `path` is `prefix` or below it.
fn at_or_below(path: &[u8], prefix: &[u8]) -> bool {
    path == prefix || (path.starts_with(prefix) && path.get(prefix.len()) == Some(&b'/'))
}

/// FNV-1a over `bytes`, from `state` (so the hash of every prefix of a path comes in one pass).
fn fnv1a(mut state: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        state = (state ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    state
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn path_hash(path: &[u8]) -> u64 {
    fnv1a(FNV_OFFSET, path)
}

/// The first proper prefix of `path` that `seen` holds as something other than a directory.
/// Prefixes are looked up in `seen` only when their hash is in `non_directories`, so a deep
/// path costs one pass over its bytes, not a map lookup (comparing long keys) per component:
/// 2048 levels of 4 KiB names would otherwise cost minutes.
fn non_directory_parent<'a>(
    path: &'a [u8],
    non_directories: &BTreeSet<u64>,
    seen: &BTreeMap<Vec<u8>, Kind>,
) -> Option<(&'a [u8], Kind)> {
    if non_directories.is_empty() {
        return None;
    }
    let mut state = FNV_OFFSET;
    let mut start = 0;
    for (i, &byte) in path.iter().enumerate() {
        if byte != b'/' {
            continue;
        }
        state = fnv1a(state, &path[start..i]);
        start = i;
        if non_directories.contains(&state)
            && let Some(&kind) = seen.get(&path[..i])
            && kind != Kind::Dir
        {
            return Some((&path[..i], kind));
        }
    }
    None
}

/// Diversions in force (`/var/lib/dpkg/diversions`): path to (diverted-to path, package).
pub type Diversions = BTreeMap<Vec<u8>, (Vec<u8>, String)>;

/// What one package's unpack produced.
#[derive(Debug, Clone, Default)]
pub struct Unpacked {
    /// Every member in archive order (relative path, `""` for the root; kind).
    pub paths: Vec<(Vec<u8>, Kind)>,
    /// MD5 of regular files (of every file when asked, else of conffiles only), by package path.
    pub md5: BTreeMap<Vec<u8>, String>,
    /// Bytes of file data written.
    pub bytes: u64,
    /// Where members landed, by the path they were written to (diversions and `.dpkg-new`
    /// applied), when that is not the same path (a parent was a symlink).
    pub locations: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Members the path filters left out (not written, not in `paths`), by package path.
    pub filtered: BTreeSet<Vec<u8>>,
}

/// How a package's files are written.
#[derive(Debug, Clone)]
pub struct Options {
    /// Conffiles (relative paths): written as `PATH.dpkg-new`, as dpkg's unpack leaves them
    /// for its configure step to move into place.
    pub conffiles: BTreeSet<Vec<u8>>,
    /// Conffiles are written in place instead (extract mode: no dpkg will configure them).
    pub conffiles_in_place: bool,
    /// Compute the MD5 of every regular file (for a package that ships no `md5sums`).
    pub md5_all: bool,
    /// Most entries in the package ([`MAX_ENTRIES`]).
    pub max_entries: usize,
    /// Most bytes of file data in the package, all members together ([`MAX_BYTES`], or what
    /// its `Installed-Size` allows).
    pub max_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            conffiles: BTreeSet::new(),
            conffiles_in_place: false,
            md5_all: false,
            max_entries: MAX_ENTRIES,
            max_bytes: MAX_BYTES,
        }
    }
}

/// Where one package's members landed, from the placer.
#[derive(Debug, Clone, Default)]
pub struct Placed {
    /// As [`Unpacked::locations`].
    pub locations: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// A member decoded and waiting for the placer.
#[derive(Debug)]
struct Pending {
    /// Where it goes, as written (diversions and `.dpkg-new` applied).
    path: Vec<u8>,
    what: What,
    mode: u32,
    owner: (u32, u32),
}

#[derive(Debug)]
enum What {
    Dir,
    /// A regular file, ready in the package's scratch folder.
    File {
        temp: u64,
    },
    /// A hard link to the member this package wrote at `source`.
    Hardlink {
        source: Vec<u8>,
    },
    /// A symlink to `target`, ready in the package's scratch folder.
    Symlink {
        temp: u64,
        target: Vec<u8>,
    },
}

/// A package's members on their way from its decoder to the placer.
#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Pending>,
    /// Set when decoding ended: whether it succeeded.
    ended: Option<bool>,
    scratch: Option<Arc<Scratch>>,
}

/// A package's private folder in the root for its files before they are placed (see the module
/// docs).
#[derive(Debug)]
struct Scratch {
    fd: OwnedFd,
    name: Vec<u8>,
    identity: (u64, u64),
    next: AtomicU64,
    /// What a file created in the folder gets without asking, when that is known for sure.
    creates: Option<Creation>,
}

/// The owner and mode bits a file created in a scratch folder gets from the kernel itself:
/// the process's effective ids (the folder's group is the process's, so neither the folder's
/// set-group-ID bit nor a `grpid` mount changes the group) and the requested mode less the
/// umask (the folder has no default ACL, which would replace the umask). A member with
/// exactly that owner, and permission bits the umask leaves alone and no set-ID or sticky bit,
/// is created with its final mode and needs no `fchown` nor `fchmod`: two system calls of the
/// seven a small file costs. The file is never more open than it ends, in a 0700 folder.
#[derive(Debug, Clone, Copy)]
struct Creation {
    uid: u32,
    gid: u32,
    umask: u32,
}

impl Creation {
    /// The mode to create a member with, when it needs nothing more: `None` when the owner or
    /// the mode must be set on the descriptor after.
    fn mode_for(&self, owner: (u32, u32), mode: u32, chown: bool) -> Option<u32> {
        let owner_ok = !chown || owner == (self.uid, self.gid);
        (owner_ok && mode & 0o7000 == 0 && mode & self.umask & 0o777 == 0).then_some(mode & 0o777)
    }

    /// What `folder` (just made by this process, mode 0700) gives the files created in it.
    fn of(folder: &OwnedFd, folder_gid: u32) -> Option<Creation> {
        let (uid, gid) = (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
        if folder_gid != gid {
            return None;
        }
        // A default ACL (inherited from the root) would take the umask's place.
        let mut value = [0u8; 0];
        match rustix::fs::fgetxattr(folder, "system.posix_acl_default", &mut value) {
            Err(Errno::NODATA | Errno::NOTSUP) => {}
            _ => return None,
        }
        Some(Creation {
            uid,
            gid,
            umask: current_umask()?,
        })
    }
}

/// The process's umask, from `/proc/self/status` (reading it with `umask(2)` would set it, a
/// race with other threads creating files). `None` when it cannot be read.
fn current_umask() -> Option<u32> {
    let status = std::fs::read("/proc/self/status").ok()?;
    let line = status
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"Umask:"))?;
    let text = std::str::from_utf8(line).ok()?.trim();
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o777)
}

fn temp_name(temp: u64) -> String {
    temp.to_string()
}

impl Scratch {
    /// Makes a fresh folder under a random name at the top of `root`.
    fn create(root: &OwnedFd) -> Result<Scratch, ExtractError> {
        let failed = |action| io_at(action, Path::new(".debroot-scratch"));
        for _ in 0..16 {
            let mut random = [0u8; 16];
            rustix::rand::getrandom(&mut random, rustix::rand::GetRandomFlags::empty())
                .map_err(failed("choose the name of"))?;
            let name = format!(".debroot-scratch-{}", hex::encode(random)).into_bytes();
            match rustix::fs::mkdirat(root, OsStr::from_bytes(&name), Mode::from_raw_mode(0o700)) {
                Ok(()) => {}
                Err(Errno::EXIST) => continue,
                Err(errno) => return Err(failed("create")(errno).into()),
            }
            let fd = rustix::fs::openat(
                root,
                OsStr::from_bytes(&name),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(failed("open"))?;
            let stat = rustix::fs::fstat(&fd).map_err(failed("inspect"))?;
            if FileType::from_raw_mode(stat.st_mode) != FileType::Directory
                || stat.st_uid != rustix::process::geteuid().as_raw()
            {
                return Err(unsafe_member(
                    &name,
                    "the scratch folder just made is not the one opened",
                ));
            }
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o700)).map_err(failed("protect"))?;
            let creates = Creation::of(&fd, stat.st_gid);
            return Ok(Scratch {
                fd,
                name,
                identity: (stat.st_dev, stat.st_ino),
                next: AtomicU64::new(0),
                creates,
            });
        }
        Err(unsafe_member(
            b".debroot-scratch",
            "no free name for a scratch folder",
        ))
    }

    fn temp(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Removes the folder and what is left in it (files of members that were not placed).
    fn remove(&self, root: &OwnedFd) {
        let mut names = Vec::new();
        if let Ok(entries) = rustix::fs::Dir::read_from(&self.fd) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_bytes();
                if name != b"." && name != b".." {
                    names.push(name.to_vec());
                }
            }
        }
        for name in names {
            let _ = rustix::fs::unlinkat(&self.fd, OsStr::from_bytes(&name), AtFlags::empty());
        }
        // By name only if the name is still this folder.
        let name = OsStr::from_bytes(&self.name);
        if rustix::fs::statat(root, name, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|s| (s.st_dev, s.st_ino) == self.identity)
        {
            let _ = rustix::fs::unlinkat(root, name, AtFlags::REMOVEDIR);
        }
    }
}

/// A directory resolved in the root, and its location.
#[derive(Debug, Clone)]
struct Parent {
    fd: Arc<OwnedFd>,
    location: Arc<Vec<u8>>,
}

/// Most symlinks followed resolving one path (the kernel's limit).
const MAX_HOPS: u32 = 40;
/// Most directory descriptors the placer keeps open: those of the deepest directories of its
/// current path (the others are opened again from their locations when needed), so that a
/// tree of any depth stays within a small descriptor limit.
const OPEN_LEVELS: usize = 16;

/// One directory of the placer's current path.
#[derive(Debug)]
struct Level {
    /// Where its component ends in the written path.
    end: usize,
    fd: Option<Arc<OwnedFd>>,
    location: Arc<Vec<u8>>,
}

/// The placer's current path (a parent directory, as written), resolved component by component
/// and kept: consecutive members of an archive share most of their parents, so each costs the
/// components where it differs from the previous one (usually none, or one).
#[derive(Debug, Default)]
struct Walk {
    written: Vec<u8>,
    levels: Vec<Level>,
    /// The placement generation the levels were resolved in.
    generation: u64,
}

/// The placer's state.
#[derive(Debug, Default)]
struct Placement {
    ledger: Ledger,
    /// Bumped at every change of the tree's shape that can make a resolved directory stale (a
    /// symlink replaced, a directory replaced by a link, a batch begun).
    generation: u64,
    walk: Walk,
    /// Directories whose contents moved, in order (from, to).
    moves: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Where a package's regular member is, for its hard links.
#[derive(Debug, Clone)]
enum Source {
    /// Placed at this location.
    Placed(Vec<u8>),
    /// Kept in the scratch folder (another package kept the location).
    Kept(u64),
}

/// The placer's state for the package it is placing.
#[derive(Debug)]
struct Placing {
    claimant: usize,
    scratch: Option<Arc<Scratch>>,
    sources: BTreeMap<Vec<u8>, Source>,
    locations: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// The root being filled.
pub struct Target {
    root: Arc<OwnedFd>,
    path: PathBuf,
    /// Whether ownership is set on disk (root, or a user namespace); else recorded only.
    chown: bool,
    users: BTreeMap<Vec<u8>, u32>,
    groups: BTreeMap<Vec<u8>, u32>,
    placement: Mutex<Placement>,
    /// Each claimant's plan position (decoders read it without the placement lock, which the
    /// placer holds through a batch).
    orders: Mutex<Vec<usize>>,
    queues: Mutex<BTreeMap<usize, Queue>>,
    ready: Condvar,
    /// The plan position of the batch's first failure (`usize::MAX`: none).
    first_failure: AtomicUsize,
    /// `packages.path-exclude` / `path-include`: members they skip are not written.
    filter: crate::pathfilter::PathFilter,
}

/// `etc/passwd` or `etc/group` of the root, as name to id, read through the root
/// (`confine::read_file_at`).
fn read_ids(
    root: &OwnedFd,
    file: &str,
) -> Result<BTreeMap<Vec<u8>, u32>, crate::confine::RootFileError> {
    let mut ids = BTreeMap::new();
    let text = crate::confine::read_file_at(root.as_fd(), file, crate::confine::MAX_ROOT_FILE)?;
    for line in text.unwrap_or_default().split(|&b| b == b'\n') {
        let fields: Vec<&[u8]> = line.split(|&b| b == b':').collect();
        if fields.len() >= 3
            && let Some(id) = std::str::from_utf8(fields[2])
                .ok()
                .and_then(|t| t.parse().ok())
        {
            ids.entry(fields[0].to_vec()).or_insert(id);
        }
    }
    Ok(ids)
}

impl Target {
    /// Opens the root directory. `chown`: whether to set owners on disk.
    pub fn open(path: &Path, chown: bool) -> std::io::Result<Self> {
        let root = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )?;
        let users = read_ids(&root, "etc/passwd").map_err(std::io::Error::other)?;
        let groups = read_ids(&root, "etc/group").map_err(std::io::Error::other)?;
        Ok(Target {
            root: Arc::new(root),
            path: path.to_path_buf(),
            chown,
            users,
            groups,
            placement: Mutex::new(Placement::default()),
            orders: Mutex::new(Vec::new()),
            queues: Mutex::new(BTreeMap::new()),
            ready: Condvar::new(),
            first_failure: AtomicUsize::new(usize::MAX),
            filter: crate::pathfilter::PathFilter::default(),
        })
    }

    /// Members of every package unpacked from now on that `filter` skips are not written
    /// (dpkg's `--path-exclude` / `--path-include`).
    pub fn set_filter(&mut self, filter: crate::pathfilter::PathFilter) {
        self.filter = filter;
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads `etc/passwd` and `etc/group` of the root (names in tar headers map to them),
    /// through the root, refusing anything but regular files.
    pub fn refresh_ids(&mut self) -> Result<(), ExtractError> {
        self.users = read_ids(&self.root, "etc/passwd")?;
        self.groups = read_ids(&self.root, "etc/group")?;
        Ok(())
    }

    /// The placer's state. No code panics while holding it, so a poisoned lock still holds a
    /// consistent state.
    fn placement(&self) -> MutexGuard<'_, Placement> {
        self.placement
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn queues(&self) -> MutexGuard<'_, BTreeMap<usize, Queue>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn order(&self, claimant: usize) -> usize {
        self.orders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(claimant)
            .copied()
            .unwrap_or(usize::MAX)
    }

    /// Registers a package; returns its claimant index.
    pub fn register(&self, claimant: Claimant) -> usize {
        let order = claimant.order;
        let index = self.placement().ledger.register(claimant);
        let mut orders = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        orders.resize(index + 1, usize::MAX);
        orders[index] = order;
        index
    }

    /// Records that `claimant` failed: the packages after it in plan order stop, the placer
    /// stops there.
    pub fn fail(&self, claimant: usize) {
        self.first_failure
            .fetch_min(self.order(claimant), Ordering::SeqCst);
        let _queues = self.queues();
        self.ready.notify_all();
    }

    /// Whether a package before `claimant` in plan order failed (then `claimant` need not be
    /// unpacked: its result would never be used).
    pub fn stopped_before(&self, claimant: usize) -> bool {
        self.first_failure.load(Ordering::SeqCst) < self.order(claimant)
    }

    /// Owners recorded instead of set (extract mode without privilege), by location.
    pub fn recorded_owners(&self) -> BTreeMap<Vec<u8>, (u32, u32)> {
        if self.chown {
            return BTreeMap::new();
        }
        self.placement().ledger.owners()
    }

    /// The package holding every non-directory location.
    pub fn owners_by_path(&self) -> BTreeMap<Vec<u8>, String> {
        self.placement().ledger.owners_by_location()
    }

    /// Where a location found earlier in the build is now (a directory's contents moved since).
    pub fn current_location(&self, location: &[u8]) -> Vec<u8> {
        let placement = self.placement();
        let mut location = location.to_vec();
        for (from, to) in &placement.moves {
            if location.len() > from.len() && at_or_below(&location, from) {
                let rest = location[from.len() + 1..].to_vec();
                location = join(to, &rest);
            }
        }
        location
    }

    /// Opens the directory at `location` (a path in the root without symlinks) with `flags`.
    /// Paths longer than the kernel takes at once are opened a part at a time.
    fn open_location(&self, location: &[u8], flags: OFlags) -> Result<OwnedFd, Errno> {
        let resolve =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        let mut dir: Option<OwnedFd> = None;
        let mut rest = location;
        loop {
            let (part, tail) = if rest.len() <= 2048 {
                (rest, &b""[..])
            } else {
                let cut = rest[..2048]
                    .iter()
                    .rposition(|&b| b == b'/')
                    .ok_or(Errno::NAMETOOLONG)?;
                (&rest[..cut], &rest[cut + 1..])
            };
            let part = if part.is_empty() { &b"."[..] } else { part };
            let base: &OwnedFd = dir.as_ref().unwrap_or(&self.root);
            let last = tail.is_empty();
            let fd = rustix::fs::openat2(
                base,
                OsStr::from_bytes(part),
                if last {
                    flags
                } else {
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC
                },
                Mode::empty(),
                resolve,
            )?;
            if last {
                return Ok(fd);
            }
            dir = Some(fd);
            rest = tail;
        }
    }

    /// Resolves `path` from the directory `base` at `location`, as `RESOLVE_IN_ROOT` resolves:
    /// symlinks followed (absolute ones from the root; at most [`MAX_HOPS`]), `..` never above
    /// the root; returns the directory reached and its location (its path in the root, no
    /// symlink in it). The walk is debroot's own so that it knows the location at every step
    /// (the kernel's name for a descriptor stops at 4 KiB). With `make`, a missing directory
    /// among `path`'s own components (never a link's target) is made, held by the claimant;
    /// `member` and `written` (what of the member's path `path` stands for) name errors.
    fn resolve(
        &self,
        base: &OwnedFd,
        location: &[u8],
        path: &[u8],
        mut make: Option<(&mut Ledger, usize)>,
        member: &[u8],
        written: &[u8],
    ) -> Result<(OwnedFd, Vec<u8>), ExtractError> {
        let not_a_directory = |so_far: &[u8]| {
            unsafe_member(
                member,
                format!(
                    "parent `{}` is not a directory (a dangling or non-directory link?)",
                    shown(so_far)
                ),
            )
        };
        let mut current: Option<OwnedFd> = None;
        let mut location = location.to_vec();
        if path.starts_with(b"/") {
            current = Some(
                self.open_location(b"", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC)
                    .map_err(io_at("open the root for member", bytes_path(member)))?,
            );
            location.clear();
        }
        // The components still to walk: the path's own (which may be made), then those of the
        // links met (never made).
        let mut pending: VecDeque<(Vec<u8>, bool)> = path
            .split(|&b| b == b'/')
            .map(|c| (c.to_vec(), true))
            .collect();
        let mut so_far = written.strip_suffix(path).unwrap_or(b"").to_vec();
        if so_far.ends_with(b"/") {
            so_far.pop();
        }
        let mut hops = 0;
        while let Some((component, own)) = pending.pop_front() {
            if own {
                so_far = join(&so_far, &component);
            }
            if component.is_empty() || component == b"." {
                continue;
            }
            let dir: &OwnedFd = current.as_ref().unwrap_or(base);
            if component == b".." {
                if location.is_empty() {
                    continue;
                }
                let parent = rustix::fs::openat(
                    dir,
                    "..",
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(io_at(
                    "open a parent directory of member",
                    bytes_path(member),
                ))?;
                location.truncate(location.iter().rposition(|&b| b == b'/').unwrap_or(0));
                current = Some(parent);
                continue;
            }
            let here = join(&location, &component);
            let name = OsStr::from_bytes(&component);
            let open = |dir: &OwnedFd| {
                rustix::fs::openat(
                    dir,
                    name,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
            };
            match open(dir) {
                Ok(fd) => {
                    current = Some(fd);
                    location = here;
                }
                Err(Errno::NOENT) if own && make.is_some() => {
                    if let Some((ledger, claimant)) = make.as_mut() {
                        match ledger.decide(&here, *claimant, Kind::Dir, false) {
                            Decision::Create | Decision::Share => {}
                            Decision::Conflict(conflict) => {
                                return Err(conflict_error(ledger, &here, &conflict));
                            }
                            _ => return Err(not_a_directory(&so_far)),
                        }
                        match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
                            Ok(()) => ledger.hold_directory(&here, *claimant, None, true),
                            Err(Errno::EXIST) => {}
                            Err(errno) => {
                                return Err(io_at(
                                    "create a parent directory of member",
                                    bytes_path(member),
                                )(errno)
                                .into());
                            }
                        }
                    }
                    let fd = open(dir).map_err(|_| not_a_directory(&so_far))?;
                    current = Some(fd);
                    location = here;
                }
                // A symlink (an earlier package's, followed in the root as dpkg follows it),
                // or not a directory.
                Err(Errno::NOTDIR | Errno::LOOP) => {
                    if let Some((ledger, claimant)) = make.as_ref()
                        && let Decision::Conflict(conflict) =
                            ledger.decide(&here, *claimant, Kind::Dir, false)
                    {
                        return Err(conflict_error(ledger, &here, &conflict));
                    }
                    let is_link = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                        .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Symlink);
                    if !is_link {
                        return Err(not_a_directory(&so_far));
                    }
                    hops += 1;
                    if hops > MAX_HOPS {
                        return Err(unsafe_member(member, "too many levels of symbolic links"));
                    }
                    let target = rustix::fs::readlinkat(dir, name, Vec::new())
                        .map_err(io_at("read the symlink of member", bytes_path(member)))?;
                    let target = target.as_bytes();
                    if target.starts_with(b"/") {
                        current = Some(
                            self.open_location(
                                b"",
                                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                            )
                            .map_err(io_at("open the root for member", bytes_path(member)))?,
                        );
                        location.clear();
                    }
                    for part in target.split(|&b| b == b'/').rev() {
                        pending.push_front((part.to_vec(), false));
                    }
                }
                Err(Errno::NOENT) => return Err(not_a_directory(&so_far)),
                Err(errno) => {
                    return Err(
                        io_at("open a parent directory of member", bytes_path(member))(errno)
                            .into(),
                    );
                }
            }
        }
        let fd = match current {
            Some(fd) => fd,
            None => rustix::fs::openat(
                base,
                ".",
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(io_at("open the directory of member", bytes_path(member)))?,
        };
        Ok((fd, location))
    }

    /// The owner a header names: the name when the root knows it (`root` always is 0, as
    /// base-passwd fixes it), else the number, as dpkg does.
    fn uid(&self, entry: &Entry) -> u32 {
        match self.users.get(&entry.uname) {
            Some(&id) if !entry.uname.is_empty() => id,
            _ if entry.uname == b"root" => 0,
            _ => entry.uid,
        }
    }

    fn gid(&self, entry: &Entry) -> u32 {
        match self.groups.get(&entry.gname) {
            Some(&id) if !entry.gname.is_empty() => id,
            _ if entry.gname == b"root" => 0,
            _ => entry.gid,
        }
    }

    /// Starts a batch of packages (after maintainer scripts ran, if any): directories this
    /// build made that a script has since turned into a symlink (usrmerge's conversion of
    /// `/bin`) have their locations moved to where the link leads, so that later packages'
    /// members are checked against what is really there.
    pub fn begin_batch(&self) -> Result<(), ExtractError> {
        self.first_failure.store(usize::MAX, Ordering::SeqCst);
        let mut placement = self.placement();
        placement.generation += 1;
        let mut moved: Vec<Vec<u8>> = Vec::new();
        for location in placement.ledger.created_directories() {
            if location.is_empty() || moved.iter().any(|m| at_or_below(&location, m)) {
                continue;
            }
            let Ok(stat) = rustix::fs::statat(
                &self.root,
                OsStr::from_bytes(&location),
                AtFlags::SYMLINK_NOFOLLOW,
            ) else {
                continue;
            };
            if FileType::from_raw_mode(stat.st_mode) != FileType::Symlink {
                continue;
            }
            let Ok((_, now)) = self.resolve(&self.root, b"", &location, None, &location, &location)
            else {
                continue;
            };
            // What a script made: where both places hold something, the link's side is kept.
            let _ = placement.ledger.relocate(&location, &now);
            placement.moves.push((location.clone(), now));
            moved.push(location);
        }
        Ok(())
    }

    /// Ends a batch: removes the scratch folders left (a failure's).
    pub fn finish_batch(&self) {
        let queues = std::mem::take(&mut *self.queues());
        for (_, queue) in queues {
            if let Some(scratch) = queue.scratch {
                scratch.remove(&self.root);
            }
        }
    }

    /// Decodes one package's `data.tar` and hands its members to the placer ([`Target::place`],
    /// running meanwhile or after): file data written to the package's scratch folder, owners
    /// and modes set. Returns what the package holds; where it landed comes from the placer.
    pub fn unpack<R: Read>(
        &self,
        claimant: usize,
        tar: TarReader<R>,
        options: &Options,
        diversions: &Diversions,
        package: &str,
    ) -> Result<Unpacked, ExtractError> {
        let mut handover = Handover {
            target: self,
            claimant,
            items: Vec::new(),
            scratch: None,
            ended: false,
        };
        let result = self.decode(&mut handover, tar, options, diversions, package);
        handover.end(result.is_ok());
        if result.is_err() {
            self.fail(claimant);
        }
        result
    }

    /// A batch of one package: [`Target::unpack`] then [`Target::place`], on this thread.
    pub fn unpack_and_place<R: Read>(
        &self,
        claimant: usize,
        tar: TarReader<R>,
        options: &Options,
        diversions: &Diversions,
        package: &str,
    ) -> Result<Unpacked, ExtractError> {
        self.begin_batch()?;
        let unpacked = self.unpack(claimant, tar, options, diversions, package);
        let placed = self.place(&[claimant]);
        self.finish_batch();
        let mut unpacked = unpacked?;
        for (_, placed) in placed {
            unpacked.locations = placed?.locations;
        }
        Ok(unpacked)
    }

    fn decode<R: Read>(
        &self,
        handover: &mut Handover<'_>,
        mut tar: TarReader<R>,
        options: &Options,
        diversions: &Diversions,
        package: &str,
    ) -> Result<Unpacked, ExtractError> {
        let conffiles = &options.conffiles;
        let mut unpacked = Unpacked::default();
        let mut seen: BTreeMap<Vec<u8>, Kind> = BTreeMap::new();
        // Hashes of the paths in `seen` that are not directories (see `non_directory_parent`).
        let mut non_directories: BTreeSet<u64> = BTreeSet::new();
        let mut name_bytes: u64 = 0;
        // Symlinks of this package, made last.
        let mut symlinks: Vec<(Entry, Vec<u8>)> = Vec::new();
        // Regular members written, by package path, with the path they were written to.
        let mut written: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut buffer = vec![0u8; 1 << 16];
        while let Some(entry) = tar.next_entry()? {
            if crate::workdir::interrupted() {
                return Err(ExtractError::Interrupted {
                    package: package.to_owned(),
                });
            }
            if self.stopped_before(handover.claimant) {
                return Err(ExtractError::Stopped {
                    package: package.to_owned(),
                });
            }
            if unpacked.paths.len() >= options.max_entries {
                return Err(unsafe_member(
                    &entry.path,
                    format!(
                        "more than {} entries (entry count cap)",
                        options.max_entries
                    ),
                ));
            }
            name_bytes += (entry.path.len() + entry.link.len()) as u64;
            if name_bytes > MAX_NAME_BYTES {
                return Err(unsafe_member(
                    &entry.path,
                    format!("more than {MAX_NAME_BYTES} bytes of member names"),
                ));
            }
            if entry.size > options.max_bytes - unpacked.bytes {
                return Err(unsafe_member(
                    &entry.path,
                    format!(
                        "member of {} bytes exceeds the size cap: the package's files may hold {} bytes in all",
                        entry.size, options.max_bytes
                    ),
                ));
            }
            if let Some(previous) = seen.insert(entry.path.clone(), entry.kind) {
                return Err(unsafe_member(
                    &entry.path,
                    if previous == entry.kind {
                        "duplicate member".to_owned()
                    } else {
                        format!(
                            "duplicate member: a {} then a {} (type collision)",
                            kind_name(previous),
                            kind_name(entry.kind)
                        )
                    },
                ));
            }
            // A member under one of this package's own symlinks would be written through it.
            if let Some((prefix, kind)) = non_directory_parent(&entry.path, &non_directories, &seen)
            {
                return Err(unsafe_member(
                    &entry.path,
                    if kind == Kind::Symlink {
                        "member path traverses a symlink created by this package".to_owned()
                    } else {
                        format!(
                            "parent `{}` is not a directory of this package",
                            shown(prefix)
                        )
                    },
                ));
            }
            if entry.kind != Kind::Dir {
                non_directories.insert(path_hash(&entry.path));
            }
            // Filtered: not written, not listed (its data is skipped by the reader).
            if self
                .filter
                .skips(&entry.path, matches!(entry.kind, Kind::Dir | Kind::Symlink))
            {
                unpacked.filtered.insert(entry.path.clone());
                continue;
            }
            unpacked.paths.push((entry.path.clone(), entry.kind));
            // dpkg writes a diverted file to its diverted name unless this package diverts it.
            let target_path = super::claims::landing_path(
                &entry.path,
                diversions.get(&entry.path),
                package,
                entry.kind,
            )
            .to_vec();
            let owner = (self.uid(&entry), self.gid(&entry));
            match entry.kind {
                Kind::Dir => {
                    if entry.path.is_empty() {
                        continue;
                    }
                    handover.push(Pending {
                        path: target_path,
                        what: What::Dir,
                        mode: entry.mode,
                        owner,
                    });
                }
                Kind::File => {
                    let conffile = conffiles.contains(&entry.path);
                    // A conffile waits under `.dpkg-new` for dpkg's configure step.
                    let disk_path = if conffile && !options.conffiles_in_place {
                        let mut new = target_path;
                        new.extend_from_slice(b".dpkg-new");
                        new
                    } else {
                        target_path
                    };
                    let scratch = handover.scratch(&self.root)?;
                    let temp = scratch.temp();
                    let md5 = self.write_file(
                        scratch,
                        temp,
                        &disk_path,
                        &entry,
                        &mut tar,
                        &mut buffer,
                        conffile || options.md5_all,
                    )?;
                    unpacked.bytes += entry.size;
                    if let Some(md5) = md5 {
                        unpacked.md5.insert(entry.path.clone(), md5);
                    }
                    written.insert(entry.path.clone(), disk_path.clone());
                    handover.push(Pending {
                        path: disk_path,
                        what: What::File { temp },
                        mode: entry.mode,
                        owner,
                    });
                }
                Kind::Hardlink => {
                    let Some(source) = written.get(&entry.link) else {
                        if unpacked.filtered.contains(&entry.link) {
                            return Err(ExtractError::FilteredLinkTarget {
                                path: format!("/{}", shown(&entry.path)),
                                target: format!("/{}", shown(&entry.link)),
                            });
                        }
                        return Err(unsafe_member(
                            &entry.path,
                            format!(
                                "hard link to `{}`, which is not an earlier regular file of this package",
                                shown(&entry.link)
                            ),
                        ));
                    };
                    let source = source.clone();
                    if let Some(md5) = unpacked.md5.get(&entry.link).cloned() {
                        unpacked.md5.insert(entry.path.clone(), md5);
                    }
                    written.insert(entry.path.clone(), target_path.clone());
                    handover.push(Pending {
                        path: target_path,
                        what: What::Hardlink { source },
                        mode: entry.mode,
                        owner,
                    });
                }
                Kind::Symlink => symlinks.push((entry, target_path)),
            }
        }
        for (entry, target_path) in symlinks {
            let scratch = handover.scratch(&self.root)?;
            let temp = scratch.temp();
            self.make_symlink(scratch, temp, &target_path, &entry)?;
            let owner = (self.uid(&entry), self.gid(&entry));
            handover.push(Pending {
                path: target_path,
                what: What::Symlink {
                    temp,
                    target: entry.link,
                },
                mode: entry.mode,
                owner,
            });
        }
        for conffile in conffiles {
            if !written.contains_key(conffile) && !unpacked.filtered.contains(conffile) {
                return Err(unsafe_member(
                    conffile,
                    "listed in `conffiles` but not a regular file of the package",
                ));
            }
        }
        Ok(unpacked)
    }

    /// Writes a regular member to `temp` in the scratch folder, with its owner, mode and mtime.
    #[allow(clippy::too_many_arguments)]
    fn write_file<R: Read>(
        &self,
        scratch: &Scratch,
        temp: u64,
        path: &[u8],
        entry: &Entry,
        tar: &mut TarReader<R>,
        buffer: &mut [u8],
        hash: bool,
    ) -> Result<Option<String>, ExtractError> {
        let (uid, gid) = (self.uid(entry), self.gid(entry));
        // Created with its final mode when the kernel gives it the right owner and mode bits
        // (see `Creation`), else with mode 0 and given both on the descriptor once written.
        let final_mode = scratch
            .creates
            .and_then(|creates| creates.mode_for((uid, gid), entry.mode, self.chown));
        let fd = rustix::fs::openat(
            &scratch.fd,
            temp_name(temp),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(final_mode.unwrap_or(0)),
        )
        .map_err(io_at("create the file of member", bytes_path(path)))?;
        let mut file = std::fs::File::from(fd);
        let mut md5 = hash.then(Md5::new);
        loop {
            let n = tar.read(buffer)?;
            if n == 0 {
                break;
            }
            file.write_all(&buffer[..n])
                .map_err(io_at("write the file of member", bytes_path(path)))?;
            if let Some(md5) = md5.as_mut() {
                md5.update(&buffer[..n]);
            }
        }
        if final_mode.is_none() {
            if self.chown {
                rustix::fs::fchown(
                    &file,
                    Some(rustix::fs::Uid::from_raw(uid)),
                    Some(rustix::fs::Gid::from_raw(gid)),
                )
                .map_err(io_at("set the owner of member", bytes_path(path)))?;
            }
            // After fchown, which clears setuid and setgid bits.
            rustix::fs::fchmod(&file, Mode::from_raw_mode(entry.mode))
                .map_err(io_at("set the mode of member", bytes_path(path)))?;
        }
        let time = Timespec {
            tv_sec: entry.mtime,
            tv_nsec: 0,
        };
        rustix::fs::futimens(
            &file,
            &Timestamps {
                last_access: time,
                last_modification: time,
            },
        )
        .map_err(io_at(
            "set the modification time of member",
            bytes_path(path),
        ))?;
        Ok(md5.map(|m| hex::encode(m.finalize())))
    }

    /// Makes a symlink member as `temp` in the scratch folder, with its owner and mtime.
    fn make_symlink(
        &self,
        scratch: &Scratch,
        temp: u64,
        path: &[u8],
        entry: &Entry,
    ) -> Result<(), ExtractError> {
        let name = temp_name(temp);
        rustix::fs::symlinkat(OsStr::from_bytes(&entry.link), &scratch.fd, &name)
            .map_err(io_at("create the symlink member", bytes_path(path)))?;
        if self.chown {
            rustix::fs::chownat(
                &scratch.fd,
                &name,
                Some(rustix::fs::Uid::from_raw(self.uid(entry))),
                Some(rustix::fs::Gid::from_raw(self.gid(entry))),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(io_at("set the owner of symlink member", bytes_path(path)))?;
        }
        let time = Timespec {
            tv_sec: entry.mtime,
            tv_nsec: 0,
        };
        rustix::fs::utimensat(
            &scratch.fd,
            &name,
            &Timestamps {
                last_access: time,
                last_modification: time,
            },
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io_at("set the time of symlink member", bytes_path(path)))?;
        Ok(())
    }

    /// The next member of `claimant` for the placer, waiting for its decoder: `Err(ok)` once
    /// the package has no more (`ok`: its decoding succeeded). Gives up waiting when a package
    /// before it failed, or it failed before its decoder began.
    fn next(&self, claimant: usize) -> Result<(Pending, Option<Arc<Scratch>>), bool> {
        let order = self.order(claimant);
        let mut queues = self.queues();
        loop {
            let queue = queues.entry(claimant).or_default();
            if let Some(item) = queue.items.pop_front() {
                return Ok((item, queue.scratch.clone()));
            }
            if let Some(ok) = queue.ended {
                return Err(ok);
            }
            if self.first_failure.load(Ordering::SeqCst) <= order {
                return Err(false);
            }
            queues = self
                .ready
                .wait(queues)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Places the packages `order` (claimants, in plan order) as their decoders hand their
    /// members over, each member in turn (see the module docs). Stops at the first package that
    /// fails, to decode or to place. Returns each placed package's result, in order.
    pub fn place(&self, order: &[usize]) -> Vec<(usize, Result<Placed, ExtractError>)> {
        let mut placement = self.placement();
        let mut results = Vec::new();
        for &claimant in order {
            if self.first_failure.load(Ordering::SeqCst) < self.order(claimant) {
                break;
            }
            let mut failure: Option<ExtractError> = None;
            let mut placing = Placing {
                claimant,
                scratch: None,
                sources: BTreeMap::new(),
                locations: BTreeMap::new(),
            };
            let decoded = loop {
                match self.next(claimant) {
                    Ok((item, folder)) => {
                        if failure.is_some() {
                            continue;
                        }
                        if placing.scratch.is_none() {
                            placing.scratch = folder;
                        }
                        let result = if crate::workdir::interrupted() {
                            Err(ExtractError::Interrupted {
                                package: placement.ledger.claimant(claimant).name.clone(),
                            })
                        } else {
                            self.place_member(&mut placement, &mut placing, item)
                        };
                        if let Err(error) = result {
                            self.fail(claimant);
                            failure = Some(error);
                        }
                    }
                    Err(ok) => break ok,
                }
            };
            let locations = std::mem::take(&mut placing.locations);
            drop(placing);
            // The scratch folder goes once its decoder is done with it (after a failure to place,
            // the decoder may still be writing: `finish_batch` removes the folder then).
            let mut queues = self.queues();
            if queues.get(&claimant).is_some_and(|q| q.ended.is_some())
                && let Some(scratch) = queues.remove(&claimant).and_then(|q| q.scratch)
            {
                scratch.remove(&self.root);
            }
            drop(queues);
            match failure {
                Some(error) => {
                    results.push((claimant, Err(error)));
                    break;
                }
                None if !decoded => break,
                None => results.push((claimant, Ok(Placed { locations }))),
            }
        }
        results
    }

    fn place_member(
        &self,
        placement: &mut Placement,
        placing: &mut Placing,
        item: Pending,
    ) -> Result<(), ExtractError> {
        let parent = self.parent(placement, placing.claimant, &item.path)?;
        let name = split(&item.path).1;
        let location = join(&parent.location, name);
        if location != item.path && !matches!(item.what, What::Dir) {
            placing
                .locations
                .insert(item.path.clone(), location.clone());
        }
        match item.what {
            What::Dir => {
                self.place_directory(placement, placing.claimant, &item, &parent, &location)
            }
            What::File { temp } => {
                let kept = self.place_file(placement, placing, &item, &parent, &location, temp)?;
                placing.sources.insert(
                    item.path,
                    if kept {
                        Source::Kept(temp)
                    } else {
                        Source::Placed(location)
                    },
                );
                Ok(())
            }
            What::Hardlink { ref source } => {
                let source = placing.sources.get(source).cloned().ok_or_else(|| {
                    unsafe_member(&item.path, "hard link to a member that was not written")
                })?;
                let kept =
                    self.place_hardlink(placement, placing, &item, &parent, &location, &source)?;
                placing.sources.insert(
                    item.path,
                    match (kept, source) {
                        (true, source) => source,
                        (false, _) => Source::Placed(location),
                    },
                );
                Ok(())
            }
            What::Symlink { temp, ref target } => {
                self.place_symlink(placement, placing, &item, &parent, &location, temp, target)
            }
        }
    }

    /// Opens the parent of `path` in the root, making missing directories (held by
    /// `claimant`, mode 0755 in the end) on the way.
    fn parent(
        &self,
        placement: &mut Placement,
        claimant: usize,
        path: &[u8],
    ) -> Result<Parent, ExtractError> {
        let (parent, _) = split(path);
        let Placement {
            ledger,
            generation,
            walk,
            ..
        } = placement;
        if walk.generation != *generation {
            *walk = Walk {
                generation: *generation,
                ..Walk::default()
            };
        }
        // The levels of the current path that `parent` shares.
        let shared = walk
            .levels
            .iter()
            .take_while(|level| {
                parent.len() >= level.end
                    && parent[..level.end] == walk.written[..level.end]
                    && (parent.len() == level.end || parent[level.end] == b'/')
            })
            .count();
        walk.levels.truncate(shared);
        let start = walk.levels.last().map_or(0, |level| level.end + 1);
        walk.written = parent.to_vec();
        if start < parent.len() {
            let mut end = start;
            for component in parent[start..].split(|&b| b == b'/') {
                end += component.len();
                let (base, location) = self.level(walk, path)?;
                let (fd, location) = self.resolve(
                    &base,
                    &location,
                    component,
                    Some((&mut *ledger, claimant)),
                    path,
                    &parent[..end],
                )?;
                walk.levels.push(Level {
                    end,
                    fd: Some(Arc::new(fd)),
                    location: Arc::new(location),
                });
                // Only the deepest levels keep their descriptors.
                if walk.levels.len() > OPEN_LEVELS {
                    let old = walk.levels.len() - OPEN_LEVELS - 1;
                    walk.levels[old].fd = None;
                }
                end += 1;
            }
        }
        let (fd, location) = self.level(walk, path)?;
        Ok(Parent { fd, location })
    }

    /// The deepest directory of the walk (the root when it has none), its descriptor opened
    /// again from its location if it was let go.
    fn level(
        &self,
        walk: &mut Walk,
        path: &[u8],
    ) -> Result<(Arc<OwnedFd>, Arc<Vec<u8>>), ExtractError> {
        let Some(level) = walk.levels.last_mut() else {
            return Ok((self.root.clone(), Arc::new(Vec::new())));
        };
        let fd = match &level.fd {
            Some(fd) => fd.clone(),
            None => {
                let fd = Arc::new(
                    self.open_location(
                        &level.location,
                        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    )
                    .map_err(io_at("open a parent directory of member", bytes_path(path)))?,
                );
                level.fd = Some(fd.clone());
                fd
            }
        };
        Ok((fd, level.location.clone()))
    }

    fn conflict(
        &self,
        placement: &Placement,
        location: &[u8],
        conflict: &claims::Conflict,
    ) -> ExtractError {
        conflict_error(&placement.ledger, location, conflict)
    }

    /// The decision's error, if it is one.
    fn refused(
        &self,
        placement: &Placement,
        path: &[u8],
        location: &[u8],
        kind: Kind,
        decision: &Decision,
    ) -> Option<ExtractError> {
        match decision {
            Decision::Conflict(conflict) => Some(self.conflict(placement, location, conflict)),
            Decision::Duplicate => Some(unsafe_member(
                path,
                if placement
                    .ledger
                    .get(location)
                    .is_some_and(|h| h.kind == Kind::Dir)
                {
                    format!(
                        "a {} where a directory exists (type collision): this package has members in the directory",
                        kind_name(kind)
                    )
                } else {
                    format!(
                        "duplicate member: a {} where another member of this package is (through a symlink)",
                        kind_name(kind)
                    )
                },
            )),
            _ => None,
        }
    }

    fn place_directory(
        &self,
        placement: &mut Placement,
        claimant: usize,
        item: &Pending,
        parent: &Parent,
        location: &[u8],
    ) -> Result<(), ExtractError> {
        let path = &item.path;
        let name = OsStr::from_bytes(split(path).1);
        let decision = placement
            .ledger
            .decide(location, claimant, Kind::Dir, false);
        if let Some(error) = self.refused(placement, path, location, Kind::Dir, &decision) {
            return Err(error);
        }
        let follows = || {
            // dpkg's rule: a symlink to a directory inside the root stands for the directory.
            self.resolve(
                &parent.fd,
                &parent.location,
                split(path).1,
                None,
                path,
                path,
            )
            .map(drop)
            .map_err(|_| {
                unsafe_member(
                    path,
                    "a directory where a symlink to a non-directory exists",
                )
            })
        };
        if decision == Decision::Follow {
            return follows();
        }
        let attributes = Some((item.mode, item.owner.0, item.owner.1));
        match rustix::fs::mkdirat(&*parent.fd, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => {
                placement
                    .ledger
                    .hold_directory(location, claimant, attributes, true);
                Ok(())
            }
            Err(Errno::EXIST) => {
                let stat =
                    rustix::fs::statat(&*parent.fd, name, AtFlags::SYMLINK_NOFOLLOW).map_err(
                        io_at("inspect the existing path of member", bytes_path(path)),
                    )?;
                match FileType::from_raw_mode(stat.st_mode) {
                    FileType::Directory => {
                        placement
                            .ledger
                            .hold_directory(location, claimant, attributes, false);
                        Ok(())
                    }
                    // A link no package of this build made (a script's: usrmerge's `bin`).
                    FileType::Symlink => follows(),
                    _ => Err(unsafe_member(
                        path,
                        "a directory where a non-directory exists (type collision)",
                    )),
                }
            }
            Err(errno) => Err(io_at("create the directory member", bytes_path(path))(errno).into()),
        }
    }

    /// Places a regular file; returns whether another package kept the location (the file
    /// stays in the scratch folder, for the package's hard links).
    fn place_file(
        &self,
        placement: &mut Placement,
        placing: &Placing,
        item: &Pending,
        parent: &Parent,
        location: &[u8],
        temp: u64,
    ) -> Result<bool, ExtractError> {
        let decision = placement
            .ledger
            .decide(location, placing.claimant, Kind::File, false);
        if let Some(error) = self.refused(placement, &item.path, location, Kind::File, &decision) {
            return Err(error);
        }
        let scratch = placing
            .scratch
            .as_deref()
            .ok_or_else(|| unsafe_member(&item.path, "no scratch folder"))?;
        if let Decision::Keep { holder } = decision {
            // Instances of one Multi-Arch: same package share a file only when it is the same.
            let (earlier, this) = (
                placement.ledger.claimant(holder),
                placement.ledger.claimant(placing.claimant),
            );
            if earlier.shares_with(this) {
                let name = OsStr::from_bytes(split(&item.path).1);
                let same = same_contents(&scratch.fd, &temp_name(temp), &parent.fd, name)
                    .map_err(io_at("compare shared member", bytes_path(&item.path)))?;
                if !same {
                    return Err(ExtractError::SharedDiffers {
                        path: shown(location),
                        package: this.name.clone(),
                    });
                }
            }
            return Ok(true);
        }
        self.put(placement, &item.path, scratch, temp, parent, "regular file")?;
        self.hold(
            placement,
            placing.claimant,
            location,
            Kind::File,
            false,
            item.owner,
        );
        Ok(false)
    }

    fn place_hardlink(
        &self,
        placement: &mut Placement,
        placing: &Placing,
        item: &Pending,
        parent: &Parent,
        location: &[u8],
        source: &Source,
    ) -> Result<bool, ExtractError> {
        let path = &item.path;
        let decision = placement
            .ledger
            .decide(location, placing.claimant, Kind::Hardlink, false);
        if let Some(error) = self.refused(placement, path, location, Kind::Hardlink, &decision) {
            return Err(error);
        }
        if let Decision::Keep { .. } = decision {
            return Ok(true);
        }
        let scratch = placing
            .scratch
            .as_deref()
            .ok_or_else(|| unsafe_member(path, "no scratch folder"))?;
        let name = OsStr::from_bytes(split(path).1);
        let link = |dir: &OwnedFd, to: &OsStr| -> Result<(), Errno> {
            match source {
                Source::Placed(from) => {
                    let (from_parent, from_name) = split(from);
                    let from_dir = self.open_location(
                        from_parent,
                        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    )?;
                    rustix::fs::linkat(
                        &from_dir,
                        OsStr::from_bytes(from_name),
                        dir,
                        to,
                        AtFlags::empty(),
                    )
                }
                Source::Kept(temp) => {
                    rustix::fs::linkat(&scratch.fd, temp_name(*temp), dir, to, AtFlags::empty())
                }
            }
        };
        // `linkat` never follows nor replaces its new name: straight into place when the name
        // is free, else through the scratch folder and a rename over it.
        match link(&parent.fd, name) {
            Ok(()) => {}
            Err(Errno::EXIST) => {
                let temp = scratch.temp();
                link(&scratch.fd, OsStr::new(&temp_name(temp)))
                    .map_err(io_at("create the hard link of member", bytes_path(path)))?;
                self.put(placement, path, scratch, temp, parent, "hard link")?;
            }
            Err(errno) => {
                return Err(
                    io_at("create the hard link of member", bytes_path(path))(errno).into(),
                );
            }
        }
        self.hold(
            placement,
            placing.claimant,
            location,
            Kind::Hardlink,
            false,
            item.owner,
        );
        Ok(false)
    }

    #[allow(clippy::too_many_arguments)]
    fn place_symlink(
        &self,
        placement: &mut Placement,
        placing: &Placing,
        item: &Pending,
        parent: &Parent,
        location: &[u8],
        temp: u64,
        target: &[u8],
    ) -> Result<(), ExtractError> {
        let path = &item.path;
        let merged_usr = claims::is_merged_usr_link(location, target);
        let decision =
            placement
                .ledger
                .decide(location, placing.claimant, Kind::Symlink, merged_usr);
        if let Some(error) = self.refused(placement, path, location, Kind::Symlink, &decision) {
            return Err(error);
        }
        match decision {
            Decision::Keep { .. } => return Ok(()),
            Decision::TakeDirectory => {
                self.take_directory(placement, placing.claimant, path, parent, location, target)?;
            }
            _ => {}
        }
        let scratch = placing
            .scratch
            .as_deref()
            .ok_or_else(|| unsafe_member(path, "no scratch folder"))?;
        self.put(placement, path, scratch, temp, parent, "symlink")?;
        self.hold(
            placement,
            placing.claimant,
            location,
            Kind::Symlink,
            merged_usr,
            item.owner,
        );
        Ok(())
    }

    fn hold(
        &self,
        placement: &mut Placement,
        claimant: usize,
        location: &[u8],
        kind: Kind,
        merged_usr: bool,
        owner: (u32, u32),
    ) {
        placement.ledger.hold(
            location.to_vec(),
            Holder {
                claimant,
                kind,
                merged_usr,
                owner,
                directory: None,
            },
        );
    }

    /// Renames `temp` of the scratch folder to the member's name in `parent`, replacing what
    /// is there unless it is a directory (the decision was made: this is the member that stays).
    fn put(
        &self,
        placement: &mut Placement,
        path: &[u8],
        scratch: &Scratch,
        temp: u64,
        parent: &Parent,
        what: &str,
    ) -> Result<(), ExtractError> {
        let from = temp_name(temp);
        let name = OsStr::from_bytes(split(path).1);
        match rustix::fs::renameat_with(
            &scratch.fd,
            &from,
            &*parent.fd,
            name,
            RenameFlags::NOREPLACE,
        ) {
            Ok(()) => return Ok(()),
            // The name exists; or the filesystem has no RENAME_NOREPLACE.
            Err(Errno::EXIST | Errno::INVAL | Errno::NOSYS) => {}
            Err(errno) => {
                return Err(io_at("rename into place member", bytes_path(path))(errno).into());
            }
        }
        match rustix::fs::statat(&*parent.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => match FileType::from_raw_mode(stat.st_mode) {
                FileType::Directory => {
                    let reason = if what == "symlink" {
                        format!(
                            "a {what} where a directory exists (type collision): the directory existed before this build"
                        )
                    } else {
                        format!("a {what} where a directory exists (type collision)")
                    };
                    return Err(unsafe_member(path, reason));
                }
                // A link replaced: parents resolved through it are stale.
                FileType::Symlink => placement.generation += 1,
                _ => {}
            },
            Err(Errno::NOENT) => {}
            Err(errno) => {
                return Err(
                    io_at("inspect the existing path of member", bytes_path(path))(errno).into(),
                );
            }
        }
        rustix::fs::renameat(&scratch.fd, &from, &*parent.fd, name)
            .map_err(io_at("rename into place member", bytes_path(path)))?;
        Ok(())
    }

    /// Merged /usr: the directory at `location` (made by earlier packages of this build) is
    /// emptied into the link's target and removed, so that the link can take its place.
    fn take_directory(
        &self,
        placement: &mut Placement,
        claimant: usize,
        path: &[u8],
        parent: &Parent,
        location: &[u8],
        link: &[u8],
    ) -> Result<(), ExtractError> {
        let collision = |reason: &str| {
            unsafe_member(
                path,
                format!("a symlink where a directory exists (type collision): {reason}"),
            )
        };
        if !placement
            .ledger
            .get(location)
            .and_then(|h| h.directory)
            .is_some_and(|d| d.created)
        {
            return Err(collision("the directory existed before this build"));
        }
        if placement.ledger.holds_at_or_below(location, claimant) {
            return Err(collision("this package has members in the directory"));
        }
        let (target, target_location) = self
            .resolve(&parent.fd, &parent.location, link, None, path, link)
            .map_err(|_| collision("the link's target is not a directory in the root"))?;
        let target = rustix::fs::openat(
            &target,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_at("open the link's target of member", bytes_path(path)))?;
        let name = OsStr::from_bytes(split(path).1);
        let directory = rustix::fs::openat(
            &*parent.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_at("open the directory of member", bytes_path(path)))?;
        if at_or_below(&target_location, location) {
            return Err(collision("the link points into the directory"));
        }
        let mut winners = BTreeMap::new();
        self.move_entries(
            placement,
            &directory,
            &target,
            location,
            &target_location,
            &mut winners,
            0,
        )?;
        drop(directory);
        rustix::fs::unlinkat(&*parent.fd, name, AtFlags::REMOVEDIR).map_err(io_at(
            "remove the directory replaced by symlink member",
            bytes_path(path),
        ))?;
        for (moved_location, holder) in placement.ledger.relocate(location, &target_location) {
            if winners.get(&moved_location) == Some(&true) {
                placement.ledger.hold(moved_location, holder);
            }
        }
        placement.ledger.release(location);
        placement
            .moves
            .push((location.to_vec(), target_location.clone()));
        placement.generation += 1;
        Ok(())
    }

    /// Moves every entry of `from` (at location `from_location`) into `into` (at
    /// `into_location`), merging directories present in both; where both have a non-directory,
    /// `claims` decides which stays (recorded in `winners`, by location: whether the moved one).
    #[allow(clippy::too_many_arguments)]
    fn move_entries(
        &self,
        placement: &Placement,
        from: &OwnedFd,
        into: &OwnedFd,
        from_location: &[u8],
        into_location: &[u8],
        winners: &mut BTreeMap<Vec<u8>, bool>,
        depth: usize,
    ) -> Result<(), ExtractError> {
        if depth > crate::tar::read::MAX_NAME {
            return Err(unsafe_member(
                from_location,
                "directory tree too deep to move",
            ));
        }
        let mut names: Vec<Vec<u8>> = Vec::new();
        for entry in rustix::fs::Dir::read_from(from).map_err(io_at(
            "read the directory of member",
            bytes_path(from_location),
        ))? {
            let entry = entry.map_err(io_at(
                "read the directory of member",
                bytes_path(from_location),
            ))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(name.to_vec());
            }
        }
        names.sort();
        for name in names {
            let moving_location = join(from_location, &name);
            let kept_location = join(into_location, &name);
            let name = OsStr::from_bytes(&name);
            let existing = match rustix::fs::statat(into, name, AtFlags::SYMLINK_NOFOLLOW) {
                Err(Errno::NOENT) => {
                    rustix::fs::renameat(from, name, into, name).map_err(io_at(
                        "move into the symlink's target of member",
                        bytes_path(&moving_location),
                    ))?;
                    continue;
                }
                Err(errno) => {
                    return Err(io_at(
                        "inspect the symlink's target of member",
                        bytes_path(&kept_location),
                    )(errno)
                    .into());
                }
                Ok(stat) => FileType::from_raw_mode(stat.st_mode),
            };
            let moving = rustix::fs::statat(from, name, AtFlags::SYMLINK_NOFOLLOW)
                .map(|s| FileType::from_raw_mode(s.st_mode))
                .map_err(io_at(
                    "inspect a directory entry of member",
                    bytes_path(&moving_location),
                ))?;
            if existing == FileType::Directory && moving == FileType::Directory {
                let open = |dir: &OwnedFd, at: &[u8]| {
                    rustix::fs::openat(
                        dir,
                        name,
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(io_at("open the directory of member", bytes_path(at)))
                };
                let (source, destination) =
                    (open(from, &moving_location)?, open(into, &kept_location)?);
                self.move_entries(
                    placement,
                    &source,
                    &destination,
                    &moving_location,
                    &kept_location,
                    winners,
                    depth + 1,
                )?;
                drop(source);
                rustix::fs::unlinkat(from, name, AtFlags::REMOVEDIR).map_err(io_at(
                    "remove the merged directory of member",
                    bytes_path(&moving_location),
                ))?;
                continue;
            }
            // One location, two members: the one dpkg would keep in plan order stays.
            let ledger = &placement.ledger;
            let moved_wins = match (ledger.get(&moving_location), ledger.get(&kept_location)) {
                (Some(moved), Some(kept)) => {
                    let (decision, moved_later) = ledger.between(kept, moved);
                    match decision {
                        Decision::Replace { .. } => moved_later,
                        Decision::Keep { .. } => !moved_later,
                        Decision::Conflict(conflict) => {
                            return Err(self.conflict(placement, &kept_location, &conflict));
                        }
                        _ => {
                            return Err(unsafe_member(
                                &kept_location,
                                "exists both here and at the target of the symlink that replaces its directory",
                            ));
                        }
                    }
                }
                // What no package holds gives way to what one holds.
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => {
                    return Err(unsafe_member(
                        &kept_location,
                        "exists both here and at the target of the symlink that replaces its directory",
                    ));
                }
            };
            if existing == FileType::Directory || moving == FileType::Directory {
                return Err(unsafe_member(
                    &kept_location,
                    "a directory and a non-directory meet where the symlink replaces its directory",
                ));
            }
            if moved_wins {
                rustix::fs::renameat(from, name, into, name).map_err(io_at(
                    "move into the symlink's target of member",
                    bytes_path(&moving_location),
                ))?;
            } else {
                rustix::fs::unlinkat(from, name, AtFlags::empty()).map_err(io_at(
                    "remove the replaced member",
                    bytes_path(&moving_location),
                ))?;
            }
            winners.insert(kept_location, moved_wins);
        }
        Ok(())
    }

    /// Applies the attributes of the directories this build made (after a batch is placed):
    /// those of the earliest package in plan order that ships each, else 0755 root.
    pub fn apply_directory_attributes(&self) -> Result<(), ExtractError> {
        let mut placement = self.placement();
        // In order of location, each opened from the nearest ancestor opened before it.
        let mut ancestors: Vec<(Vec<u8>, OwnedFd)> = Vec::new();
        for (location, (mode, uid, gid)) in placement.ledger.take_unapplied_directories() {
            if location.is_empty() {
                continue;
            }
            while ancestors
                .last()
                .is_some_and(|(a, _)| !(location.len() > a.len() && at_or_below(&location, a)))
            {
                ancestors.pop();
            }
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            // A location has no symlink in it; if one appeared since, the directory is not there.
            let opened = match ancestors.last() {
                Some((ancestor, fd)) if location.len() - ancestor.len() <= 2048 => {
                    rustix::fs::openat2(
                        fd,
                        OsStr::from_bytes(&location[ancestor.len() + 1..]),
                        flags,
                        Mode::empty(),
                        ResolveFlags::BENEATH
                            | ResolveFlags::NO_SYMLINKS
                            | ResolveFlags::NO_MAGICLINKS,
                    )
                }
                _ => self.open_location(&location, flags),
            };
            let fd = match opened {
                Ok(fd) => fd,
                Err(Errno::LOOP | Errno::NOTDIR | Errno::NOENT | Errno::XDEV) => continue,
                Err(errno) => {
                    return Err(
                        io_at("open the directory of member", bytes_path(&location))(errno).into(),
                    );
                }
            };
            if self.chown {
                rustix::fs::fchown(
                    &fd,
                    Some(rustix::fs::Uid::from_raw(uid)),
                    Some(rustix::fs::Gid::from_raw(gid)),
                )
                .map_err(io_at(
                    "set the owner of directory member",
                    bytes_path(&location),
                ))?;
            }
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(io_at(
                "set the mode of directory member",
                bytes_path(&location),
            ))?;
            if ancestors.len() >= OPEN_LEVELS {
                ancestors.remove(0);
            }
            ancestors.push((location, fd));
        }
        Ok(())
    }
}

/// Whether the regular files `a` in `a_dir` and `b` in `b_dir` (neither followed if a link) hold
/// the same bytes.
fn same_contents(
    a_dir: &OwnedFd,
    a: &str,
    b_dir: &OwnedFd,
    b: &OsStr,
) -> Result<bool, std::io::Error> {
    let open = |dir: &OwnedFd, name: &OsStr| -> Result<std::fs::File, std::io::Error> {
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(std::fs::File::from(fd))
    };
    let (mut a, mut b) = (open(a_dir, OsStr::new(a))?, open(b_dir, b)?);
    let (a_meta, b_meta) = (a.metadata()?, b.metadata()?);
    if !a_meta.is_file() || !b_meta.is_file() || a_meta.len() != b_meta.len() {
        return Ok(false);
    }
    let (mut x, mut y) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
    loop {
        let n = a.read(&mut x)?;
        if n == 0 {
            return Ok(b.read(&mut y[..1])? == 0);
        }
        b.read_exact(&mut y[..n])?;
        if x[..n] != y[..n] {
            return Ok(false);
        }
    }
}

/// The error of a conflict at `location`, worded from the later package's side.
fn conflict_error(ledger: &Ledger, location: &[u8], conflict: &claims::Conflict) -> ExtractError {
    let name = |c: usize| ledger.claimant(c).name.clone();
    ExtractError::Conflict {
        path: shown(location),
        package: name(conflict.later),
        owner: name(conflict.earlier),
        existing: if conflict.earlier_kind == Kind::Dir {
            "directory "
        } else {
            ""
        },
        with: if conflict.later_kind == Kind::Dir {
            ", with a directory"
        } else {
            ""
        },
    }
}

/// A decoder's end of its package's queue: members handed over [`HANDOVER`] at a time, and
/// the end of decoding announced whatever happens (a decoder that panicked ends as failed, so
/// the placer never waits for it forever).
struct Handover<'a> {
    target: &'a Target,
    claimant: usize,
    items: Vec<Pending>,
    scratch: Option<Arc<Scratch>>,
    ended: bool,
}

impl Handover<'_> {
    /// The package's scratch folder, made on first use.
    fn scratch(&mut self, root: &OwnedFd) -> Result<&Scratch, ExtractError> {
        if self.scratch.is_none() {
            let scratch = Arc::new(Scratch::create(root)?);
            self.target
                .queues()
                .entry(self.claimant)
                .or_default()
                .scratch = Some(scratch.clone());
            self.scratch = Some(scratch);
        }
        self.scratch
            .as_deref()
            .ok_or_else(|| unsafe_member(b".debroot-scratch", "no scratch folder"))
    }

    fn push(&mut self, item: Pending) {
        self.items.push(item);
        if self.items.len() >= HANDOVER {
            self.flush(None);
        }
    }

    fn flush(&mut self, ended: Option<bool>) {
        let mut queues = self.target.queues();
        let queue = queues.entry(self.claimant).or_default();
        queue.items.extend(self.items.drain(..));
        if ended.is_some() {
            queue.ended = ended;
        }
        self.target.ready.notify_all();
    }

    fn end(&mut self, ok: bool) {
        if !ok {
            // Nothing of a failed package is placed.
            self.items.clear();
        }
        self.flush(Some(ok));
        self.ended = true;
    }
}

impl Drop for Handover<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.end(false);
            self.target.fail(self.claimant);
        }
    }
}

impl AsFd for Target {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.root.as_fd()
    }
}

impl crate::error::Classify for ExtractError {
    fn class(&self) -> crate::error::ExitClass {
        match self {
            ExtractError::Io(_) | ExtractError::RootFile(_) => crate::error::ExitClass::Output,
            ExtractError::Interrupted { .. } => crate::error::ExitClass::Interrupted,
            ExtractError::FilteredLinkTarget { .. } => crate::error::ExitClass::Usage,
            _ => crate::error::ExitClass::Archive,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ExtractError::FilteredLinkTarget { target, .. } => Some(format!(
                "add a `packages.path-include` pattern that matches `{target}`, or exclude the link too"
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debian::Version;

    /// A tar of `(name, typeflag, data, link)` members, with the end-of-archive blocks.
    fn tar(members: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind, data, link) in members {
            let mut h = [0u8; 512];
            h[..name.len()].copy_from_slice(name.as_bytes());
            h[100..108].copy_from_slice(b"0000755\0");
            h[108..116].copy_from_slice(b"0000000\0");
            h[116..124].copy_from_slice(b"0000000\0");
            h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
            h[136..148].copy_from_slice(b"14000000000\0");
            h[156] = *kind;
            h[157..157 + link.len()].copy_from_slice(link.as_bytes());
            h[257..265].copy_from_slice(b"ustar\x0000");
            h[148..156].copy_from_slice(b"        ");
            let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
            h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
            out.extend_from_slice(&h);
            out.extend_from_slice(data);
            out.extend(std::iter::repeat_n(0u8, (512 - data.len() % 512) % 512));
        }
        out.extend([0u8; 1024]);
        out
    }

    fn claimant(order: usize, name: &str, replaces: &str) -> Claimant {
        Claimant {
            order,
            name: name.to_owned(),
            version: Version::parse("1.0").unwrap(),
            replaces: crate::debian::relation::parse(
                crate::debian::relation::FieldKind::Replaces,
                replaces,
            )
            .unwrap()
            .into_iter()
            .flat_map(|r| r.alternatives)
            .collect(),
            multi_arch_same: false,
        }
    }

    fn unpack(
        target: &Target,
        index: usize,
        bytes: &[u8],
        options: &Options,
    ) -> Result<Unpacked, ExtractError> {
        let name = format!("p{index}");
        target.unpack_and_place(
            index,
            TarReader::new(bytes),
            options,
            &Diversions::new(),
            &name,
        )
    }

    /// Unpacks `packages` (claimant, tar) into a fresh root, placing them in the order given
    /// (the placer's order is the plan's; a different order stands for a different plan).
    fn root_after(
        packages: &[(Claimant, Vec<u8>)],
        order: &[usize],
    ) -> (
        tempfile::TempDir,
        Target,
        Vec<Result<Unpacked, ExtractError>>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::open(dir.path(), false).unwrap();
        for (claimant, _) in packages {
            target.register(claimant.clone());
        }
        let results = order
            .iter()
            .map(|&i| unpack(&target, i, &packages[i].1, &Options::default()))
            .collect();
        (dir, target, results)
    }

    /// The names at the top of a root (scratch folders must be gone).
    fn top_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_merged_usr_link_gives_one_tree_whichever_package_comes_first() {
        let packages = vec![
            (
                claimant(0, "base", ""),
                tar(&[
                    ("./", b'5', b"", ""),
                    ("./usr/", b'5', b"", ""),
                    ("./usr/bin/", b'5', b"", ""),
                    ("./bin", b'2', b"", "usr/bin"),
                ]),
            ),
            (
                claimant(1, "later", ""),
                tar(&[
                    ("./", b'5', b"", ""),
                    ("./bin/", b'5', b"", ""),
                    ("./bin/sub/", b'5', b"", ""),
                    ("./bin/sub/foo", b'0', b"foo\n", ""),
                ]),
            ),
        ];
        for order in [[0, 1], [1, 0]] {
            let (dir, target, results) = root_after(&packages, &order);
            for result in results {
                result.unwrap();
            }
            target.apply_directory_attributes().unwrap();
            assert_eq!(
                std::fs::read_link(dir.path().join("bin")).unwrap(),
                Path::new("usr/bin"),
                "{order:?}"
            );
            assert_eq!(
                std::fs::read(dir.path().join("usr/bin/sub/foo")).unwrap(),
                b"foo\n",
                "{order:?}"
            );
            // Owners and owners recorded without privilege are keyed by the location.
            let owners = target.recorded_owners();
            assert!(
                owners.contains_key(&b"usr/bin/sub/foo"[..]),
                "{order:?}: {owners:?}"
            );
            assert!(
                !owners.contains_key(&b"bin/sub/foo"[..]),
                "{order:?}: {owners:?}"
            );
            assert_eq!(
                target.owners_by_path().get(&b"usr/bin/sub/foo"[..]),
                Some(&"later".to_owned())
            );
            if order == [1, 0] {
                // Found at `bin/sub/foo`, moved with the directory when the link came.
                assert_eq!(
                    target.current_location(b"bin/sub/foo"),
                    b"usr/bin/sub/foo".to_vec()
                );
            }
            assert_eq!(top_names(dir.path()), ["bin", "usr"], "{order:?}");
        }
    }

    #[test]
    fn a_symlink_over_its_own_packages_directory_is_a_collision() {
        let packages = vec![(
            claimant(0, "self", ""),
            tar(&[
                ("./", b'5', b"", ""),
                ("./usr/", b'5', b"", ""),
                ("./usr/bin/", b'5', b"", ""),
                ("./bin/x", b'0', b"x", ""),
                ("./bin", b'2', b"", "usr/bin"),
            ]),
        )];
        let (_dir, _target, results) = root_after(&packages, &[0]);
        let error = results.into_iter().next().unwrap().unwrap_err().to_string();
        assert!(
            error.contains("member `bin`")
                && error.contains("this package has members in the directory"),
            "{error}"
        );
    }

    #[test]
    fn a_directory_never_becomes_another_symlink() {
        let packages = vec![
            (
                claimant(0, "aa", ""),
                tar(&[
                    ("./", b'5', b"", ""),
                    ("./usr/", b'5', b"", ""),
                    ("./usr/lib/", b'5', b"", ""),
                    ("./usr/lib/aa/", b'5', b"", ""),
                    ("./usr/lib/aa/f", b'0', b"aa", ""),
                ]),
            ),
            (
                claimant(1, "ev", "aa"),
                tar(&[
                    ("./", b'5', b"", ""),
                    ("./etc/", b'5', b"", ""),
                    ("./etc/ev/", b'5', b"", ""),
                    ("./usr/", b'5', b"", ""),
                    ("./usr/lib/", b'5', b"", ""),
                    ("./usr/lib/aa", b'2', b"", "/etc/ev"),
                ]),
            ),
        ];
        let (dir, _target, results) = root_after(&packages, &[0, 1]);
        assert_eq!(
            results[1].as_ref().unwrap_err().to_string(),
            "package `ev` is trying to overwrite directory `/usr/lib/aa`, which is also in package `aa`"
        );
        assert!(dir.path().join("usr/lib/aa/f").is_file());
        assert!(!dir.path().join("etc/ev/f").exists());
        // The link first in the plan: `aa`'s directory follows it, as dpkg does.
        let (dir, _target, results) = root_after(&packages, &[1, 0]);
        for result in results {
            result.unwrap();
        }
        assert_eq!(std::fs::read(dir.path().join("etc/ev/f")).unwrap(), b"aa");
    }

    #[test]
    fn ownership_is_decided_where_a_file_lands() {
        let packages = vec![
            (
                claimant(0, "a", ""),
                tar(&[
                    ("./", b'5', b"", ""),
                    ("./usr/", b'5', b"", ""),
                    ("./usr/bin/", b'5', b"", ""),
                    ("./usr/bin/tool", b'0', b"a", ""),
                    ("./bin", b'2', b"", "usr/bin"),
                ]),
            ),
            (
                claimant(1, "b", ""),
                tar(&[
                    ("./", b'5', b"", ""),
                    ("./bin/", b'5', b"", ""),
                    ("./bin/tool", b'0', b"b", ""),
                ]),
            ),
        ];
        for order in [[0, 1], [1, 0]] {
            let (dir, _target, results) = root_after(&packages, &order);
            let error = results
                .iter()
                .find_map(|r| r.as_ref().err())
                .unwrap()
                .to_string();
            assert_eq!(
                error,
                "package `b` is trying to overwrite `/usr/bin/tool`, which is also in package `a`",
                "{order:?}"
            );
            assert_eq!(
                std::fs::read(dir.path().join("usr/bin/tool")).unwrap(),
                b"a"
            );
        }
    }

    #[test]
    fn replaces_decides_whichever_package_comes_first() {
        let packages = vec![
            (
                claimant(0, "new", "old"),
                tar(&[("./", b'5', b"", ""), ("./f", b'0', b"new", "")]),
            ),
            (
                claimant(1, "old", ""),
                tar(&[("./", b'5', b"", ""), ("./f", b'0', b"old", "")]),
            ),
        ];
        for order in [[0, 1], [1, 0]] {
            let (dir, target, results) = root_after(&packages, &order);
            for result in results {
                result.unwrap();
            }
            assert_eq!(
                std::fs::read(dir.path().join("f")).unwrap(),
                b"new",
                "{order:?}"
            );
            assert_eq!(target.owners_by_path()[&b"f"[..]], "new");
        }
        // Without `Replaces`, the later package in plan order is the one trying to overwrite.
        let packages = vec![
            (
                claimant(0, "a", ""),
                tar(&[("./", b'5', b"", ""), ("./f", b'0', b"a", "")]),
            ),
            (
                claimant(1, "b", ""),
                tar(&[("./", b'5', b"", ""), ("./f", b'0', b"b", "")]),
            ),
        ];
        let (_dir, _target, results) = root_after(&packages, &[0, 1]);
        let error = results[1].as_ref().unwrap_err().to_string();
        assert_eq!(
            error,
            "package `b` is trying to overwrite `/f`, which is also in package `a`"
        );
    }

    /// The walk resolves as `RESOLVE_IN_ROOT` does: `..` stops at the root, absolute targets
    /// start from it, a loop of links ends in an error; and it names where a member lands.
    #[test]
    fn links_are_followed_inside_the_root() {
        let packages = vec![
            (
                claimant(0, "links", ""),
                tar(&[
                    ("./", b'5', b"", ""),
                    ("./usr/", b'5', b"", ""),
                    ("./etc/", b'5', b"", ""),
                    ("./usr/up", b'2', b"", "../../../../../.."),
                    ("./usr/abs", b'2', b"", "/etc"),
                    ("./usr/loop-a", b'2', b"", "loop-b"),
                    ("./usr/loop-b", b'2', b"", "loop-a"),
                ]),
            ),
            (
                claimant(1, "writer", ""),
                tar(&[
                    ("./", b'5', b"", ""),
                    ("./usr/up/etc/climbed", b'0', b"1", ""),
                    ("./usr/abs/absolute", b'0', b"2", ""),
                ]),
            ),
            (
                claimant(2, "looper", ""),
                tar(&[("./", b'5', b"", ""), ("./usr/loop-a/x", b'0', b"3", "")]),
            ),
        ];
        let (dir, target, results) = root_after(&packages, &[0, 1, 2]);
        let writer = results[1].as_ref().unwrap();
        assert_eq!(std::fs::read(dir.path().join("etc/climbed")).unwrap(), b"1");
        assert_eq!(
            std::fs::read(dir.path().join("etc/absolute")).unwrap(),
            b"2"
        );
        assert_eq!(
            writer.locations.get(&b"usr/up/etc/climbed"[..]),
            Some(&b"etc/climbed".to_vec())
        );
        assert_eq!(
            target.owners_by_path().get(&b"etc/absolute"[..]),
            Some(&"writer".to_owned())
        );
        let error = results[2].as_ref().unwrap_err().to_string();
        assert!(
            error.contains("too many levels of symbolic links"),
            "{error}"
        );
    }

    #[test]
    fn a_hard_link_keeps_its_packages_bytes_when_another_package_keeps_the_path() {
        let packages = vec![
            (
                claimant(0, "keeper", "loser"),
                tar(&[("./", b'5', b"", ""), ("./f", b'0', b"keeper", "")]),
            ),
            (
                claimant(1, "loser", ""),
                tar(&[
                    ("./", b'5', b"", ""),
                    ("./f", b'0', b"loser", ""),
                    ("./g", b'1', b"", "f"),
                ]),
            ),
        ];
        let (dir, _target, results) = root_after(&packages, &[0, 1]);
        for result in results {
            result.unwrap();
        }
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"keeper");
        assert_eq!(std::fs::read(dir.path().join("g")).unwrap(), b"loser");
        assert_eq!(top_names(dir.path()), ["f", "g"]);
    }

    /// docs/THREATS.md G1: symlinks to a host directory at every name 37001c2's extractor used for
    /// its scratch folders (`.debroot-tmp-PID-N`, this process's PID), and at names like the new
    /// ones: nothing is ever created in the host directory (inotify watches it), and the files
    /// land in the root.
    #[test]
    fn planted_scratch_names_are_never_used() {
        let host = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        for n in 0..16 {
            for name in [
                format!(".debroot-tmp-{}-{n}", std::process::id()),
                format!(".debroot-scratch-{n:032x}"),
            ] {
                std::os::unix::fs::symlink(host.path(), dir.path().join(name)).unwrap();
            }
        }
        let inotify = rustix::fs::inotify::init(
            rustix::fs::inotify::CreateFlags::NONBLOCK | rustix::fs::inotify::CreateFlags::CLOEXEC,
        )
        .unwrap();
        rustix::fs::inotify::add_watch(
            &inotify,
            host.path(),
            rustix::fs::inotify::WatchFlags::CREATE | rustix::fs::inotify::WatchFlags::MOVED_TO,
        )
        .unwrap();
        let target = Target::open(dir.path(), false).unwrap();
        target.register(claimant(0, "victim", ""));
        let bytes = tar(&[
            ("./", b'5', b"", ""),
            ("./usr/", b'5', b"", ""),
            ("./usr/bin/", b'5', b"", ""),
            ("./usr/bin/x", b'0', b"x", ""),
            ("./usr/bin/y", b'1', b"", "usr/bin/x"),
            ("./usr/bin/z", b'2', b"", "x"),
        ]);
        unpack(&target, 0, &bytes, &Options::default()).unwrap();
        let mut events = [0u8; 4096];
        assert!(
            matches!(rustix::io::read(&inotify, &mut events), Err(Errno::AGAIN)),
            "something was created in the host directory"
        );
        assert!(std::fs::read_dir(host.path()).unwrap().next().is_none());
        assert_eq!(std::fs::read(dir.path().join("usr/bin/y")).unwrap(), b"x");
        assert!(!top_names(dir.path()).iter().any(|n| {
            n.starts_with(".debroot-scratch-")
                && !std::fs::symlink_metadata(dir.path().join(n))
                    .unwrap()
                    .is_symlink()
        }));
    }

    #[test]
    fn filtered_members_are_neither_written_nor_listed() {
        let dir = tempfile::tempdir().unwrap();
        let mut target = Target::open(dir.path(), false).unwrap();
        target.set_filter(crate::pathfilter::PathFilter::new(
            ["/usr/share/doc/*", "/etc/p.conf"],
            ["/usr/share/doc/*/copyright"],
        ));
        target.register(claimant(0, "p", ""));
        let bytes = tar(&[
            ("./", b'5', b"", ""),
            ("./etc/", b'5', b"", ""),
            ("./etc/p.conf", b'0', b"conf", ""),
            ("./usr/", b'5', b"", ""),
            ("./usr/share/", b'5', b"", ""),
            ("./usr/share/doc/", b'5', b"", ""),
            ("./usr/share/doc/p/", b'5', b"", ""),
            ("./usr/share/doc/p/README", b'0', b"r", ""),
            ("./usr/share/doc/p/copyright", b'0', b"c", ""),
            ("./usr/share/doc/p/NEWS", b'2', b"", "README"),
        ]);
        let options = Options {
            conffiles: [b"etc/p.conf".to_vec()].into(),
            ..Options::default()
        };
        let unpacked = unpack(&target, 0, &bytes, &options).unwrap();
        let listed: Vec<&[u8]> = unpacked.paths.iter().map(|(p, _)| &p[..]).collect();
        assert!(
            listed.contains(&&b"usr/share/doc/p"[..]),
            "kept by the include's prefix"
        );
        assert!(
            listed.contains(&&b"usr/share/doc/p/NEWS"[..]),
            "a symlink, kept the same way"
        );
        assert!(!listed.contains(&&b"usr/share/doc/p/README"[..]));
        assert!(
            !listed.contains(&&b"etc/p.conf"[..]),
            "a filtered conffile is no error"
        );
        assert_eq!(unpacked.filtered.len(), 2);
        assert!(dir.path().join("usr/share/doc/p/copyright").is_file());
        assert!(!dir.path().join("usr/share/doc/p/README").exists());
        assert!(!dir.path().join("etc/p.conf").exists());
        assert!(!dir.path().join("etc/p.conf.dpkg-new").exists());

        // A hard link to a filtered file: a usage error naming both.
        let dir = tempfile::tempdir().unwrap();
        let mut target = Target::open(dir.path(), false).unwrap();
        target.set_filter(crate::pathfilter::PathFilter::new(
            ["/a"],
            Vec::<String>::new(),
        ));
        target.register(claimant(0, "p", ""));
        let bytes = tar(&[
            ("./", b'5', b"", ""),
            ("./a", b'0', b"x", ""),
            ("./b", b'1', b"", "./a"),
        ]);
        let error = unpack(&target, 0, &bytes, &Options::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "member `/b` is a hard link to `/a`, which `packages.path-exclude` left out"
        );
        use crate::error::Classify as _;
        assert_eq!(error.class(), crate::error::ExitClass::Usage);
    }

    #[test]
    fn entry_and_size_caps() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::open(dir.path(), false).unwrap();
        target.register(claimant(0, "capped", ""));
        let bytes = tar(&[
            ("./", b'5', b"", ""),
            ("./a", b'0', b"123456", ""),
            ("./b", b'0', b"123456", ""),
            ("./c", b'0', b"", ""),
        ]);
        let options = Options {
            max_entries: 3,
            ..Options::default()
        };
        let error = unpack(&target, 0, &bytes, &options)
            .unwrap_err()
            .to_string();
        assert_eq!(error, "member `c`: more than 3 entries (entry count cap)");
        // Nothing of a failed package is placed.
        assert!(top_names(dir.path()).is_empty());
        let dir = tempfile::tempdir().unwrap();
        let target = Target::open(dir.path(), false).unwrap();
        target.register(claimant(0, "capped", ""));
        let options = Options {
            max_bytes: 10,
            ..Options::default()
        };
        let error = unpack(&target, 0, &bytes, &options)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "member `b`: member of 6 bytes exceeds the size cap: the package's files may hold 10 bytes in all"
        );
        assert!(!dir.path().join("b").exists());
    }

    #[test]
    fn packages_decoded_in_parallel_are_placed_in_plan_order() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::open(dir.path(), false).unwrap();
        let first = target.register(claimant(0, "first", ""));
        let second = target.register(claimant(1, "second", ""));
        target.begin_batch().unwrap();
        let bytes = |text: &[u8]| tar(&[("./", b'5', b"", ""), ("./f", b'0', text, "")]);
        // The later package is decoded first; it waits for the earlier one.
        target
            .unpack(
                second,
                TarReader::new(&bytes(b"second")[..]),
                &Options::default(),
                &Diversions::new(),
                "second",
            )
            .unwrap();
        let placed = std::thread::scope(|scope| {
            let placer = scope.spawn(|| target.place(&[first, second]));
            std::thread::sleep(std::time::Duration::from_millis(50));
            target
                .unpack(
                    first,
                    TarReader::new(&bytes(b"first")[..]),
                    &Options::default(),
                    &Diversions::new(),
                    "first",
                )
                .unwrap();
            placer.join().unwrap()
        });
        target.finish_batch();
        assert_eq!(placed.len(), 2);
        assert_eq!(
            placed[1].1.as_ref().unwrap_err().to_string(),
            "package `second` is trying to overwrite `/f`, which is also in package `first`"
        );
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"first");
        assert_eq!(top_names(dir.path()), ["f"]);
    }

    #[test]
    fn the_first_failure_in_plan_order_stops_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::open(dir.path(), false).unwrap();
        let first = target.register(claimant(0, "first", ""));
        let second = target.register(claimant(1, "second", ""));
        target.begin_batch().unwrap();
        // The first package's decoder fails before it begins (a `.deb` that cannot be read).
        target.fail(first);
        assert!(target.stopped_before(second));
        assert!(!target.stopped_before(first));
        assert!(target.place(&[first, second]).is_empty());
        target.finish_batch();
    }

    #[test]
    fn non_directory_parents_are_found_by_hash() {
        let mut seen = BTreeMap::new();
        let mut non_directories = BTreeSet::new();
        for (path, kind) in [
            (&b"usr"[..], Kind::Dir),
            (b"usr/link", Kind::Symlink),
            (b"usr/file", Kind::File),
        ] {
            seen.insert(path.to_vec(), kind);
            if kind != Kind::Dir {
                non_directories.insert(path_hash(path));
            }
        }
        let find = |path: &'static [u8]| {
            non_directory_parent(path, &non_directories, &seen).map(|(p, k)| (p.to_vec(), k))
        };
        assert_eq!(
            find(b"usr/link/x/y"),
            Some((b"usr/link".to_vec(), Kind::Symlink))
        );
        assert_eq!(
            find(b"usr/file/x"),
            Some((b"usr/file".to_vec(), Kind::File))
        );
        assert_eq!(find(b"usr/linkx/y"), None);
        assert_eq!(find(b"usr/x"), None);
        assert_eq!(find(b"usr/link"), None);
    }

    #[test]
    fn files_are_created_with_their_final_mode_only_when_nothing_else_is_needed() {
        let creates = Creation {
            uid: 0,
            gid: 0,
            umask: 0o022,
        };
        // The kernel gives these owners and bits by itself.
        assert_eq!(creates.mode_for((0, 0), 0o755, true), Some(0o755));
        assert_eq!(creates.mode_for((0, 0), 0o444, true), Some(0o444));
        assert_eq!(creates.mode_for((0, 0), 0, true), Some(0));
        // Another owner: fchown then fchmod.
        assert_eq!(creates.mode_for((0, 42), 0o644, true), None);
        assert_eq!(creates.mode_for((1, 0), 0o644, true), None);
        // Owners recorded, not set: the owner does not matter.
        assert_eq!(creates.mode_for((1, 42), 0o644, false), Some(0o644));
        // Bits the umask would take: set on the descriptor.
        assert_eq!(creates.mode_for((0, 0), 0o664, true), None);
        assert_eq!(creates.mode_for((0, 0), 0o777, true), None);
        // Set-ID and sticky bits always come from fchmod (after any fchown).
        assert_eq!(creates.mode_for((0, 0), 0o4755, true), None);
        assert_eq!(creates.mode_for((0, 0), 0o2755, true), None);
        assert_eq!(creates.mode_for((0, 0), 0o1755, false), None);
        // The umask read here is the process's (no test changes it).
        assert!(current_umask().is_some());
    }

    #[test]
    fn unpacked_files_get_their_modes_whether_created_with_them_or_not() {
        let modes: [(&str, u32); 5] = [
            ("plain", 0o644),
            ("group-writable", 0o664),
            ("setuid", 0o4755),
            ("sticky", 0o1700),
            ("none", 0),
        ];
        let mut members: Vec<(String, u8, &[u8], &str)> = vec![("./usr/".into(), b'5', b"", "")];
        members.extend(
            modes
                .iter()
                .map(|(name, _)| (format!("./usr/{name}"), b'0', &b"x"[..], "")),
        );
        let borrowed: Vec<(&str, u8, &[u8], &str)> = members
            .iter()
            .map(|(n, k, d, l)| (n.as_str(), *k, *d, *l))
            .collect();
        let mut bytes = tar(&borrowed);
        // Each header's mode, and its checksum again.
        for (index, (_, mode)) in modes.iter().enumerate() {
            let h = &mut bytes[(1 + 2 * index) * 512..(2 + 2 * index) * 512];
            h[100..108].copy_from_slice(format!("{mode:07o}\0").as_bytes());
            h[148..156].copy_from_slice(b"        ");
            let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
            h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        }
        let root = tempfile::tempdir().unwrap();
        let target = Target::open(root.path(), false).unwrap();
        target.register(claimant(0, "modes", ""));
        unpack(&target, 0, &bytes, &Options::default()).unwrap();
        for (name, mode) in modes {
            let meta = std::fs::symlink_metadata(root.path().join("usr").join(name)).unwrap();
            assert_eq!(
                std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777,
                mode,
                "{name}"
            );
        }
    }
}
