//! Comparing two outputs: the tree model, the comparison and its records (pure).
//!
//! This module owns what `debroot diff A B` finds and how it is written; it never touches the
//! filesystem. The edge reader (`output::read`) turns a directory, a tarball or a manifest into
//! the values below ([`Tree`], [`Manifest`], [`Sample`]); [`compare`] turns two of them into a
//! list of [`Record`]s in a fixed order; [`render`] writes those for people or as JSON Lines.
//!
//! # What is compared
//!
//! - **Packages** first: `name:architecture` → version, read from each side's
//!   `var/lib/dpkg/status` (stanzas whose `Status` is `not-installed` or `config-files` are
//!   left out) or from a manifest's package list. Added, removed, version changed.
//! - **Paths**, in byte order: only in A, only in B (a directory only on one side is one record,
//!   with the number of entries below it), and for paths on both sides: type, mode (not for
//!   symbolic links, whose mode means nothing on Linux), owner (numeric uid:gid), mtime, size,
//!   extended attributes, symbolic link target, hard link group (the first path in byte order of
//!   the names sharing the file), device numbers, content. The root directory is compared only
//!   when both sides have it (a tarball need not hold `./`).
//! - **mtime** to the second, and to the nanosecond when both sides keep nanoseconds:
//!   a directory always does, a tarball only through a PAX `mtime` record with a fraction.
//! - **Content** by SHA-256 over the whole file. For files that differ, a unified diff
//!   (`diffy`, `--context N` lines of context, at most `--max-lines` lines per file) when both
//!   sides are text (UTF-8 without NUL, at most [`TEXT_DIFF_LIMIT`] bytes), else the sizes and
//!   the first differing byte offset. Bytes are read only for files whose content differs, in a
//!   second pass, at most [`CHUNK`] bytes per file and side at a time, within a memory budget
//!   ([`SAMPLE_BUDGET`]); beyond the budget a content record says only that the digests differ.
//! - **Archives**, only when both sides are tarballs, their trees are equal and their bytes are
//!   not: compression, the compressed bytes of an equal tar stream, entry order, header fields
//!   of each member (name as written, header format, `uname`, `gname`, `atime`, `ctime`, PAX
//!   records, any other header byte), and the end of the archive (zero blocks and padding).
//! - **Manifests** (`OUTPUT.manifest.json` beside a build's output): two manifests compare
//!   their packages (version and `.deb` SHA-256) and their fields (output digest and size,
//!   format, mode, epoch, profile and lock digests, debroot version). A manifest against a tree
//!   compares the manifest's packages with the tree's `var/lib/dpkg/status` only.
//!
//! Any record means the sides differ (exit 1); no record means they are equal (exit 0). A
//! tarball (or an image) against a directory compares trees only, so the archive's own bytes
//! never make them differ, and without the tarball's static `/dev` where the directory lacks it
//! ([`without_static_dev`]: a directory output holds no device nodes); two tarballs with equal trees but different bytes do differ, because the question
//! `debroot diff a.tar b.tar` answers is "why are these two outputs' SHA-256 not the same".
//!
//! # JSON Lines (`--format json`)
//!
//! One JSON object a line, each with a `"record"` field saying which kind it is, in the order
//! above, and a last line of kind `summary`. Paths are absolute in the tree (`"/etc/motd"`, the
//! root is `"/"`). Any byte string (a path, a link target, an xattr name or value, a header
//! field) is written under its name when it is UTF-8, else under the name with `_base64`
//! appended, as standard padded base64 of the exact bytes (`"path_base64": "L2V0Yy//"`); a
//! reader checks both. Absent values are `null`.
//!
//! | `record`    | fields |
//! |-------------|--------|
//! | `package`   | `change` (`added`, `removed`, `changed`), `name`, `architecture`, `a`, `b` (versions or null), `detail` (e.g. `sha256 differs`, or null) |
//! | `only_in`   | `side` (`a` or `b`), `path`, `type`, `entries_below` (a directory's entries, not listed) |
//! | `attribute` | `path`, `attribute` (`type`, `mode`, `owner`, `mtime`, `size`, `link_target`, `hardlink`, `device`), `a`, `b` (strings: type names `file dir symlink char block fifo socket`; mode as 4 octal digits; owner `uid:gid`; mtime `SECONDS` or `SECONDS.NNNNNNNNN`; size in bytes; device `major,minor`; link targets and hard link groups as byte strings) |
//! | `xattr`     | `path`, `name`, `a`, `b` (values as byte strings, null when absent) |
//! | `content`   | `path`, `a_size`, `b_size`, `a_sha256`, `b_sha256`, `kind` (`text`, `binary`, `unexamined`), `diff` (unified diff, text only), `truncated` (the diff was cut at `--max-lines`), `first_difference` (byte offset, binary only) |
//! | `archive`   | `aspect` (`compression`, `compressed_bytes`, `order`, `header`, `trailer`, `stream`), `path` (for `order` and `header`), `field` (for `header`: `name`, `format`, `uname`, `gname`, `atime`, `ctime`, `pax:KEY`, `header_bytes`), `a`, `b` |
//! | `manifest`  | `field`, `a`, `b` |
//! | `summary`   | `schema` (1), `a`, `b` (the operands as given), `a_kind`, `b_kind` (`directory`, `tar`, `tar.gz`, `tar.xz`, `tar.zst`, `manifest`), `differences` (records above), `equal` |
//!
//! New fields may be added to a record; a new record kind or a changed meaning bumps `schema`.

pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use crate::digest::Sha256Digest;

/// Bytes per chunk of a file read in the second pass: the first differing offset of large files
/// is found chunk by chunk (digests of every chunk, bytes of one).
pub const CHUNK: u64 = 1 << 20;
/// Largest file shown as a text diff (larger text files are described like binary ones; the
/// diff algorithm is quadratic in the worst case).
pub const TEXT_DIFF_LIMIT: u64 = 256 << 10;
/// Most bytes of file content held for the second pass, both sides together; files past it (in
/// byte order of paths) are reported by digest only.
pub const SAMPLE_BUDGET: u64 = 64 << 20;

/// The modification time of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mtime {
    pub seconds: i64,
    /// Known only where the format keeps it.
    pub nanoseconds: Option<u32>,
}

impl Mtime {
    /// Whether two times differ, below the second only when both sides know.
    pub fn differs(&self, other: &Mtime) -> bool {
        self.seconds != other.seconds
            || matches!((self.nanoseconds, other.nanoseconds), (Some(a), Some(b)) if a != b)
    }

    pub fn text(&self) -> String {
        match self.nanoseconds {
            Some(ns) => format!("{}.{ns:09}", self.seconds),
            None => self.seconds.to_string(),
        }
    }
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File { size: u64, sha256: Sha256Digest },
    Symlink { target: Vec<u8> },
    CharDevice { major: u32, minor: u32 },
    BlockDevice { major: u32, minor: u32 },
    Fifo,
    Socket,
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Dir => "dir",
            Kind::File { .. } => "file",
            Kind::Symlink { .. } => "symlink",
            Kind::CharDevice { .. } => "char",
            Kind::BlockDevice { .. } => "block",
            Kind::Fifo => "fifo",
            Kind::Socket => "socket",
        }
    }
}

/// One entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    /// Permission bits with setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: Mtime,
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    /// For a file with several names: the first of them in byte order (itself included).
    pub hardlink_group: Option<Vec<u8>>,
}

/// A tree read from a directory or a tarball.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    /// By path relative to the root, without `./`; the root is the empty path.
    pub entries: BTreeMap<Vec<u8>, Entry>,
    /// `var/lib/dpkg/status`, when the tree has one.
    pub dpkg_status: Option<Vec<u8>>,
    /// The archive's own facts, for a tarball.
    pub archive: Option<Archive>,
}

/// What a tarball says beyond its tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// `plain`, `gzip`, `xz` or `zstd`.
    pub compression: &'static str,
    pub file_sha256: Sha256Digest,
    pub file_size: u64,
    /// The uncompressed tar stream.
    pub stream_sha256: Sha256Digest,
    pub stream_size: u64,
    /// Members in archive order (long-name and PAX headers folded into the member they
    /// describe).
    pub members: Vec<Member>,
    /// Bytes after the last member's data: end-of-archive blocks and record padding.
    pub trailer_size: u64,
    /// Whether any byte after the last member is not zero.
    pub trailer_nonzero: bool,
}

/// One member of a tarball, as its headers wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The normalized path (the tree's key).
    pub path: Vec<u8>,
    /// The name as written (`./etc/`, `etc`, ...), after long-name and PAX records.
    pub name: Vec<u8>,
    /// `ustar`, `gnu` or `v7`.
    pub format: &'static str,
    pub uname: Vec<u8>,
    pub gname: Vec<u8>,
    /// Access and change times, when a GNU header or a PAX record carries them.
    pub atime: Option<Vec<u8>>,
    pub ctime: Option<Vec<u8>>,
    /// Every PAX record of the member (global ones first), in order.
    pub pax: Vec<(Vec<u8>, Vec<u8>)>,
    /// Digest of every header block of the member (long-name and PAX blocks included).
    pub header_sha256: Sha256Digest,
}

/// A debroot manifest (`OUTPUT.manifest.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// `(name, architecture)` → `(version, sha256 of the .deb)`.
    pub packages: BTreeMap<(String, String), (String, String)>,
    /// Other fields in the order they are compared: `(field, value as text)`.
    pub fields: Vec<(String, String)>,
}

/// One side of a comparison.
#[derive(Debug, Clone)]
pub enum Side {
    Tree(Tree),
    Manifest(Manifest),
}

