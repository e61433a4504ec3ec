//! The content-addressed store for indexes and packages.
//!
//! Layout: `DIR/v1/sha256/ab/abcdef…` (the full lower-case digest, sharded by its first two
//! digits) and `DIR/v1/tmp/` for downloads in progress. `DIR` is `--cache-dir`, else
//! `$XDG_CACHE_HOME/debroot`, else `~/.cache/debroot`. The key is always a SHA-256 taken from
//! signed metadata; a path is never built from a package name or a URL, and [`Cache::path`] is
//! the only function that turns a digest into a path.
//!
//! Writes: a unique temporary file (`O_EXCL`, named after the writing process) receives the
//! bytes while they are hashed; on commit the digest and size are checked, the file is fsynced,
//! a per-blob lock is taken, the final path is re-checked (another process may have finished
//! first), and the file is renamed into place and the directory fsynced. Two debroot processes
//! can fill one cache at once; a blob appears whole or not at all.
//!
//! Derived blobs: data debroot computes from a verified blob (a package's decompressed
//! `data.tar`, recompressed with zstd, so a warm build does not decompress xz again) are stored
//! content-addressed like any other, and found through `DIR/v1/derived/KIND/SOURCE`, which
//! names the derived blob's digest and size. They are verified on read like any blob; `cache
//! gc` keeps those whose source it keeps.
//!
//! Reads: every blob is hashed again when read. A blob that is corrupt, truncated or not a plain
//! file (a planted symlink is never followed) is removed and reported as corrupt, so the caller
//! fetches it again and warns. A package is opened once ([`Cache::open_blob_verified`]: no
//! symlink followed, a regular file of the expected size, hashed on that descriptor) and the
//! build reads that descriptor, a [`Blob`], from then on: what happens to the path afterwards
//! (a blob replaced, removed, or swapped for a symlink) changes nothing the build reads. A blob
//! debroot has just downloaded is a [`Blob`] on the descriptor its bytes were hashed through as
//! they were written, so a fresh download is not read twice. An `unshare` build hands the
//! descriptors to its child in the user namespace ([`Blob::adopt`]).
//!
//! Lock: every process that uses the cache holds a shared `flock` on `DIR/v1/lock` for as long
//! as it runs ([`Cache::open`]), so builds and fetches never wait for each other; `cache gc`
//! takes it exclusively ([`Cache::open_exclusive`]), and so waits until no build is using the
//! blobs it would remove (and a build started meanwhile waits for the gc).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::digest::{Hasher, Sha256Digest};
use crate::error::{Classify, ExitClass, IoError, LocalError, io_at};

/// The store.
#[derive(Debug, Clone)]
pub struct Cache {
    /// `DIR/v1`.
    root: PathBuf,
    /// `DIR/v1/lock`, held (shared, or exclusive for `gc`) while this process uses the cache.
    _lock: Arc<File>,
}

/// How [`Cache`] holds the cache's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading and adding blobs: any number of processes at once.
    Shared,
    /// Removing blobs (`cache gc`): no other process uses the cache meanwhile.
    Exclusive,
}

/// Verified blobs by digest: the `.deb`s of a build, open ([`crate::fetch::Report::blobs`]).
pub type Blobs = std::collections::BTreeMap<Sha256Digest, Blob>;

/// A verified blob, open: its bytes were hashed on this very descriptor (or as they were
/// written through it) and matched the digest and size. Read it with [`Blob::reader`]:
/// positional reads, so any number of readers, in any thread, see the same bytes whatever
/// becomes of the blob's path.
#[derive(Debug, Clone)]
pub struct Blob {
    file: Arc<File>,
    digest: Sha256Digest,
    size: u64,
}

impl Blob {
    pub fn digest(&self) -> &Sha256Digest {
        &self.digest
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// A blob verified by the process that handed this process `fd` (an `unshare` build's
    /// parent, which opened and hashed it; the descriptor is the same open file). Checked to be
    /// a regular file of `size` bytes, and made close-on-exec again.
    pub fn adopt(fd: std::os::fd::OwnedFd, digest: Sha256Digest, size: u64) -> io::Result<Blob> {
        rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC)?;
        let file = File::from(fd);
        let meta = file.metadata()?;
        if !meta.is_file() || meta.len() != size {
            return Err(io::Error::other(format!(
                "the descriptor handed for sha256:{digest} is not a file of {size} bytes"
            )));
        }
        Ok(Blob {
            file: Arc::new(file),
            digest,
            size,
        })
    }

