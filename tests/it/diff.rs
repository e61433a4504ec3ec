//! `debroot diff A B`: one test per kind of difference, equal inputs, directory against tarball,
//! archive-level differences, manifests, the JSON Lines schema, and bad inputs. Hermetic: trees in
//! temporary directories, tarballs built here header by header.

use crate::assert_cli;
use crate::common;

use std::path::Path;
use std::process::Output;

use common::{debroot, stderr, stdout};

fn diff(dir: &Path, a: &Path, b: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["diff", a.to_str().unwrap(), b.to_str().unwrap()];
    args.extend_from_slice(extra);
    debroot(dir, &args, &[])
}

/// The JSON records of a comparison (every line must parse), without the summary.
fn records(dir: &Path, a: &Path, b: &Path) -> Vec<serde_json::Value> {
    let output = diff(dir, a, b, &["--format", "json"]);
    let text = stdout(&output);
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let summary = lines.pop().expect("a summary line");
    assert_eq!(summary["record"], "summary", "{text}");
    assert_eq!(summary["schema"], 1);
    assert_eq!(summary["differences"], lines.len());
    assert_eq!(
        output.status.code(),
        Some(if lines.is_empty() { 0 } else { 1 }),
        "{text}{}",
        stderr(&output)
    );
    lines
}

fn one(records: &[serde_json::Value], record: &str) -> serde_json::Value {
    let found: Vec<&serde_json::Value> = records.iter().filter(|r| r["record"] == record).collect();
    assert_eq!(found.len(), 1, "{records:#?}");
    found[0].clone()
}

/// Two equal trees in `dir/a` and `dir/b`.
fn two_trees() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for root in [&a, &b] {
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/motd"), "hello\nworld\n").unwrap();
        std::fs::write(root.join("etc/hostname"), "debian\n").unwrap();
        std::os::unix::fs::symlink("motd", root.join("etc/motd.link")).unwrap();
    }
    align_times(&a, &b);
    (dir, a, b)
}

/// Gives every entry of both trees the same mtime (creating them took time).
fn align_times(a: &Path, b: &Path) {
    for root in [a, b] {
        set_times(root, 1_700_000_000, 0);
    }
}

pub(crate) fn set_times(root: &Path, seconds: i64, nanoseconds: i64) {
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() && !path.is_symlink() {
            for child in std::fs::read_dir(&path).unwrap() {
                stack.push(child.unwrap().path());
            }
        }
        set_time(&path, seconds, nanoseconds);
    }
}

fn set_time(path: &Path, seconds: i64, nanoseconds: i64) {
    let time = rustix::fs::Timespec {
        tv_sec: seconds,
        tv_nsec: nanoseconds as _,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &rustix::fs::Timestamps {
            last_access: time,
            last_modification: time,
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// A tar member built by hand.
#[derive(Clone)]
struct Member {
    name: Vec<u8>,
    kind: u8,
    mode: u32,
    uid: u32,
    mtime: u64,
    data: Vec<u8>,
    link: Vec<u8>,
    uname: &'static str,
    pax: Vec<(String, Vec<u8>)>,
}

fn file(name: &str, data: &str) -> Member {
    Member {
        name: name.as_bytes().to_vec(),
        kind: b'0',
        mode: 0o644,
        uid: 0,
        mtime: 1_700_000_000,
        data: data.as_bytes().to_vec(),
        link: Vec::new(),
        uname: "",
        pax: Vec::new(),
    }
}

fn dir_member(name: &str) -> Member {
    Member {
        kind: b'5',
        mode: 0o755,
        ..file(name, "")
    }
}

fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    field[..width].copy_from_slice(text.as_bytes());
}

fn header(name: &[u8], kind: u8, member: &Member, size: usize) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], u64::from(member.mode));
    octal(&mut h[108..116], u64::from(member.uid));
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size as u64);
    octal(&mut h[136..148], member.mtime);
    h[156] = kind;
    h[157..157 + member.link.len()].copy_from_slice(&member.link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..265 + member.uname.len()].copy_from_slice(member.uname.as_bytes());
    h[148..156].copy_from_slice(b"        ");
    let checksum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    octal(&mut h[148..155], checksum);
    h[155] = b' ';
    h
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3;
    let mut length = body + body.to_string().len();
    if length.to_string().len() != body.to_string().len() {
        length = body + length.to_string().len();
    }
    let mut record = format!("{length} {key}=").into_bytes();
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}

