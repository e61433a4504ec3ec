//! A bootable A/B disk image (`--format disk`): a GPT with an EFI system partition (systemd-boot
//! and a unified kernel image whose command line carries the verity root hash), root slot A (the
//! squashfs root and its dm-verity hash tree, as [`super::squashfs`] and [`super::verity`] write
//! them) and an empty slot B of the same sizes.
//!
//! debroot writes the root and its hash tree itself; the rest is made by existing engines, each
//! run with a fixed environment (`LC_ALL=C`, `TZ=UTC`, `SOURCE_DATE_EPOCH`) and every input
//! derived from the content, so the same tree gives the same disk:
//!
//! - the UKI by GNU `objcopy`, systemd's documented recipe: the tree's own EFI stub
//!   (`linuxx64.efi.stub` of `systemd-boot-efi`) with `.osrel`, `.cmdline`, `.uname`, `.initrd`
//!   and `.linux` sections added after its last one. objcopy stamps the PE header with the time
//!   of the run; [`fix_pe`] sets it to the epoch and recomputes the PE checksum. (`ukify` is not
//!   on a Debian 12 host, and the root's needs Python and `pefile` in the root.)
//! - the ESP's FAT by `mkfs.fat --invariant -i ID` and mtools' `mmd`/`mcopy -m`, directories
//!   and files added one at a time in byte order, every time the epoch.
//! - the GPT by `systemd-repart` (systemd 252 has all it needs): `--empty=create --size=auto`,
//!   `--seed` from the content, each partition's `UUID=` and `Label=` given, and `CopyBlocks=`
//!   of the ESP, root and verity images debroot made.
//!
//! Partition UUIDs of a slot follow systemd's convention: the root partition's is the first 128
//! bits of the root hash, the verity partition's the last 128, so `systemd-veritysetup-generator`
//! finds both from `roothash=` alone.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::digest::Sha256Digest;

/// GPT partition types (the Discoverable Partitions Specification).
pub const TYPE_ESP: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
pub const TYPE_ROOT_X86_64: &str = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";
pub const TYPE_ROOT_X86_64_VERITY: &str = "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5";

/// Where a tree keeps what the UKI and the ESP are made of.
pub const STUB: &str = "usr/lib/systemd/boot/efi/linuxx64.efi.stub";
pub const SYSTEMD_BOOT: &str = "usr/lib/systemd/boot/efi/systemd-bootx64.efi";
pub const CMDLINE: &str = "etc/kernel/cmdline";
/// The prefix of the UKI's name on the ESP: `/EFI/Linux/kiosk_VERSION+3.efi`.
pub const UKI_PREFIX: &str = "kiosk_";
/// Boot counting: tries a new entry gets before systemd-boot takes it as bad.
pub const TRIES: u32 = 3;

const MIB: u64 = 1 << 20;

/// Why a disk image cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The tree lacks (or has several of) what the image needs.
    #[error("the tree has {found} for {what}; a disk image needs exactly one")]
    Tree { what: String, found: String },
    #[error("cannot read `{}` of the built tree", .path)]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Tool {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("`{program}` is not installed (package {package}); `{command}` cannot run")]
    Missing {
        program: String,
        package: &'static str,
        command: String,
    },
    #[error("the EFI stub `{path}` is not a PE image debroot can extend: {reason}")]
    Stub { path: String, reason: String },
    #[error("`{}`: {reason}", .path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error("cannot {action} `{}`", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::error::Classify for DiskError {
    fn class(&self) -> crate::error::ExitClass {
        match self {
            DiskError::Tree { .. } | DiskError::Stub { .. } => crate::error::ExitClass::Usage,
            _ => crate::error::ExitClass::Output,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            DiskError::Tree { .. } => "a disk image's profile installs one kernel (`linux-image-amd64`), an initramfs, `systemd-boot-efi`, and writes `/etc/kernel/cmdline` (see the `kiosk-machine` profile)".into(),
            DiskError::Missing { package, .. } => format!("install it: `apt-get install {package}`"),
            DiskError::Tool { .. } => "the command and its output are above; run it by hand in a copy of the work folder (`--keep-work`)".into(),
            _ => return None,
        })
    }
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> DiskError + 'a {
    move |source| DiskError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// A UUID's text from 16 bytes, as GPT tools print it (lower case).