    /// A reader of the blob's bytes from the start.
    pub fn reader(&self) -> BlobReader {
        BlobReader {
            file: Arc::clone(&self.file),
            position: 0,
            size: self.size,
        }
    }
}

impl std::os::fd::AsFd for Blob {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Reads a [`Blob`] (`pread` on the shared descriptor; never past the verified size).
#[derive(Debug)]
pub struct BlobReader {
    file: Arc<File>,
    position: u64,
    size: u64,
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.size.saturating_sub(self.position);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for BlobReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let position = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(delta) => self.size.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.position = position;
        Ok(position)
    }
}

/// A failed cache operation, with the path concerned.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Local(#[from] LocalError),
    #[error("cache directory `{}` is {reason}", .path.display())]
    Unsafe { path: PathBuf, reason: String },
    #[error(
        "downloaded data for `{digest}` does not match: expected {expected_size} bytes with SHA256 {digest}, got {size} bytes with SHA256 {got}"
    )]
    Mismatch {
        digest: Sha256Digest,
        expected_size: u64,
        got: Sha256Digest,
        size: u64,
    },
}

impl Classify for CacheError {
    fn class(&self) -> ExitClass {
        match self {
            CacheError::Mismatch { .. } => ExitClass::Integrity,
            CacheError::Io(_) | CacheError::Local(_) | CacheError::Unsafe { .. } => {
                ExitClass::Output
            }
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            CacheError::Unsafe { .. } => Some(
                "use a private cache directory (--cache-dir DIR, owned by you, mode 0700)".into(),
            ),
            _ => None,
        }
    }
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup<T> {
    Hit(T),
    Miss,
    /// The blob was there but did not hash to its name (or was not a plain file); it has been
    /// removed.
    Corrupt(PathBuf),
}

enum Opened {
    File(File),
    Absent,
    NotPlain,
}

/// Distinguishes temporary files of one process.
static TEMPORARIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts for `cache info` and `cache gc`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub blobs: u64,
    pub bytes: u64,
}

fn is_hex_digest(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Makes room for `count` more open files: a build holds every package's [`Blob`] open from
/// the fetch to the end, which can pass the usual soft limit of 1024 descriptors. The soft
/// limit is raised as far as needed (not further: children inherit it, and some close every
/// descriptor up to it), at most to the hard limit; past that, opening fails with a clear
/// "too many open files".
pub fn reserve_open_files(count: usize) {
    let wanted = count as u64 + 256;
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    if soft >= wanted {
        return;
    }
    let raised = limit.maximum.map_or(wanted, |hard| hard.min(wanted));
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: Some(raised),
            maximum: limit.maximum,
        },
    );
}

/// Opens `path` (never through a symlink) and `flock`s it as `access` says.
fn lock(path: &Path, access: Access, waiting: &mut dyn FnMut()) -> Result<File, CacheError> {
    use rustix::fs::FlockOperation;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(io_at("use cache directory", path))?;
    let (now, blocking) = match access {
        Access::Shared => (
            FlockOperation::NonBlockingLockShared,
            FlockOperation::LockShared,
        ),
        Access::Exclusive => (
            FlockOperation::NonBlockingLockExclusive,
            FlockOperation::LockExclusive,
        ),
    };
    match rustix::fs::flock(&file, now) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            waiting();
            rustix::fs::flock(&file, blocking)
                .map_err(|e| io_at("use cache directory", path)(io::Error::from(e)))?;
        }
        Err(e) => return Err(io_at("use cache directory", path)(io::Error::from(e)).into()),
    }
    Ok(file)
}

impl Cache {
    /// Opens (creating when needed) the cache under `dir`, holding its lock shared; see
    /// [`Cache::open_with`].
    pub fn open(dir: &Path) -> Result<Self, CacheError> {
        Self::open_with(dir, Access::Shared, &mut || {})
    }

