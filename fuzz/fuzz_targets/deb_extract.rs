//! A `.deb` from outside, all the way into a real root: the ar container, the decompressors
//! (gzip, xz, zstd or none), `control.tar` and its `control` paragraph, and `data.tar` written
//! by the extractor into a scratch root. The input is unpacked twice, as two packages in plan
//! order (the second with the `Replaces` its control says), so that the second writes over the
//! first's files, directories and symlinks; then the directory attributes are applied and the
//! scratch folders removed, as a build does.
//!
//! After each input, nothing outside the root has changed (THREATS I1). The root is a folder of
//! a temporary directory that also holds a sentinel folder (a file, a folder, a symlink); the
//! seeds aim at it with `../sentinel` links, `..` names and hard links. The directory must
//! still hold exactly the root and the sentinel, and every entry of the sentinel must have its
//! inode, type, mode, size, link count, modification time and contents as before. Any change
//! is reported as a crash.
#![no_main]

use std::io::{Cursor, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use debroot::debian::Version;
use debroot::unpack::deb::DebReader;
use debroot::unpack::extract::{Claimant, Diversions, Options, Target};
use debroot::unpack::{self, Control};

/// Most decompressed bytes of a `data.tar` read per unpack: a decompression bomb ends here, as
/// a truncated archive, instead of filling the disk (the extractor's own caps are for whole
/// systems: gigabytes).
const DATA_LIMIT: u64 = 8 << 20;

/// The scratch directory: `root/` (made anew for each input) beside `sentinel/`.
struct Scratch {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    root: PathBuf,
    sentinel: PathBuf,
    /// The sentinel's state before any input ran.
    before: Vec<Seen>,
}

/// What is checked of one entry of the sentinel.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    path: PathBuf,
    ino: u64,
    mode: u32,
    size: u64,
    nlink: u64,
    mtime: (i64, i64),
    contents: Vec<u8>,
}

/// The sentinel folder and everything in it, sorted, symlinks not followed.
fn survey(path: &Path, out: &mut Vec<Seen>) {
    let meta = std::fs::symlink_metadata(path)
        .unwrap_or_else(|error| panic!("I1: {} is gone: {error}", path.display()));
    let contents = if meta.is_file() {
        std::fs::read(path).unwrap_or_default()
    } else if meta.file_type().is_symlink() {
        std::fs::read_link(path)
            .map(|target| target.into_os_string().into_encoded_bytes())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    out.push(Seen {
        path: path.to_path_buf(),
        ino: meta.ino(),
        mode: meta.mode(),
        size: meta.size(),
        nlink: meta.nlink(),
        mtime: (meta.mtime(), meta.mtime_nsec()),
        contents,
    });
    if meta.is_dir() {
        let mut children: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap_or_else(|error| panic!("I1: {}: {error}", path.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        children.sort();
        for child in children {
            survey(&child, out);
        }
    }
}

fn scratch() -> &'static Scratch {
    static SCRATCH: OnceLock<Scratch> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("debroot-fuzz-")
            .tempdir()
            .expect("a temporary directory");
        let path = dir.path().to_path_buf();
        let sentinel = path.join("sentinel");
        std::fs::create_dir_all(sentinel.join("folder")).expect("the sentinel folder");
        std::fs::write(sentinel.join("file"), b"outside the root\n").expect("the sentinel file");
        std::os::unix::fs::symlink("file", sentinel.join("link")).expect("the sentinel link");
        let mut before = Vec::new();
        survey(&sentinel, &mut before);
        Scratch {
            root: path.join("root"),
            dir: path,
            sentinel,
            before,
            _dir: dir,
        }
    })
}

/// THREATS I1: the scratch directory holds the root and the untouched sentinel, nothing else.
fn check_outside(scratch: &Scratch) {
    let mut names: Vec<_> = std::fs::read_dir(&scratch.dir)
        .expect("the scratch directory")
        .map(|entry| entry.expect("a directory entry").file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["root", "sentinel"],
        "I1: something was written beside the root"
    );
    let mut now = Vec::new();
    survey(&scratch.sentinel, &mut now);
    assert_eq!(
        now, scratch.before,
        "I1: the sentinel outside the root changed"
    );
}

