//! The dpkg database of a root, written as `dpkg --no-triggers --unpack` leaves it, so that
//! `dpkg --configure --pending` takes over exactly where dpkg's own unpack would have.
//!
//! What a fresh unpack leaves (checked against trixie's dpkg 1.22 on real packages, see the
//! project notes):
//!
//! - `status`: a stanza per package with `Status: install ok unpacked`, the control fields, and
//!   `Conffiles:` with the hash `newconffile` for each conffile (dpkg rewrites the whole file,
//!   sorted and canonicalised, at its next run, so field order here is not significant);
//! - `info/PKG.MEMBER` (`PKG:ARCH.MEMBER` for `Multi-Arch: same`): every control member but
//!   `control` and names with a dot, with the member's mode and mtime; an `md5sums` generated
//!   when the package ships none;
//! - `info/PKG.list`: every member path in archive order with symlinks last, `/.` for the root,
//!   directories included, diverted files under their own name, paths another package took over
//!   (`Replaces`) left out;
//! - conffiles under `PATH.dpkg-new` (the extractor does that);
//! - `triggers/File` and `triggers/NAME`: the package's `interest*` lines, appended in unpack
//!   order; activations of other packages' triggers are handed to `dpkg-trigger` before the
//!   configure run, which records them exactly as dpkg's unpack would have.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::debian::MultiArch;
use crate::error::io_at;
use crate::tar::read::Kind;
use crate::unpack::Control;
use crate::unpack::extract::{Diversions, Unpacked};

/// How [`DbError::Write`] names what failed.
const DB: &str = "write the dpkg database at";

/// A failure writing the database, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// `cannot write the dpkg database at `PATH``.
    #[error(transparent)]
    Write(#[from] crate::error::IoError),
    /// A file of the database could not be read (not a regular file, too large).
    #[error(transparent)]
    Read(#[from] crate::confine::RootFileError),
}

impl crate::error::Classify for DbError {
    fn class(&self) -> crate::error::ExitClass {
        crate::error::ExitClass::Output
    }
}

/// Reads `var/lib/dpkg/NAME` of the root through the root (`confine::read_file`): empty when
/// absent, an error when it is not a regular file or too large.
fn read_admin(root: &Path, name: &str) -> Result<Vec<u8>, crate::confine::RootFileError> {
    Ok(crate::confine::read_file(
        root,
        &format!("var/lib/dpkg/{name}"),
        crate::confine::MAX_ROOT_FILE,
    )?
    .unwrap_or_default())
}

/// `ROOT/var/lib/dpkg`.
pub fn admin_dir(root: &Path) -> PathBuf {
    root.join("var/lib/dpkg")
}

/// Creates an empty database: `status`, `info/format`, the directories dpkg expects, an empty
/// `triggers/Unincorp` (without which `dpkg-trigger` silently does nothing), and the `arch`
/// file listing the architectures, native first.
pub fn init(root: &Path, architectures: &[crate::debian::Architecture]) -> Result<(), DbError> {
    let admin = admin_dir(root);
    for dir in ["", "info", "updates", "triggers", "alternatives", "parts"] {
        let path = admin.join(dir);
        fs::create_dir_all(&path).map_err(io_at(DB, &path))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).map_err(io_at(DB, &path))?;
    }
    for (file, content) in [
        ("status", &b""[..]),
        ("info/format", b"1\n"),
        ("triggers/Unincorp", b""),
    ] {
        let path = admin.join(file);
        fs::write(&path, content).map_err(io_at(DB, &path))?;
    }
    // The architectures dpkg accepts, native first (as `dpkg --add-architecture` writes it).
    let mut text = String::new();
    for arch in architectures {
        let _ = writeln!(text, "{arch}");
    }
    let path = admin.join("arch");
    fs::write(&path, text).map_err(io_at(DB, &path))?;
    Ok(())
}

/// Where the path filters are written for the dpkg runs inside the root.
pub const FILTER_CONFIG: &str = "etc/dpkg/dpkg.cfg.d/99debroot";

