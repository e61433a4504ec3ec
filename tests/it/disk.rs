//! `--format disk` on the fixture archive, in extract mode: a tree with a (fake) kernel and
//! initramfs, the host's real EFI stub and systemd-boot (package `systemd-boot-efi`), a
//! command line and an os-release. The disk is rebuilt to the same bytes; `sfdisk` reads its
//! layout as the manifest records it; slot A's partitions, cut out by their GPT offsets, pass
//! `veritysetup verify` against the root hash; the ESP passes `fsck.fat` and holds systemd-boot,
//! `loader.conf` and the UKI, whose `.cmdline` carries the root hash; the update bundle holds
//! what its `SHA256SUMS` says.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::deb::{Member, Package};
use common::fixture::Fixture;
use common::repo;
use common::stderr;

const STUB: &str = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
const BOOT: &str = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi";
const EPOCH: &str = "1700000000";

fn host_file(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        panic!("cannot read {path} ({e}): install the host's `systemd-boot-efi` package")
    })
}

/// Bytes that compress poorly, so that the squashfs has some size.
fn noise(n: usize, seed: u8) -> Vec<u8> {
    let mut state = 0x9e37_79b9_u32 ^ u32::from(seed);
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

fn fixture(with_kernel: bool) -> Fixture {
    fixture_with(with_kernel, 3)
}

/// The fixture, its payload's bytes from `payload` (another value: another root, another root
/// hash).
pub fn fixture_with(with_kernel: bool, payload: u8) -> Fixture {
    let mut boot = Package::new("boot-bits", "1.0")
        .member(Member::file(
            STUB.replacen('/', "./", 1).as_str(),
            0o644,
            &host_file(STUB),
        ))
        .member(Member::file(
            BOOT.replacen('/', "./", 1).as_str(),
            0o644,
            &host_file(BOOT),
        ))
        .file(
            "./etc/kernel/cmdline",
            "root=/dev/mapper/root ro systemd.volatile=overlay console=ttyS0\n",
        )
        .file(
            "./usr/lib/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nID=debian\nVERSION_ID=\"13\"\n",
        );
    if with_kernel {
        boot = boot
            .member(Member::file(
                "./boot/vmlinuz-6.12.0-test-amd64",
                0o644,
                &noise(300_000, 1),
            ))
            .member(Member::file(
                "./boot/initrd.img-6.12.0-test-amd64",
                0o644,
                &noise(200_000, 2),
            ));
    }
    let fixture = Fixture::new(repo::trixie(vec![
        Package::new("base-files", "13.8")
            .essential()
            .file("./etc/debian_version", "13.8\n")
            .member(Member::dir("./tmp/", 0o1777)),
        boot,
        Package::new("payload", "1.0").member(Member::file(
            "./usr/share/payload/data",
            0o644,
            &noise(1_500_000, payload),
        )),
    ]));
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"boot-bits\", \"payload\"]\n",
    );
    fixture
}

fn build(fixture: &Fixture, output: &str) {
    build_at(fixture, output, EPOCH);
}

/// Builds `output` with `SOURCE_DATE_EPOCH` `epoch` (the disk's version).
pub fn build_at(fixture: &Fixture, output: &str, epoch: &str) {
    let out = fixture.run(
        &["build", "p.toml", "-o", output, "--mode", "extract"],
        &[("SOURCE_DATE_EPOCH", epoch)],
    );
    assert_eq!(out.status.code(), Some(0), "{output}: {}", stderr(&out));
}