pub fn uuid_text(bytes: &[u8]) -> String {
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The partition UUIDs of a slot holding the image of `root_hash`: its first 128 bits for the
/// root partition, its last 128 for the verity partition (systemd's convention).
pub fn slot_uuids(root_hash: &Sha256Digest) -> (String, String) {
    (uuid_text(&root_hash.0[..16]), uuid_text(&root_hash.0[16..]))
}

/// `n` rounded up to whole MiB.
pub fn round_mib(n: u64) -> u64 {
    n.div_ceil(MIB).max(1) * MIB
}

/// A slot's root partition size for an image of `bytes`: 1.5 times it, in whole MiB, so that a
/// later build's larger image still fits slot B.
pub fn default_slot_size(bytes: u64) -> u64 {
    round_mib(bytes.saturating_add(bytes / 2))
}

/// The hash partition size for a slot of `slot_size` bytes: what a hash tree of a full slot
/// takes, in whole MiB.
pub fn verity_partition_size(slot_size: u64) -> u64 {
    let blocks = slot_size.div_ceil(4096);
    // One superblock block, then each level: 128 digests a block.
    let mut total = 1u64;
    let mut level = blocks;
    loop {
        level = level.div_ceil(128);
        total += level;
        if level <= 1 {
            break;
        }
    }
    round_mib(total * 4096)
}

/// The ESP's size for a UKI of `uki` bytes and a boot loader of `loader` bytes: room for three
/// UKIs (the running slot's, an update's, and one more in flight) and two loaders, at least 64
/// MiB (FAT32 wants 65525 clusters).
pub fn esp_size(uki: u64, loader: u64) -> u64 {
    round_mib((3 * uki + 2 * loader + 8 * MIB).max(64 * MIB))
}

/// The end of the last section of a PE image as objcopy's `--change-section-vma` takes it (the
/// image base plus the section's relative address and size), rounded up to the image's section
/// alignment (at least 4 KiB), and that alignment: where sections can be added. (systemd 252's
/// stub has image base 0, 257's does not: a VMA without it puts the sections outside the image.)
pub fn pe_end(image: &[u8]) -> Result<(u64, u64), String> {
    let u16_at = |at: usize| -> Result<u64, String> {
        image
            .get(at..at + 2)
            .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or_else(|| format!("truncated at byte {at}"))
    };
    let u32_at = |at: usize| -> Result<u64, String> {
        image
            .get(at..at + 4)
            .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .ok_or_else(|| format!("truncated at byte {at}"))
    };
    if image.get(..2) != Some(b"MZ") {
        return Err("no MZ header".into());
    }
    let pe = u32_at(0x3c)? as usize;
    if image.get(pe..pe + 4) != Some(b"PE\0\0") {
        return Err("no PE signature".into());
    }
    let sections = u16_at(pe + 6)? as usize;
    let optional = u16_at(pe + 20)? as usize;
    let alignment = u32_at(pe + 24 + 32)?.max(4096);
    if !alignment.is_power_of_two() {
        return Err(format!(
            "section alignment {alignment} is not a power of two"
        ));
    }
    let base = match u16_at(pe + 24)? {
        0x20b => {
            let low = u32_at(pe + 24 + 24)?;
            let high = u32_at(pe + 24 + 28)?;
            low | high << 32
        }
        0x10b => u32_at(pe + 24 + 28)?,
        magic => return Err(format!("unknown optional header magic {magic:#x}")),
    };
    let table = pe + 24 + optional;
    let mut end = 0u64;
    for i in 0..sections {
        let entry = table + 40 * i;
        let size = u32_at(entry + 8)?;
        let address = u32_at(entry + 12)?;
        end = end.max(address + size);
    }
    if end == 0 {
        return Err("no sections".into());
    }
    let end = base
        .checked_add(end.div_ceil(alignment) * alignment)
        .ok_or("the image base overflows")?;
    Ok((end, alignment))
}

/// Sets a PE image's time stamp to `epoch` (objcopy writes the time of its run) and recomputes
/// its checksum (the PE one: 16-bit words summed with carry, the checksum field skipped, plus
/// the length).
pub fn fix_pe(image: &mut [u8], epoch: i64) -> Result<(), String> {
    let pe = image
        .get(0x3c..0x40)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or("truncated")?;
    let stamp = pe + 8;
    let checksum = pe + 24 + 64;
    if image.len() < checksum + 4 {
        return Err("truncated".into());
    }
    let seconds = u32::try_from(epoch.max(0)).unwrap_or(u32::MAX);
    image[stamp..stamp + 4].copy_from_slice(&seconds.to_le_bytes());
    image[checksum..checksum + 4].copy_from_slice(&[0; 4]);
    let mut sum: u64 = 0;
    for (i, pair) in image.chunks(2).enumerate() {
        if i * 2 >= checksum && i * 2 < checksum + 4 {
            continue;
        }
        let word = u64::from(pair[0]) | u64::from(*pair.get(1).unwrap_or(&0)) << 8;
        sum += word;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    let total = u32::try_from(sum + image.len() as u64).unwrap_or(u32::MAX);
    image[checksum..checksum + 4].copy_from_slice(&total.to_le_bytes());
    Ok(())
}

/// The kernel command line of the UKI: the tree's `/etc/kernel/cmdline` with its lines joined
/// and any `roothash=` of its own dropped, then ` roothash=HEX`.
pub fn command_line(tree_cmdline: &str, root_hash: &Sha256Digest) -> String {
    let mut words: Vec<&str> = tree_cmdline
        .split_whitespace()
        .filter(|w| !w.starts_with("roothash="))
        .collect();
    let hash = format!("roothash={}", root_hash.hex());
    words.push(&hash);
    words.join(" ")
}

/// One partition of the disk, as the manifest records it (read back from the written GPT).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Partition {
    pub number: u32,
    pub label: String,
    /// Lower-case text.
    pub type_uuid: String,
    pub uuid: String,
    pub offset: u64,
    pub bytes: u64,
}

/// The GPT of a disk: its GUID and partitions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Gpt {
    pub disk_uuid: String,
    pub partitions: Vec<Partition>,
}