fn pad(out: &mut Vec<u8>) {
    let rest = (512 - out.len() % 512) % 512;
    out.extend(std::iter::repeat_n(0u8, rest));
}

fn tar(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for member in members {
        if !member.pax.is_empty() {
            let records: Vec<u8> = member
                .pax
                .iter()
                .flat_map(|(k, v)| pax_record(k, v))
                .collect();
            out.extend_from_slice(&header(b"PaxHeaders/x", b'x', member, records.len()));
            out.extend_from_slice(&records);
            pad(&mut out);
        }
        out.extend_from_slice(&header(
            &member.name,
            member.kind,
            member,
            member.data.len(),
        ));
        out.extend_from_slice(&member.data);
        pad(&mut out);
    }
    out.extend(std::iter::repeat_n(0u8, 1024));
    out
}

/// A small tree as tar members.
fn base_members() -> Vec<Member> {
    vec![
        dir_member("./"),
        dir_member("./etc/"),
        file("./etc/hostname", "debian\n"),
        file("./etc/motd", "hello\n"),
    ]
}

/// Writes two tarballs and returns their paths.
fn two_tars(dir: &Path, a: &[Member], b: &[Member]) -> (std::path::PathBuf, std::path::PathBuf) {
    let (pa, pb) = (dir.join("a.tar"), dir.join("b.tar"));
    std::fs::write(&pa, tar(a)).unwrap();
    std::fs::write(&pb, tar(b)).unwrap();
    (pa, pb)
}

#[test]
fn identical_trees_report_nothing_and_exit_0() {
    let (dir, a, b) = two_trees();
    let output = diff(dir.path(), &a, &b, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        stdout(&output).ends_with("are equal\n"),
        "{}",
        stdout(&output)
    );
    assert!(records(dir.path(), &a, &b).is_empty());
    let (pa, pb) = two_tars(dir.path(), &base_members(), &base_members());
    assert!(records(dir.path(), &pa, &pb).is_empty());
}

#[test]
fn path_only_in_a() {
    let (dir, a, b) = two_trees();
    std::fs::remove_file(b.join("etc/hostname")).unwrap();
    set_time(&b.join("etc"), 1_700_000_000, 0);
    let records = records(dir.path(), &a, &b);
    let record = one(&records, "only_in");
    assert_eq!(record["side"], "a");
    assert_eq!(record["path"], "/etc/hostname");
    assert_eq!(record["type"], "file");
}

#[test]
fn path_only_in_b_with_a_directory_counted_once() {
    let (dir, a, b) = two_trees();
    std::fs::create_dir_all(b.join("opt/x/y")).unwrap();
    std::fs::write(b.join("opt/x/y/z"), "z").unwrap();
    set_times(&b, 1_700_000_000, 0);
    let records = records(dir.path(), &a, &b);
    let record = one(&records, "only_in");
    assert_eq!(record["side"], "b");
    assert_eq!(record["path"], "/opt");
    assert_eq!(record["entries_below"], 3);
}

fn attribute(records: &[serde_json::Value], name: &str) -> serde_json::Value {
    let found: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["record"] == "attribute" && r["attribute"] == name)
        .collect();
    assert_eq!(found.len(), 1, "{name}: {records:#?}");
    found[0].clone()
}

#[test]
fn type_change() {
    let (dir, a, b) = two_trees();
    std::fs::remove_file(b.join("etc/hostname")).unwrap();
    std::os::unix::fs::symlink("motd", b.join("etc/hostname")).unwrap();
    align_times(&a, &b);
    let records = records(dir.path(), &a, &b);
    let record = attribute(&records, "type");
    assert_eq!(record["path"], "/etc/hostname");
    assert_eq!(
        (&record["a"], &record["b"]),
        (&"file".into(), &"symlink".into())
    );
}

