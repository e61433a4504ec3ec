//! Writing a package's files into a root, safely (THREATS §2).
//!
//! Every path is resolved inside the root: parent directories are opened with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, so `..` and absolute symlinks (such as
//! `var/run -> /run` or merged-/usr's `bin -> usr/bin`) are rebased into the root and never reach
//! the host. Files are created in a scratch folder of the unpacking thread under a temporary name with
//! `O_CREAT | O_EXCL | O_NOFOLLOW` and mode 0, their owner and mode set on the descriptor, then
//! renamed over the final name, which replaces a planted symlink instead of writing through it.
//! Symbolic links are created after the package's other members, hard links only to earlier
//! regular members of the same package. A member under a path this package declares as a symlink
//! is refused (RUSTSEC-2021-0080 shape).
//!
//! Packages are unpacked in parallel, and the result never depends on scheduling. Every change
//! to the tree's shape (a parent resolved and created, a directory made, a name renamed into
//! place) happens under one lock, and every claim on a path is decided there: a package may take
//! over another package's file only if it `Replaces` it (dpkg's rule, whichever of the two comes
//! first), so the winner's bytes are what stays. A symlink to a directory (merged /usr's `bin ->
//! usr/bin`) may find a directory that other packages made at its place in this run, because
//! they were unpacked first: that directory's contents move to the link's target and the link
//! replaces it, the tree a link unpacked first gives (files written through it). That holds for
//! the packages before the link in plan order too, as merged /usr needs (dpkg itself would
//! refuse to turn their directory into a link; bootstrappers make the links before unpacking).
//! Directories shared by several packages get the attributes of the earliest package in plan
//! order, applied at the end.
//!
//! Caps (THREATS C8): [`MAX_ENTRIES`] entries and [`MAX_NAME_BYTES`] bytes of names per package,
//! and the package's file data may not exceed [`Options::max_bytes`]; a member that would pass it
//! is refused at its header, before anything is written.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use md5::{Digest as _, Md5};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::io::Errno;

use super::tar::{Entry, Kind, TarReader};
use crate::debian::Version;
use crate::debian::relation::Dependency;

/// Most entries one package may have.
pub const MAX_ENTRIES: usize = 1_000_000;
/// Most bytes of member names and symlink targets one package may have: they are kept in memory
/// until the package is done (a million names of 4 KiB would be gigabytes).
pub const MAX_NAME_BYTES: u64 = 128 << 20;
/// Most bytes of file data one package may have when nothing better is known (apt's cap).
pub const MAX_BYTES: u64 = super::tar::MAX_MEMBER;

