//! Writing a package's files into a root, safely (THREATS §2).
//!
//! Every path is resolved inside the root: parent directories are opened with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, so `..` and absolute symlinks (such as
//! `var/run -> /run` or merged-/usr's `bin -> usr/bin`) are rebased into the root and never reach
//! the host. Files are created under a temporary name with `O_CREAT | O_EXCL | O_NOFOLLOW` and
//! mode 0, their owner and mode set on the descriptor, then renamed over the final name, which
//! replaces a planted symlink instead of writing through it. Symbolic links are created after the
//! package's other members, hard links only to earlier regular members of the same package. A
//! member under a path this package declares as a symlink is refused (RUSTSEC-2021-0080 shape).
//!
//! Packages are unpacked in parallel. Which package ends up owning a path never depends on
//! scheduling: every claim on a path is decided under one lock by plan order — a later package
//! may take over an earlier package's file only if it `Replaces` it (dpkg's rule), and the rename
//! happens under the same lock, so the winner's bytes are what stays. Directories shared by
//! several packages get the attributes of the earliest package in plan order, applied at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use md5::{Digest as _, Md5};
use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::io::Errno;

use super::tar::{Entry, Kind, TarReader};
use crate::debian::Version;
use crate::debian::relation::Dependency;

/// Most entries one package may have.
pub const MAX_ENTRIES: usize = 1_000_000;