#[test]
fn mode_change() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, a, b) = two_trees();
    std::fs::set_permissions(b.join("etc/motd"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::set_permissions(a.join("etc/motd"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let records = records(dir.path(), &a, &b);
    let record = attribute(&records, "mode");
    assert_eq!(
        (&record["a"], &record["b"]),
        (&"0644".into(), &"4755".into())
    );
    let output = diff(dir.path(), &a, &b, &[]);
    assert_cli!("mode_change", &output, &[dir.path()]);
}

#[test]
fn owner_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = base_members();
    b[3].uid = 1000;
    let (pa, pb) = two_tars(dir.path(), &base_members(), &b);
    let records = records(dir.path(), &pa, &pb);
    let record = attribute(&records, "owner");
    assert_eq!(
        (&record["a"], &record["b"]),
        (&"0:0".into(), &"1000:0".into())
    );
}

#[test]
fn mtime_change_in_a_directory_to_the_nanosecond() {
    let (dir, a, b) = two_trees();
    set_time(&b.join("etc/motd"), 1_700_000_000, 5);
    let records = records(dir.path(), &a, &b);
    let record = attribute(&records, "mtime");
    assert_eq!(record["path"], "/etc/motd");
    assert_eq!(
        (&record["a"], &record["b"]),
        (
            &"1700000000.000000000".into(),
            &"1700000000.000000005".into()
        )
    );
}

/// diffoscope shows tar members' times to the minute (`tar -tvf`), so it misses this.
#[test]
fn mtime_change_under_a_minute_inside_a_tar() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = base_members();
    b[3].mtime += 7;
    let (pa, pb) = two_tars(dir.path(), &base_members(), &b);
    let records = records(dir.path(), &pa, &pb);
    assert_eq!(records.len(), 1, "{records:#?}");
    let record = attribute(&records, "mtime");
    assert_eq!(
        (&record["a"], &record["b"]),
        (&"1700000000".into(), &"1700000007".into())
    );
}

#[test]
fn pax_mtime_fraction_inside_a_tar() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b) = (base_members(), base_members());
    a[3].pax = vec![("mtime".into(), b"1700000000.25".to_vec())];
    b[3].pax = vec![("mtime".into(), b"1700000000.5".to_vec())];
    let (pa, pb) = two_tars(dir.path(), &a, &b);
    let record = attribute(&records(dir.path(), &pa, &pb), "mtime");
    assert_eq!(
        (&record["a"], &record["b"]),
        (
            &"1700000000.250000000".into(),
            &"1700000000.500000000".into()
        )
    );
}

#[test]
fn size_change() {
    let (dir, a, b) = two_trees();
    std::fs::write(b.join("etc/motd"), "hello\nworld\nagain\n").unwrap();
    align_times(&a, &b);
    let records = records(dir.path(), &a, &b);
    let record = attribute(&records, "size");
    assert_eq!((&record["a"], &record["b"]), (&"12".into(), &"18".into()));
    let content = one(&records, "content");
    assert_eq!(
        (content["a_size"].as_u64(), content["b_size"].as_u64()),
        (Some(12), Some(18))
    );
}

/// diffoscope does not compare extended attributes of a tar's members.
#[test]
fn xattr_only_change_inside_a_tar() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = base_members();
    b[3].pax = vec![(
        "SCHILY.xattr.security.capability".into(),
        b"\x01\x00\x00\x02".to_vec(),
    )];
    let (pa, pb) = two_tars(dir.path(), &base_members(), &b);
    let records = records(dir.path(), &pa, &pb);
    assert_eq!(records.len(), 1, "{records:#?}");
    let record = one(&records, "xattr");
    assert_eq!(record["path"], "/etc/motd");
    assert_eq!(record["name"], "security.capability");
    assert_eq!(record["a"], serde_json::Value::Null);
    // Not UTF-8 as a whole? It is (control bytes are UTF-8), so it is text.
    assert_eq!(record["b"], "\u{1}\u{0}\u{0}\u{2}");
}

