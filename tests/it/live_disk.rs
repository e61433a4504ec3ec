//! `--format disk` of a real tree, built live from the host's Debian mirror as root: minbase
//! with Debian's kernel, an initramfs (initramfs-tools), systemd-boot-efi (trixie's systemd 257
//! stub, whose PE image base is not zero) and a hook writing /etc/kernel/cmdline. Built once
//! (two builds give the same bytes: the hermetic `disk` test rebuilds a fixture disk, and the
//! README says how this tree's disk was compared by hand; a second kernel build here would
//! double the longest live test). The layout as `sfdisk` reads it; slot A, cut out by its
//! GPT offsets, verifies against the root hash; the UKI's added sections lie after the stub's
//! own, inside the image, and its `.cmdline` carries the root hash. (Booting it is the QEMU
//! test's.) `bash tests/run` runs this when the mirror answers and it runs as root.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{debroot, stderr};

const PROFILE: &str = r#"extends = "profiles/minbase.toml"

[packages]
include = ["linux-image-amd64", "initramfs-tools", "systemd-boot-efi", "zstd"]

[build]
hooks = ["disk-hooks"]
"#;

const HOOK: &str = "#!/bin/sh\nset -eu\nmkdir -p \"$1/etc/kernel\"\necho 'root=/dev/mapper/root ro console=ttyS0' >\"$1/etc/kernel/cmdline\"\n";

fn cut(image: &Path, offset: u64, len: u64, to: &Path) {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(image).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    let mut bytes = vec![0u8; len as usize];
    file.read_exact(&mut bytes).unwrap();
    std::fs::write(to, bytes).unwrap();
}

#[test]
#[ignore = "live: needs the host's Debian mirror and root"]
fn kernel_tree_disk_has_its_layout_and_verifies() {
    assert!(
        rustix::process::geteuid().is_root(),
        "run as root (bash tests/run skips this group otherwise)"
    );
    crate::disk::require_tools();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let copy = Command::new("cp")
        .arg("-a")
        .arg(common::repo_root().join("profiles"))
        .arg(dir)
        .status()
        .unwrap();
    assert!(copy.success());
    std::fs::write(dir.join("disk.toml"), PROFILE).unwrap();
    std::fs::create_dir(dir.join("disk-hooks")).unwrap();
    let hook = dir.join("disk-hooks/customize50-cmdline");
    std::fs::write(&hook, HOOK).unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cache = std::env::temp_dir().join("debroot-live-disk-cache");
    let build = |output: &str, extra: &[&str]| {
        let mut args: Vec<&str> = vec![
            "build",
            "disk.toml",
            "-o",
            output,
            "--mode",
            "root",
            "--cache-dir",
            cache.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = debroot(dir, &args, &[]);
        assert_eq!(out.status.code(), Some(0), "{output}: {}", stderr(&out));
    };
    build("a.img", &[]);
    let image = dir.join("a.img");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("a.img.manifest.json")).unwrap()).unwrap();
    let root_hash = manifest["verity"]["root_hash"].as_str().unwrap();
    let table: serde_json::Value = serde_json::from_slice(&crate::disk::run(
        Command::new("sfdisk").arg("--json").arg(&image),
    ))
    .unwrap();
    let parts = table["partitiontable"]["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 5, "{table:#}");
    let span = |i: usize| {
        (
            parts[i]["start"].as_u64().unwrap() * 512,
            parts[i]["size"].as_u64().unwrap() * 512,
        )
    };
    let (root_at, root_len) = span(1);
    let (verity_at, verity_len) = span(2);
    cut(&image, root_at, root_len, &dir.join("root"));
    cut(&image, verity_at, verity_len, &dir.join("verity"));
    crate::disk::run(
        Command::new("veritysetup")
            .arg("verify")
            .arg(dir.join("root"))
            .arg(dir.join("verity"))
            .arg(root_hash),
    );

    // The UKI: every section inside the image, the added ones after the stub's.
    let uki_name = manifest["disk"]["uki"]["path"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .replace("+3", "");
    let uki = dir.join("a.img.update").join(&uki_name);
    let headers = String::from_utf8(crate::disk::run(
        Command::new("objdump").arg("-h").arg(&uki),
    ))
    .unwrap();
    let private = String::from_utf8(crate::disk::run(
        Command::new("objdump").arg("-p").arg(&uki),
    ))
    .unwrap();
    let field = |name: &str| {
        let line = private
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} not in\n{private}"));
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    let base = field("ImageBase");
    let size = field("SizeOfImage");
    let mut stub_end = 0;
    let mut added = Vec::new();
    for line in headers.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 4 || words[0].parse::<u32>().is_err() {
            continue;
        }
        let length = u64::from_str_radix(words[2], 16).unwrap();
        let vma = u64::from_str_radix(words[3], 16).unwrap();
        assert!(
            vma >= base && vma + length <= base + size,
            "{} outside the image:\n{headers}\n{private}",
            words[1]
        );
        if [".osrel", ".cmdline", ".uname", ".initrd", ".linux"].contains(&words[1]) {
            added.push(vma);
        } else {
            stub_end = stub_end.max(vma + length);
        }
    }
    assert_eq!(added.len(), 5, "{headers}");
    assert!(added.iter().all(|&vma| vma >= stub_end), "{headers}");
    let cmdline = dir.join("cmdline");
    crate::disk::run(
        Command::new("objcopy")
            .args(["-O", "binary", "--only-section=.cmdline"])
            .arg(&uki)
            .arg(&cmdline),
    );
    assert_eq!(
        std::fs::read_to_string(&cmdline).unwrap(),
        format!("root=/dev/mapper/root ro console=ttyS0 roothash={root_hash}")
    );
}