/// Why a package's files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("member `{path}`: {reason}")]
    Unsafe { path: String, reason: String },
    /// Two packages ship one path. Worded from the later package's side whichever of the two
    /// was unpacked second, so the message does not depend on scheduling.
    #[error(
        "package `{package}` is trying to overwrite {existing}`/{path}`, which is also in package `{owner}`{with}"
    )]
    Conflict {
        path: String,
        /// The later package in plan order.
        package: String,
        /// The earlier one.
        owner: String,
        /// `"directory "` when the earlier package's path is a directory.
        existing: &'static str,
        /// `", with a directory"` when the later package's path is one.
        with: &'static str,
    },
    #[error("member `{path}`: {operation} failed")]
    Io {
        path: String,
        operation: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Tar(#[from] super::tar::TarError),
    /// debroot was interrupted: the signal handler is removing the root, so writing stops.
    #[error("interrupted while unpacking `{package}`")]
    Interrupted { package: String },
}

fn shown(path: &[u8]) -> String {
    super::tar::shown_name(path)
}

fn io<'a>(path: &'a [u8], operation: &'static str) -> impl FnOnce(Errno) -> ExtractError + 'a {
    move |errno| ExtractError::Io {
        path: shown(path),
        operation,
        source: errno.into(),
    }
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

/// A package as the extractor needs to know it.
#[derive(Debug, Clone)]
pub struct Claimant {
    /// Position in the plan: earlier packages are unpacked first by dpkg.
    pub order: usize,
    pub name: String,
    pub version: Version,
    pub replaces: Vec<Dependency>,
}

impl Claimant {
    fn replaces(&self, other: &Claimant) -> bool {
        self.replaces.iter().any(|d| {
            d.name.as_str() == other.name
                && d.constraint
                    .as_ref()
                    .is_none_or(|c| c.admits(&other.version))
        })
    }
}

#[derive(Debug, Clone)]
struct Claim {
    claimant: usize,
    kind: Kind,
    /// For directories this run created: (mode, uid, gid) of the earliest package in plan order.
    attributes: Option<(u32, u32, u32)>,
    /// Whether `attributes` are on disk already.
    applied: bool,
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

/// Everything decided under the one lock.
#[derive(Debug, Default)]
struct State {
    /// Every claimed path (as written, after diversion) with its current owner.
    claims: BTreeMap<Vec<u8>, Claim>,
    /// The packages that claim paths.
    claimants: Vec<Claimant>,
    /// Directories this run made, as members or as missing parents (paths as written).
    made: BTreeSet<Vec<u8>>,
}

/// The root being filled.
pub struct Target {
    root: OwnedFd,
    path: PathBuf,
    /// The root as the kernel names it, to turn a directory descriptor into a path in the root.
    kernel_path: Option<Vec<u8>>,
    state: Mutex<State>,
    /// Whether ownership is set on disk (root, or a user namespace); else recorded only.
    chown: bool,
    /// Owners that could not be set on disk (extract mode without privilege), by path in the
    /// root (symlinks resolved).
    owners: Mutex<BTreeMap<Vec<u8>, (u32, u32)>>,
    users: BTreeMap<Vec<u8>, u32>,
    groups: BTreeMap<Vec<u8>, u32>,
    serial: AtomicU64,
    /// Each unpacking thread's own folder in the root for its temporary names (see
    /// [`Target::temporary_name`]), by thread.
    scratch: Mutex<Vec<(std::thread::ThreadId, Vec<u8>)>>,
}

fn read_ids(root: &Path, file: &str) -> BTreeMap<Vec<u8>, u32> {
    let mut ids = BTreeMap::new();
    if let Ok(text) = std::fs::read(root.join(file)) {
        for line in text.split(|&b| b == b'\n') {
            let fields: Vec<&[u8]> = line.split(|&b| b == b':').collect();
            if fields.len() >= 3
                && let Some(id) = std::str::from_utf8(fields[2])
                    .ok()
                    .and_then(|t| t.parse().ok())
            {
                ids.entry(fields[0].to_vec()).or_insert(id);
            }
        }
    }
    ids
}

/// The path the kernel gives an open descriptor (`/proc/self/fd/N`).
fn descriptor_path(fd: &OwnedFd) -> Option<Vec<u8>> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .ok()
        .map(|p| p.into_os_string().into_encoded_bytes())
}

impl Target {
    /// Opens the root directory. `chown`: whether to set owners on disk.
    pub fn open(path: &Path, chown: bool) -> std::io::Result<Self> {
        let root = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )?;
        Ok(Target {
            kernel_path: descriptor_path(&root),
            root,
            path: path.to_path_buf(),
            state: Mutex::new(State::default()),
            chown,
            owners: Mutex::new(BTreeMap::new()),
            users: read_ids(path, "etc/passwd"),
            groups: read_ids(path, "etc/group"),
            serial: AtomicU64::new(0),
            scratch: Mutex::new(Vec::new()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads `etc/passwd` and `etc/group` of the root (names in tar headers map to them).
    pub fn refresh_ids(&mut self) {
        self.users = read_ids(&self.path, "etc/passwd");
        self.groups = read_ids(&self.path, "etc/group");
    }

    /// The lock. No code panics while holding it, so a poisoned lock still holds a consistent
    /// state.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn owners(&self) -> MutexGuard<'_, BTreeMap<Vec<u8>, (u32, u32)>> {
        self.owners.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a package; returns its claimant index.
    pub fn register(&self, claimant: Claimant) -> usize {
        let mut state = self.lock();
        state.claimants.push(claimant);
        state.claimants.len() - 1
    }

    /// Owners recorded instead of set (extract mode without privilege).
    pub fn recorded_owners(&self) -> BTreeMap<Vec<u8>, (u32, u32)> {
        self.owners().clone()
    }

    /// The final owner package of every non-directory path.
    pub fn owners_by_path(&self) -> BTreeMap<Vec<u8>, String> {
        let state = self.lock();
        state
            .claims
            .iter()
            .filter(|(_, c)| c.kind != Kind::Dir)
            .map(|(path, c)| (path.clone(), state.claimants[c.claimant].name.clone()))
            .collect()
    }

    /// Opens directory `path` inside the root (symlinks followed, rebased in the root).
    fn open_dir(&self, path: &[u8]) -> Result<OwnedFd, Errno> {
        let path = if path.is_empty() { &b"."[..] } else { path };
        rustix::fs::openat2(
            &self.root,
            OsStr::from_bytes(path),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
    }

    /// The path in the root of `name` in the directory `dir` (symlinks resolved), for the
    /// owners recorded without privilege; the path as written when the kernel cannot say.
    fn path_in_root(&self, dir: &OwnedFd, name: &[u8], written: &[u8]) -> Vec<u8> {
        let resolved = self.kernel_path.as_ref().and_then(|root| {
            let dir = descriptor_path(dir)?;
            let relative = dir.strip_prefix(root.as_slice())?;
            let relative = match relative {
                [] => &b""[..],
                [b'/', rest @ ..] => rest,
                _ => return None,
            };
            let mut path = relative.to_vec();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(name);
            Some(path)
        });
        resolved.unwrap_or_else(|| written.to_vec())
    }

    /// Opens the parent of `path`, creating missing directories (mode 0755) on the way and
    /// recording them as made by this run. Called under the lock.
    fn parent(&self, state: &mut State, path: &[u8]) -> Result<(OwnedFd, Vec<u8>), ExtractError> {
        let (parent, name) = split(path);
        match self.open_dir(parent) {
            Ok(fd) => return Ok((fd, name.to_vec())),
            // Missing, or not a directory: the walk below creates or names the culprit.
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => {}
            Err(errno) => return Err(io(path, "opening the parent directory")(errno)),
        }
        let mut current = self.open_dir(b"").map_err(io(path, "opening the root"))?;
        let mut so_far: Vec<u8> = Vec::new();
        for component in parent.split(|&b| b == b'/') {
            if !so_far.is_empty() {
                so_far.push(b'/');
            }
            so_far.extend_from_slice(component);
            match rustix::fs::mkdirat(
                &current,
                OsStr::from_bytes(component),
                Mode::from_raw_mode(0o755),
            ) {
                Ok(()) => {
                    state.made.insert(so_far.clone());
                }
                Err(Errno::EXIST) => {}
                Err(errno) => return Err(io(path, "creating a parent directory")(errno)),
            }
            current = self.open_dir(&so_far).map_err(|errno| match errno {
                Errno::NOENT | Errno::NOTDIR | Errno::LOOP => unsafe_member(
                    path,
                    format!(
                        "parent `{}` is not a directory (a dangling or non-directory link?)",
                        shown(&so_far)
                    ),
                ),
                errno => io(path, "opening a parent directory")(errno),
            })?;
        }
        Ok((current, name.to_vec()))
    }

    /// A fresh temporary name, relative to the root, in this thread's scratch folder at the
    /// root (made 0700 on first use). Each thread having its own folder, creating a file and
    /// renaming it into place lock only that folder and the file's parent: with one shared
    /// folder, every create and rename of every thread would queue on its lock.
    fn temporary_name(&self) -> Vec<u8> {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let thread = std::thread::current().id();
        let mut scratch = self
            .scratch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut name = match scratch.iter().find(|(t, _)| *t == thread) {
            Some((_, folder)) => folder.clone(),
            None => {
                let folder =
                    format!(".debroot-tmp-{}-{}", std::process::id(), scratch.len()).into_bytes();
                // A failure shows when the file is created in it.
                let _ =
                    rustix::fs::mkdirat(&self.root, OsStr::from_bytes(&folder), Mode::from(0o700));
                scratch.push((thread, folder.clone()));
                folder
            }
        };
        name.extend_from_slice(format!("/.debroot-new-{}-{serial}", std::process::id()).as_bytes());
        name
    }

    /// Removes the threads' scratch folders (and anything a failure left in them).
    pub fn remove_scratch(&self) {
        let folders: Vec<Vec<u8>> = std::mem::take(
            &mut *self
                .scratch
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_iter()
        .map(|(_, folder)| folder)
        .collect();
        for folder in folders {
            let name = OsStr::from_bytes(&folder);
            if let Ok(dir) = rustix::fs::openat(
                &self.root,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                let mut names = Vec::new();
                if let Ok(entries) = rustix::fs::Dir::read_from(&dir) {
                    for entry in entries.flatten() {
                        let entry_name = entry.file_name().to_bytes();
                        if entry_name != b"." && entry_name != b".." {
                            names.push(entry_name.to_vec());
                        }
                    }
                }
                for entry_name in names {
                    let _ = rustix::fs::unlinkat(
                        &dir,
                        OsStr::from_bytes(&entry_name),
                        AtFlags::empty(),
                    );
                }
            }
            let _ = rustix::fs::unlinkat(&self.root, name, AtFlags::REMOVEDIR);
        }
    }

    /// Removes a temporary name (after a failure: best effort).
    fn discard(&self, temporary: &[u8]) {
        let _ = rustix::fs::unlinkat(&self.root, OsStr::from_bytes(temporary), AtFlags::empty());
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

    /// Sets owner, mode and mtime on a freshly created file descriptor.
    fn finish_fd(&self, fd: &OwnedFd, entry: &Entry, path: &[u8]) -> Result<(), ExtractError> {
        let (uid, gid) = (self.uid(entry), self.gid(entry));
        if self.chown {
            rustix::fs::fchown(
                fd,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )
            .map_err(io(path, "setting the owner"))?;
        }
        // After fchown, which clears setuid and setgid bits.
        rustix::fs::fchmod(fd, Mode::from_raw_mode(entry.mode))
            .map_err(io(path, "setting the mode"))?;
        let time = Timespec {
            tv_sec: entry.mtime,
            tv_nsec: 0,
        };
        rustix::fs::futimens(
            fd,
            &Timestamps {
                last_access: time,
                last_modification: time,
            },
        )
        .map_err(io(path, "setting the modification time"))?;
        Ok(())
    }

    /// Records the owner of a path placed without privilege.
    fn record_owner(&self, dir: &OwnedFd, name: &[u8], path: &[u8], owner: (u32, u32)) {
        if !self.chown {
            let key = self.path_in_root(dir, name, path);
            self.owners().insert(key, owner);
        }
    }

    /// Decides a claim on `path` and, for the winner, renames `temporary` (in the root
    /// directory) into place. Called under the lock. Returns whether this package's version
    /// stays.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &self,
        state: &mut State,
        claimant: usize,
        path: &[u8],
        kind: Kind,
        dir: &OwnedFd,
        temporary: &[u8],
        name: &[u8],
    ) -> Result<bool, ExtractError> {
        let me = &state.claimants[claimant];
        let wins = match state.claims.get(path) {
            None => true,
            Some(existing) if existing.claimant == claimant => {
                return Err(unsafe_member(path, "duplicate member"));
            }
            Some(existing) => {
                let other = &state.claimants[existing.claimant];
                let (early, late) = if other.order < me.order {
                    (other, me)
                } else {
                    (me, other)
                };
                let early_kind = if std::ptr::eq(early, me) {
                    kind
                } else {
                    existing.kind
                };
                let late_kind = if std::ptr::eq(late, me) {
                    kind
                } else {
                    existing.kind
                };
                // dpkg's rule, either way round: the package that `Replaces` the other keeps
                // the path (when the replacing package came first, dpkg keeps its file).
                let winner = if late.replaces(early) {
                    Some(late)
                } else if early.replaces(late) {
                    Some(early)
                } else {
                    None
                };
                let Some(winner) = winner.filter(|_| existing.kind != Kind::Dir) else {
                    return Err(ExtractError::Conflict {
                        path: shown(path),
                        package: late.name.clone(),
                        owner: early.name.clone(),
                        existing: if early_kind == Kind::Dir {
                            "directory "
                        } else {
                            ""
                        },
                        with: if late_kind == Kind::Dir {
                            ", with a directory"
                        } else {
                            ""
                        },
                    });
                };
                std::ptr::eq(winner, me)
            }
        };
        if wins {
            rustix::fs::renameat(
                &self.root,
                OsStr::from_bytes(temporary),
                dir,
                OsStr::from_bytes(name),
            )
            .map_err(io(path, "renaming into place"))?;
            state.claims.insert(
                path.to_vec(),
                Claim {
                    claimant,
                    kind,
                    attributes: None,
                    applied: true,
                },
            );
        } else {
            self.discard(temporary);
        }
        Ok(wins)
    }

    /// Claims a directory; `created`: this run made it (else it existed before).
    fn claim_dir(
        &self,
        state: &mut State,
        claimant: usize,
        path: &[u8],
        entry: &Entry,
        created: bool,
    ) -> Result<(), ExtractError> {
        let attributes = (entry.mode, self.uid(entry), self.gid(entry));
        let order = state.claimants[claimant].order;
        match state.claims.get_mut(path) {
            None => {
                // A directory that existed before this run (made by a maintainer script or an
                // earlier phase) is left as it is, as dpkg does.
                state.claims.insert(
                    path.to_vec(),
                    Claim {
                        claimant,
                        kind: Kind::Dir,
                        attributes: created.then_some(attributes),
                        applied: !created,
                    },
                );
            }
            Some(existing) if existing.kind == Kind::Dir => {
                // The earliest package in plan order sets the attributes of a directory this
                // run created, whichever package's mkdir came first.
                if existing.attributes.is_some()
                    && !existing.applied
                    && order < state.claimants[existing.claimant].order
                {
                    existing.claimant = claimant;
                    existing.attributes = Some(attributes);
                }
            }
            Some(existing) => {
                let other = &state.claimants[existing.claimant];
                let me = &state.claimants[claimant];
                let (package, owner, existing_kind, with) = if other.order < order {
                    (me, other, existing.kind, Kind::Dir)
                } else {
                    (other, me, Kind::Dir, existing.kind)
                };
                return Err(ExtractError::Conflict {
                    path: shown(path),
                    package: package.name.clone(),
                    owner: owner.name.clone(),
                    existing: if existing_kind == Kind::Dir {
                        "directory "
                    } else {
                        ""
                    },
                    with: if with == Kind::Dir {
                        ", with a directory"
                    } else {
                        ""
                    },
                });
            }
        }
        Ok(())
    }

    /// Applies every claimed directory's attributes (after all packages are unpacked). A path
    /// that is a symlink to a directory (merged /usr) is left alone.
    pub fn apply_directory_attributes(&self) -> Result<(), ExtractError> {
        let mut state = self.lock();
        for (path, claim) in state.claims.iter_mut() {
            if claim.applied {
                continue;
            }
            claim.applied = true;
            let Some((mode, uid, gid)) = claim.attributes else {
                continue;
            };
            if path.is_empty() {
                continue;
            }
            let (parent, name) = split(path);
            let Ok(parent) = self.open_dir(parent) else {
                continue;
            };
            let fd = match rustix::fs::openat(
                &parent,
                OsStr::from_bytes(name),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(Errno::LOOP | Errno::NOTDIR) => continue,
                Err(errno) => return Err(io(path, "opening a directory")(errno)),
            };
            if self.chown {
                rustix::fs::fchown(
                    &fd,
                    Some(rustix::fs::Uid::from_raw(uid)),
                    Some(rustix::fs::Gid::from_raw(gid)),
                )
                .map_err(io(path, "setting a directory's owner"))?;
            } else {
                self.record_owner(&parent, name, path, (uid, gid));
            }
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
                .map_err(io(path, "setting a directory's mode"))?;
        }
        Ok(())
    }

    /// Writes one package's `data.tar` into the root.
    pub fn unpack<R: Read>(
        &self,
        claimant: usize,
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
        // Symlinks of this package, created last.
        let mut symlinks: Vec<(Entry, Vec<u8>)> = Vec::new();
        // Regular members written, by package path, with their on-disk path.
        let mut written: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut buffer = vec![0u8; 1 << 16];
        while let Some(entry) = tar.next_entry()? {
            if crate::workdir::interrupted() {
                return Err(ExtractError::Interrupted {
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
            unpacked.paths.push((entry.path.clone(), entry.kind));
            // dpkg writes a diverted file to its diverted name unless this package diverts it.
            let target_path = match diversions.get(&entry.path) {
                Some((to, by)) if by != package && entry.kind != Kind::Dir => {
                    to.strip_prefix(b"/").unwrap_or(to).to_vec()
                }
                _ => entry.path.clone(),
            };
            match entry.kind {
                Kind::Dir => {
                    if entry.path.is_empty() {
                        continue;
                    }
                    self.make_dir(claimant, &target_path, &entry)?;
                }
                Kind::File => {
                    let conffile = conffiles.contains(&entry.path);
                    // A conffile waits under `.dpkg-new` for dpkg's configure step.
                    let disk_path = if conffile && !options.conffiles_in_place {
                        let mut new = target_path.clone();
                        new.extend_from_slice(b".dpkg-new");
                        new
                    } else {
                        target_path.clone()
                    };
                    let md5 = self.write_file(
                        claimant,
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
                    written.insert(entry.path.clone(), disk_path);
                }
                Kind::Hardlink => {
                    let Some(source) = written.get(&entry.link) else {
                        return Err(unsafe_member(
                            &entry.path,
                            format!(
                                "hard link to `{}`, which is not an earlier regular file of this package",
                                shown(&entry.link)
                            ),
                        ));
                    };
                    let source = source.clone();
                    self.write_hardlink(claimant, &target_path, &source, &entry)?;
                    if let Some(md5) = unpacked.md5.get(&entry.link).cloned() {
                        unpacked.md5.insert(entry.path.clone(), md5);
                    }
                    written.insert(entry.path.clone(), target_path);
                }
                Kind::Symlink => symlinks.push((entry, target_path)),
            }
        }
        for (entry, target_path) in symlinks {
            self.write_symlink(claimant, &target_path, &entry)?;
        }
        for conffile in conffiles {
            if !written.contains_key(conffile) {
                return Err(unsafe_member(
                    conffile,
                    "listed in `conffiles` but not a regular file of the package",
                ));
            }
        }
        Ok(unpacked)
    }

    fn make_dir(&self, claimant: usize, path: &[u8], entry: &Entry) -> Result<(), ExtractError> {
        let mut state = self.lock();
        let (parent, name) = self.parent(&mut state, path)?;
        let created = match rustix::fs::mkdirat(
            &parent,
            OsStr::from_bytes(&name),
            Mode::from_raw_mode(0o700),
        ) {
            Ok(()) => {
                state.made.insert(path.to_vec());
                true
            }
            Err(Errno::EXIST) => {
                let stat = rustix::fs::statat(
                    &parent,
                    OsStr::from_bytes(&name),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(io(path, "inspecting an existing path"))?;
                match FileType::from_raw_mode(stat.st_mode) {
                    FileType::Directory => state.made.contains(path),
                    // dpkg's `linktosameexistingdir`: a symlink to a directory inside the root
                    // stands for the directory (merged /usr).
                    FileType::Symlink => {
                        if self.open_dir(path).is_err() {
                            return Err(unsafe_member(
                                path,
                                "a directory where a symlink to a non-directory exists",
                            ));
                        }
                        return Ok(());
                    }
                    _ => {
                        if state.claims.contains_key(path) {
                            // Another package's file: a conflict between the two packages.
                            return self.claim_dir(&mut state, claimant, path, entry, false);
                        }
                        return Err(unsafe_member(
                            path,
                            "a directory where a non-directory exists (type collision)",
                        ));
                    }
                }
            }
            Err(errno) => return Err(io(path, "creating a directory")(errno)),
        };
        self.claim_dir(&mut state, claimant, path, entry, created)
    }

    #[allow(clippy::too_many_arguments)]
    fn write_file<R: Read>(
        &self,
        claimant: usize,
        path: &[u8],
        entry: &Entry,
        tar: &mut TarReader<R>,
        buffer: &mut [u8],
        hash: bool,
    ) -> Result<Option<String>, ExtractError> {
        let temporary = self.temporary_name();
        let fd = rustix::fs::openat(
            &self.root,
            OsStr::from_bytes(&temporary),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io(path, "creating the file"))?;
        let mut file = std::fs::File::from(fd);
        let mut md5 = hash.then(Md5::new);
        let result = (|| -> Result<(), ExtractError> {
            loop {
                let n = tar.read(buffer)?;
                if n == 0 {
                    break;
                }
                file.write_all(&buffer[..n])
                    .map_err(|source| ExtractError::Io {
                        path: shown(path),
                        operation: "writing the file",
                        source,
                    })?;
                if let Some(md5) = md5.as_mut() {
                    md5.update(&buffer[..n]);
                }
            }
            let fd: OwnedFd =
                file.try_clone()
                    .map(OwnedFd::from)
                    .map_err(|source| ExtractError::Io {
                        path: shown(path),
                        operation: "duplicating the descriptor",
                        source,
                    })?;
            self.finish_fd(&fd, entry, path)
        })();
        drop(file);
        let placed = result.and_then(|()| {
            let mut state = self.lock();
            let (parent, name) = self.parent(&mut state, path)?;
            if self.settle(
                &mut state,
                claimant,
                path,
                Kind::File,
                &parent,
                &temporary,
                &name,
            )? {
                self.record_owner(&parent, &name, path, (self.uid(entry), self.gid(entry)));
            }
            Ok(())
        });
        if let Err(error) = placed {
            self.discard(&temporary);
            return Err(error);
        }
        Ok(md5.map(|m| hex::encode(m.finalize())))
    }

    fn write_hardlink(
        &self,
        claimant: usize,
        path: &[u8],
        source: &[u8],
        entry: &Entry,
    ) -> Result<(), ExtractError> {
        let mut state = self.lock();
        let (source_parent, source_name) = self.parent(&mut state, source)?;
        let temporary = self.temporary_name();
        rustix::fs::linkat(
            &source_parent,
            OsStr::from_bytes(&source_name),
            &self.root,
            OsStr::from_bytes(&temporary),
            AtFlags::empty(),
        )
        .map_err(io(path, "creating the hard link"))?;
        let placed = self.parent(&mut state, path).and_then(|(parent, name)| {
            if self.settle(
                &mut state,
                claimant,
                path,
                Kind::Hardlink,
                &parent,
                &temporary,
                &name,
            )? {
                self.record_owner(&parent, &name, path, (self.uid(entry), self.gid(entry)));
            }
            Ok(())
        });
        if placed.is_err() {
            self.discard(&temporary);
        }
        placed
    }

    fn write_symlink(
        &self,
        claimant: usize,
        path: &[u8],
        entry: &Entry,
    ) -> Result<(), ExtractError> {
        let temporary = self.temporary_name();
        rustix::fs::symlinkat(
            OsStr::from_bytes(&entry.link),
            &self.root,
            OsStr::from_bytes(&temporary),
        )
        .map_err(io(path, "creating the symlink"))?;
        let placed = self.place_symlink(claimant, path, entry, &temporary);
        if placed.is_err() {
            self.discard(&temporary);
        }
        placed
    }

    fn place_symlink(
        &self,
        claimant: usize,
        path: &[u8],
        entry: &Entry,
        temporary: &[u8],
    ) -> Result<(), ExtractError> {
        let (uid, gid) = (self.uid(entry), self.gid(entry));
        if self.chown {
            rustix::fs::chownat(
                &self.root,
                OsStr::from_bytes(temporary),
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(io(path, "setting the symlink's owner"))?;
        }
        let time = Timespec {
            tv_sec: entry.mtime,
            tv_nsec: 0,
        };
        rustix::fs::utimensat(
            &self.root,
            OsStr::from_bytes(temporary),
            &Timestamps {
                last_access: time,
                last_modification: time,
            },
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io(path, "setting the symlink's time"))?;
        let mut state = self.lock();
        let (parent, name) = self.parent(&mut state, path)?;
        if let Ok(stat) =
            rustix::fs::statat(&parent, OsStr::from_bytes(&name), AtFlags::SYMLINK_NOFOLLOW)
            && FileType::from_raw_mode(stat.st_mode) == FileType::Directory
        {
            self.replace_directory(&mut state, claimant, path, &parent, &name, &entry.link)?;
        }
        if self.settle(
            &mut state,
            claimant,
            path,
            Kind::Symlink,
            &parent,
            temporary,
            &name,
        )? {
            self.record_owner(&parent, &name, path, (uid, gid));
        }
        Ok(())
    }

    /// A symlink to a directory where packages of this run made a directory (they were
    /// unpacked first): the directory's contents move to the link's target, in the root, and
    /// the directory goes, so that the link can take its place. Anything else (a directory
    /// that existed before, one holding this package's own members, a target that is not a
    /// directory, or a name at both places) is a type collision. Called under the lock.
    fn replace_directory(
        &self,
        state: &mut State,
        claimant: usize,
        path: &[u8],
        parent: &OwnedFd,
        name: &[u8],
        link: &[u8],
    ) -> Result<(), ExtractError> {
        let collision = |reason: &str| {
            unsafe_member(
                path,
                format!("a symlink where a directory exists (type collision): {reason}"),
            )
        };
        if !state.made.contains(path) {
            return Err(collision("the directory existed before this build"));
        }
        if state
            .claims
            .range(path.to_vec()..)
            .take_while(|(p, _)| p.starts_with(path))
            .any(|(p, c)| at_or_below(p, path) && c.claimant == claimant)
        {
            return Err(collision("this package has members in the directory"));
        }
        let target_path = if link.starts_with(b"/") {
            link.to_vec()
        } else {
            let mut joined = split(path).0.to_vec();
            if !joined.is_empty() {
                joined.push(b'/');
            }
            joined.extend_from_slice(link);
            joined
        };
        let target = self
            .open_dir(&target_path)
            .map_err(|_| collision("the link's target is not a directory in the root"))?;
        let directory = rustix::fs::openat(
            parent,
            OsStr::from_bytes(name),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io(path, "opening a directory"))?;
        if self.is_within(&target, &directory, path)? {
            return Err(collision("the link points into the directory"));
        }
        self.move_entries(&directory, &target, path, 0)?;
        drop(directory);
        rustix::fs::unlinkat(parent, OsStr::from_bytes(name), AtFlags::REMOVEDIR)
            .map_err(io(path, "removing the directory the symlink replaces"))?;
        state.made.remove(path);
        if state.claims.get(path).is_some_and(|c| c.kind == Kind::Dir) {
            state.claims.remove(path);
        }
        if !self.chown {
            // Owners recorded below the directory now live below the target.
            let from = self.path_in_root(parent, name, path);
            let to = self.path_in_root(&target, b"", &target_path);
            let to = to.strip_suffix(b"/").unwrap_or(&to).to_vec();
            let mut owners = self.owners();
            let moved: Vec<Vec<u8>> = owners
                .range(from.clone()..)
                .take_while(|(p, _)| p.starts_with(&from))
                .filter(|(p, _)| p.get(from.len()) == Some(&b'/'))
                .map(|(p, _)| p.clone())
                .collect();
            for old in moved {
                if let Some(owner) = owners.remove(&old) {
                    let mut new = to.clone();
                    if !new.is_empty() {
                        new.extend_from_slice(&old[from.len()..]);
                    } else {
                        new.extend_from_slice(&old[from.len() + 1..]);
                    }
                    owners.insert(new, owner);
                }
            }
            owners.remove(&from);
        }
        Ok(())
    }

    /// Whether `inner` is the directory `outer` or below it (walking up from `inner` to the
    /// root).
    fn is_within(
        &self,
        inner: &OwnedFd,
        outer: &OwnedFd,
        path: &[u8],
    ) -> Result<bool, ExtractError> {
        let identity = |fd: &OwnedFd| {
            rustix::fs::fstat(fd)
                .map(|s| (s.st_dev, s.st_ino))
                .map_err(io(path, "inspecting a directory"))
        };
        let outer = identity(outer)?;
        let root = identity(&self.root)?;
        let mut current = rustix::fs::openat(
            inner,
            OsStr::new("."),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io(path, "opening a directory"))?;
        // A path in the root has at most `MAX_NAME / 2` components.
        for _ in 0..=super::tar::MAX_NAME {
            let here = identity(&current)?;
            if here == outer {
                return Ok(true);
            }
            if here == root {
                return Ok(false);
            }
            current = rustix::fs::openat(
                &current,
                OsStr::new(".."),
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(io(path, "opening a directory"))?;
        }
        Ok(true)
    }

    /// Moves every entry of `from` into `into`, merging directories present in both.
    fn move_entries(
        &self,
        from: &OwnedFd,
        into: &OwnedFd,
        path: &[u8],
        depth: usize,
    ) -> Result<(), ExtractError> {
        if depth > super::tar::MAX_NAME {
            return Err(unsafe_member(path, "directory tree too deep to move"));
        }
        let mut names: Vec<Vec<u8>> = Vec::new();
        for entry in rustix::fs::Dir::read_from(from).map_err(io(path, "reading a directory"))? {
            let entry = entry.map_err(io(path, "reading a directory"))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(name.to_vec());
            }
        }
        names.sort();
        for name in names {
            let mut child = path.to_vec();
            child.push(b'/');
            child.extend_from_slice(&name);
            let name = OsStr::from_bytes(&name);
            let existing = match rustix::fs::statat(into, name, AtFlags::SYMLINK_NOFOLLOW) {
                Err(Errno::NOENT) => {
                    rustix::fs::renameat(from, name, into, name)
                        .map_err(io(&child, "moving into the symlink's target"))?;
                    continue;
                }
                Err(errno) => return Err(io(&child, "inspecting the symlink's target")(errno)),
                Ok(stat) => FileType::from_raw_mode(stat.st_mode),
            };
            let moving = rustix::fs::statat(from, name, AtFlags::SYMLINK_NOFOLLOW)
                .map(|s| FileType::from_raw_mode(s.st_mode))
                .map_err(io(&child, "inspecting a directory entry"))?;
            if existing != FileType::Directory || moving != FileType::Directory {
                return Err(unsafe_member(
                    &child,
                    "exists both here and at the target of the symlink that replaces its directory",
                ));
            }
            let open = |dir: &OwnedFd| {
                rustix::fs::openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(io(&child, "opening a directory"))
            };
            let (source, destination) = (open(from)?, open(into)?);
            self.move_entries(&source, &destination, &child, depth + 1)?;
            drop(source);
            rustix::fs::unlinkat(from, name, AtFlags::REMOVEDIR)
                .map_err(io(&child, "removing a merged directory"))?;
        }
        Ok(())
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
            ExtractError::Io { .. } => crate::error::ExitClass::Output,
            ExtractError::Interrupted { .. } => crate::error::ExitClass::Interrupted,
            _ => crate::error::ExitClass::Archive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
    }

    fn unpack(
        target: &Target,
        index: usize,
        bytes: &[u8],
        options: &Options,
    ) -> Result<Unpacked, ExtractError> {
        let name = format!("p{index}");
        target.unpack(
            index,
            TarReader::new(bytes),
            options,
            &Diversions::new(),
            &name,
        )
    }

    /// Unpacks `packages` (claimant, tar) in the order given into a fresh root.
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

    #[test]
    fn a_directory_symlink_gives_one_tree_whichever_package_comes_first() {
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
            // Owners recorded without privilege are keyed by the path in the root.
            let owners = target.recorded_owners();
            assert!(
                owners.contains_key(&b"usr/bin/sub/foo"[..]),
                "{order:?}: {owners:?}"
            );
            assert!(
                !owners.contains_key(&b"bin/sub/foo"[..]),
                "{order:?}: {owners:?}"
            );
            let leftovers: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .filter(|n| n.to_string_lossy().starts_with(".debroot-new-"))
                .collect();
            assert!(leftovers.is_empty(), "{leftovers:?}");
        }
    }

    #[test]
    fn a_later_symlink_over_an_earlier_directory_merges_whichever_comes_first() {
        let packages = vec![
            (
                claimant(0, "early", ""),
                tar(&[
                    ("./", b'5', b"", ""),
                    ("./usr/", b'5', b"", ""),
                    ("./usr/bin/", b'5', b"", ""),
                    ("./bin/", b'5', b"", ""),
                    ("./bin/foo", b'0', b"foo\n", ""),
                ]),
            ),
            (
                claimant(1, "link", ""),
                tar(&[("./", b'5', b"", ""), ("./bin", b'2', b"", "usr/bin")]),
            ),
        ];
        for order in [[0, 1], [1, 0]] {
            let (dir, _target, results) = root_after(&packages, &order);
            for result in results {
                result.unwrap();
            }
            assert!(dir.path().join("bin").is_symlink(), "{order:?}");
            assert_eq!(
                std::fs::read(dir.path().join("usr/bin/foo")).unwrap(),
                b"foo\n",
                "{order:?}"
            );
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
        for order in [[0, 1], [1, 0]] {
            let (_dir, _target, results) = root_after(&packages, &order);
            let error = results[1].as_ref().unwrap_err().to_string();
            assert_eq!(
                error, "package `b` is trying to overwrite `/f`, which is also in package `a`",
                "{order:?}"
            );
        }
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
}