#[test]
fn xattr_only_change_in_a_directory() {
    let (dir, a, b) = two_trees();
    rustix::fs::setxattr(
        b.join("etc/motd"),
        "user.debroot",
        b"\xffvalue",
        rustix::fs::XattrFlags::empty(),
    )
    .expect("user xattrs on the temporary directory's filesystem");
    let records = records(dir.path(), &a, &b);
    assert_eq!(records.len(), 1, "{records:#?}");
    let record = one(&records, "xattr");
    assert_eq!(record["name"], "user.debroot");
    assert_eq!(record["b_base64"], "/3ZhbHVl");
}

#[test]
fn link_target_change() {
    let (dir, a, b) = two_trees();
    std::fs::remove_file(b.join("etc/motd.link")).unwrap();
    std::os::unix::fs::symlink("hostname", b.join("etc/motd.link")).unwrap();
    align_times(&a, &b);
    let records = records(dir.path(), &a, &b);
    let record = attribute(&records, "link_target");
    assert_eq!(
        (&record["a"], &record["b"]),
        (&"motd".into(), &"hostname".into())
    );
}

#[test]
fn text_content_change_shows_a_unified_diff() {
    let (dir, a, b) = two_trees();
    std::fs::write(b.join("etc/motd"), "hello\nWORLD\n").unwrap();
    align_times(&a, &b);
    let records = records(dir.path(), &a, &b);
    let content = one(&records, "content");
    assert_eq!(content["kind"], "text");
    let expected = "--- a/etc/motd\n+++ b/etc/motd\n@@ -1,2 +1,2 @@\n hello\n-world\n+WORLD\n";
    assert_eq!(content["diff"], expected);
    let output = diff(dir.path(), &a, &b, &["--context", "0"]);
    assert_eq!(output.status.code(), Some(1));
    assert_cli!("text_content_change", &output, &[dir.path()]);
}

#[test]
fn binary_content_change_shows_the_first_differing_offset() {
    let (dir, a, b) = two_trees();
    let mut data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(a.join("etc/blob"), &data).unwrap();
    data[4321] ^= 0xff;
    std::fs::write(b.join("etc/blob"), &data).unwrap();
    align_times(&a, &b);
    let records = records(dir.path(), &a, &b);
    let content = one(&records, "content");
    assert_eq!(content["kind"], "binary");
    assert_eq!(content["first_difference"], 4321);
    let output = diff(dir.path(), &a, &b, &[]);
    assert_cli!("binary_content_change", &output, &[dir.path()]);
}

#[test]
fn binary_content_change_beyond_the_first_chunk() {
    let (dir, a, b) = two_trees();
    let mut data = vec![0u8; 3 << 20];
    std::fs::write(a.join("etc/big"), &data).unwrap();
    data[(2 << 20) + 17] = 1;
    std::fs::write(b.join("etc/big"), &data).unwrap();
    align_times(&a, &b);
    let content = one(&records(dir.path(), &a, &b), "content");
    assert_eq!(content["first_difference"], (2 << 20) + 17);
}

fn status(packages: &[(&str, &str)]) -> String {
    packages
        .iter()
        .map(|(name, version)| {
            format!(
                "Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {version}\n\n"
            )
        })
        .collect()
}

#[test]
fn packages_added_removed_and_changed_come_first() {
    let (dir, a, b) = two_trees();
    for (root, packages) in [
        (&a, status(&[("base-files", "13.7"), ("gone", "1")])),
        (&b, status(&[("base-files", "13.8"), ("new", "2")])),
    ] {
        std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
        std::fs::write(root.join("var/lib/dpkg/status"), packages).unwrap();
    }
    align_times(&a, &b);
    let records = records(dir.path(), &a, &b);
    let packages: Vec<(String, String)> = records
        .iter()
        .take_while(|r| r["record"] == "package")
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["change"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        packages,
        [
            ("base-files".to_owned(), "changed".to_owned()),
            ("gone".to_owned(), "removed".to_owned()),
            ("new".to_owned(), "added".to_owned())
        ]
    );
    assert_eq!(records[0]["a"], "13.7");
    assert_eq!(records[0]["b"], "13.8");
    // And the status file's own change after them.
    assert!(records.iter().any(|r| r["record"] == "content"));
    let text = stdout(&diff(dir.path(), &a, &b, &[]));
    assert!(
        text.starts_with("packages:\n  ~ base-files:amd64 13.7 -> 13.8\n"),
        "{text}"
    );
}