/// What the second pass read of one file: the digest of every [`CHUNK`] and the bytes of one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    pub chunk_sha256: Vec<Sha256Digest>,
    /// Which chunk `bytes` is.
    pub chunk: u64,
    pub bytes: Vec<u8>,
}

/// Which side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Which {
    A,
    B,
}

impl Which {
    pub fn letter(self) -> &'static str {
        match self {
            Which::A => "a",
            Which::B => "b",
        }
    }
}

/// A value in a record: text, or bytes that may not be UTF-8, or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Absent,
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    fn text(text: impl Into<String>) -> Value {
        Value::Text(text.into())
    }

    fn optional_bytes(bytes: Option<&[u8]>) -> Value {
        bytes.map_or(Value::Absent, |b| Value::Bytes(b.to_vec()))
    }
}

/// How two packages differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageChange {
    Added,
    Removed,
    Changed,
}

/// What is known of two files' different content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentDetail {
    /// Both are text: the unified diff, and whether it was cut.
    Text { diff: String, truncated: bool },
    /// The first byte offset at which they differ.
    Binary { first_difference: u64 },
    /// Not read (over the memory budget): the digests say only that they differ.
    Unexamined,
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Package {
        change: PackageChange,
        name: String,
        architecture: String,
        a: Option<String>,
        b: Option<String>,
        detail: Option<String>,
    },
    OnlyIn {
        side: Which,
        path: Vec<u8>,
        kind: &'static str,
        entries_below: usize,
    },
    Attribute {
        path: Vec<u8>,
        attribute: &'static str,
        a: Value,
        b: Value,
    },
    Xattr {
        path: Vec<u8>,
        name: Vec<u8>,
        a: Option<Vec<u8>>,
        b: Option<Vec<u8>>,
    },
    Content {
        path: Vec<u8>,
        a_size: u64,
        b_size: u64,
        a_sha256: Sha256Digest,
        b_sha256: Sha256Digest,
        detail: ContentDetail,
    },
    Archive {
        aspect: &'static str,
        path: Option<Vec<u8>>,
        field: Option<String>,
        a: Value,
        b: Value,
    },
    Manifest {
        field: String,
        a: Value,
        b: Value,
    },
}

/// Options of the comparison.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Lines of context in text diffs.
    pub context: usize,
    /// Most lines of one file's text diff.
    pub max_lines: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            context: 3,
            max_lines: 200,
        }
    }
}

/// Most `header` records of the archive comparison (one per member and field).
const MAX_HEADER_RECORDS: usize = 100;

/// Installed packages of a `var/lib/dpkg/status`: `(name, architecture)` → version.
pub fn dpkg_packages(status: &[u8]) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for paragraph in crate::debian::deb822::paragraphs_recovering(status).flatten() {
        let text = |name: &str| {
            paragraph
                .get(name)
                .map(|v| String::from_utf8_lossy(v).trim().to_owned())
        };
        let (Some(name), Some(version)) = (text("Package"), text("Version")) else {
            continue;
        };
        let state = text("Status").unwrap_or_default();
        let state = state.rsplit(' ').next().unwrap_or("");
        if state == "not-installed" || state == "config-files" {
            continue;
        }
        let architecture = text("Architecture").unwrap_or_default();
        out.insert((name, architecture), version);
    }
    out
}

fn package_records(
    a: &BTreeMap<(String, String), (String, Option<String>)>,
    b: &BTreeMap<(String, String), (String, Option<String>)>,
) -> Vec<Record> {
    let keys: BTreeSet<&(String, String)> = a.keys().chain(b.keys()).collect();
    let mut records = Vec::new();
    for key in keys {
        let (name, architecture) = key.clone();
        let record = |change, detail| Record::Package {
            change,
            name: name.clone(),
            architecture: architecture.clone(),
            a: a.get(key).map(|v| v.0.clone()),
            b: b.get(key).map(|v| v.0.clone()),
            detail,
        };
        match (a.get(key), b.get(key)) {
            (Some(_), None) => records.push(record(PackageChange::Removed, None)),
            (None, Some(_)) => records.push(record(PackageChange::Added, None)),
            (Some(x), Some(y)) if x.0 != y.0 => records.push(record(PackageChange::Changed, None)),
            (Some((_, Some(x))), Some((_, Some(y)))) if x != y => records.push(record(
                PackageChange::Changed,
                Some("sha256 of the .deb differs".into()),
            )),
            _ => {}
        }
    }
    records
}

type PackageSet = BTreeMap<(String, String), (String, Option<String>)>;

fn packages_of_tree(tree: &Tree) -> Option<PackageSet> {
    tree.dpkg_status.as_ref().map(|status| {
        dpkg_packages(status)
            .into_iter()
            .map(|(key, version)| (key, (version, None)))
            .collect()
    })
}

fn packages_of_manifest(manifest: &Manifest, with_digest: bool) -> PackageSet {
    manifest
        .packages
        .iter()
        .map(|(key, (version, sha256))| {
            (
                key.clone(),
                (version.clone(), with_digest.then(|| sha256.clone())),
            )
        })
        .collect()
}

