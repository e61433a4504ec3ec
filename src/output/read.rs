//! Reading outputs back as trees, for `debroot diff` (edge: the pure model and comparison are in
//! `crate::diff`).
//!
//! A directory is walked in byte order without following a symlink, with nanosecond mtimes and
//! extended attributes. A tarball (plain, gzip, xz or zstd, told by its first bytes) is read by
//! the reader below (its headers and PAX records parsed by `crate::tar::header`, as the `.deb`
//! reader's are), which accepts what real root filesystem tarballs hold: ustar, GNU and v7
//! headers, GNU long names, PAX local and global records (path, linkpath, size, uid, gid, uname,
//! gname, mtime with its fraction, `SCHILY.xattr.*`), hard links, device nodes and FIFOs. Nothing
//! is extracted, so names are only normalized (`./` and a trailing `/` removed), never refused.
//! Every error names the file and, inside a tarball, the member index, name and byte offset.
//!
//! A filesystem image (squashfs, erofs or ext4, told by its superblock's magic) is read by the
//! kernel: loop-mounted read-only (`nodev,nosuid,noexec`) in a mount namespace of debroot's own,
//! so the mount ends with the process whatever ends it, and walked as a directory. That needs
//! root; without it, `diff` says so rather than compare less. An empty `lost+found` of an ext4
//! image (every ext4 filesystem has one; no Debian tree does) is left out.
//!
//! The first pass hashes every file; [`read_samples`] reads again only the files the comparison
//! asks for, one chunk of bytes each (see `diff::Sample`).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::compression::Compression;
use crate::diff::{self, Archive, Entry, Kind, Manifest, Member, Mtime, Sample, Tree};
use crate::digest::{Hasher, Sha256Digest};
use crate::error::{Classify, ExitClass};
use crate::tar::header::{
    self, BLOCK, GNU_MAGIC, Numbers, PaxRecords, USTAR_MAGIC, c_string, pax_records, shown_name,
    typeflag,
};

/// Largest PAX header or GNU long name accepted.
const MAX_HEADER_DATA: u64 = 1 << 20;
/// Largest `var/lib/dpkg/status` kept for the package comparison.
const MAX_STATUS: u64 = 256 << 20;
/// The path of dpkg's status file in a tree.
const DPKG_STATUS: &[u8] = b"var/lib/dpkg/status";