#[test]
fn a_directory_and_a_tar_of_the_same_tree_compare_equal() {
    let (dir, a, _) = two_trees();
    // Sub-second times in the directory: a tar keeps seconds only, which is not a difference.
    set_times(&a, 1_700_000_000, 123);
    let nodes = debroot::output::walk(&a, &debroot::output::OnDisk).unwrap();
    let tarball = dir.path().join("a.tar");
    let file = std::fs::File::create(&tarball).unwrap();
    debroot::output::write_tarball(&a, &nodes, debroot::profile::OutputFormat::Tar, file).unwrap();
    assert!(records(dir.path(), &a, &tarball).is_empty());
    let gz = dir.path().join("a.tar.gz");
    let file = std::fs::File::create(&gz).unwrap();
    debroot::output::write_tarball(&a, &nodes, debroot::profile::OutputFormat::TarGz, file)
        .unwrap();
    assert!(records(dir.path(), &gz, &a).is_empty());
    // Two tarballs of one tree, the same stream compressed or not: the bytes differ.
    let found = records(dir.path(), &tarball, &gz);
    let record = one(&found, "archive");
    assert_eq!(record["aspect"], "compression");
    assert_eq!(
        (&record["a"], &record["b"]),
        (&"plain".into(), &"gzip".into())
    );
}

#[test]
fn equal_trees_with_different_entry_order_differ_as_archives() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = base_members();
    b.swap(2, 3);
    let (pa, pb) = two_tars(dir.path(), &base_members(), &b);
    let records = records(dir.path(), &pa, &pb);
    let record = one(&records, "archive");
    assert_eq!(record["aspect"], "order");
    assert_eq!(record["a"], "member 2: /etc/hostname");
    assert_eq!(record["b"], "member 2: /etc/motd");
}

#[test]
fn equal_trees_with_different_header_fields_differ_as_archives() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = base_members();
    b[2].uname = "root";
    b[3].pax = vec![("atime".into(), b"1700000123".to_vec())];
    let (pa, pb) = two_tars(dir.path(), &base_members(), &b);
    let found = records(dir.path(), &pa, &pb);
    let fields: Vec<(String, String)> = found
        .iter()
        .map(|r| {
            assert_eq!(r["record"], "archive");
            (
                r["path"].as_str().unwrap().to_owned(),
                r["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("/etc/hostname".to_owned(), "uname".to_owned()),
            ("/etc/motd".to_owned(), "atime".to_owned())
        ]
    );
    // Against the directory of that tree, only trees count (owners are root's only as root).
    if !rustix::process::getuid().is_root() {
        return;
    }
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/hostname"), "debian\n").unwrap();
    std::fs::write(root.join("etc/motd"), "hello\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    for (path, mode) in [(&root, 0o755), (&root.join("etc"), 0o755)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    for path in ["etc/hostname", "etc/motd"] {
        std::fs::set_permissions(root.join(path), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    set_times(&root, 1_700_000_000, 0);
    assert!(records(dir.path(), &root, &pb).is_empty());
}

#[test]
fn hardlink_groups_are_compared() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = base_members();
    a.push(Member {
        kind: b'1',
        link: b"./etc/motd".to_vec(),
        ..file("./etc/issue", "")
    });
    let mut b = base_members();
    b.push(file("./etc/issue", "hello\n"));
    let (pa, pb) = two_tars(dir.path(), &a, &b);
    let records = records(dir.path(), &pa, &pb);
    let groups: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["attribute"] == "hardlink")
        .collect();
    assert_eq!(groups.len(), 2, "{records:#?}");
    assert_eq!(groups[0]["path"], "/etc/issue");
    assert_eq!(groups[0]["a"], "etc/issue");
    assert_eq!(groups[0]["b"], serde_json::Value::Null);
}

#[test]
fn non_utf8_paths_are_kept_exact_in_json() {
    use std::os::unix::ffi::OsStrExt;
    let (dir, a, b) = two_trees();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9");
    std::fs::write(b.join("etc").join(name), "x").unwrap();
    align_times(&a, &b);
    let record = one(&records(dir.path(), &a, &b), "only_in");
    assert_eq!(record["path_base64"], "L2V0Yy9jYWbp");
    assert!(record.get("path").is_none());
}

fn manifest(dir: &Path, name: &str, sha256: &str, packages: &[(&str, &str)]) -> std::path::PathBuf {
    let packages: Vec<serde_json::Value> = packages
        .iter()
        .map(|(name, version)| {
            serde_json::json!({"name": name, "version": version, "architecture": "amd64", "sha256": "00"})
        })
        .collect();
    let document = serde_json::json!({
        "debroot": "0.1.0", "format": "tar", "mode": "root", "epoch": 1,
        "profile_digest": "p", "lock_digest": "l", "output_sha256": sha256,
        "output_bytes": 10, "packages": packages,
    });
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&document).unwrap()).unwrap();
    path
}