/// Writes the path filters to [`FILTER_CONFIG`] (as mmdebstrap's `--dpkgopt` writes
/// `99mmdebstrap`), so that dpkg run later in the image (hooks, apt) filters as the build did.
/// Nothing is written without filters. Every step goes through descriptors from `root` down,
/// refusing symlinks (the root's `etc` came from packages), so it needs no chroot and works in
/// extract mode without privilege. Run after the Essential set (which ships
/// `/etc/dpkg/dpkg.cfg.d`) is unpacked.
pub fn write_filter_config(
    root: &Path,
    filter: &crate::pathfilter::PathFilter,
) -> Result<(), DbError> {
    use rustix::fs::{Mode, OFlags};
    const WRITE: &str = "write the dpkg path filters at";
    if filter.is_empty() {
        return Ok(());
    }
    let at = |relative: &str| root.join(relative);
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut dir = rustix::fs::open(root, dir_flags, Mode::empty())
        .map_err(|e| io_at(WRITE, root)(io::Error::from(e)))?;
    let mut relative = String::new();
    for name in ["etc", "dpkg", "dpkg.cfg.d"] {
        if !relative.is_empty() {
            relative.push('/');
        }
        relative.push_str(name);
        match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(io_at(WRITE, &at(&relative))(io::Error::from(e)).into()),
        }
        dir = rustix::fs::openat(&dir, name, dir_flags, Mode::empty())
            .map_err(|e| io_at(WRITE, &at(&relative))(io::Error::from(e)))?;
    }
    let path = at(FILTER_CONFIG);
    let fd = rustix::fs::openat(
        &dir,
        "99debroot",
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )
    .map_err(|e| io_at(WRITE, &path)(io::Error::from(e)))?;
    let mut file = fs::File::from(fd);
    if !file.metadata().map_err(io_at(WRITE, &path))?.is_file() {
        return Err(io_at(WRITE, &path)(io::Error::other("not a regular file")).into());
    }
    use std::io::Write as _;
    file.write_all(filter.dpkg_cfg().as_bytes())
        .map_err(io_at(WRITE, &path))?;
    file.set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(io_at(WRITE, &path))?;
    Ok(())
}

/// The database name of a package: `name`, or `name:arch` for `Multi-Arch: same`.
pub fn db_name(control: &Control) -> String {
    if control.multi_arch == MultiArch::Same {
        format!("{}:{}", control.package, control.architecture)
    } else {
        control.package.to_string()
    }
}

/// Reads `ROOT/var/lib/dpkg/diversions` (triples of lines: from, to, package).
pub fn read_diversions(root: &Path) -> Result<Diversions, crate::confine::RootFileError> {
    let mut diversions = Diversions::new();
    let text = read_admin(root, "diversions")?;
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    for triple in lines.chunks(3) {
        if let [from, to, package] = triple
            && !from.is_empty()
        {
            let from = from.strip_prefix(b"/").unwrap_or(from).to_vec();
            diversions.insert(
                from,
                (to.to_vec(), String::from_utf8_lossy(package).into_owned()),
            );
        }
    }
    Ok(diversions)
}

fn absolute(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b"/.".to_vec();
    }
    let mut out = Vec::with_capacity(path.len() + 1);
    out.push(b'/');
    out.extend_from_slice(path);
    out
}

fn write_member(path: &Path, data: &[u8], mode: u32, mtime: i64) -> Result<(), DbError> {
    fs::write(path, data).map_err(io_at(DB, path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))
        .map_err(io_at(DB, path))?;
    let time = rustix::fs::Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &rustix::fs::Timestamps {
            last_access: time,
            last_modification: time,
        },
        rustix::fs::AtFlags::empty(),
    )
    .map_err(|e| io_at(DB, path)(io::Error::from(e)).into())
}