/// A GUID as stored in a GPT (mixed endian) as text.
fn guid_text(b: &[u8]) -> String {
    let mut swapped = [0u8; 16];
    swapped[0..4].copy_from_slice(&[b[3], b[2], b[1], b[0]]);
    swapped[4..6].copy_from_slice(&[b[5], b[4]]);
    swapped[6..8].copy_from_slice(&[b[7], b[6]]);
    swapped[8..16].copy_from_slice(&b[8..16]);
    uuid_text(&swapped)
}

/// Reads the primary GPT of a disk of 512-byte sectors from its first bytes (`head`: at least
/// the header and the entries, 34 sectors). Pure.
pub fn read_gpt(head: &[u8]) -> Result<Gpt, String> {
    let sector = 512usize;
    let header = head.get(sector..2 * sector).ok_or("no GPT header")?;
    if &header[..8] != b"EFI PART" {
        return Err("no GPT signature at sector 1".into());
    }
    let le32 = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let le64 = |b: &[u8], at: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(x)
    };
    let disk_uuid = guid_text(&header[56..72]);
    let entries_lba = le64(header, 72) as usize;
    let count = le32(header, 80) as usize;
    let size = le32(header, 84) as usize;
    if size < 128 || count > 1024 {
        return Err(format!("unexpected GPT entries: {count} of {size} bytes"));
    }
    let mut partitions = Vec::new();
    for i in 0..count {
        let at = entries_lba
            .checked_mul(sector)
            .and_then(|a| a.checked_add(i * size))
            .ok_or("GPT entry offset overflows")?;
        let entry = head
            .get(at..at + size)
            .ok_or_else(|| format!("GPT entry {i} beyond the bytes read"))?;
        if entry[..16].iter().all(|&b| b == 0) {
            continue;
        }
        let first = le64(entry, 32);
        let last = le64(entry, 40);
        let name: Vec<u16> = entry[56..128]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&c| c != 0)
            .collect();
        partitions.push(Partition {
            number: i as u32 + 1,
            label: String::from_utf16_lossy(&name),
            type_uuid: guid_text(&entry[..16]),
            uuid: guid_text(&entry[16..32]),
            offset: first.saturating_mul(sector as u64),
            bytes: (last.saturating_add(1))
                .saturating_sub(first)
                .saturating_mul(sector as u64),
        });
    }
    Ok(Gpt {
        disk_uuid,
        partitions,
    })
}