pub fn run(command: &mut Command) -> Vec<u8> {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Bytes `offset..offset + len` of `image` written to `to`.
fn cut(image: &Path, offset: u64, len: u64, to: &Path) {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(image).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    let mut bytes = vec![0u8; len as usize];
    file.read_exact(&mut bytes).unwrap();
    std::fs::write(to, bytes).unwrap();
}

pub fn require_tools() {
    common::tools::require("systemd-repart");
    common::tools::require("objcopy");
    common::tools::require("mkfs.fat");
    common::tools::require("mcopy");
    common::tools::require("sfdisk");
    common::tools::require("veritysetup");
    common::tools::require("fsck.fat");
}

#[test]
fn disk_image_rebuilds_identically_and_its_slot_a_verifies() {
    require_tools();
    let fixture = fixture(true);
    build(&fixture, "k.img");
    build(&fixture, "k2.img");
    let dir = fixture.path();
    let image = dir.join("k.img");
    let bytes = std::fs::read(&image).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(dir.join("k2.img")).unwrap(),
        "two builds gave different disks"
    );
    for file in [
        "root.squashfs",
        "root.verity",
        "roothash",
        "SHA256SUMS",
        "manifest.json",
    ] {
        assert_eq!(
            std::fs::read(dir.join("k.img.update").join(file)).unwrap(),
            std::fs::read(dir.join("k2.img.update").join(file)).unwrap(),
            "{file} of the bundles differ"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("k.img.manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "disk");
    let root_hash = manifest["verity"]["root_hash"].as_str().unwrap().to_owned();
    assert_eq!(
        std::fs::read_to_string(dir.join("k.img.update/roothash")).unwrap(),
        format!("{root_hash}\n")
    );
    let uuid = |hex: &str| {
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    };

    // The layout as sfdisk reads it, and as the manifest records it.
    let table: serde_json::Value =
        serde_json::from_slice(&run(Command::new("sfdisk").arg("--json").arg(&image))).unwrap();
    let parts = table["partitiontable"]["partitions"].as_array().unwrap();
    let recorded = manifest["disk"]["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 5, "{table:#}");
    assert_eq!(recorded.len(), 5, "{manifest:#}");
    let expect = [
        ("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "ESP".to_owned()),
        (
            "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
            format!("root-a_{EPOCH}"),
        ),
        (
            "2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5",
            format!("root-a-verity_{EPOCH}"),
        ),
        ("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", "root-b".into()),
        (
            "2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5",
            "root-b-verity".into(),
        ),
    ];
    for ((part, record), (kind, label)) in parts.iter().zip(recorded).zip(&expect) {
        assert_eq!(part["type"], *kind);
        assert_eq!(part["name"].as_str().unwrap(), label);
        assert_eq!(record["label"].as_str().unwrap(), label);
        assert_eq!(
            record["uuid"].as_str().unwrap().to_uppercase(),
            part["uuid"].as_str().unwrap()
        );
        assert_eq!(
            record["offset"].as_u64().unwrap(),
            part["start"].as_u64().unwrap() * 512
        );
        assert_eq!(
            record["bytes"].as_u64().unwrap(),
            part["size"].as_u64().unwrap() * 512
        );
    }
    assert_eq!(
        parts[1]["uuid"].as_str().unwrap(),
        uuid(&root_hash[..32]).to_uppercase()
    );
    assert_eq!(
        parts[2]["uuid"].as_str().unwrap(),
        uuid(&root_hash[32..]).to_uppercase()
    );
    // Both slots the same size.
    assert_eq!(parts[1]["size"], parts[3]["size"]);
    assert_eq!(parts[2]["size"], parts[4]["size"]);
    assert_eq!(
        manifest["disk"]["disk_uuid"]
            .as_str()
            .unwrap()
            .to_uppercase(),
        table["partitiontable"]["id"].as_str().unwrap()
    );

    // Slot A verifies against the root hash; slot B is zeros.
    let span = |i: usize| {
        (
            parts[i]["start"].as_u64().unwrap() * 512,
            parts[i]["size"].as_u64().unwrap() * 512,
        )
    };
    let scratch = tempfile::tempdir().unwrap();
    let (root_at, root_len) = span(1);
    let (verity_at, verity_len) = span(2);
    cut(&image, root_at, root_len, &scratch.path().join("root"));
    cut(
        &image,
        verity_at,
        verity_len,
        &scratch.path().join("verity"),
    );
    run(Command::new("veritysetup")
        .arg("verify")
        .arg(scratch.path().join("root"))
        .arg(scratch.path().join("verity"))
        .arg(&root_hash));
    let (b_at, b_len) = span(3);
    assert!(
        bytes[b_at as usize..(b_at + b_len) as usize]
            .iter()
            .all(|&b| b == 0),
        "slot B is not empty"
    );
    assert_eq!(
        std::fs::read(scratch.path().join("root")).unwrap()
            [..manifest["disk"]["root_bytes"].as_u64().unwrap() as usize],
        std::fs::read(dir.join("k.img.update/root.squashfs")).unwrap()[..],
        "slot A does not hold the bundle's root image"
    );

    // The ESP: a clean FAT with systemd-boot, loader.conf and the UKI.
    let (esp_at, esp_len) = span(0);
    let esp = scratch.path().join("esp");
    cut(&image, esp_at, esp_len, &esp);
    run(Command::new("fsck.fat").arg("-n").arg(&esp));
    let uki_name = format!("kiosk_{EPOCH}+3.efi");
    let listing = String::from_utf8(run(Command::new("mdir")
        .env("MTOOLS_SKIP_CHECK", "1")
        .args(["-/", "-b", "-i"])
        .arg(&esp)
        .arg("::/")))
    .unwrap();
    for path in [
        "::/EFI/BOOT/BOOTX64.EFI".to_owned(),
        "::/EFI/systemd/systemd-bootx64.efi".to_owned(),
        format!("::/EFI/Linux/{uki_name}"),
        "::/loader/loader.conf".to_owned(),
    ] {
        assert!(
            listing.lines().any(|l| l == path),
            "{path} not in\n{listing}"
        );
    }
    let uki = scratch.path().join("uki.efi");
    run(Command::new("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(&esp)
        .arg(format!("::/EFI/Linux/{uki_name}"))
        .arg(&uki));
    assert_eq!(
        std::fs::read(&uki).unwrap(),
        std::fs::read(dir.join(format!("k.img.update/kiosk_{EPOCH}.efi"))).unwrap()
    );
    let cmdline = scratch.path().join("cmdline");
    run(Command::new("objcopy")
        .args(["-O", "binary", "--only-section=.cmdline"])
        .arg(&uki)
        .arg(&cmdline));
    assert_eq!(
        std::fs::read_to_string(&cmdline).unwrap(),
        format!(
            "root=/dev/mapper/root ro systemd.volatile=overlay console=ttyS0 roothash={root_hash}"
        )
    );
    let linux = scratch.path().join("linux");
    run(Command::new("objcopy")
        .args(["-O", "binary", "--only-section=.linux"])
        .arg(&uki)
        .arg(&linux));
    assert_eq!(std::fs::read(&linux).unwrap(), noise(300_000, 1));

    // The bundle's sums.
    run(Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(dir.join("k.img.update")));
}

#[test]
fn disk_image_names_a_missing_kernel() {
    require_tools();
    let fixture = fixture(false);
    let out = fixture.run(
        &["build", "p.toml", "-o", "k.img", "--mode", "extract"],
        &[("SOURCE_DATE_EPOCH", EPOCH)],
    );
    assert_ne!(out.status.code(), Some(0));
    let text = stderr(&out);
    assert!(text.contains("no `/boot/vmlinuz-*`"), "{text}");
    assert!(text.contains("linux-image-amd64"), "{text}");
    assert!(!fixture.path().join("k.img").exists());
}