/// Writes a package's `info/` files and returns its `status` stanza.
///
/// `taken`: paths (package paths, as in `unpacked`) another package took over; they are left
/// out of the `.list` (not out of a generated `md5sums`, which dpkg leaves as it wrote it).
pub fn write_package(
    root: &Path,
    control: &Control,
    unpacked: &Unpacked,
    taken: &dyn Fn(&[u8]) -> bool,
) -> Result<String, DbError> {
    let info = admin_dir(root).join("info");
    let name = db_name(control);
    for member in &control.members {
        if member.name.contains('.') || member.name == "list" {
            continue;
        }
        let path = info.join(format!("{name}.{}", member.name));
        if member.name == "md5sums" && !unpacked.filtered.is_empty() {
            let data = without_filtered(&member.data, &unpacked.filtered);
            write_member(&path, &data, member.mode, member.mtime)?;
            continue;
        }
        write_member(&path, &member.data, member.mode, member.mtime)?;
    }
    // The file list: archive order, symlinks last.
    let mut list: Vec<u8> = Vec::new();
    let mut symlinks: Vec<u8> = Vec::new();
    for (path, kind) in &unpacked.paths {
        if *kind != Kind::Dir && taken(path) {
            continue;
        }
        let target = if *kind == Kind::Symlink {
            &mut symlinks
        } else {
            &mut list
        };
        target.extend_from_slice(&absolute(path));
        target.push(b'\n');
    }
    list.extend_from_slice(&symlinks);
    let list_path = info.join(format!("{name}.list"));
    fs::write(&list_path, &list).map_err(io_at(DB, &list_path))?;
    // md5sums, when the package ships none: regular files and hard links in archive order.
    // dpkg writes them as it unpacks the package, before a later package takes a file over,
    // and never rewrites them: a taken path stays (as it does in a shipped `md5sums`).
    if control.member("md5sums").is_none() {
        let mut sums = String::new();
        for (path, kind) in &unpacked.paths {
            if matches!(kind, Kind::File | Kind::Hardlink)
                && let Some(md5) = unpacked.md5.get(path)
            {
                let _ = writeln!(sums, "{md5}  {}", String::from_utf8_lossy(path));
            }
        }
        let path = info.join(format!("{name}.md5sums"));
        fs::write(&path, sums).map_err(io_at(DB, &path))?;
    }
    // The status stanza: the control fields with Status after Package, and Conffiles.
    let mut stanza = String::new();
    let text = String::from_utf8_lossy(&control.text);
    let lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut wrote_status = false;
    for line in lines {
        stanza.push_str(line);
        stanza.push('\n');
        if !wrote_status && line.starts_with("Package:") {
            stanza.push_str("Status: install ok unpacked\n");
            wrote_status = true;
        }
    }
    if !wrote_status {
        stanza.push_str("Status: install ok unpacked\n");
    }
    let conffiles: Vec<String> = control
        .conffiles
        .iter()
        .map(|c| {
            let flag = if c.remove_on_upgrade {
                " remove-on-upgrade"
            } else {
                ""
            };
            format!(" /{} newconffile{flag}", String::from_utf8_lossy(&c.path))
        })
        .collect();
    if !conffiles.is_empty() {
        stanza.push_str("Conffiles:\n");
        for line in conffiles {
            stanza.push_str(&line);
            stanza.push('\n');
        }
    }
    Ok(stanza)
}

/// A shipped `md5sums` without the lines of the paths the path filters left out, so that the
/// sums, like the `.list`, name only files the root has (`dpkg --verify` and `debsums` then
/// report nothing for them; dpkg's own filter keeps both, and its `--verify` reports each
/// filtered path `missing`). Lines are `MD5  PATH` (two spaces; `PATH` relative).
fn without_filtered(sums: &[u8], filtered: &std::collections::BTreeSet<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(sums.len());
    for line in sums.split_inclusive(|&b| b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let path = body
            .iter()
            .position(|&b| b == b' ')
            .map(|i| &body[i..])
            .map(|rest| {
                let rest = rest.strip_prefix(b" ").unwrap_or(rest);
                // `MD5 *PATH` (binary mode) and a leading `./` or `/` are read as dpkg reads them.
                let rest = rest
                    .strip_prefix(b" ")
                    .or_else(|| rest.strip_prefix(b"*"))
                    .unwrap_or(rest);
                let rest = rest.strip_prefix(b"./").unwrap_or(rest);
                rest.strip_prefix(b"/").unwrap_or(rest)
            });
        if path.is_some_and(|p| filtered.contains(p)) {
            continue;
        }
        out.extend_from_slice(line);
    }
    out
}