/// What [`write`] needs.
pub struct Input<'a> {
    /// The built tree (kernel, initrd, stub, boot loader, command line, os-release).
    pub tree: &'a Path,
    /// A private folder to work in; the bundle's files are left there.
    pub work: &'a Path,
    /// The root image (whole 4096-byte blocks) and its dm-verity hash file.
    pub root_image: &'a Path,
    pub verity_file: &'a Path,
    pub root_hash: Sha256Digest,
    pub epoch: i64,
    /// Where the disk's other identifiers derive from (the tree's digest).
    pub params: super::Params,
    /// The root partition's size; `None`: [`default_slot_size`].
    pub slot_size: Option<u64>,
}

/// What [`write`] made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Disk {
    /// The disk image, in the work folder.
    pub image: PathBuf,
    /// The UKI, in the work folder (its name on the ESP is `EFI/Linux/UKI_NAME`).
    pub uki: PathBuf,
    pub uki_name: String,
    pub uki_sha256: Sha256Digest,
    pub uki_bytes: u64,
    pub version: String,
    pub kernel: String,
    pub command_line: String,
    pub slot_size: u64,
    pub verity_size: u64,
    pub esp_size: u64,
    pub gpt: Gpt,
}

/// Runs `command` with a fixed environment, its stdout captured; any failure names the command.
fn run(mut command: Command, epoch: i64, package: &'static str) -> Result<Vec<u8>, DiskError> {
    command
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .env("MTOOLS_SKIP_CHECK", "1")
        .env("SYSTEMD_LOG_COLOR", "0")
        .stdin(std::process::Stdio::null());
    let shown = {
        let program = command.get_program().to_string_lossy().into_owned();
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        format!("{program} {}", args.join(" "))
    };
    let output = command.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DiskError::Missing {
                program: command.get_program().to_string_lossy().into_owned(),
                package,
                command: shown.clone(),
            }
        } else {
            DiskError::Tool {
                command: shown.clone(),
                status: "not started".into(),
                stderr: e.to_string(),
            }
        }
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(DiskError::Tool {
            command: shown,
            status: output.status.to_string(),
            stderr: tail.join("\n"),
        });
    }
    Ok(output.stdout)
}

/// Reads a regular file of the tree (never following a symlink at its last component).
fn read_tree(tree: &Path, path: &str) -> Result<Vec<u8>, DiskError> {
    use std::io::Read;
    let source = super::OnDisk(tree);
    let mut bytes = Vec::new();
    super::Source::open(&source, path.as_bytes())
        .and_then(|mut r| r.read_to_end(&mut bytes))
        .map_err(|source| DiskError::Read {
            path: format!("/{path}"),
            source,
        })?;
    Ok(bytes)
}

