//! Root filesystem tarballs read back for comparison: every entry's type, mode, owners, link
//! target and content (mtimes are left out: they are the epoch's business, checked elsewhere).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// One entry of a tarball. Hardlinks are reported as the regular file they share data with,
/// so that which of the names carries the data does not matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: char,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub link: Vec<u8>,
    pub sha256: String,
}

/// The entries of the (uncompressed) tarball at `path`, by path without `./` or a trailing `/`.
pub fn read_tar(path: &Path) -> BTreeMap<Vec<u8>, Entry> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let mut entries = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = normalize(&entry.path_bytes());
        let header = entry.header().clone();
        let kind = header.entry_type();
        let link = entry
            .link_name_bytes()
            .map(|l| l.into_owned())
            .unwrap_or_default();
        let (kind, link, sha256) = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).unwrap();
                ('f', Vec::new(), super::repo::sha256_hex(&data))
            }
            tar::EntryType::Link => {
                let target: &Entry = entries
                    .get(&normalize(&link))
                    .unwrap_or_else(|| panic!("hardlink to a later member in {}", path.display()));
                ('f', Vec::new(), target.sha256.clone())
            }
            tar::EntryType::Directory => ('d', Vec::new(), String::new()),
            tar::EntryType::Symlink => ('l', link, String::new()),
            tar::EntryType::Char => ('c', Vec::new(), device(&header)),
            tar::EntryType::Block => ('b', Vec::new(), device(&header)),
            tar::EntryType::Fifo => ('p', Vec::new(), String::new()),
            other => panic!("unexpected entry type {other:?} in {}", path.display()),
        };
        entries.insert(
            name,
            Entry {
                kind,
                mode: header.mode().unwrap() & 0o7777,
                uid: header.uid().unwrap(),
                gid: header.gid().unwrap(),
                link,
                sha256,
            },
        );
    }
    entries
}

fn device(header: &tar::Header) -> String {
    format!(
        "{},{}",
        header.device_major().ok().flatten().unwrap_or(0),
        header.device_minor().ok().flatten().unwrap_or(0)
    )
}

fn normalize(name: &[u8]) -> Vec<u8> {
    let name = name.strip_prefix(b"./").unwrap_or(name);
    let name = name.strip_suffix(b"/").unwrap_or(name);
    if name == b"." {
        Vec::new()
    } else {
        name.to_vec()
    }
}

/// How two trees differ: paths only in `a`, only in `b`, and in both but different.
#[derive(Debug, Default)]
pub struct Differences {
    pub only_a: Vec<String>,
    pub only_b: Vec<String>,
    pub changed: Vec<String>,
}

impl Differences {
    pub fn paths(&self) -> impl Iterator<Item = &String> {
        self.only_a.iter().chain(&self.only_b).chain(&self.changed)
    }
}

pub fn compare(a: &BTreeMap<Vec<u8>, Entry>, b: &BTreeMap<Vec<u8>, Entry>) -> Differences {
    let show = |p: &Vec<u8>| String::from_utf8_lossy(p).into_owned();
    let mut differences = Differences::default();
    for (path, entry) in a {
        match b.get(path) {
            None => differences.only_a.push(show(path)),
            Some(other) if other != entry => differences
                .changed
                .push(format!("{}: {entry:?} vs {other:?}", show(path))),
            Some(_) => {}
        }
    }
    for path in b.keys() {
        if !a.contains_key(path) {
            differences.only_b.push(show(path));
        }
    }
    differences
}

/// How debroot's minbase differs from mmdebstrap's for the same package set and epoch, each
/// with its reason. The README's "Differences from mmdebstrap" lists the same paths (a test
/// checks it).
pub const MMDEBSTRAP_DIFFERENCES: &[(&str, &str)] = &[
    (
        "etc/apt/sources.list",
        "mmdebstrap writes the sources it was given; debroot writes none, because the mirror is \
         the build machine's choice and would make the bytes depend on the machine",
    ),
    (
        "etc/hostname",
        "mmdebstrap copies the build machine's; debroot writes one only from `build.hostname`",
    ),
    (
        "etc/resolv.conf",
        "mmdebstrap copies the build machine's; debroot never puts the host's DNS setup in an image",
    ),
    (
        "var/lib/dpkg/status-old",
        "backups of the previous database state: they record the install order, not the system",
    ),
    (
        "var/lib/dpkg/diversions-old",
        "backups of the previous database state: they record the install order, not the system",
    ),
    (
        "var/cache/debconf/config.dat-old",
        "backups of the previous database state: they record the install order, not the system",
    ),
    (
        "var/cache/debconf/templates.dat-old",
        "backups of the previous database state: they record the install order, not the system",
    ),
    (
        "var/lib/apt/extended_states",
        "the same records, sorted by package name; apt writes them in the order of its cache",
    ),
];