/// Appends stanzas to `status` (dpkg sorts the file at its next write).
pub fn append_status(root: &Path, stanzas: &[String]) -> Result<(), DbError> {
    use std::io::Write;
    let path = admin_dir(root).join("status");
    // Without blocking (a FIFO a script left there would wait for a reader), and only into a
    // regular file.
    let mut file = fs::OpenOptions::new()
        .append(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(&path)
        .map_err(io_at(DB, &path))?;
    if !file.metadata().map_err(io_at(DB, &path))?.is_file() {
        return Err(io_at(DB, &path)(io::Error::other("not a regular file")).into());
    }
    let mut text = String::new();
    for stanza in stanzas {
        text.push_str(stanza);
        text.push('\n');
    }
    file.write_all(text.as_bytes()).map_err(io_at(DB, &path))?;
    Ok(())
}

/// One line of a package's `triggers` control file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerLine {
    pub directive: String,
    pub name: String,
}

/// Parses a `triggers` control member (`interest*` and `activate*` lines, `#` comments).
pub fn trigger_lines(control: &Control) -> Vec<TriggerLine> {
    let Some(member) = control.member("triggers") else {
        return Vec::new();
    };
    String::from_utf8_lossy(&member.data)
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let directive = words.next()?;
            let name = words.next()?;
            // dpkg's trigger-name rule (printable, no spaces); debroot also keeps shell
            // metacharacters out, since names are passed to `dpkg-trigger`.
            if !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._+-:".contains(&b))
            {
                return None;
            }
            Some(TriggerLine {
                directive: directive.to_owned(),
                name: name.to_owned(),
            })
        })
        .collect()
}

/// Registers the packages' trigger interests, in order: file triggers appended to
/// `triggers/File` (`PATH PKG[/noawait]`), explicit ones to `triggers/NAME` (`PKG[/noawait]`).
pub fn register_interests(root: &Path, controls: &[&Control]) -> Result<(), DbError> {
    let triggers = admin_dir(root).join("triggers");
    let file_path = triggers.join("File");
    let mut file = String::from_utf8_lossy(&read_admin(root, "triggers/File")?).into_owned();
    let file_before = file.clone();
    let mut explicit: BTreeMap<String, String> = BTreeMap::new();
    for control in controls {
        let package = db_name(control);
        for line in trigger_lines(control) {
            let noawait = match line.directive.as_str() {
                "interest" | "interest-await" => "",
                "interest-noawait" => "/noawait",
                _ => continue,
            };
            let entry = format!("{package}{noawait}");
            if line.name.starts_with('/') {
                let text = format!("{} {entry}\n", line.name);
                if !file.lines().any(|l| format!("{l}\n") == text) {
                    file.push_str(&text);
                }
            } else {
                if !explicit.contains_key(&line.name) {
                    let text = read_admin(root, &format!("triggers/{}", line.name))?;
                    explicit.insert(
                        line.name.clone(),
                        String::from_utf8_lossy(&text).into_owned(),
                    );
                }
                let Some(current) = explicit.get_mut(&line.name) else {
                    continue;
                };
                let kept: String = current
                    .lines()
                    .filter(|l| l.split('/').next() != Some(package.as_str()))
                    .map(|l| format!("{l}\n"))
                    .collect();
                *current = format!("{kept}{entry}\n");
            }
        }
    }
    if file != file_before {
        fs::write(&file_path, &file).map_err(io_at(DB, &file_path))?;
    }
    for (name, content) in explicit {
        let path = triggers.join(&name);
        fs::write(&path, content).map_err(io_at(DB, &path))?;
    }
    Ok(())
}

/// A trigger activation to hand to `dpkg-trigger`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Activation {
    pub name: String,
    /// The awaiting package, or `None` for a no-await activation.
    pub awaiter: Option<String>,
}