/// The one `/boot/PREFIX*` regular file of the tree, by name.
fn one_in_boot(tree: &Path, prefix: &str, what: &str) -> Result<String, DiskError> {
    let boot = tree.join("boot");
    let mut found: Vec<String> = match std::fs::read_dir(&boot) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(prefix))
            .collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(DiskError::Tree {
            what: what.into(),
            found: format!("no `/boot/{prefix}*`"),
        }),
        _ => Err(DiskError::Tree {
            what: what.into(),
            found: found
                .iter()
                .map(|n| format!("`/boot/{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn write_file(path: &Path, bytes: &[u8], epoch: i64) -> Result<(), DiskError> {
    std::fs::write(path, bytes).map_err(io("write", path))?;
    set_time(path, epoch)
}

fn set_time(path: &Path, epoch: i64) -> Result<(), DiskError> {
    let time = rustix::fs::Timespec {
        tv_sec: epoch,
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
    .map_err(|e| io("set the time of", path)(e.into()))
}

/// Makes the UKI of the tree for `root_hash` at `work/uki.efi`.
fn make_uki(input: &Input<'_>) -> Result<(PathBuf, String, String), DiskError> {
    let tree = input.tree;
    let work = input.work;
    let kernel_name = one_in_boot(tree, "vmlinuz-", "the kernel")?;
    let initrd_name = one_in_boot(tree, "initrd.img-", "the initramfs")?;
    let version = kernel_name.trim_start_matches("vmlinuz-").to_owned();
    let stub = read_tree(tree, STUB).map_err(|e| match e {
        DiskError::Read { .. } => DiskError::Tree {
            what: "the EFI stub (package `systemd-boot-efi`)".into(),
            found: format!("no `/{STUB}`"),
        },
        other => other,
    })?;
    let cmdline = read_tree(tree, CMDLINE).map_err(|e| match e {
        DiskError::Read { .. } => DiskError::Tree {
            what: "the kernel command line".into(),
            found: format!("no `/{CMDLINE}`"),
        },
        other => other,
    })?;
    let os_release = read_tree(tree, "usr/lib/os-release")
        .or_else(|_| read_tree(tree, "etc/os-release"))
        .map_err(|_| DiskError::Tree {
            what: "the os-release".into(),
            found: "no `/usr/lib/os-release`".into(),
        })?;
    let command_line = command_line(&String::from_utf8_lossy(&cmdline), &input.root_hash);
    let sections: [(&str, PathBuf, Vec<u8>); 5] = [
        (".osrel", work.join("osrel"), os_release),
        (
            ".cmdline",
            work.join("cmdline"),
            command_line.clone().into_bytes(),
        ),
        (".uname", work.join("uname"), version.clone().into_bytes()),
        (
            ".initrd",
            work.join("initrd"),
            read_tree(tree, &format!("boot/{initrd_name}"))?,
        ),
        (
            ".linux",
            work.join("linux"),
            read_tree(tree, &format!("boot/{kernel_name}"))?,
        ),
    ];
    let (mut at, alignment) = pe_end(&stub).map_err(|reason| DiskError::Stub {
        path: format!("/{STUB}"),
        reason,
    })?;
    let stub_path = work.join("linuxx64.efi.stub");
    write_file(&stub_path, &stub, input.epoch)?;
    let uki = work.join("uki.efi");
    let mut objcopy = Command::new("objcopy");
    for (name, path, bytes) in &sections {
        write_file(path, bytes, input.epoch)?;
        objcopy
            .arg("--add-section")
            .arg(format!("{name}={}", path.display()))
            .arg("--change-section-vma")
            .arg(format!("{name}={at:#x}"));
        at = (at + bytes.len() as u64).div_ceil(alignment) * alignment;
    }
    objcopy.arg(&stub_path).arg(&uki);
    run(objcopy, input.epoch, "binutils")?;
    let mut bytes = std::fs::read(&uki).map_err(io("read", &uki))?;
    fix_pe(&mut bytes, input.epoch).map_err(|reason| DiskError::Malformed {
        path: uki.clone(),
        reason,
    })?;
    write_file(&uki, &bytes, input.epoch)?;
    std::fs::set_permissions(&uki, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .map_err(io("set the mode of", &uki))?;
    for (_, path, _) in &sections {
        let _ = std::fs::remove_file(path);
    }
    let _ = std::fs::remove_file(&stub_path);
    Ok((uki, version, command_line))
}

/// `loader.conf`: no menu unless a key is pressed; the newest entry that is not bad boots.
pub const LOADER_CONF: &str = "timeout 0\neditor no\n";

/// Makes the ESP's FAT image at `work/esp.img` holding systemd-boot, `loader.conf` and the UKI.
fn make_esp(
    input: &Input<'_>,
    uki: &Path,
    uki_name: &str,
    size: u64,
) -> Result<PathBuf, DiskError> {
    let work = input.work;
    let loader = work.join("systemd-bootx64.efi");
    write_file(
        &loader,
        &read_tree(input.tree, SYSTEMD_BOOT).map_err(|e| match e {
            DiskError::Read { .. } => DiskError::Tree {
                what: "systemd-boot (package `systemd-boot-efi`)".into(),
                found: format!("no `/{SYSTEMD_BOOT}`"),
            },
            other => other,
        })?,
        input.epoch,
    )?;
    let conf = work.join("loader.conf");
    write_file(&conf, LOADER_CONF.as_bytes(), input.epoch)?;
    set_time(uki, input.epoch)?;
    let esp = work.join("esp.img");
    let _ = std::fs::remove_file(&esp);
    let volume_id = hex::encode(&input.params.uuid("esp-volume-id")[..4]);
    let mut mkfs = Command::new("mkfs.fat");
    mkfs.args(["-C", "-F", "32", "-S", "512", "--invariant", "-i"])
        .arg(&volume_id)
        .args(["-n", "ESP"])
        .arg(&esp)
        .arg((size / 1024).to_string());
    run(mkfs, input.epoch, "dosfstools")?;
    let image = esp.to_string_lossy().into_owned();
    for dir in ["EFI", "EFI/BOOT", "EFI/Linux", "EFI/systemd", "loader"] {
        let mut mmd = Command::new("mmd");
        mmd.args(["-i", &image]).arg(format!("::/{dir}"));
        run(mmd, input.epoch, "mtools")?;
    }
    let files: [(&Path, String); 4] = [
        (&loader, "EFI/BOOT/BOOTX64.EFI".into()),
        (&loader, "EFI/systemd/systemd-bootx64.efi".into()),
        (uki, format!("EFI/Linux/{uki_name}")),
        (&conf, "loader/loader.conf".into()),
    ];
    for (from, to) in &files {
        let mut mcopy = Command::new("mcopy");
        mcopy
            .args(["-m", "-Q", "-i", &image])
            .arg(from)
            .arg(format!("::/{to}"));
        run(mcopy, input.epoch, "mtools")?;
    }
    let _ = std::fs::remove_file(&loader);
    let _ = std::fs::remove_file(&conf);
    Ok(esp)
}

/// The UKI's name on the ESP for `version`, with boot counting.
pub fn uki_name(version: &str) -> String {
    format!("{UKI_PREFIX}{version}+{TRIES}.efi")
}

/// The label of slot `slot`'s root (`root-a_VERSION`) or verity (`root-a-verity_VERSION`)
/// partition; an empty slot's carries no version.
pub fn slot_label(slot: char, verity: bool, version: Option<&str>) -> String {
    let base = if verity {
        format!("root-{slot}-verity")
    } else {
        format!("root-{slot}")
    };
    match version {
        Some(v) => format!("{base}_{v}"),
        None => base,
    }
}

/// The `systemd-repart` definitions of the disk, by file name.
#[allow(clippy::too_many_arguments)]
pub fn definitions(
    esp: (&Path, u64, &str),
    root: (&Path, &str, &str),
    verity: (&Path, &str, &str),
    empty: (&str, &str),
    slot_size: u64,
    verity_size: u64,
) -> Vec<(&'static str, String)> {
    let part = |kind: &str, label: &str, uuid: &str, size: u64, copy: Option<&Path>| {
        let mut text = format!(
            "[Partition]\nType={kind}\nLabel={label}\nUUID={uuid}\nSizeMinBytes={size}\nSizeMaxBytes={size}\n"
        );
        if kind != "esp" {
            text.push_str("ReadOnly=yes\nGrowFileSystem=no\n");
        }
        if let Some(path) = copy {
            text.push_str(&format!("CopyBlocks={}\n", path.display()));
        }
        text
    };
    vec![
        ("10-esp.conf", part("esp", "ESP", esp.2, esp.1, Some(esp.0))),
        (
            "20-root-a.conf",
            part("root-x86-64", root.1, root.2, slot_size, Some(root.0)),
        ),
        (
            "21-root-a-verity.conf",
            part(
                "root-x86-64-verity",
                verity.1,
                verity.2,
                verity_size,
                Some(verity.0),
            ),
        ),
        (
            "30-root-b.conf",
            part(
                "root-x86-64",
                &slot_label('b', false, None),
                empty.0,
                slot_size,
                None,
            ),
        ),
        (
            "31-root-b-verity.conf",
            part(
                "root-x86-64-verity",
                &slot_label('b', true, None),
                empty.1,
                verity_size,
                None,
            ),
        ),
    ]
}

/// Writes the disk image at `work/disk.img` ([`Disk`]), the UKI beside it.
pub fn write(input: &Input<'_>) -> Result<Disk, DiskError> {
    let work = input.work;
    let version = input.epoch.max(0).to_string();
    let root_bytes = std::fs::metadata(input.root_image)
        .map_err(io("read", input.root_image))?
        .len();
    let verity_bytes = std::fs::metadata(input.verity_file)
        .map_err(io("read", input.verity_file))?
        .len();
    let slot_size = input
        .slot_size
        .map(round_mib)
        .unwrap_or_else(|| default_slot_size(root_bytes));
    if slot_size < root_bytes {
        return Err(DiskError::Malformed {
            path: input.root_image.to_path_buf(),
            reason: format!(
                "the root image ({root_bytes} bytes) is larger than the slot ({slot_size} bytes)"
            ),
        });
    }
    let verity_size = verity_partition_size(slot_size).max(round_mib(verity_bytes));

    let (uki, kernel, command_line) = make_uki(input)?;
    let uki_bytes_vec = std::fs::read(&uki).map_err(io("read", &uki))?;
    let uki_sha256 = Sha256Digest::of(&uki_bytes_vec);
    let uki_bytes = uki_bytes_vec.len() as u64;
    drop(uki_bytes_vec);
    let loader_bytes = std::fs::metadata(input.tree.join(SYSTEMD_BOOT))
        .map(|m| m.len())
        .unwrap_or(0);
    let esp_size = esp_size(uki_bytes, loader_bytes);
    let uki_name = uki_name(&version);
    let esp = make_esp(input, &uki, &uki_name, esp_size)?;

    let (root_uuid, verity_uuid) = slot_uuids(&input.root_hash);
    let esp_uuid = uuid_text(&input.params.uuid("esp-partition"));
    let empty_root = uuid_text(&input.params.uuid("root-b"));
    let empty_verity = uuid_text(&input.params.uuid("root-b-verity"));
    let defs = work.join("repart.d");
    std::fs::create_dir_all(&defs).map_err(io("create", &defs))?;
    let root_label = slot_label('a', false, Some(&version));
    let verity_label = slot_label('a', true, Some(&version));
    for (name, text) in definitions(
        (&esp, esp_size, &esp_uuid),
        (input.root_image, &root_label, &root_uuid),
        (input.verity_file, &verity_label, &verity_uuid),
        (&empty_root, &empty_verity),
        slot_size,
        verity_size,
    ) {
        let path = defs.join(name);
        std::fs::write(&path, text).map_err(io("write", &path))?;
    }
    let image = work.join("disk.img");
    let _ = std::fs::remove_file(&image);
    let mut repart = Command::new("systemd-repart");
    repart
        .arg(format!("--definitions={}", defs.display()))
        .args([
            "--empty=create",
            "--size=auto",
            "--dry-run=no",
            "--no-pager",
        ])
        .arg(format!(
            "--seed={}",
            uuid_text(&input.params.uuid("repart-seed"))
        ))
        .arg(&image);
    run(repart, input.epoch, "systemd (systemd-repart)")?;
    let _ = std::fs::remove_file(&esp);
    let _ = std::fs::remove_dir_all(&defs);

    let mut head = vec![0u8; 34 * 512];
    {
        use std::io::Read;
        let mut file = std::fs::File::open(&image).map_err(io("read", &image))?;
        file.read_exact(&mut head).map_err(io("read", &image))?;
    }
    let gpt = read_gpt(&head).map_err(|reason| DiskError::Malformed {
        path: image.clone(),
        reason,
    })?;
    Ok(Disk {
        image,
        uki,
        uki_name,
        uki_sha256,
        uki_bytes,
        version,
        kernel,
        command_line,
        slot_size,
        verity_size,
        esp_size,
        gpt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_uuids_are_the_halves_of_the_root_hash() {
        let mut hash = [0u8; 32];
        for (i, b) in hash.iter_mut().enumerate() {
            *b = i as u8;
        }
        let (root, verity) = slot_uuids(&Sha256Digest(hash));
        assert_eq!(root, "00010203-0405-0607-0809-0a0b0c0d0e0f");
        assert_eq!(verity, "10111213-1415-1617-1819-1a1b1c1d1e1f");
    }

    #[test]
    fn sizes_round_to_mib_with_room() {
        assert_eq!(default_slot_size(100 * MIB), 150 * MIB);
        assert_eq!(default_slot_size(1), MIB);
        // 150 MiB: 38400 blocks, 300 + 3 + 1 hash blocks and the superblock.
        assert_eq!(verity_partition_size(150 * MIB), 2 * MIB);
        assert_eq!(esp_size(1, 1), 64 * MIB);
        assert_eq!(esp_size(40 * MIB, MIB), 130 * MIB);
    }

    #[test]
    fn command_line_gets_the_root_hash_once() {
        let hash = Sha256Digest([0xab; 32]);
        assert_eq!(
            command_line("quiet  ro\nroothash=00 console=ttyS0\n", &hash),
            format!("quiet ro console=ttyS0 roothash={}", "ab".repeat(32))
        );
    }

    /// A PE32+ header with one section, as systemd 257's stub has it: an image base that is not
    /// zero, which the VMAs objcopy takes include.
    #[test]
    fn pe_end_adds_the_image_base() {
        let mut pe = vec![0u8; 0x40 + 24 + 240 + 40];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3c] = 0x40;
        pe[0x40..0x44].copy_from_slice(b"PE\0\0");
        pe[0x40 + 6] = 1;
        pe[0x40 + 20] = 240;
        let optional = 0x40 + 24;
        pe[optional..optional + 2].copy_from_slice(&0x20bu16.to_le_bytes());
        pe[optional + 24..optional + 32].copy_from_slice(&0x1_4df9_0000u64.to_le_bytes());
        pe[optional + 32..optional + 36].copy_from_slice(&0x1000u32.to_le_bytes());
        let section = optional + 240;
        pe[section + 8..section + 12].copy_from_slice(&0x1234u32.to_le_bytes());
        pe[section + 12..section + 16].copy_from_slice(&0x5000u32.to_le_bytes());
        assert_eq!(pe_end(&pe), Ok((0x1_4df9_7000, 0x1000)));
        // A 512-byte alignment is raised to 4 KiB; a base of 0 (systemd 252's stub) stays.
        pe[optional + 24..optional + 32].copy_from_slice(&0u64.to_le_bytes());
        pe[optional + 32..optional + 36].copy_from_slice(&0x200u32.to_le_bytes());
        assert_eq!(pe_end(&pe), Ok((0x7000, 0x1000)));
        let mut fixed = pe.clone();
        fix_pe(&mut fixed, 1_700_000_000).unwrap();
        assert_eq!(&fixed[0x48..0x4c], &1_700_000_000u32.to_le_bytes());
    }

    #[test]
    fn pe_end_refuses_what_is_not_pe() {
        assert!(pe_end(b"").is_err());
        assert!(pe_end(b"MZ").is_err());
        let mut fake = vec![0u8; 512];
        fake[0] = b'M';
        fake[1] = b'Z';
        fake[0x3c] = 0xf0;
        assert!(pe_end(&fake).is_err());
        assert!(fix_pe(&mut [0u8; 3], 0).is_err());
    }

    #[test]
    fn gpt_reader_refuses_garbage() {
        assert!(read_gpt(&[]).is_err());
        assert!(read_gpt(&[0u8; 34 * 512]).is_err());
    }
}