/// The records of two sides whose file contents are not yet examined: [`Record::Content`]
/// records carry [`ContentDetail::Unexamined`] until [`describe_content`] fills them in.
pub fn compare(a: &Side, b: &Side) -> Vec<Record> {
    match (a, b) {
        (Side::Manifest(x), Side::Manifest(y)) => {
            let mut records = package_records(
                &packages_of_manifest(x, true),
                &packages_of_manifest(y, true),
            );
            let fields: BTreeSet<&String> =
                x.fields.iter().chain(&y.fields).map(|f| &f.0).collect();
            // In the manifest's own order of fields, then any unknown to the first.
            let ordered = x
                .fields
                .iter()
                .map(|f| &f.0)
                .chain(y.fields.iter().map(|f| &f.0))
                .filter(|f| fields.contains(f));
            let mut done = BTreeSet::new();
            for field in ordered {
                if !done.insert(field) {
                    continue;
                }
                let value =
                    |m: &Manifest| m.fields.iter().find(|f| &f.0 == field).map(|f| f.1.clone());
                let (va, vb) = (value(x), value(y));
                if va != vb {
                    records.push(Record::Manifest {
                        field: field.clone(),
                        a: va.map_or(Value::Absent, Value::Text),
                        b: vb.map_or(Value::Absent, Value::Text),
                    });
                }
            }
            records
        }
        (Side::Manifest(x), Side::Tree(t)) => package_records(
            &packages_of_manifest(x, false),
            &packages_of_tree(t).unwrap_or_default(),
        ),
        (Side::Tree(t), Side::Manifest(y)) => package_records(
            &packages_of_tree(t).unwrap_or_default(),
            &packages_of_manifest(y, false),
        ),
        (Side::Tree(x), Side::Tree(y)) => compare_trees(x, y),
    }
}

/// The records of two trees (packages, paths, and the archives when the trees are equal).
pub fn compare_trees(a: &Tree, b: &Tree) -> Vec<Record> {
    let mut records = match (packages_of_tree(a), packages_of_tree(b)) {
        (None, None) => Vec::new(),
        (x, y) => package_records(&x.unwrap_or_default(), &y.unwrap_or_default()),
    };
    let mut path_records = Vec::new();
    let mut left = a.entries.iter().peekable();
    let mut right = b.entries.iter().peekable();
    // Merge in byte order; a directory only on one side is reported once, with what is below.
    loop {
        let step = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((pa, _)), Some((pb, _))) => pa.cmp(pb),
        };
        match step {
            std::cmp::Ordering::Less => {
                let (path, entry) = left.next().expect("peeked above");
                if path.is_empty() {
                    continue;
                }
                let below = skip_below(&mut left, path);
                path_records.push(Record::OnlyIn {
                    side: Which::A,
                    path: path.clone(),
                    kind: entry.kind.name(),
                    entries_below: below,
                });
            }
            std::cmp::Ordering::Greater => {
                let (path, entry) = right.next().expect("peeked above");
                if path.is_empty() {
                    continue;
                }
                let below = skip_below(&mut right, path);
                path_records.push(Record::OnlyIn {
                    side: Which::B,
                    path: path.clone(),
                    kind: entry.kind.name(),
                    entries_below: below,
                });
            }
            std::cmp::Ordering::Equal => {
                let (path, x) = left.next().expect("peeked above");
                let (_, y) = right.next().expect("peeked above");
                compare_entries(path, x, y, &mut path_records);
            }
        }
    }
    let trees_equal = path_records.is_empty();
    records.extend(path_records);
    if trees_equal
        && records.is_empty()
        && let (Some(x), Some(y)) = (&a.archive, &b.archive)
    {
        records.extend(compare_archives(x, y));
    }
    records
}

/// Leaves out of `tree` (a tarball's or an image's) the static `/dev` debroot writes into every
/// tarball and image ([`crate::output::static_dev`]) where `directory` (a directory output,
/// which never holds device nodes) does not have the path: a directory against a tarball
/// compares what both can hold. A `/dev` entry that is not the static one (another kind, other
/// device numbers or link target) stays, and so does every entry the directory also has.
///
/// `statics` is that `/dev`, parents first, as paths and kinds (the edge passes it: this module
/// does not depend on the writer's).
pub fn without_static_dev(tree: &mut Tree, directory: &Tree, statics: &[(Vec<u8>, Kind)]) {
    for (path, kind) in statics {
        if directory.entries.contains_key(path) {
            continue;
        }
        let Some(entry) = tree.entries.get(path) else {
            continue;
        };
        // A folder goes only when nothing but static nodes is below it.
        let below_only_static = || {
            tree.entries.keys().all(|p| {
                !(p.len() > path.len() && p.starts_with(path) && p[path.len()] == b'/')
                    || statics.iter().any(|(s, _)| s == p)
            })
        };
        if &entry.kind == kind && (entry.kind != Kind::Dir || below_only_static()) {
            tree.entries.remove(path);
        }
    }
}