    /// Opens the cache under `dir` holding its lock exclusively (`cache gc`): `waiting` is
    /// called once if other processes use the cache, before waiting for them to finish.
    pub fn open_exclusive(dir: &Path, waiting: &mut dyn FnMut()) -> Result<Self, CacheError> {
        Self::open_with(dir, Access::Exclusive, waiting)
    }

    /// Opens (creating when needed) the cache under `dir` and takes its lock (`access`;
    /// `waiting` is called once when another process holds it in a way that makes this one
    /// wait). Refuses a directory that other users could write to or that belongs to someone
    /// else, and removes temporary files left by processes that no longer run.
    pub fn open_with(
        dir: &Path,
        access: Access,
        waiting: &mut dyn FnMut(),
    ) -> Result<Self, CacheError> {
        let root = dir.join("v1");
        for path in [
            dir,
            &root,
            &root.join("sha256"),
            &root.join("tmp"),
            &root.join("refs"),
        ] {
            match fs::create_dir(path) {
                Ok(()) => {
                    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
                        .map_err(io_at("use cache directory", path))?;
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                Err(error) if path == dir => {
                    fs::create_dir_all(path)
                        .map_err(|_| io_at("use cache directory", path)(error))?;
                    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
                        .map_err(io_at("use cache directory", path))?;
                }
                Err(error) => return Err(io_at("use cache directory", path)(error).into()),
            }
            let meta = fs::symlink_metadata(path).map_err(io_at("use cache directory", path))?;
            if !meta.is_dir() {
                return Err(CacheError::Unsafe {
                    path: path.to_path_buf(),
                    reason: "not a directory".into(),
                });
            }
            let uid = rustix::process::geteuid().as_raw();
            if meta.uid() != uid {
                return Err(CacheError::Unsafe {
                    path: path.to_path_buf(),
                    reason: format!("owned by uid {}, not by uid {uid}", meta.uid()),
                });
            }
            if meta.mode() & 0o022 != 0 {
                return Err(CacheError::Unsafe {
                    path: path.to_path_buf(),
                    reason: format!("writable by others (mode {:04o})", meta.mode() & 0o7777),
                });
            }
        }
        let lock = lock(&root.join("lock"), access, waiting)?;
        let cache = Cache {
            root,
            _lock: Arc::new(lock),
        };
        cache.remove_stale_temporaries();
        Ok(cache)
    }

    /// `DIR/v1`.
    /// `DIR`, the folder the user gave (or the default), which holds `v1`.
    pub fn dir(&self) -> &Path {
        self.root.parent().unwrap_or(&self.root)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of the blob with `digest`. The only place a digest becomes a path.
    pub fn path(&self, digest: &Sha256Digest) -> PathBuf {
        let hex = digest.hex();
        self.root.join("sha256").join(&hex[..2]).join(hex)
    }

    fn lock_path(&self, digest: &Sha256Digest) -> PathBuf {
        let hex = digest.hex();
        self.root.join("tmp").join(format!("{hex}.lock"))
    }

    /// Temporary files are named `PID-…`; those of processes that are gone are removed.
    fn remove_stale_temporaries(&self) {
        let tmp = self.root.join("tmp");
        let Ok(entries) = fs::read_dir(&tmp) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            let Some((pid, _)) = name.split_once('-') else {
                continue;
            };
            let Ok(pid) = pid.parse::<u32>() else {
                continue;
            };
            if !Path::new("/proc").join(pid.to_string()).exists() {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Opens the blob without following a symlink.
    fn open_blob(&self, digest: &Sha256Digest) -> Result<Opened, CacheError> {
        let path = self.path(digest);
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path);
        match file {
            Ok(file) => Ok(Opened::File(file)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Opened::Absent),
            // ELOOP: a symlink was planted in the store.
            Err(error) if error.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                Ok(Opened::NotPlain)
            }
            Err(error) => Err(io_at("use cache directory", &path)(error).into()),
        }
    }

    fn remove_corrupt(&self, digest: &Sha256Digest) -> Result<PathBuf, CacheError> {
        let path = self.path(digest);
        match fs::remove_file(&path) {
            Ok(()) => Ok(path),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(path),
            Err(error) => Err(io_at("use cache directory", &path)(error).into()),
        }
    }

    /// Reads and verifies a blob into memory (indexes).
    pub fn read(&self, digest: &Sha256Digest, size: u64) -> Result<Lookup<Vec<u8>>, CacheError> {
        let file = match self.open_blob(digest)? {
            Opened::File(file) => file,
            Opened::Absent => return Ok(Lookup::Miss),
            Opened::NotPlain => return Ok(Lookup::Corrupt(self.remove_corrupt(digest)?)),
        };
        let path = self.path(digest);
        let meta = file
            .metadata()
            .map_err(io_at("use cache directory", &path))?;
        if !meta.is_file() || meta.len() != size {
            return Ok(Lookup::Corrupt(self.remove_corrupt(digest)?));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(size + 1)
            .read_to_end(&mut bytes)
            .map_err(io_at("use cache directory", &path))?;
        if bytes.len() as u64 != size || Sha256Digest::of(&bytes) != *digest {
            return Ok(Lookup::Corrupt(self.remove_corrupt(digest)?));
        }
        Ok(Lookup::Hit(bytes))
    }

    /// Opens and verifies a blob for streaming (packages): no symlink followed, a regular file
    /// of `size` bytes, hashed on the descriptor; the [`Blob`] reads that same descriptor.
    pub fn open_blob_verified(
        &self,
        digest: &Sha256Digest,
        size: u64,
    ) -> Result<Lookup<Blob>, CacheError> {
        let mut file = match self.open_blob(digest)? {
            Opened::File(file) => file,
            Opened::Absent => return Ok(Lookup::Miss),
            Opened::NotPlain => return Ok(Lookup::Corrupt(self.remove_corrupt(digest)?)),
        };
        let path = self.path(digest);
        let meta = file
            .metadata()
            .map_err(io_at("use cache directory", &path))?;
        if !meta.is_file() || meta.len() != size {
            return Ok(Lookup::Corrupt(self.remove_corrupt(digest)?));
        }
        let mut hasher = Hasher::new();
        let mut buffer = vec![0u8; 1 << 16];
        loop {
            let n = file
                .read(&mut buffer)
                .map_err(io_at("use cache directory", &path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        if hasher.len() != size || hasher.finish() != *digest {
            return Ok(Lookup::Corrupt(self.remove_corrupt(digest)?));
        }
        Ok(Lookup::Hit(Blob {
            file: Arc::new(file),
            digest: *digest,
            size,
        }))
    }

    /// Reads and verifies a blob whose size is not known in advance (at most `limit` bytes).
    pub fn read_unsized(
        &self,
        digest: &Sha256Digest,
        limit: u64,
    ) -> Result<Lookup<Vec<u8>>, CacheError> {
        let file = match self.open_blob(digest)? {
            Opened::File(file) => file,
            Opened::Absent => return Ok(Lookup::Miss),
            Opened::NotPlain => return Ok(Lookup::Corrupt(self.remove_corrupt(digest)?)),
        };
        let path = self.path(digest);
        let mut bytes = Vec::new();
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(io_at("use cache directory", &path))?;
        if bytes.len() as u64 > limit || Sha256Digest::of(&bytes) != *digest {
            return Ok(Lookup::Corrupt(self.remove_corrupt(digest)?));
        }
        Ok(Lookup::Hit(bytes))
    }

    /// Records that `name` (a URL) last gave the blob `digest`: how an offline run finds the
    /// `InRelease` it last verified. The blob itself stays content-addressed and verified.
    pub fn set_ref(&self, name: &str, digest: &Sha256Digest) -> Result<(), CacheError> {
        let path = self.ref_path(name);
        crate::atomic::write(&path, format!("{}\n", digest.hex()).as_bytes(), 0o644)
            .map_err(|e| CacheError::from(io_at("use cache directory", &path)(e)))
    }

    /// The digest recorded for `name`, if any.
    pub fn get_ref(&self, name: &str) -> Option<Sha256Digest> {
        let text = fs::read_to_string(self.ref_path(name)).ok()?;
        Sha256Digest::parse(text.trim()).ok()
    }

    fn ref_path(&self, name: &str) -> PathBuf {
        self.root
            .join("refs")
            .join(Sha256Digest::of(name.as_bytes()).hex())
    }

    /// Starts writing the blob `digest` of `size` bytes.
    pub fn begin(&self, digest: Sha256Digest, size: u64) -> Result<Pending, CacheError> {
        let tmp = self.root.join("tmp");
        for _ in 0..100u32 {
            let serial = TEMPORARIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = tmp.join(format!(
                "{}-{serial}-{}",
                std::process::id(),
                &digest.hex()[..16],
            ));
            // Readable too: a committed download is read through this descriptor.
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(&path)
            {
                Ok(file) => {
                    // An interruption exits without running destructors: the handler
                    // removes what is registered.
                    crate::workdir::register(&path);
                    return Ok(Pending {
                        cache: self.clone(),
                        digest,
                        size,
                        path,
                        file: Some(file),
                        hasher: Hasher::new(),
                        published: false,
                    });
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(io_at("use cache directory", &path)(error).into()),
            }
        }
        Err(CacheError::Unsafe {
            path: tmp,
            reason: "full of temporary files that cannot be replaced".into(),
        })
    }

    /// Stores `bytes` (already verified by the caller or not: they are checked again).
    pub fn insert(&self, digest: Sha256Digest, bytes: &[u8]) -> Result<PathBuf, CacheError> {
        let mut pending = self.begin(digest, bytes.len() as u64)?;
        pending.write(bytes)?;
        pending.commit()
    }

    /// Starts writing a blob derived from verified data, whose digest is known at the end
    /// ([`Pending::commit_derived`]).
    pub fn begin_derived(&self) -> Result<Pending, CacheError> {
        self.begin(Sha256Digest::of(b"derived"), 0)
    }

    fn derived_path(&self, kind: &str, source: &Sha256Digest) -> PathBuf {
        self.root.join("derived").join(kind).join(source.hex())
    }

    /// Records that the blob `digest` of `size` bytes is `kind` derived from `source`.
    pub fn set_derived(
        &self,
        kind: &str,
        source: &Sha256Digest,
        digest: &Sha256Digest,
        size: u64,
    ) -> Result<(), CacheError> {
        let path = self.derived_path(kind, source);
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(io_at("use cache directory", dir))?;
        crate::atomic::write(
            &path,
            format!("{} {size}\n", digest.hex()).as_bytes(),
            0o644,
        )
        .map_err(|e| CacheError::from(io_at("use cache directory", &path)(e)))
    }

    /// The verified blob of `kind` derived from `source`, opened, if the cache has it. A
    /// corrupt one is removed (and its record with it).
    pub fn open_derived(&self, kind: &str, source: &Sha256Digest) -> Option<Blob> {
        let path = self.derived_path(kind, source);
        let text = fs::read_to_string(&path).ok()?;
        let (hex, size) = text.trim().split_once(' ')?;
        let digest = Sha256Digest::parse(hex).ok()?;
        let size: u64 = size.parse().ok()?;
        match self.open_blob_verified(&digest, size) {
            Ok(Lookup::Hit(blob)) => Some(blob),
            _ => {
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// The bytes of the blob of `kind` derived from `source`, read and verified in one pass
    /// (small derived data such as a parsed index), if the cache has it and it holds at most
    /// `limit` bytes. A corrupt one is removed (and its record with it).
    pub fn read_derived(
        &self,
        kind: &str,
        source: &Sha256Digest,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, CacheError> {
        let path = self.derived_path(kind, source);
        let Ok(text) = fs::read_to_string(&path) else {
            return Ok(None);
        };
        let record = text.trim().split_once(' ').and_then(|(hex, size)| {
            Some((Sha256Digest::parse(hex).ok()?, size.parse::<u64>().ok()?))
        });
        let found = match record {
            Some((digest, size)) if size <= limit => self.read(&digest, size)?,
            _ => Lookup::Miss,
        };
        match found {
            Lookup::Hit(bytes) => Ok(Some(bytes)),
            Lookup::Miss | Lookup::Corrupt(_) => {
                let _ = fs::remove_file(&path);
                Ok(None)
            }
        }
    }

    /// Stores `bytes` as the blob of `kind` derived from `source`.
    pub fn insert_derived(
        &self,
        kind: &str,
        source: &Sha256Digest,
        bytes: &[u8],
    ) -> Result<(), CacheError> {
        let mut pending = self.begin_derived()?;
        pending.write(bytes)?;
        let (digest, size) = pending.commit_derived()?;
        self.set_derived(kind, source, &digest, size)
    }

    /// The derived blobs of `kind` whose source is in `sources`.
    fn derived_of(
        &self,
        sources: &std::collections::BTreeSet<Sha256Digest>,
    ) -> std::collections::BTreeSet<Sha256Digest> {
        let mut derived = std::collections::BTreeSet::new();
        let Ok(kinds) = fs::read_dir(self.root.join("derived")) else {
            return derived;
        };
        for kind in kinds.flatten() {
            let Ok(records) = fs::read_dir(kind.path()) else {
                continue;
            };
            for record in records.flatten() {
                let keep = record
                    .file_name()
                    .to_str()
                    .and_then(|name| Sha256Digest::parse(name).ok())
                    .is_some_and(|source| sources.contains(&source));
                let target = fs::read_to_string(record.path())
                    .ok()
                    .and_then(|t| Sha256Digest::parse(t.split(' ').next()?).ok());
                match target {
                    Some(target) if keep => {
                        derived.insert(target);
                    }
                    _ => {
                        let _ = fs::remove_file(record.path());
                    }
                }
            }
        }
        derived
    }

    /// Every blob in the store, by digest, with its size (sorted).
    pub fn blobs(&self) -> Result<Vec<(Sha256Digest, u64)>, CacheError> {
        let base = self.root.join("sha256");
        let mut out = Vec::new();
        let mut shards: Vec<PathBuf> = fs::read_dir(&base)
            .map_err(io_at("use cache directory", &base))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        shards.sort();
        for shard in shards {
            let Ok(entries) = fs::read_dir(&shard) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(digest) = name.to_str().filter(|n| is_hex_digest(n)) else {
                    continue;
                };
                let Ok(digest) = Sha256Digest::parse(digest) else {
                    continue;
                };
                let Ok(meta) = entry.metadata() else {
                    continue;
                };
                out.push((digest, meta.len()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Blob count and bytes.
    pub fn usage(&self) -> Result<Usage, CacheError> {
        let blobs = self.blobs()?;
        Ok(Usage {
            blobs: blobs.len() as u64,
            bytes: blobs.iter().map(|(_, size)| size).sum(),
        })
    }

    /// Removes every blob not in `keep`; returns what was removed.
    pub fn remove_except(
        &self,
        keep: &std::collections::BTreeSet<Sha256Digest>,
    ) -> Result<Usage, CacheError> {
        let mut removed = Usage::default();
        let derived = self.derived_of(keep);
        for (digest, size) in self.blobs()? {
            if keep.contains(&digest) || derived.contains(&digest) {
                continue;
            }
            let path = self.path(&digest);
            fs::remove_file(&path).map_err(io_at("use cache directory", &path))?;
            removed.blobs += 1;
            removed.bytes += size;
        }
        Ok(removed)
    }
}

/// A blob being written; see [`Cache::begin`]. Dropped without `commit`, it removes its
/// temporary file.
pub struct Pending {
    cache: Cache,
    digest: Sha256Digest,
    size: u64,
    path: PathBuf,
    file: Option<File>,
    hasher: Hasher,
    /// The temporary file is gone: renamed into the store, or removed because the store had
    /// the blob already. Until then, dropping the `Pending` removes it.
    published: bool,
}

impl Pending {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.hasher.len()
    }

    /// Appends bytes; refuses to go past the expected size (the caller cuts the stream there).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), CacheError> {
        let file = self.file.as_mut().ok_or_else(|| {
            io_at("use cache directory", &self.path)(io::Error::other("write after commit"))
        })?;
        file.write_all(bytes)
            .map_err(io_at("use cache directory", &self.path))?;
        self.hasher.update(bytes);
        Ok(())
    }

    /// Starts over (a retried download), keeping the temporary file.
    pub fn reset(&mut self) -> Result<(), CacheError> {
        if let Some(file) = self.file.as_mut() {
            file.set_len(0)
                .map_err(io_at("use cache directory", &self.path))?;
            file.rewind()
                .map_err(io_at("use cache directory", &self.path))?;
        }
        self.hasher = Hasher::new();
        Ok(())
    }

    /// The digest and size so far.
    pub fn current(&self) -> (Sha256Digest, u64) {
        (self.hasher.clone().finish(), self.hasher.len())
    }

    /// Checks digest and size, then moves the blob into place atomically.
    pub fn commit(self) -> Result<PathBuf, CacheError> {
        self.finish().map(|(path, _)| path)
    }

    /// [`Pending::commit`], keeping the descriptor the bytes were written and hashed through
    /// as the blob (it is the file now in the store, or, when another process stored the same
    /// blob first, the same bytes unlinked): a fresh download is not read and hashed again.
    pub fn commit_blob(self) -> Result<Blob, CacheError> {
        let (digest, size) = (self.digest, self.size);
        let (_, file) = self.finish()?;
        Ok(Blob {
            file: Arc::new(file),
            digest,
            size,
        })
    }

    fn finish(mut self) -> Result<(PathBuf, File), CacheError> {
        let (got, size) = self.current();
        if got != self.digest || size != self.size {
            return Err(CacheError::Mismatch {
                digest: self.digest,
                expected_size: self.size,
                got,
                size,
            });
        }
        let file = self.file.take().ok_or_else(|| {
            io_at("use cache directory", &self.path)(io::Error::other("commit twice"))
        })?;
        file.sync_all()
            .map_err(io_at("use cache directory", &self.path))?;
        let final_path = self.cache.path(&self.digest);
        let shard = final_path.parent().unwrap_or(self.cache.root());
        if let Err(error) = fs::create_dir(shard)
            && !shard.is_dir()
        {
            return Err(io_at("use cache directory", shard)(error).into());
        }
        self.publish(&final_path, shard)?;
        self.published = true;
        crate::workdir::unregister(&self.path);
        Ok((final_path, file))
    }

    /// Moves the written temporary file to `final_path` in `shard`, under the blob's lock.
    fn publish(&self, final_path: &Path, shard: &Path) -> Result<(), CacheError> {
        let lock_path = self.cache.lock_path(&self.digest);
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&lock_path)
            .map_err(io_at("use cache directory", &lock_path))?;
        crate::workdir::register(&lock_path);
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io_at("use cache directory", &lock_path)(io::Error::from(e)))?;
        // Another process may have stored the same blob meanwhile: keep the one in place when
        // it verifies, so readers never see the file change under them.
        let already = matches!(
            self.cache.open_blob_verified(&self.digest, self.size),
            Ok(Lookup::Hit(_))
        );
        let result = if already {
            fs::remove_file(&self.path).map_err(io_at("use cache directory", &self.path))
        } else {
            fs::rename(&self.path, final_path)
                .map_err(io_at("use cache directory", final_path))
                .and_then(|()| {
                    File::open(shard)
                        .and_then(|dir| dir.sync_all())
                        .map_err(io_at("use cache directory", shard))
                })
        };
        let _ = fs::remove_file(&lock_path);
        drop(lock);
        crate::workdir::unregister(&lock_path);
        Ok(result?)
    }
}

impl Pending {
    /// Commits a blob begun with [`Cache::begin_derived`]: its digest and size are what was
    /// written.
    pub fn commit_derived(mut self) -> Result<(Sha256Digest, u64), CacheError> {
        let (digest, size) = self.current();
        self.digest = digest;
        self.size = size;
        self.commit()?;
        Ok((digest, size))
    }
}

impl Write for Pending {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        Pending::write(self, bytes).map_err(io::Error::other)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.published {
            self.file = None;
            let _ = fs::remove_file(&self.path);
            crate::workdir::unregister(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_read_and_detect_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("c")).unwrap();
        let data = b"hello cache".to_vec();
        let digest = Sha256Digest::of(&data);
        assert!(matches!(
            cache.read(&digest, data.len() as u64).unwrap(),
            Lookup::Miss
        ));
        let path = cache.insert(digest, &data).unwrap();
        assert_eq!(path, cache.path(&digest));
        assert!(path.ends_with(format!("v1/sha256/{}/{}", &digest.hex()[..2], digest.hex())));
        match cache.read(&digest, data.len() as u64).unwrap() {
            Lookup::Hit(bytes) => assert_eq!(bytes, data),
            other => panic!("{other:?}"),
        }
        // A flipped byte is detected and the blob removed.
        fs::write(&path, b"hellO cache").unwrap();
        assert!(matches!(
            cache
                .open_blob_verified(&digest, data.len() as u64)
                .unwrap(),
            Lookup::Corrupt(_)
        ));
        assert!(!path.exists());
        // A planted symlink is not followed.
        let target = dir.path().join("sentinel");
        fs::write(&target, &data).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(matches!(
            cache.read(&digest, data.len() as u64).unwrap(),
            Lookup::Corrupt(_)
        ));
        assert!(target.exists());
        assert!(fs::symlink_metadata(&path).is_err());
    }

    #[test]
    fn wrong_bytes_never_enter_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let digest = Sha256Digest::of(b"right");
        let error = cache.insert(digest, b"wrong").unwrap_err();
        assert!(matches!(error, CacheError::Mismatch { .. }));
        assert!(!cache.path(&digest).exists());
        assert_eq!(fs::read_dir(dir.path().join("v1/tmp")).unwrap().count(), 0);
    }

    #[test]
    fn refuses_a_shared_directory() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            Cache::open(&shared),
            Err(CacheError::Unsafe { .. })
        ));
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let stale = dir.path().join("v1/tmp/999999999-dead-beef");
        let live = dir
            .path()
            .join(format!("v1/tmp/{}-live", std::process::id()));
        fs::write(&stale, b"x").unwrap();
        fs::write(&live, b"x").unwrap();
        drop(cache);
        Cache::open(dir.path()).unwrap();
        assert!(!stale.exists());
        assert!(live.exists());
    }

    #[test]
    fn a_blob_reads_the_descriptor_it_was_verified_on() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let data = b"the verified bytes".to_vec();
        let digest = Sha256Digest::of(&data);
        let path = cache.insert(digest, &data).unwrap();
        let Lookup::Hit(blob) = cache
            .open_blob_verified(&digest, data.len() as u64)
            .unwrap()
        else {
            panic!("a hit");
        };
        // The path now names other bytes: the blob does not see them.
        let other = dir.path().join("other");
        fs::write(&other, b"some other bytes!!").unwrap();
        fs::rename(&other, &path).unwrap();
        let mut read = Vec::new();
        blob.reader().read_to_end(&mut read).unwrap();
        assert_eq!(read, data);
        let mut reader = blob.reader();
        reader.seek(SeekFrom::End(-5)).unwrap();
        let mut tail = String::new();
        reader.read_to_string(&mut tail).unwrap();
        assert_eq!(tail, "bytes");
        assert!(reader.seek(SeekFrom::Current(-100)).is_err());
        // A fresh download is a blob on the descriptor it was written through.
        let fresh = b"fresh".to_vec();
        let mut pending = cache.begin(Sha256Digest::of(&fresh), 5).unwrap();
        pending.write(&fresh).unwrap();
        let blob = pending.commit_blob().unwrap();
        let mut read = Vec::new();
        blob.reader().read_to_end(&mut read).unwrap();
        assert_eq!(read, fresh);
        assert_eq!(fs::read(cache.path(blob.digest())).unwrap(), fresh);
    }

    #[test]
    fn gc_waits_for_every_user_of_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let build = Cache::open(dir.path()).unwrap();
        // Shared users never wait for each other.
        let mut waited = false;
        let other = Cache::open_with(dir.path(), Access::Shared, &mut || waited = true).unwrap();
        assert!(!waited);
        let (sender, receiver) = std::sync::mpsc::channel();
        let path = dir.path().to_path_buf();
        let gc = std::thread::spawn(move || {
            let waiting = sender.clone();
            let cache = Cache::open_exclusive(&path, &mut || waiting.send("waiting").unwrap());
            sender.send("locked").unwrap();
            cache.map(drop)
        });
        assert_eq!(
            receiver.recv_timeout(std::time::Duration::from_secs(10)),
            Ok("waiting")
        );
        drop(build);
        assert!(
            receiver
                .recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "one user is left"
        );
        drop(other);
        assert_eq!(
            receiver.recv_timeout(std::time::Duration::from_secs(10)),
            Ok("locked")
        );
        gc.join().unwrap().unwrap();
    }
}