#[test]
fn manifests_compare_packages_and_output_digests() {
    let dir = tempfile::tempdir().unwrap();
    let a = manifest(
        dir.path(),
        "a.tar.manifest.json",
        "aa",
        &[("base-files", "13.7")],
    );
    let b = manifest(
        dir.path(),
        "b.tar.manifest.json",
        "bb",
        &[("base-files", "13.8")],
    );
    let records = records(dir.path(), &a, &b);
    assert_eq!(records[0]["record"], "package");
    assert_eq!(records[0]["change"], "changed");
    let record = one(&records, "manifest");
    assert_eq!(record["field"], "output_sha256");
    assert!(self::records(dir.path(), &a, &a).is_empty());
}

#[test]
fn a_manifest_against_a_tree_compares_packages() {
    let (dir, a, _) = two_trees();
    std::fs::create_dir_all(a.join("var/lib/dpkg")).unwrap();
    std::fs::write(
        a.join("var/lib/dpkg/status"),
        status(&[("base-files", "13.7")]),
    )
    .unwrap();
    let same = manifest(
        dir.path(),
        "same.manifest.json",
        "aa",
        &[("base-files", "13.7")],
    );
    assert!(records(dir.path(), &same, &a).is_empty());
    let other = manifest(dir.path(), "other.manifest.json", "aa", &[("dash", "1")]);
    let records = records(dir.path(), &a, &other);
    let changes: Vec<&str> = records
        .iter()
        .map(|r| r["change"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["removed", "added"]);
}

#[test]
fn a_truncated_tar_is_an_archive_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let whole = tar(&base_members());
    let cut = dir.path().join("cut.tar");
    std::fs::write(&cut, &whole[..1536 + 100]).unwrap();
    let good = dir.path().join("good.tar");
    std::fs::write(&good, &whole).unwrap();
    let output = diff(dir.path(), &good, &cut, &[]);
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    assert!(stderr(&output).contains("cut.tar"), "{}", stderr(&output));
    let xz = dir.path().join("cut.tar.xz");
    let compressed = common::deb::xz(&whole);
    std::fs::write(&xz, &compressed[..compressed.len() / 2]).unwrap();
    let output = diff(dir.path(), &good, &xz, &[]);
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cut.tar.xz"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn garbage_and_missing_operands_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, b"not an archive at all").unwrap();
    let output = diff(dir.path(), &garbage, &garbage, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("`"), "{}", stderr(&output));
    let named = dir.path().join("garbage.tar");
    std::fs::write(&named, vec![b'x'; 2048]).unwrap();
    let output = diff(dir.path(), &named, &named, &[]);
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("garbage.tar"),
        "{}",
        stderr(&output)
    );
    let output = diff(dir.path(), &dir.path().join("missing"), &garbage, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("missing"), "{}", stderr(&output));
}