/// Skips the entries below `dir` (its path followed by `/`); returns how many.
fn skip_below<'a, I: Iterator<Item = (&'a Vec<u8>, &'a Entry)>>(
    entries: &mut std::iter::Peekable<I>,
    dir: &[u8],
) -> usize {
    let mut count = 0;
    while let Some((path, _)) = entries.peek() {
        if path.len() > dir.len() && path.starts_with(dir) && path[dir.len()] == b'/' {
            entries.next();
            count += 1;
        } else {
            break;
        }
    }
    count
}

fn attribute(path: &[u8], attribute: &'static str, a: Value, b: Value) -> Record {
    Record::Attribute {
        path: path.to_vec(),
        attribute,
        a,
        b,
    }
}

fn compare_entries(path: &[u8], x: &Entry, y: &Entry, out: &mut Vec<Record>) {
    let same_kind = std::mem::discriminant(&x.kind) == std::mem::discriminant(&y.kind);
    if !same_kind {
        out.push(attribute(
            path,
            "type",
            Value::text(x.kind.name()),
            Value::text(y.kind.name()),
        ));
    }
    let symlinks = matches!(x.kind, Kind::Symlink { .. }) && matches!(y.kind, Kind::Symlink { .. });
    if x.mode != y.mode && !symlinks {
        out.push(attribute(
            path,
            "mode",
            Value::Text(format!("{:04o}", x.mode)),
            Value::Text(format!("{:04o}", y.mode)),
        ));
    }
    if (x.uid, x.gid) != (y.uid, y.gid) {
        out.push(attribute(
            path,
            "owner",
            Value::Text(format!("{}:{}", x.uid, x.gid)),
            Value::Text(format!("{}:{}", y.uid, y.gid)),
        ));
    }
    if x.mtime.differs(&y.mtime) {
        out.push(attribute(
            path,
            "mtime",
            Value::Text(x.mtime.text()),
            Value::Text(y.mtime.text()),
        ));
    }
    if let (Kind::File { size: sa, .. }, Kind::File { size: sb, .. }) = (&x.kind, &y.kind)
        && sa != sb
    {
        out.push(attribute(
            path,
            "size",
            Value::Text(sa.to_string()),
            Value::Text(sb.to_string()),
        ));
    }
    let names: BTreeSet<&Vec<u8>> = x.xattrs.keys().chain(y.xattrs.keys()).collect();
    for name in names {
        let (va, vb) = (x.xattrs.get(name), y.xattrs.get(name));
        if va != vb {
            out.push(Record::Xattr {
                path: path.to_vec(),
                name: name.clone(),
                a: va.cloned(),
                b: vb.cloned(),
            });
        }
    }
    match (&x.kind, &y.kind) {
        (Kind::Symlink { target: ta }, Kind::Symlink { target: tb }) if ta != tb => {
            out.push(attribute(
                path,
                "link_target",
                Value::Bytes(ta.clone()),
                Value::Bytes(tb.clone()),
            ));
        }
        (
            Kind::CharDevice {
                major: ma,
                minor: na,
            },
            Kind::CharDevice {
                major: mb,
                minor: nb,
            },
        )
        | (
            Kind::BlockDevice {
                major: ma,
                minor: na,
            },
            Kind::BlockDevice {
                major: mb,
                minor: nb,
            },
        ) if (ma, na) != (mb, nb) => {
            out.push(attribute(
                path,
                "device",
                Value::Text(format!("{ma},{na}")),
                Value::Text(format!("{mb},{nb}")),
            ));
        }
        _ => {}
    }
    if x.hardlink_group != y.hardlink_group {
        out.push(attribute(
            path,
            "hardlink",
            Value::optional_bytes(x.hardlink_group.as_deref()),
            Value::optional_bytes(y.hardlink_group.as_deref()),
        ));
    }
    if let (
        Kind::File {
            size: a_size,
            sha256: a_sha256,
        },
        Kind::File {
            size: b_size,
            sha256: b_sha256,
        },
    ) = (&x.kind, &y.kind)
        && a_sha256 != b_sha256
    {
        out.push(Record::Content {
            path: path.to_vec(),
            a_size: *a_size,
            b_size: *b_size,
            a_sha256: *a_sha256,
            b_sha256: *b_sha256,
            detail: ContentDetail::Unexamined,
        });
    }
}