/// Why an output cannot be read, naming it.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot open `{}`", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "`{}` is not a directory, a tarball (.tar, .tar.gz, .tar.xz, .tar.zst) or a debroot manifest",
        .path.display()
    )]
    Unknown { path: PathBuf },
    #[error("cannot read `{}`", .path.display())]
    Walk {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{}`: member {index}{} at byte {offset}: {reason}", .path.display(), name.as_ref().map(|n| format!(" `{n}`")).unwrap_or_default())]
    Tar {
        path: PathBuf,
        index: usize,
        name: Option<String>,
        offset: u64,
        reason: String,
    },
    #[error("cannot read `{}` (member {index}, byte {offset} of the tar stream)", .path.display())]
    Stream {
        path: PathBuf,
        index: usize,
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("`{}` is not a debroot manifest: {reason}", .path.display())]
    Manifest { path: PathBuf, reason: String },
    #[error(
        "`{}` is a {format} image: debroot reads an image by loop-mounting it read-only, which needs root",
        .path.display()
    )]
    ImageNeedsRoot { path: PathBuf, format: &'static str },
    #[error("cannot mount the {format} image `{}` read-only: {reason}", .path.display())]
    Mount {
        path: PathBuf,
        format: &'static str,
        reason: String,
    },
}

impl Classify for ReadError {
    fn class(&self) -> ExitClass {
        match self {
            ReadError::Open { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                ExitClass::Usage
            }
            ReadError::Unknown { .. }
            | ReadError::Manifest { .. }
            | ReadError::ImageNeedsRoot { .. } => ExitClass::Usage,
            ReadError::Mount { .. } => ExitClass::Output,
            ReadError::Open { .. } | ReadError::Walk { .. } => ExitClass::Output,
            ReadError::Tar { .. } | ReadError::Stream { .. } => ExitClass::Archive,
        }
    }
}

/// What an operand of `debroot diff` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Directory(PathBuf),
    Tarball {
        path: PathBuf,
        compression: Compression,
    },
    Manifest(PathBuf),
    /// A filesystem image, read as the directory it is mounted on ([`Mounted`]).
    Image {
        path: PathBuf,
        format: &'static str,
        /// Where it is mounted (empty until [`mount`]).
        mounted: PathBuf,
    },
}

/// The filesystem whose superblock `head` (the file's first 2048 bytes) starts.
fn image_format(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"hsqs") {
        Some("squashfs")
    } else if head.get(1024..1028) == Some(&0xE0F5_E1E2u32.to_le_bytes()[..]) {
        Some("erofs")
    } else if head.get(1080..1082) == Some(&0xEF53u16.to_le_bytes()[..]) {
        Some("ext4")
    } else {
        None
    }
}

/// An image mounted read-only for [`Source::Image`]; unmounted (and its mount point removed)
/// when dropped.
pub struct Mounted {
    mountpoint: PathBuf,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.mountpoint, rustix::mount::UnmountFlags::DETACH);
        let _ = fs::remove_dir(&self.mountpoint);
    }
}

/// Mounts the image of `source` read-only on a new directory in `base` (other sources are left
/// as they are). The mount is made in a mount namespace of this process's own, made private,
/// so that no mount outlives it; where that cannot be made, the mount is undone when the
/// returned guard is dropped.
pub fn mount(source: Source, base: &Path) -> Result<(Source, Option<Mounted>), ReadError> {
    let Source::Image { path, format, .. } = source else {
        return Ok((source, None));
    };
    if !rustix::process::geteuid().is_root() {
        return Err(ReadError::ImageNeedsRoot { path, format });
    }
    let failed = |reason: String| ReadError::Mount {
        path: path.clone(),
        format,
        reason,
    };
    private_mounts();
    let mountpoint = crate::workdir::create(base, "image").map_err(|e| {
        failed(format!(
            "cannot make a mount point in `{}`: {e}",
            base.display()
        ))
    })?;
    let guard = Mounted {
        mountpoint: mountpoint.clone(),
    };
    let output = std::process::Command::new("mount")
        .args(["-t", format, "-o", "ro,loop,nodev,nosuid,noexec"])
        .arg(&path)
        .arg(&mountpoint)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot run `mount`: {e}")))?;
    if !output.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    Ok((
        Source::Image {
            path,
            format,
            mounted: mountpoint,
        },
        Some(guard),
    ))
}

/// Moves this process into a mount namespace of its own whose mounts do not propagate back,
/// once; nothing when the kernel refuses (the caller's guard unmounts instead).
fn private_mounts() {
    static DONE: std::sync::Once = std::sync::Once::new();
    DONE.call_once(|| {
        use rustix::mount::{MountPropagationFlags, mount_change};
        // SAFETY: no other thread of debroot uses the mount table or the working directory
        // while `diff` opens its operands; `unshare` changes only this process's view.
        let unshared =
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) };
        if unshared.is_ok() {
            let _ = mount_change(
                "/",
                MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
            );
        }
    });
}

impl Source {
    /// Tells what `path` is: a directory, a manifest (`*.json`, or JSON inside), or a tarball
    /// by its compression's magic bytes or its ustar magic (or, failing those, its name).
    pub fn open(path: &Path) -> Result<Source, ReadError> {
        let open_error = |source| ReadError::Open {
            path: path.to_path_buf(),
            source,
        };
        let meta = fs::metadata(path).map_err(open_error)?;
        if meta.is_dir() {
            return Ok(Source::Directory(path.to_path_buf()));
        }
        let name = path.file_name().map(OsStrExt::as_bytes).unwrap_or(b"");
        if name.ends_with(b".json") {
            return Ok(Source::Manifest(path.to_path_buf()));
        }
        let mut head = Vec::new();
        fs::File::open(path)
            .and_then(|f| f.take(2048).read_to_end(&mut head))
            .map_err(open_error)?;
        if let Some(format) = image_format(&head) {
            return Ok(Source::Image {
                path: path.to_path_buf(),
                format,
                mounted: PathBuf::new(),
            });
        }
        let compression = if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.trim_ascii_start().starts_with(b"{") {
            return Ok(Source::Manifest(path.to_path_buf()));
        } else if head.get(257..262) == Some(b"ustar") || super::format_of(path).is_some() {
            Compression::None
        } else {
            return Err(ReadError::Unknown {
                path: path.to_path_buf(),
            });
        };
        Ok(Source::Tarball {
            path: path.to_path_buf(),
            compression,
        })
    }

    /// For the summary: `directory`, `tar`, `tar.gz`, `tar.xz`, `tar.zst` or `manifest`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Directory(_) => "directory",
            Source::Manifest(_) => "manifest",
            Source::Image { format, .. } => format,
            Source::Tarball { compression, .. } => match compression {
                Compression::None => "tar",
                Compression::Gzip => "tar.gz",
                Compression::Xz => "tar.xz",
                Compression::Zstd => "tar.zst",
            },
        }
    }
}

/// Reads one side: the tree of a directory or tarball, or a manifest.
pub fn read_side(source: &Source) -> Result<diff::Side, ReadError> {
    Ok(match source {
        Source::Directory(root) => diff::Side::Tree(read_directory(root)?.0),
        Source::Tarball { path, compression } => {
            diff::Side::Tree(read_tarball(path, *compression)?.0)
        }
        Source::Manifest(path) => diff::Side::Manifest(read_manifest(path)?),
        Source::Image { .. } => read_side_with_links(source)?.0,
    })
}

/// The tree of a mounted image: the directory's, without the empty `lost+found` of ext4.
fn read_image(format: &str, mounted: &Path) -> Result<(Tree, DataPaths), ReadError> {
    let (mut tree, links) = read_directory(mounted)?;
    let lost = b"lost+found".as_slice();
    let has_children = tree
        .entries
        .keys()
        .any(|p| p.len() > lost.len() && p.starts_with(lost) && p[lost.len()] == b'/');
    if format == "ext4" && !has_children {
        tree.entries.remove(lost);
    }
    Ok((tree, links))
}

/// Where each file's data lives in the source: hard links of a tarball point at the member
/// that carries the data.
pub type DataPaths = BTreeMap<Vec<u8>, Vec<u8>>;

/// Reads one side and the hard links' data paths (for [`read_samples`]).
pub fn read_side_with_links(source: &Source) -> Result<(diff::Side, DataPaths), ReadError> {
    Ok(match source {
        Source::Directory(root) => {
            let (tree, links) = read_directory(root)?;
            (diff::Side::Tree(tree), links)
        }
        Source::Tarball { path, compression } => {
            let (tree, links) = read_tarball(path, *compression)?;
            (diff::Side::Tree(tree), links)
        }
        Source::Manifest(path) => (diff::Side::Manifest(read_manifest(path)?), BTreeMap::new()),
        Source::Image {
            format, mounted, ..
        } => {
            let (tree, links) = read_image(format, mounted)?;
            (diff::Side::Tree(tree), links)
        }
    })
}

fn os(bytes: &[u8]) -> &std::ffi::OsStr {
    std::ffi::OsStr::from_bytes(bytes)
}

fn open_nofollow(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

/// Hashes all of `reader`, keeping the bytes when `keep` allows.
fn hash_reader(reader: &mut dyn Read, keep: Option<u64>) -> io::Result<(Hasher, Vec<u8>)> {
    let mut hasher = Hasher::new();
    let mut kept = Vec::new();
    let mut buffer = vec![0u8; 256 << 10];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        hasher.update(&buffer[..n]);
        if let Some(limit) = keep
            && hasher.len() <= limit
        {
            kept.extend_from_slice(&buffer[..n]);
        }
    }
    if keep.is_some_and(|limit| hasher.len() > limit) {
        kept = Vec::new();
    }
    Ok((hasher, kept))
}

/// Reads a chunk sample of all of `reader`: every chunk's digest, the bytes of chunk `chunk`.
fn sample_reader(reader: &mut dyn Read, chunk: u64) -> io::Result<Sample> {
    let mut sample = Sample {
        chunk,
        ..Sample::default()
    };
    let mut buffer = vec![0u8; diff::CHUNK as usize];
    let mut index = 0u64;
    loop {
        let mut filled = 0;
        while filled < buffer.len() {
            match reader.read(&mut buffer[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        if filled == 0 {
            break;
        }
        sample
            .chunk_sha256
            .push(Sha256Digest::of(&buffer[..filled]));
        if index == chunk {
            sample.bytes = buffer[..filled].to_vec();
        }
        index += 1;
        if filled < buffer.len() {
            break;
        }
    }
    Ok(sample)
}

/// Walks a directory: every entry, files hashed, hard links grouped.
fn read_directory(root: &Path) -> Result<(Tree, DataPaths), ReadError> {
    let walk_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReadError::Walk { path, source }
    };
    let full_path = |relative: &[u8]| {
        if relative.is_empty() {
            root.to_path_buf()
        } else {
            root.join(os(relative))
        }
    };
    let mut paths: Vec<Vec<u8>> = Vec::new();
    let mut stack: Vec<Vec<u8>> = vec![Vec::new()];
    while let Some(relative) = stack.pop() {
        let full = full_path(&relative);
        let meta = fs::symlink_metadata(&full).map_err(walk_error(&full))?;
        if meta.is_dir() {
            for child in fs::read_dir(&full).map_err(walk_error(&full))? {
                let child = child.map_err(walk_error(&full))?;
                let mut path = relative.clone();
                if !path.is_empty() {
                    path.push(b'/');
                }
                path.extend_from_slice(child.file_name().as_bytes());
                stack.push(path);
            }
        }
        paths.push(relative);
    }
    paths.sort();
    let mut tree = Tree::default();
    let mut inodes: BTreeMap<(u64, u64), (Vec<u8>, Kind)> = BTreeMap::new();
    for relative in paths {
        let full = full_path(&relative);
        let meta = fs::symlink_metadata(&full).map_err(walk_error(&full))?;
        let file_type = meta.file_type();
        let mut hardlink_group = None;
        let kind = if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_symlink() {
            let target = fs::read_link(&full).map_err(walk_error(&full))?;
            Kind::Symlink {
                target: target.as_os_str().as_bytes().to_vec(),
            }
        } else if file_type.is_file() {
            let key = (meta.dev(), meta.ino());
            match inodes.get(&key) {
                Some((first, kind)) if meta.nlink() > 1 => {
                    hardlink_group = Some(first.clone());
                    kind.clone()
                }
                _ => {
                    let keep = (relative == DPKG_STATUS).then_some(MAX_STATUS);
                    let mut file = open_nofollow(&full).map_err(walk_error(&full))?;
                    let (hasher, kept) = hash_reader(&mut file, keep).map_err(walk_error(&full))?;
                    if relative == DPKG_STATUS {
                        tree.dpkg_status = Some(kept);
                    }
                    let kind = Kind::File {
                        size: hasher.len(),
                        sha256: hasher.finish(),
                    };
                    if meta.nlink() > 1 {
                        inodes.insert(key, (relative.clone(), kind.clone()));
                        hardlink_group = Some(relative.clone());
                    }
                    kind
                }
            }
        } else if file_type.is_char_device() || file_type.is_block_device() {
            let (major, minor) = (
                rustix::fs::major(meta.rdev()),
                rustix::fs::minor(meta.rdev()),
            );
            if file_type.is_char_device() {
                Kind::CharDevice { major, minor }
            } else {
                Kind::BlockDevice { major, minor }
            }
        } else if file_type.is_fifo() {
            Kind::Fifo
        } else {
            Kind::Socket
        };
        let xattrs = if file_type.is_symlink() {
            BTreeMap::new()
        } else {
            super::xattrs(&full).map_err(walk_error(&full))?
        };
        tree.entries.insert(
            relative,
            Entry {
                kind,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
                mtime: Mtime {
                    seconds: meta.mtime(),
                    nanoseconds: u32::try_from(meta.mtime_nsec()).ok(),
                },
                xattrs,
                hardlink_group,
            },
        );
    }
    // A file whose other names lie outside the tree has one name here: no group.
    let mut group_sizes: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for entry in tree.entries.values() {
        if let Some(group) = &entry.hardlink_group {
            *group_sizes.entry(group.clone()).or_default() += 1;
        }
    }
    for entry in tree.entries.values_mut() {
        if entry
            .hardlink_group
            .as_ref()
            .is_some_and(|g| group_sizes.get(g) == Some(&1))
        {
            entry.hardlink_group = None;
        }
    }
    Ok((tree, BTreeMap::new()))
}

/// Reads the samples `wanted` asks for (path → chunk), from the paths that hold their data.
pub fn read_samples(
    source: &Source,
    links: &DataPaths,
    wanted: &BTreeMap<Vec<u8>, u64>,
) -> Result<BTreeMap<Vec<u8>, Sample>, ReadError> {
    // Which data path serves which wanted paths.
    let mut by_data: BTreeMap<Vec<u8>, Vec<(Vec<u8>, u64)>> = BTreeMap::new();
    for (path, chunk) in wanted {
        let data = links.get(path).unwrap_or(path);
        by_data
            .entry(data.clone())
            .or_default()
            .push((path.clone(), *chunk));
    }
    let mut out = BTreeMap::new();
    let mut take = |data: &[u8], reader: &mut dyn Read| -> io::Result<()> {
        let Some(users) = by_data.get(data) else {
            return Ok(());
        };
        // Two names of one file asking for different chunks is not a case worth a second read.
        let chunk = users.first().map_or(0, |u| u.1);
        let sample = sample_reader(reader, chunk)?;
        for (path, _) in users {
            out.insert(path.clone(), sample.clone());
        }
        Ok(())
    };
    match source {
        Source::Directory(root) | Source::Image { mounted: root, .. } => {
            let data_paths: Vec<Vec<u8>> = by_data.keys().cloned().collect();
            for data in data_paths {
                let full = root.join(os(&data));
                let mut file = open_nofollow(&full).map_err(|source| ReadError::Walk {
                    path: full.clone(),
                    source,
                })?;
                take(&data, &mut file).map_err(|source| ReadError::Walk {
                    path: full.clone(),
                    source,
                })?;
            }
        }
        Source::Tarball { path, compression } => {
            scan_tar(path, *compression, false, &mut |member, reader| {
                if member.kind == MemberKind::File {
                    take(&member.path, reader)?;
                }
                Ok(())
            })?;
        }
        Source::Manifest(_) => {}
    }
    Ok(out)
}

/// Reads a debroot manifest.
pub fn read_manifest(path: &Path) -> Result<Manifest, ReadError> {
    let bytes = fs::read(path).map_err(|source| ReadError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |reason: String| ReadError::Manifest {
        path: path.to_path_buf(),
        reason,
    };
    let document: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("invalid JSON: {e}")))?;
    let object = document
        .as_object()
        .ok_or_else(|| invalid("not a JSON object".into()))?;
    let packages = object
        .get("packages")
        .and_then(|p| p.as_array())
        .ok_or_else(|| invalid("no `packages` list".into()))?;
    let mut manifest = Manifest::default();
    for (i, package) in packages.iter().enumerate() {
        let field = |name: &str| {
            package
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| invalid(format!("package {i} has no `{name}`")))
        };
        manifest.packages.insert(
            (field("name")?, field("architecture")?),
            (field("version")?, field("sha256")?),
        );
    }
    const ORDER: [&str; 8] = [
        "output_sha256",
        "output_bytes",
        "format",
        "mode",
        "epoch",
        "lock_digest",
        "profile_digest",
        "debroot",
    ];
    let text = |value: &serde_json::Value| match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for name in ORDER {
        if let Some(value) = object.get(name) {
            manifest.fields.push((name.to_owned(), text(value)));
        }
    }
    for (name, value) in object {
        if name != "packages" && !ORDER.contains(&name.as_str()) {
            manifest.fields.push((name.clone(), text(value)));
        }
    }
    Ok(manifest)
}

/// What kind of tar member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemberKind {
    File,
    Hardlink,
    Other,
}

/// A member as the scan hands it to its visitor.
struct Visited {
    path: Vec<u8>,
    kind: MemberKind,
}

/// A reader that counts (and optionally hashes) what passes through.
struct Counting<R> {
    inner: R,
    count: u64,
    hasher: Option<Hasher>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// A numeric field, leniently (see [`Numbers::Lenient`]).
fn number(field: &[u8]) -> Option<u64> {
    header::number(field, Numbers::Lenient)
}

/// A member name as a tree path: `./`, leading `/` and a trailing `/` removed.
fn normalize(name: &[u8]) -> Vec<u8> {
    let mut rest = name;
    loop {
        if let Some(r) = rest.strip_prefix(b"./") {
            rest = r;
        } else if let Some(r) = rest.strip_prefix(b"/") {
            rest = r;
        } else {
            break;
        }
    }
    while let Some(r) = rest.strip_suffix(b"/") {
        rest = r;
    }
    if rest == b"." {
        return Vec::new();
    }
    rest.to_vec()
}

/// A PAX time (`SECONDS[.FRACTION]`).
fn pax_time(value: &[u8]) -> Option<Mtime> {
    header::pax_time(value).map(|(seconds, nanoseconds)| Mtime {
        seconds,
        nanoseconds,
    })
}

/// Reads a tarball's tree and archive facts.
fn read_tarball(path: &Path, compression: Compression) -> Result<(Tree, DataPaths), ReadError> {
    let mut tree = Tree::default();
    let mut links: DataPaths = BTreeMap::new();
    let mut status: Option<Vec<u8>> = None;
    let mut contents: BTreeMap<Vec<u8>, (u64, Sha256Digest)> = BTreeMap::new();
    let archive = scan_tar(path, compression, true, &mut |member, reader| {
        if member.kind == MemberKind::File {
            let keep = (member.path == DPKG_STATUS).then_some(MAX_STATUS);
            let (hasher, kept) = hash_reader(reader, keep)?;
            if member.path == DPKG_STATUS {
                status = Some(kept);
            }
            contents.insert(member.path.clone(), (hasher.len(), hasher.finish()));
        }
        Ok(())
    })?;
    let archive = archive.ok_or_else(|| ReadError::Unknown {
        path: path.to_path_buf(),
    })?;
    // Members in order, the last of a path winning (as extraction would).
    for (index, (member, header)) in archive.1.into_iter().enumerate() {
        let kind = match header.kind {
            TarKind::File => match contents.get(&member.path) {
                Some((size, sha256)) => Kind::File {
                    size: *size,
                    sha256: *sha256,
                },
                None => Kind::File {
                    size: 0,
                    sha256: Sha256Digest::of(b""),
                },
            },
            TarKind::Hardlink(ref target) => {
                let data = links.get(target).cloned().unwrap_or_else(|| target.clone());
                let Some((size, sha256)) = contents.get(&data) else {
                    return Err(ReadError::Tar {
                        path: path.to_path_buf(),
                        index,
                        name: Some(shown_name(&member.name)),
                        offset: header.offset,
                        reason: format!(
                            "hard link to `{}`, which is not an earlier file",
                            shown_name(target)
                        ),
                    });
                };
                links.insert(member.path.clone(), data);
                Kind::File {
                    size: *size,
                    sha256: *sha256,
                }
            }
            TarKind::Symlink(ref target) => Kind::Symlink {
                target: target.clone(),
            },
            TarKind::Dir => Kind::Dir,
            TarKind::Char(major, minor) => Kind::CharDevice { major, minor },
            TarKind::Block(major, minor) => Kind::BlockDevice { major, minor },
            TarKind::Fifo => Kind::Fifo,
        };
        if !matches!(header.kind, TarKind::Hardlink(_)) {
            links.remove(&member.path);
        }
        tree.entries.insert(
            member.path.clone(),
            Entry {
                kind,
                mode: header.mode,
                uid: header.uid,
                gid: header.gid,
                mtime: header.mtime,
                xattrs: header.xattrs,
                hardlink_group: None,
            },
        );
    }
    // Hard link groups: the data member and its links, named by the first path in byte order.
    let mut groups: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for (link, data) in &links {
        let first = groups.entry(data.clone()).or_insert_with(|| data.clone());
        if link < first {
            *first = link.clone();
        }
    }
    for (data, first) in &groups {
        for path in std::iter::once(data).chain(links.iter().filter(|l| l.1 == data).map(|l| l.0)) {
            if let Some(entry) = tree.entries.get_mut(path) {
                entry.hardlink_group = Some(first.clone());
            }
        }
    }
    tree.dpkg_status = status;
    tree.archive = Some(archive.0);
    Ok((tree, links))
}

/// What a member's headers said, beyond the archive facts.
struct Header {
    kind: TarKind,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Mtime,
    xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    offset: u64,
}

enum TarKind {
    File,
    Hardlink(Vec<u8>),
    Symlink(Vec<u8>),
    Dir,
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
}

type Scanned = (Archive, Vec<(Member, Header)>);

/// Reads every member of a tarball, calling `visit` with each file's data. With `facts`, also
/// hashes the file and the stream and returns the archive's facts and every member's headers.
fn scan_tar(
    path: &Path,
    compression: Compression,
    facts: bool,
    visit: &mut dyn FnMut(&Visited, &mut dyn Read) -> io::Result<()>,
) -> Result<Option<Scanned>, ReadError> {
    let file = fs::File::open(path).map_err(|source| ReadError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let mut file = BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: file,
            count: 0,
            hasher: facts.then(Hasher::new),
        },
    );
    let stream_error = |index, offset| {
        let path = path.to_path_buf();
        move |source| ReadError::Stream {
            path,
            index,
            offset,
            source,
        }
    };
    let decoder = compression
        .decoder(&mut file)
        .map_err(|e| stream_error(0, 0)(io::Error::other(e)))?;
    let mut stream = Counting {
        inner: decoder,
        count: 0,
        hasher: (facts && compression != Compression::None).then(Hasher::new),
    };
    let mut members: Vec<(Member, Header)> = Vec::new();
    let mut global_pax: PaxRecords = Vec::new();
    let mut local_pax: PaxRecords = Vec::new();
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    let mut header_hasher = Hasher::new();
    let mut index = 0usize;
    let mut block = [0u8; BLOCK];
    let trailer_size;
    let mut trailer_nonzero = false;
    loop {
        let offset = stream.count;
        let tar_error = |name: Option<&[u8]>, reason: &str| ReadError::Tar {
            path: path.to_path_buf(),
            index,
            name: name.map(shown_name),
            offset,
            reason: reason.to_owned(),
        };
        let got = read_full(&mut stream, &mut block).map_err(stream_error(index, offset))?;
        if got == 0 {
            return Err(tar_error(
                None,
                "the archive ends without its end-of-archive blocks (truncated?)",
            ));
        }
        if got < BLOCK {
            return Err(tar_error(None, "truncated header"));
        }
        if block.iter().all(|&b| b == 0) {
            // End of archive: count what follows (the second zero block and padding).
            let mut total = BLOCK as u64;
            let mut buffer = vec![0u8; 64 << 10];
            loop {
                let n = read_full(&mut stream, &mut buffer)
                    .map_err(stream_error(index, stream.count))?;
                if n == 0 {
                    break;
                }
                total += n as u64;
                trailer_nonzero |= buffer[..n].iter().any(|&b| b != 0);
            }
            trailer_size = total;
            break;
        }
        let raw_name = c_string(&block[header::NAME]).to_vec();
        let stored = header::octal(&block[header::CHECKSUM], Numbers::Lenient)
            .ok_or_else(|| tar_error(Some(&raw_name), "header checksum is not a number"))?;
        if !header::checksum_matches(&block, stored) {
            return Err(tar_error(
                Some(&raw_name),
                "bad header checksum (not a tar archive, or corrupt)",
            ));
        }
        if facts {
            header_hasher.update(&block);
        }
        let typeflag = block[header::TYPEFLAG];
        let header_size = number(&block[header::SIZE])
            .ok_or_else(|| tar_error(Some(&raw_name), "size is not a number"))?;
        // Extension headers: their data describes the next member.
        if matches!(
            typeflag,
            typeflag::PAX_LOCAL
                | typeflag::PAX_GLOBAL
                | typeflag::GNU_LONGNAME
                | typeflag::GNU_LONGLINK
        ) {
            if header_size > MAX_HEADER_DATA {
                return Err(tar_error(
                    Some(&raw_name),
                    "extension header larger than 1 MiB",
                ));
            }
            let padded = header_size.div_ceil(BLOCK as u64) * BLOCK as u64;
            let mut data = vec![0u8; padded as usize];
            let n = read_full(&mut stream, &mut data).map_err(stream_error(index, offset))?;
            if (n as u64) < padded {
                return Err(tar_error(Some(&raw_name), "truncated extension header"));
            }
            if facts {
                header_hasher.update(&data);
            }
            let data = &data[..header_size as usize];
            match typeflag {
                typeflag::PAX_LOCAL | typeflag::PAX_GLOBAL => {
                    let records =
                        pax_records(data).map_err(|reason| tar_error(Some(&raw_name), &reason))?;
                    if typeflag == typeflag::PAX_LOCAL {
                        local_pax.extend(records);
                    } else {
                        global_pax.extend(records);
                    }
                }
                typeflag::GNU_LONGNAME => long_name = Some(c_string(data).to_vec()),
                _ => long_link = Some(c_string(data).to_vec()),
            }
            continue;
        }
        let magic = &block[header::MAGIC];
        let format = if magic == USTAR_MAGIC {
            "ustar"
        } else if magic == GNU_MAGIC {
            "gnu"
        } else {
            "v7"
        };
        let pax: PaxRecords = global_pax.iter().chain(&local_pax).cloned().collect();
        let pax_get = |key: &[u8]| pax.iter().rev().find(|r| r.0 == key).map(|r| r.1.clone());
        let name = match (pax_get(b"path"), long_name.take()) {
            (Some(name), _) | (None, Some(name)) => name,
            (None, None) => {
                let prefix = c_string(&block[header::PREFIX]);
                if format == "ustar" && !prefix.is_empty() {
                    let mut full = prefix.to_vec();
                    full.push(b'/');
                    full.extend_from_slice(&raw_name);
                    full
                } else {
                    raw_name.clone()
                }
            }
        };
        let link = match (pax_get(b"linkpath"), long_link.take()) {
            (Some(link), _) | (None, Some(link)) => link,
            (None, None) => c_string(&block[header::LINKNAME]).to_vec(),
        };
        let invalid = |reason: &str| ReadError::Tar {
            path: path.to_path_buf(),
            index,
            name: Some(shown_name(&name)),
            offset,
            reason: reason.to_owned(),
        };
        let pax_number = |key: &[u8]| -> Result<Option<u64>, ReadError> {
            pax_get(key)
                .map(|v| {
                    std::str::from_utf8(&v)
                        .ok()
                        .and_then(|t| t.parse().ok())
                        .ok_or_else(|| invalid("malformed PAX number"))
                })
                .transpose()
        };
        let header_number = |range: std::ops::Range<usize>, what: &str| {
            number(&block[range]).ok_or_else(|| invalid(&format!("{what} is not a number")))
        };
        let size = pax_number(b"size")?.unwrap_or(header_size);
        let uid = pax_number(b"uid")?.map_or_else(|| header_number(header::UID, "uid"), Ok)?;
        let gid = pax_number(b"gid")?.map_or_else(|| header_number(header::GID, "gid"), Ok)?;
        let mode = header_number(header::MODE, "mode")?;
        let mtime = match pax_get(b"mtime") {
            Some(value) => pax_time(&value).ok_or_else(|| invalid("malformed PAX mtime"))?,
            None => Mtime {
                seconds: i64::try_from(header_number(header::MTIME, "mtime")?)
                    .map_err(|_| invalid("mtime out of range"))?,
                nanoseconds: None,
            },
        };
        let to_u32 = |value: u64, what: &str| {
            u32::try_from(value).map_err(|_| invalid(&format!("{what} out of range")))
        };
        let devices = || -> Result<(u32, u32), ReadError> {
            Ok((
                to_u32(
                    header_number(header::DEVMAJOR, "device major")?,
                    "device major",
                )?,
                to_u32(
                    header_number(header::DEVMINOR, "device minor")?,
                    "device minor",
                )?,
            ))
        };
        let kind = match typeflag {
            typeflag::REGULAR | typeflag::REGULAR_OLD | typeflag::CONTIGUOUS => TarKind::File,
            typeflag::HARDLINK => TarKind::Hardlink(normalize(&link)),
            typeflag::SYMLINK => TarKind::Symlink(link.clone()),
            typeflag::CHAR => {
                let (major, minor) = devices()?;
                TarKind::Char(major, minor)
            }
            typeflag::BLOCK => {
                let (major, minor) = devices()?;
                TarKind::Block(major, minor)
            }
            typeflag::DIR => TarKind::Dir,
            typeflag::FIFO => TarKind::Fifo,
            other => {
                return Err(invalid(&format!(
                    "unsupported member type `{}`",
                    char::from(other).escape_default()
                )));
            }
        };
        let gnu_time = |range: std::ops::Range<usize>| {
            (format == "gnu")
                .then(|| number(&block[range]).filter(|&t| t != 0))
                .flatten()
                .map(|t| t.to_string().into_bytes())
        };
        let (uname, gname) = if format == "v7" {
            (Vec::new(), Vec::new())
        } else {
            (
                c_string(&block[header::UNAME]).to_vec(),
                c_string(&block[header::GNAME]).to_vec(),
            )
        };
        let member = Member {
            path: normalize(&name),
            name: name.clone(),
            format,
            uname: pax_get(b"uname").unwrap_or(uname),
            gname: pax_get(b"gname").unwrap_or(gname),
            atime: pax_get(b"atime").or_else(|| gnu_time(header::GNU_ATIME)),
            ctime: pax_get(b"ctime").or_else(|| gnu_time(header::GNU_CTIME)),
            pax: pax.clone(),
            header_sha256: std::mem::take(&mut header_hasher).finish(),
        };
        let xattrs: BTreeMap<Vec<u8>, Vec<u8>> = pax
            .iter()
            .filter_map(|(key, value)| {
                key.strip_prefix(b"SCHILY.xattr.")
                    .map(|name| (name.to_vec(), value.clone()))
            })
            .collect();
        local_pax.clear();
        // Data: files carry it; anything else that declares some has it skipped.
        let data_size = match kind {
            TarKind::File => size,
            TarKind::Hardlink(_) | TarKind::Dir => {
                if typeflag == typeflag::HARDLINK || typeflag == typeflag::DIR {
                    0
                } else {
                    size
                }
            }
            _ => 0,
        };
        let visited = Visited {
            path: member.path.clone(),
            kind: match kind {
                TarKind::File => MemberKind::File,
                TarKind::Hardlink(_) => MemberKind::Hardlink,
                _ => MemberKind::Other,
            },
        };
        let data_start = stream.count;
        {
            let mut data = (&mut stream).take(data_size);
            if visited.kind == MemberKind::File {
                visit(&visited, &mut data).map_err(stream_error(index, data_start))?;
            }
            io::copy(&mut data, &mut io::sink()).map_err(stream_error(index, data_start))?;
        }
        let read = stream.count - data_start;
        if read < data_size {
            return Err(invalid(&format!(
                "truncated: the archive ends {} bytes into the member's {data_size} bytes of data",
                read
            )));
        }
        let padding = (BLOCK as u64 - data_size % BLOCK as u64) % BLOCK as u64;
        let mut pad = vec![0u8; padding as usize];
        let n = read_full(&mut stream, &mut pad).map_err(stream_error(index, stream.count))?;
        if (n as u64) < padding {
            return Err(invalid(
                "truncated: the archive ends inside the member's padding",
            ));
        }
        if facts {
            members.push((
                member,
                Header {
                    kind,
                    mode: (mode & 0o7777) as u32,
                    uid: to_u32(uid, "uid")?,
                    gid: to_u32(gid, "gid")?,
                    mtime,
                    xattrs,
                    offset,
                },
            ));
        }
        index += 1;
    }
    let stream_size = stream.count;
    let stream_hasher = stream.hasher.take();
    drop(stream);
    // Whatever follows the compressed stream still counts in the file's bytes.
    io::copy(&mut file, &mut io::sink()).map_err(stream_error(index, stream_size))?;
    if !facts {
        return Ok(None);
    }
    let counting = file.into_inner();
    let file_size = counting.count;
    let file_sha256 = counting
        .hasher
        .map(Hasher::finish)
        .unwrap_or(Sha256Digest([0; 32]));
    let stream_sha256 = stream_hasher.map_or(file_sha256, Hasher::finish);
    let (archive_members, headers): (Vec<Member>, Vec<Header>) = members.into_iter().unzip();
    Ok(Some((
        Archive {
            compression: compression.name(),
            file_sha256,
            file_size,
            stream_sha256,
            stream_size,
            members: archive_members.clone(),
            trailer_size,
            trailer_nonzero,
        },
        archive_members.into_iter().zip(headers).collect(),
    )))
}

/// Reads until `buffer` is full or the stream ends; returns how much was read.
fn read_full(reader: &mut dyn Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times_keep_nanoseconds() {
        assert_eq!(
            pax_time(b"1700000000.5"),
            Some(Mtime {
                seconds: 1_700_000_000,
                nanoseconds: Some(500_000_000)
            })
        );
        assert_eq!(
            pax_time(b"12"),
            Some(Mtime {
                seconds: 12,
                nanoseconds: None
            })
        );
        assert_eq!(pax_time(b"x"), None);
    }

    #[test]
    fn names_are_normalized() {
        assert_eq!(normalize(b"./"), b"");
        assert_eq!(normalize(b"."), b"");
        assert_eq!(normalize(b"./etc/"), b"etc");
        assert_eq!(normalize(b"/etc/motd"), b"etc/motd");
    }
}