/// The activations a batch's unpack causes, in the order dpkg's unpack causes them, each once:
/// its packages' `activate*` lines, and every member path (as installed, diversions applied)
/// with a file-trigger interest registered on it (dpkg's unpack activates the member's own
/// path only; parent directories are members of their own).
pub fn activations(
    root: &Path,
    batch: &[(&Control, &Unpacked)],
    diversions: &Diversions,
) -> Result<Vec<Activation>, crate::confine::RootFileError> {
    let file = String::from_utf8_lossy(&read_admin(root, "triggers/File")?).into_owned();
    let mut interests: BTreeMap<String, bool> = BTreeMap::new(); // path -> any awaiting interest
    for line in file.lines() {
        if let Some((path, owner)) = line.split_once(' ') {
            let awaits = !owner.ends_with("/noawait");
            let entry = interests.entry(path.to_owned()).or_insert(false);
            *entry |= awaits;
        }
    }
    let mut out: Vec<Activation> = Vec::new();
    for (control, unpacked) in batch {
        let package = db_name(control);
        for line in trigger_lines(control) {
            let awaiter = match line.directive.as_str() {
                "activate" | "activate-await" => Some(package.clone()),
                "activate-noawait" => None,
                _ => continue,
            };
            out.push(Activation {
                name: line.name,
                awaiter,
            });
        }
        for (path, _) in &unpacked.paths {
            let installed = match diversions.get(path) {
                Some((to, by)) if *by != control.package.as_str() => {
                    String::from_utf8_lossy(to).into_owned()
                }
                _ => String::from_utf8_lossy(&absolute(path)).into_owned(),
            };
            if let Some(&awaits) = interests.get(&installed) {
                out.push(Activation {
                    name: installed,
                    awaiter: awaits.then(|| package.clone()),
                });
            }
        }
    }
    // Kept in the order dpkg's unpack activates them (each package's `activate` lines in file
    // order, then its members in archive order): dpkg puts each new pending trigger first, so
    // this order decides the order of the names a `postinst triggered` call gets.
    let mut seen = BTreeSet::new();
    out.retain(|activation| seen.insert(activation.clone()));
    Ok(out)
}