fn compare_archives(a: &Archive, b: &Archive) -> Vec<Record> {
    let mut records = Vec::new();
    if a.file_sha256 == b.file_sha256 {
        return records;
    }
    let archive = |aspect, path: Option<&[u8]>, field: Option<&str>, va, vb| Record::Archive {
        aspect,
        path: path.map(<[u8]>::to_vec),
        field: field.map(str::to_owned),
        a: va,
        b: vb,
    };
    if a.compression != b.compression {
        records.push(archive(
            "compression",
            None,
            None,
            Value::text(a.compression),
            Value::text(b.compression),
        ));
    }
    if a.stream_sha256 == b.stream_sha256 {
        if a.compression == b.compression {
            records.push(archive(
                "compressed_bytes",
                None,
                None,
                Value::Text(format!("{} bytes, sha256 {}", a.file_size, a.file_sha256)),
                Value::Text(format!("{} bytes, sha256 {}", b.file_size, b.file_sha256)),
            ));
        }
        return records;
    }
    let order_a: Vec<&[u8]> = a.members.iter().map(|m| m.path.as_slice()).collect();
    let order_b: Vec<&[u8]> = b.members.iter().map(|m| m.path.as_slice()).collect();
    if order_a != order_b {
        let at = order_a
            .iter()
            .zip(&order_b)
            .position(|(x, y)| x != y)
            .unwrap_or(order_a.len().min(order_b.len()));
        let member = |order: &[&[u8]]| {
            order.get(at).map_or(
                Value::text(format!("end of archive after member {at}")),
                |p| Value::Text(format!("member {at}: {}", render::display_path(p))),
            )
        };
        records.push(archive(
            "order",
            None,
            None,
            member(&order_a),
            member(&order_b),
        ));
    }
    // Headers of each path (the last member of a path, as extraction would take it).
    fn last(archive: &Archive) -> BTreeMap<Vec<u8>, &Member> {
        archive
            .members
            .iter()
            .map(|m| (m.path.clone(), m))
            .collect()
    }
    let (ma, mb) = (last(a), last(b));
    let mut header_records = 0usize;
    let mut omitted = 0usize;
    for (path, x) in &ma {
        let Some(y) = mb.get(path) else { continue };
        if x.header_sha256 == y.header_sha256 {
            continue;
        }
        let mut fields: Vec<(String, Value, Value)> = Vec::new();
        let bytes_field = |name: &str, va: &[u8], vb: &[u8]| {
            (va != vb).then(|| {
                (
                    name.to_owned(),
                    Value::Bytes(va.to_vec()),
                    Value::Bytes(vb.to_vec()),
                )
            })
        };
        fields.extend(bytes_field("name", &x.name, &y.name));
        if x.format != y.format {
            fields.push((
                "format".into(),
                Value::text(x.format),
                Value::text(y.format),
            ));
        }
        fields.extend(bytes_field("uname", &x.uname, &y.uname));
        fields.extend(bytes_field("gname", &x.gname, &y.gname));
        if x.atime != y.atime {
            fields.push((
                "atime".into(),
                Value::optional_bytes(x.atime.as_deref()),
                Value::optional_bytes(y.atime.as_deref()),
            ));
        }
        if x.ctime != y.ctime {
            fields.push((
                "ctime".into(),
                Value::optional_bytes(x.ctime.as_deref()),
                Value::optional_bytes(y.ctime.as_deref()),
            ));
        }
        let pax = |m: &Member| -> BTreeMap<Vec<u8>, Vec<u8>> { m.pax.iter().cloned().collect() };
        let (pa, pb) = (pax(x), pax(y));
        let keys: BTreeSet<&Vec<u8>> = pa.keys().chain(pb.keys()).collect();
        for key in keys {
            // atime and ctime were compared above, whatever header carried them.
            if key == b"atime" || key == b"ctime" {
                continue;
            }
            let (va, vb) = (pa.get(key), pb.get(key));
            if va != vb {
                fields.push((
                    format!("pax:{}", String::from_utf8_lossy(key)),
                    Value::optional_bytes(va.map(Vec::as_slice)),
                    Value::optional_bytes(vb.map(Vec::as_slice)),
                ));
            }
        }
        if fields.is_empty() {
            fields.push((
                "header_bytes".into(),
                Value::Text(format!("sha256 {}", x.header_sha256)),
                Value::Text(format!("sha256 {}", y.header_sha256)),
            ));
        }
        for (field, va, vb) in fields {
            if header_records < MAX_HEADER_RECORDS {
                header_records += 1;
                records.push(archive("header", Some(path), Some(&field), va, vb));
            } else {
                omitted += 1;
            }
        }
    }
    if omitted > 0 {
        records.push(archive(
            "header",
            None,
            Some("omitted"),
            Value::Text(format!("{omitted} more header differences not listed")),
            Value::Absent,
        ));
    }
    if (a.trailer_size, a.trailer_nonzero) != (b.trailer_size, b.trailer_nonzero) {
        let text = |x: &Archive| {
            format!(
                "{} bytes{}",
                x.trailer_size,
                if x.trailer_nonzero {
                    ", not all zero"
                } else {
                    ""
                }
            )
        };
        records.push(archive(
            "trailer",
            None,
            None,
            Value::Text(text(a)),
            Value::Text(text(b)),
        ));
    }
    if records.is_empty() {
        records.push(archive(
            "stream",
            None,
            None,
            Value::Text(format!(
                "{} bytes, sha256 {}",
                a.stream_size, a.stream_sha256
            )),
            Value::Text(format!(
                "{} bytes, sha256 {}",
                b.stream_size, b.stream_sha256
            )),
        ));
    }
    records
}