/// Removes the root, whatever modes the package gave its folders.
fn remove_root(root: &Path) {
    if std::fs::remove_dir_all(root).is_ok() {
        return;
    }
    fn open_up(path: &Path) {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return;
        };
        if meta.is_dir() {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
            if let Ok(entries) = std::fs::read_dir(path) {
                for entry in entries.flatten() {
                    open_up(&entry.path());
                }
            }
        }
    }
    open_up(root);
    std::fs::remove_dir_all(root)
        .unwrap_or_else(|error| panic!("cannot remove {}: {error}", root.display()));
}

/// The `.deb`'s control data, when it has one that parses, and the container is checked to its
/// end (as `unpack::read_control` does before any package is unpacked).
fn control(data: &[u8]) -> Option<Control> {
    let mut deb = DebReader::open(Cursor::new(data.to_vec())).ok()?;
    let control = deb.control_tar().ok()?;
    let control = unpack::parse_control_tar(&control);
    let _ = deb.check_members();
    control.ok()
}

/// Unpacks the `.deb`'s `data.tar` into `target` as `claimant`: as a build does when the
/// control data parses, else straight through the extractor with default options. A package
/// that fails, before its decoder began or in it, is reported to the target as the build does
/// (`Target::fail`): the placer would otherwise wait for its members forever.
fn unpack_data(target: &Target, claimant: usize, data: &[u8], control: Option<&Control>) {
    if !unpacked(target, claimant, data, control) {
        target.fail(claimant);
    }
}

/// [`unpack_data`]; whether the unpack succeeded.
fn unpacked(target: &Target, claimant: usize, data: &[u8], control: Option<&Control>) -> bool {
    let Ok(mut deb) = DebReader::open(Cursor::new(data.to_vec())) else {
        return false;
    };
    if deb.control_tar().is_err() {
        return false;
    }
    let Ok((_, tar)) = deb.data_tar() else {
        return false;
    };
    let tar = tar.take(DATA_LIMIT);
    let diversions = Diversions::new();
    match control {
        Some(control) => {
            // Conffiles in place or waiting under `.dpkg-new`, by the input's length.
            let for_dpkg = data.len().is_multiple_of(2);
            unpack::unpack_tar(target, claimant, tar, control, &diversions, for_dpkg).is_ok()
        }
        None => {
            let options = Options {
                max_bytes: DATA_LIMIT,
                ..Options::default()
            };
            let reader = debroot::tar::read::TarReader::new(tar);
            target
                .unpack(claimant, reader, &options, &diversions, "fuzz")
                .is_ok()
        }
    }
}

fn extract(data: &[u8], root: &Path) {
    let control = control(data);
    let target = Target::open(root, false).expect("the scratch root opens");
    let version = control.as_ref().map_or_else(
        || Version::parse("1.0").expect("a version"),
        |c| c.version.clone(),
    );
    let first = target.register(Claimant {
        order: 0,
        name: control
            .as_ref()
            .map_or_else(|| "fuzz".to_owned(), |c| c.package.to_string()),
        version: version.clone(),
        replaces: Vec::new(),
        multi_arch_same: false,
    });
    let second = target.register(Claimant {
        order: 1,
        name: "fuzz-second".to_owned(),
        version,
        replaces: control
            .as_ref()
            .map(|c| c.replaces.clone())
            .unwrap_or_default(),
        multi_arch_same: false,
    });
    if target.begin_batch().is_err() {
        return;
    }
    unpack_data(&target, first, data, control.as_ref());
    unpack_data(&target, second, data, control.as_ref());
    // The placer puts both packages' members where they go, in plan order.
    let _ = target.place(&[first, second]);
    target.finish_batch();
    let _ = target.apply_directory_attributes();
}

libfuzzer_sys::fuzz_target!(
    init: {
        scratch();
    },
    |data: &[u8]| {
        let scratch = scratch();
        std::fs::create_dir(&scratch.root).expect("the scratch root");
        extract(data, &scratch.root);
        check_outside(scratch);
        remove_root(&scratch.root);
    }
);