/// The shell lines that hand activations to `dpkg-trigger`.
pub fn trigger_commands(activations: &[Activation]) -> String {
    let mut script = String::new();
    for activation in activations {
        match &activation.awaiter {
            Some(package) => {
                let _ = writeln!(
                    script,
                    "dpkg-trigger --by-package='{package}' '{}'",
                    activation.name
                );
            }
            None => {
                let _ = writeln!(script, "dpkg-trigger --no-await '{}'", activation.name);
            }
        }
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filtered_paths_leave_the_md5sums() {
        let sums = b"0a  usr/share/doc/p/README\n0b  usr/share/doc/p/copyright\n0c *usr/share/man/man1/p.1\n0d  ./usr/bin/p\nbroken\n0e  usr/bin/q";
        let filtered: std::collections::BTreeSet<Vec<u8>> = [
            b"usr/share/doc/p/README".to_vec(),
            b"usr/share/man/man1/p.1".to_vec(),
            b"usr/bin/q".to_vec(),
        ]
        .into();
        assert_eq!(
            String::from_utf8(without_filtered(sums, &filtered)).unwrap(),
            "0b  usr/share/doc/p/copyright\n0d  ./usr/bin/p\nbroken\n"
        );
    }

    /// The control data of a package made of `(member, content)` (`control` first).
    fn control(members: &[(&str, &str)]) -> Control {
        let mut tar = Vec::new();
        for (name, content) in members {
            let mut header = [0u8; 512];
            let name = format!("./{name}");
            header[..name.len()].copy_from_slice(name.as_bytes());
            header[100..107].copy_from_slice(b"0000644");
            header[108..115].copy_from_slice(b"0000000");
            header[116..123].copy_from_slice(b"0000000");
            header[124..135].copy_from_slice(format!("{:011o}", content.len()).as_bytes());
            header[136..147].copy_from_slice(b"00000000000");
            header[156] = b'0';
            header[257..263].copy_from_slice(b"ustar\0");
            header[263..265].copy_from_slice(b"00");
            header[148..156].copy_from_slice(b"        ");
            let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
            header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
            tar.extend_from_slice(&header);
            tar.extend_from_slice(content.as_bytes());
            tar.resize(tar.len().div_ceil(512) * 512, 0);
        }
        tar.resize(tar.len() + 1024, 0);
        crate::unpack::parse_control_tar(&tar).unwrap()
    }

    /// dpkg puts each newly pending trigger first, so the names a `postinst triggered` call
    /// gets come in the reverse of the order the unpack activated them: the activations keep
    /// dpkg's order (`activate` lines as written, then members in archive order), not a
    /// sorted one (checked against dpkg 1.21 by `tests/privileged_build.rs`).
    #[test]
    fn activations_keep_the_order_of_the_unpack() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), &[]).unwrap();
        fs::write(
            admin_dir(dir.path()).join("triggers/File"),
            "/usr/share/a t-watch\n/usr/share/z t-watch/noawait\n",
        )
        .unwrap();
        let control = control(&[
            ("control", "Package: t-act\nVersion: 1\nArchitecture: all\n"),
            (
                "triggers",
                "activate-noawait t-second\nactivate t-first\nactivate t-first\n",
            ),
        ]);
        let unpacked = Unpacked {
            paths: vec![
                (b"".to_vec(), Kind::Dir),
                (b"usr/share/z".to_vec(), Kind::Dir),
                (b"usr/share/a".to_vec(), Kind::Dir),
                (b"usr/share/a/file".to_vec(), Kind::File),
            ],
            ..Default::default()
        };
        let activations =
            activations(dir.path(), &[(&control, &unpacked)], &Diversions::new()).unwrap();
        let shown: Vec<(&str, Option<&str>)> = activations
            .iter()
            .map(|a| (a.name.as_str(), a.awaiter.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [
                ("t-second", None),
                ("t-first", Some("t-act")),
                ("/usr/share/z", None),
                ("/usr/share/a", Some("t-act")),
            ]
        );
    }

    /// dpkg writes a package's generated md5sums when it unpacks it and does not rewrite them
    /// when a later package takes a file over (`Replaces`); only the `.list` loses the path
    /// (checked against dpkg 1.21 by `tests/privileged_build.rs`).
    #[test]
    fn a_taken_path_leaves_the_list_but_not_the_generated_md5sums() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), &[]).unwrap();
        let control = control(&[(
            "control",
            "Package: t-owner\nVersion: 1.0-1\nArchitecture: amd64\n",
        )]);
        let (taken_md5, own_md5) = ("a".repeat(32), "b".repeat(32));
        let unpacked = Unpacked {
            paths: vec![
                (b"".to_vec(), Kind::Dir),
                (b"usr".to_vec(), Kind::Dir),
                (b"usr/taken".to_vec(), Kind::File),
                (b"usr/own".to_vec(), Kind::File),
            ],
            md5: [
                (b"usr/taken".to_vec(), taken_md5.clone()),
                (b"usr/own".to_vec(), own_md5.clone()),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        };
        let stanza = write_package(dir.path(), &control, &unpacked, &|path| {
            path == b"usr/taken"
        })
        .unwrap();
        let info = admin_dir(dir.path()).join("info");
        assert_eq!(
            fs::read_to_string(info.join("t-owner.list")).unwrap(),
            "/.\n/usr\n/usr/own\n"
        );
        assert_eq!(
            fs::read_to_string(info.join("t-owner.md5sums")).unwrap(),
            format!("{taken_md5}  usr/taken\n{own_md5}  usr/own\n")
        );
        assert!(stanza.starts_with("Package: t-owner\nStatus: install ok unpacked\n"));
    }

    #[test]
    fn diversions_file_is_read_as_triples() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("var/lib/dpkg")).unwrap();
        fs::write(
            dir.path().join("var/lib/dpkg/diversions"),
            "/usr/bin/tdiv\n/usr/bin/tdiv.real\nt-diverter\n/etc/x\n/etc/x.distrib\n:\n",
        )
        .unwrap();
        let diversions = read_diversions(dir.path()).unwrap();
        assert_eq!(
            diversions[&b"usr/bin/tdiv"[..].to_vec()].0,
            b"/usr/bin/tdiv.real"
        );
        assert_eq!(diversions[&b"etc/x"[..].to_vec()].1, ":");
    }
}