/// What the second pass must read: for each path whose content differs, the chunk to keep
/// (the first in the first pass). Paths past [`SAMPLE_BUDGET`] are left out.
pub fn wanted_samples(records: &[Record]) -> BTreeMap<Vec<u8>, u64> {
    let mut wanted = BTreeMap::new();
    let mut budget = SAMPLE_BUDGET;
    for record in records {
        if let Record::Content {
            path,
            a_size,
            b_size,
            ..
        } = record
        {
            let cost = (*a_size).min(CHUNK) + (*b_size).min(CHUNK);
            if cost > budget {
                continue;
            }
            budget -= cost;
            wanted.insert(path.clone(), 0);
        }
    }
    wanted
}

/// What two samples of different files show: the text diff, the first differing offset, or the
/// chunk to read next (its bytes are needed to find the offset within it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Described {
    Done(ContentDetail),
    NeedChunk(u64),
}

fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// Describes a content difference from the samples of both sides.
pub fn describe_content(
    path: &[u8],
    sizes: (u64, u64),
    a: &Sample,
    b: &Sample,
    options: &Options,
) -> Described {
    let whole = |size: u64, sample: &Sample| sample.chunk == 0 && sample.bytes.len() as u64 == size;
    if sizes.0 <= TEXT_DIFF_LIMIT
        && sizes.1 <= TEXT_DIFF_LIMIT
        && whole(sizes.0, a)
        && whole(sizes.1, b)
        && is_text(&a.bytes)
        && is_text(&b.bytes)
    {
        let (Ok(ta), Ok(tb)) = (std::str::from_utf8(&a.bytes), std::str::from_utf8(&b.bytes))
        else {
            return Described::Done(ContentDetail::Unexamined);
        };
        let shown = render::display_path(path);
        let mut diff_options = diffy::DiffOptions::new();
        diff_options
            .set_context_len(options.context)
            .set_original_filename(format!("a{shown}"))
            .set_modified_filename(format!("b{shown}"));
        let patch = diff_options.create_patch(ta, tb).to_string();
        let mut lines: Vec<&str> = patch.lines().collect();
        let truncated = lines.len() > options.max_lines;
        lines.truncate(options.max_lines);
        let mut diff = lines.join("\n");
        diff.push('\n');
        return Described::Done(ContentDetail::Text { diff, truncated });
    }
    // The first chunk whose digests differ, or where one side ends.
    let first_chunk = a
        .chunk_sha256
        .iter()
        .zip(&b.chunk_sha256)
        .position(|(x, y)| x != y)
        .unwrap_or(a.chunk_sha256.len().min(b.chunk_sha256.len())) as u64;
    let shorter = sizes.0.min(sizes.1);
    if first_chunk * CHUNK >= shorter {
        // One is a prefix of the other.
        return Described::Done(ContentDetail::Binary {
            first_difference: shorter,
        });
    }
    if a.chunk != first_chunk || b.chunk != first_chunk {
        return Described::NeedChunk(first_chunk);
    }
    let within = a
        .bytes
        .iter()
        .zip(&b.bytes)
        .position(|(x, y)| x != y)
        .unwrap_or(a.bytes.len().min(b.bytes.len())) as u64;
    Described::Done(ContentDetail::Binary {
        first_difference: first_chunk * CHUNK + within,
    })
}