/// Why a package's files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("member `{path}`: {reason}")]
    Unsafe { path: String, reason: String },
    #[error("trying to overwrite `/{path}`, which is also in package `{owner}`")]
    Conflict { path: String, owner: String },
    #[error("member `{path}`: {operation} failed")]
    Io {
        path: String,
        operation: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Tar(#[from] super::tar::TarError),
}

fn shown(path: &[u8]) -> String {
    crate::debian::escape(path)
}

fn io<'a>(path: &'a [u8], operation: &'static str) -> impl FnOnce(Errno) -> ExtractError + 'a {
    move |errno| ExtractError::Io {
        path: shown(path),
        operation,
        source: errno.into(),
    }
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
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Conffiles (relative paths): written as `PATH.dpkg-new`, as dpkg's unpack leaves them
    /// for its configure step to move into place.
    pub conffiles: BTreeSet<Vec<u8>>,
    /// Conffiles are written in place instead (extract mode: no dpkg will configure them).
    pub conffiles_in_place: bool,
    /// Compute the MD5 of every regular file (for a package that ships no `md5sums`).
    pub md5_all: bool,
}

/// Every claimed path with its current owner, and the packages that claim paths.
type ClaimTable = (BTreeMap<Vec<u8>, Claim>, Vec<Claimant>);

/// The root being filled.
pub struct Target {
    root: OwnedFd,
    path: PathBuf,
    claims: Mutex<ClaimTable>,
    /// Whether ownership is set on disk (root, or a user namespace); else recorded only.
    chown: bool,
    /// Owners that could not be set on disk (extract mode without privilege).
    owners: Mutex<BTreeMap<Vec<u8>, (u32, u32)>>,
    users: BTreeMap<Vec<u8>, u32>,
    groups: BTreeMap<Vec<u8>, u32>,
    serial: AtomicU64,
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

impl Target {
    /// Opens the root directory. `chown`: whether to set owners on disk.
    pub fn open(path: &Path, chown: bool) -> std::io::Result<Self> {
        let root = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )?;
        Ok(Target {
            root,
            path: path.to_path_buf(),
            claims: Mutex::new((BTreeMap::new(), Vec::new())),
            chown,
            owners: Mutex::new(BTreeMap::new()),
            users: read_ids(path, "etc/passwd"),
            groups: read_ids(path, "etc/group"),
            serial: AtomicU64::new(0),
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

    /// Registers a package; returns its claimant index.
    pub fn register(&self, claimant: Claimant) -> usize {
        let mut claims = self.claims.lock().expect("claims lock");
        claims.1.push(claimant);
        claims.1.len() - 1
    }

    /// Owners recorded instead of set (extract mode without privilege).
    pub fn recorded_owners(&self) -> BTreeMap<Vec<u8>, (u32, u32)> {
        self.owners.lock().expect("owners lock").clone()
    }

    /// The final owner package of every non-directory path.
    pub fn owners_by_path(&self) -> BTreeMap<Vec<u8>, String> {
        let claims = self.claims.lock().expect("claims lock");
        claims
            .0
            .iter()
            .filter(|(_, c)| c.kind != Kind::Dir)
            .map(|(path, c)| (path.clone(), claims.1[c.claimant].name.clone()))
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

    /// Opens the parent of `path`, creating missing directories (mode 0755) on the way.
    fn parent(&self, path: &[u8]) -> Result<(OwnedFd, Vec<u8>), ExtractError> {
        let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (&b""[..], path),
        };
        match self.open_dir(parent) {
            Ok(fd) => return Ok((fd, name.to_vec())),
            Err(Errno::NOENT) => {}
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
                Ok(()) | Err(Errno::EXIST) => {}
                Err(errno) => return Err(io(path, "creating a parent directory")(errno)),
            }
            current = self.open_dir(&so_far).map_err(|errno| match errno {
                Errno::NOENT | Errno::NOTDIR => ExtractError::Unsafe {
                    path: shown(path),
                    reason: format!(
                        "parent `{}` is not a directory (a dangling or non-directory link?)",
                        shown(&so_far)
                    ),
                },
                errno => io(path, "opening a parent directory")(errno),
            })?;
        }
        Ok((current, name.to_vec()))
    }

    fn temporary_name(&self) -> Vec<u8> {
        format!(
            ".debroot-new-{}-{}",
            std::process::id(),
            self.serial.fetch_add(1, Ordering::Relaxed)
        )
        .into_bytes()
    }

    fn uid(&self, entry: &Entry) -> u32 {
        match self.users.get(&entry.uname) {
            Some(&id) if !entry.uname.is_empty() => id,
            _ => entry.uid,
        }
    }

    fn gid(&self, entry: &Entry) -> u32 {
        match self.groups.get(&entry.gname) {
            Some(&id) if !entry.gname.is_empty() => id,
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
        } else {
            self.owners
                .lock()
                .expect("owners lock")
                .insert(path.to_vec(), (uid, gid));
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

    /// Decides a claim on `path` and, for the winner, renames `temporary` into place; all under
    /// the claims lock. Returns whether this package's version stays.
    fn settle(
        &self,
        claimant: usize,
        path: &[u8],
        kind: Kind,
        dir: &OwnedFd,
        temporary: &[u8],
        name: &[u8],
    ) -> Result<bool, ExtractError> {
        let mut guard = self.claims.lock().expect("claims lock");
        let (claims, claimants) = &mut *guard;
        let me = &claimants[claimant];
        let wins = match claims.get(path) {
            None => true,
            Some(existing) if existing.claimant == claimant => {
                return Err(ExtractError::Unsafe {
                    path: shown(path),
                    reason: "duplicate member".into(),
                });
            }
            Some(existing) => {
                let other = &claimants[existing.claimant];
                if existing.kind == Kind::Dir {
                    return Err(ExtractError::Unsafe {
                        path: shown(path),
                        reason: format!(
                            "trying to overwrite directory `/{}` in package `{}` with a non-directory",
                            shown(path),
                            other.name
                        ),
                    });
                }
                let (early, late) = if other.order < me.order {
                    (other, me)
                } else {
                    (me, other)
                };
                if !late.replaces(early) {
                    return Err(ExtractError::Conflict {
                        path: shown(path),
                        owner: other.name.clone(),
                    });
                }
                std::ptr::eq(late, me)
            }
        };
        if wins {
            claims.insert(
                path.to_vec(),
                Claim {
                    claimant,
                    kind,
                    attributes: None,
                    applied: true,
                },
            );
            rustix::fs::renameat(
                dir,
                OsStr::from_bytes(temporary),
                dir,
                OsStr::from_bytes(name),
            )
            .map_err(|errno| {
                let _ = rustix::fs::unlinkat(dir, OsStr::from_bytes(temporary), AtFlags::empty());
                io(path, "renaming into place")(errno)
            })?;
        } else {
            let _ = rustix::fs::unlinkat(dir, OsStr::from_bytes(temporary), AtFlags::empty());
        }
        Ok(wins)
    }

    /// Claims a directory; `created`: this package's mkdir made it (else it existed).
    fn claim_dir(
        &self,
        claimant: usize,
        path: &[u8],
        entry: &Entry,
        created: bool,
    ) -> Result<(), ExtractError> {
        let mut guard = self.claims.lock().expect("claims lock");
        let (claims, claimants) = &mut *guard;
        let attributes = (entry.mode, self.uid(entry), self.gid(entry));
        match claims.get_mut(path) {
            None => {
                // A directory that existed before this run (made by a maintainer script or an
                // earlier phase) is left as it is, as dpkg does.
                claims.insert(
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
                    && claimants[claimant].order < claimants[existing.claimant].order
                {
                    existing.claimant = claimant;
                    existing.attributes = Some(attributes);
                }
            }
            Some(existing) => {
                return Err(ExtractError::Unsafe {
                    path: shown(path),
                    reason: format!(
                        "a directory where package `{}` has a non-directory",
                        claimants[existing.claimant].name
                    ),
                });
            }
        }
        Ok(())
    }

    /// Applies every claimed directory's attributes (after all packages are unpacked). A path
    /// that is a symlink to a directory (merged /usr) is left alone.
    pub fn apply_directory_attributes(&self) -> Result<(), ExtractError> {
        let mut claims = self.claims.lock().expect("claims lock");
        for (path, claim) in claims.0.iter_mut() {
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
            let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
                Some(i) => (&path[..i], &path[i + 1..]),
                None => (&b""[..], &path[..]),
            };
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
                self.owners
                    .lock()
                    .expect("owners lock")
                    .insert(path.clone(), (uid, gid));
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
        // Symlinks of this package, created last.
        let mut symlinks: Vec<(Entry, Vec<u8>)> = Vec::new();
        // Regular members written, by package path, with their on-disk path.
        let mut written: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut buffer = vec![0u8; 1 << 16];
        while let Some(entry) = tar.next_entry()? {
            if unpacked.paths.len() >= MAX_ENTRIES {
                return Err(ExtractError::Unsafe {
                    path: shown(&entry.path),
                    reason: format!("more than {MAX_ENTRIES} entries"),
                });
            }
            if seen.insert(entry.path.clone(), entry.kind).is_some() {
                return Err(ExtractError::Unsafe {
                    path: shown(&entry.path),
                    reason: "duplicate member".into(),
                });
            }
            // A member under one of this package's own symlinks would be written through it.
            let mut prefix = entry.path.as_slice();
            while let Some(i) = prefix.iter().rposition(|&b| b == b'/') {
                prefix = &prefix[..i];
                if seen.get(prefix) == Some(&Kind::Symlink) {
                    return Err(ExtractError::Unsafe {
                        path: shown(&entry.path),
                        reason: "member path traverses a symlink created by this package".into(),
                    });
                }
                if seen.get(prefix).is_some_and(|k| *k != Kind::Dir) {
                    return Err(ExtractError::Unsafe {
                        path: shown(&entry.path),
                        reason: format!(
                            "parent `{}` is not a directory of this package",
                            shown(prefix)
                        ),
                    });
                }
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
                        return Err(ExtractError::Unsafe {
                            path: shown(&entry.path),
                            reason: format!(
                                "hard link to `{}`, which is not an earlier regular file of this package",
                                shown(&entry.link)
                            ),
                        });
                    };
                    let source = source.clone();
                    self.write_hardlink(claimant, &target_path, &source)?;
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
                return Err(ExtractError::Unsafe {
                    path: shown(conffile),
                    reason: "listed in `conffiles` but not a regular file of the package".into(),
                });
            }
        }
        Ok(unpacked)
    }

    fn make_dir(&self, claimant: usize, path: &[u8], entry: &Entry) -> Result<(), ExtractError> {
        let (parent, name) = self.parent(path)?;
        let created = match rustix::fs::mkdirat(
            &parent,
            OsStr::from_bytes(&name),
            Mode::from_raw_mode(0o700),
        ) {
            Ok(()) => true,
            Err(Errno::EXIST) => {
                let stat = rustix::fs::statat(
                    &parent,
                    OsStr::from_bytes(&name),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(io(path, "inspecting an existing path"))?;
                let file_type = rustix::fs::FileType::from_raw_mode(stat.st_mode);
                match file_type {
                    rustix::fs::FileType::Directory => false,
                    // dpkg's `linktosameexistingdir`: a symlink to a directory inside the root
                    // stands for the directory (merged /usr).
                    rustix::fs::FileType::Symlink => {
                        if self.open_dir(path).is_err() {
                            return Err(ExtractError::Unsafe {
                                path: shown(path),
                                reason: "a directory where a symlink to a non-directory exists"
                                    .into(),
                            });
                        }
                        return Ok(());
                    }
                    _ => {
                        return Err(ExtractError::Unsafe {
                            path: shown(path),
                            reason: "a directory where a non-directory exists (type collision)"
                                .into(),
                        });
                    }
                }
            }
            Err(errno) => return Err(io(path, "creating a directory")(errno)),
        };
        self.claim_dir(claimant, path, entry, created)
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
        let (parent, name) = self.parent(path)?;
        let temporary = self.temporary_name();
        let fd = rustix::fs::openat(
            &parent,
            OsStr::from_bytes(&temporary),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io(path, "creating the file"))?;
        let cleanup = |parent: &OwnedFd| {
            let _ = rustix::fs::unlinkat(parent, OsStr::from_bytes(&temporary), AtFlags::empty());
        };
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
        if let Err(error) = result {
            cleanup(&parent);
            return Err(error);
        }
        drop(file);
        self.settle(claimant, path, Kind::File, &parent, &temporary, &name)
            .inspect_err(|_| cleanup(&parent))?;
        Ok(md5.map(|m| hex::encode(m.finalize())))
    }

    fn write_hardlink(
        &self,
        claimant: usize,
        path: &[u8],
        source: &[u8],
    ) -> Result<(), ExtractError> {
        let (parent, name) = self.parent(path)?;
        let (source_parent, source_name) = self.parent(source)?;
        let temporary = self.temporary_name();
        rustix::fs::linkat(
            &source_parent,
            OsStr::from_bytes(&source_name),
            &parent,
            OsStr::from_bytes(&temporary),
            AtFlags::empty(),
        )
        .map_err(io(path, "creating the hard link"))?;
        self.settle(claimant, path, Kind::Hardlink, &parent, &temporary, &name)?;
        Ok(())
    }

    fn write_symlink(
        &self,
        claimant: usize,
        path: &[u8],
        entry: &Entry,
    ) -> Result<(), ExtractError> {
        let (parent, name) = self.parent(path)?;
        let temporary = self.temporary_name();
        rustix::fs::symlinkat(
            OsStr::from_bytes(&entry.link),
            &parent,
            OsStr::from_bytes(&temporary),
        )
        .map_err(io(path, "creating the symlink"))?;
        let (uid, gid) = (self.uid(entry), self.gid(entry));
        if self.chown {
            rustix::fs::chownat(
                &parent,
                OsStr::from_bytes(&temporary),
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(io(path, "setting the symlink's owner"))?;
        } else {
            self.owners
                .lock()
                .expect("owners lock")
                .insert(path.to_vec(), (uid, gid));
        }
        let time = Timespec {
            tv_sec: entry.mtime,
            tv_nsec: 0,
        };
        rustix::fs::utimensat(
            &parent,
            OsStr::from_bytes(&temporary),
            &Timestamps {
                last_access: time,
                last_modification: time,
            },
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io(path, "setting the symlink's time"))?;
        // An existing directory where this package wants a symlink is a type collision.
        if let Ok(stat) =
            rustix::fs::statat(&parent, OsStr::from_bytes(&name), AtFlags::SYMLINK_NOFOLLOW)
            && rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Directory
        {
            let _ = rustix::fs::unlinkat(&parent, OsStr::from_bytes(&temporary), AtFlags::empty());
            return Err(ExtractError::Unsafe {
                path: shown(path),
                reason: "a symlink where a directory exists (type collision)".into(),
            });
        }
        self.settle(claimant, path, Kind::Symlink, &parent, &temporary, &name)?;
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
            _ => crate::error::ExitClass::Archive,
        }
    }
}