/// Sets the detail of the content record of `path`.
pub fn set_detail(records: &mut [Record], path: &[u8], new: ContentDetail) {
    for record in records {
        if let Record::Content {
            path: p, detail, ..
        } = record
            && p == path
        {
            *detail = new;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(content: &[u8]) -> Entry {
        Entry {
            kind: Kind::File {
                size: content.len() as u64,
                sha256: Sha256Digest::of(content),
            },
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: Mtime {
                seconds: 1,
                nanoseconds: None,
            },
            xattrs: BTreeMap::new(),
            hardlink_group: None,
        }
    }

    fn whole(bytes: &[u8]) -> Sample {
        Sample {
            chunk_sha256: bytes.chunks(CHUNK as usize).map(Sha256Digest::of).collect(),
            chunk: 0,
            bytes: bytes[..bytes.len().min(CHUNK as usize)].to_vec(),
        }
    }

    #[test]
    fn the_static_dev_of_a_tarball_is_no_difference_from_a_directory() {
        let statics: Vec<(Vec<u8>, Kind)> = vec![
            (b"dev".to_vec(), Kind::Dir),
            (
                b"dev/fd".to_vec(),
                Kind::Symlink {
                    target: b"/proc/self/fd".to_vec(),
                },
            ),
            (
                b"dev/null".to_vec(),
                Kind::CharDevice { major: 1, minor: 3 },
            ),
            (b"dev/pts".to_vec(), Kind::Dir),
            (
                b"dev/zero".to_vec(),
                Kind::CharDevice { major: 1, minor: 5 },
            ),
        ];
        let mut dir = file(b"");
        dir.kind = Kind::Dir;
        let node = |kind: Kind| Entry { kind, ..file(b"") };
        let mut tarball = Tree::default();
        tarball.entries.insert(b"dev".to_vec(), dir.clone());
        tarball.entries.insert(
            b"dev/null".to_vec(),
            node(Kind::CharDevice { major: 1, minor: 3 }),
        );
        tarball.entries.insert(b"dev/pts".to_vec(), dir.clone());
        tarball.entries.insert(
            b"dev/fd".to_vec(),
            node(Kind::Symlink {
                target: b"/proc/self/fd".to_vec(),
            }),
        );
        let mut plain = tarball.clone();
        without_static_dev(&mut plain, &Tree::default(), &statics);
        assert!(plain.entries.is_empty(), "{:?}", plain.entries.keys());
        // Not the static nodes: they stay, and so does the folder that holds them.
        tarball.entries.insert(
            b"dev/zero".to_vec(),
            node(Kind::CharDevice { major: 9, minor: 9 }),
        );
        tarball.entries.insert(b"dev/pts/0".to_vec(), file(b""));
        let mut kept = tarball.clone();
        without_static_dev(&mut kept, &Tree::default(), &statics);
        let left: Vec<&[u8]> = kept.entries.keys().map(Vec::as_slice).collect();
        assert_eq!(left, [&b"dev"[..], b"dev/pts", b"dev/pts/0", b"dev/zero"]);
        // What the directory has is compared as usual.
        let mut directory = Tree::default();
        directory.entries.insert(b"dev".to_vec(), dir);
        let mut compared = plain.clone();
        compared.entries = tarball.entries.clone();
        compared.entries.remove(&b"dev/zero"[..]);
        compared.entries.remove(&b"dev/pts/0"[..]);
        without_static_dev(&mut compared, &directory, &statics);
        let left: Vec<&[u8]> = compared.entries.keys().map(Vec::as_slice).collect();
        assert_eq!(left, [&b"dev"[..]]);
    }

    #[test]
    fn directory_only_on_one_side_is_one_record() {
        let mut a = Tree::default();
        let mut dir = file(b"");
        dir.kind = Kind::Dir;
        a.entries.insert(b"usr".to_vec(), dir.clone());
        a.entries.insert(b"usr/bin".to_vec(), dir);
        a.entries.insert(b"usr/bin/x".to_vec(), file(b"x"));
        a.entries.insert(b"usr2".to_vec(), file(b"y"));
        let records = compare_trees(&a, &Tree::default());
        assert_eq!(records.len(), 2, "{records:?}");
        assert!(matches!(
            &records[0],
            Record::OnlyIn {
                entries_below: 2,
                ..
            }
        ));
    }

    #[test]
    fn nanoseconds_count_only_when_both_sides_know() {
        let x = Mtime {
            seconds: 5,
            nanoseconds: Some(1),
        };
        let y = Mtime {
            seconds: 5,
            nanoseconds: None,
        };
        let z = Mtime {
            seconds: 5,
            nanoseconds: Some(2),
        };
        assert!(!x.differs(&y));
        assert!(x.differs(&z));
    }

    #[test]
    fn binary_offset_in_a_later_chunk_needs_that_chunk() {
        let a = vec![7u8; (CHUNK * 2) as usize];
        let mut b = a.clone();
        b[(CHUNK + 10) as usize] = 0;
        let sizes = (a.len() as u64, b.len() as u64);
        let options = Options::default();
        assert_eq!(
            describe_content(b"/x", sizes, &whole(&a), &whole(&b), &options),
            Described::NeedChunk(1)
        );
        let chunk = |bytes: &[u8]| Sample {
            chunk: 1,
            bytes: bytes[CHUNK as usize..].to_vec(),
            ..whole(bytes)
        };
        assert_eq!(
            describe_content(b"/x", sizes, &chunk(&a), &chunk(&b), &options),
            Described::Done(ContentDetail::Binary {
                first_difference: CHUNK + 10
            })
        );
    }

    #[test]
    fn prefix_differs_at_the_shorter_length() {
        let a = b"\x00\x01\x02".to_vec();
        let b = b"\x00\x01\x02\x03".to_vec();
        assert_eq!(
            describe_content(b"/x", (3, 4), &whole(&a), &whole(&b), &Options::default()),
            Described::Done(ContentDetail::Binary {
                first_difference: 3
            })
        );
    }

    #[test]
    fn status_packages_skip_config_files() {
        let status = b"Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\nPackage: b\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 2\n";
        let packages = dpkg_packages(status);
        assert_eq!(packages.len(), 1);
        assert_eq!(packages[&("a".into(), "amd64".into())], "1");
    }
}
