//! The work tree in memory: the root phases build the tree on a `tmpfs` of their own when the
//! machine's memory allows, rather than on the filesystem beside the output.
//!
//! Why: the tree is scratch (a crashed build is thrown away, its durability is worth nothing),
//! and on disk its creation costs most of the build's kernel time. Measured on the 2-core
//! bench machine (ext4 without a journal): each new inode makes ext4 look for a free inode that
//! was not recently deleted (`__ext4_new_inode` -> `find_inode_bit` -> `recently_deleted` ->
//! `find_get_block_common`), a third of all the CPU samples of a minbase build; dpkg's and the
//! maintainer scripts' writes pay the same. On a `tmpfs` the minbase build's system time fell
//! from 2.3-2.9 s to 0.5 s, its output unchanged to the bit (see the README, "Performance").
//!
//! How, safely: the thread that runs the root phases moves into a mount namespace of its own
//! (`unshare(CLONE_NEWNS)`, its mounts made slaves of the host's so that nothing it mounts
//! reaches the host) and mounts the `tmpfs` on the work directory's `root/`. The threads and
//! processes it starts afterwards (extraction, the confined threads, the sandbox of every
//! maintainer script and hook) inherit that namespace; nothing else on the machine sees the
//! tree at all. When debroot exits, however it exits (SIGKILL included), the namespace and its
//! `tmpfs` are gone with it: no mount and no memory is left behind. The output is written to
//! its path on the host's filesystem as before (the namespace shares it).
//!
//! When not: a `dir` output (the tree is renamed into place, so it is built beside it),
//! `--keep-failed` (a failed tree must outlive the process), a build that cannot mount
//! (extract mode without root), or when the tree would not fit comfortably in the memory
//! available (`MemAvailable` of `/proc/meminfo` against twice the packages' `Installed-Size`).

use std::path::{Path, PathBuf};

use crate::profile::OutputFormat;
use crate::unpack::batch::Package;

/// Room for what maintainer scripts and triggers add beyond the packages' files (caches,
/// the dpkg database, generated configuration).
const HEADROOM: u64 = 256 << 20;

/// The `tmpfs` mounted on the root; unmounted when dropped (the namespace would drop it at
/// exit anyway: unmounting first lets the work directory's removal see an empty `root/`).
pub struct Scratch {
    root: PathBuf,
    /// The size limit of the `tmpfs`, in bytes.
    pub size: u64,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.root, rustix::mount::UnmountFlags::DETACH);
    }
}

/// Why the tree is not built in memory (said at `-v`), or `None` when it may be.
pub fn refusal(
    format: OutputFormat,
    keep_failed: bool,
    can_mount: bool,
    needed: u64,
    available: Option<u64>,
) -> Option<String> {
    if format == OutputFormat::Dir {
        return Some("a `dir` output is renamed into place".into());
    }
    if keep_failed {
        return Some("`--keep-failed` keeps a failed tree".into());
    }
    if !can_mount {
        return Some("a tmpfs needs root".into());
    }
    match available {
        None => Some("the memory available is unknown".into()),
        // At most half of what is available, so that the build and the rest of the machine
        // keep the other half.
        Some(available) if needed > available / 2 => Some(format!(
            "{} MiB needed, {} MiB available",
            needed >> 20,
            available >> 20
        )),
        Some(_) => None,
    }
}

/// The size limit of the `tmpfs` for `packages`: twice their `Installed-Size`, plus
/// [`HEADROOM`]. A limit, not a reservation: the `tmpfs` holds only what is written.
pub fn needed(packages: &[Package]) -> u64 {
    let installed: u64 = packages
        .iter()
        .map(|p| p.control.installed_size.unwrap_or(0).saturating_mul(1024))
        .fold(0, u64::saturating_add);
    installed.saturating_mul(2).saturating_add(HEADROOM)
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
pub fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// Mounts a `tmpfs` of `size` bytes on `root` (an empty directory), in a mount namespace of this
/// thread's own, as the module says.
pub fn mount(root: &Path, size: u64) -> std::io::Result<Scratch> {
    use rustix::mount::{MountFlags, MountPropagationFlags};
    // SAFETY: NEWNS (with the FS it implies) only: this thread gets its own mount namespace and
    // filesystem context; descriptors and memory stay shared.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) }?;
    // Slaves: the host's later mounts still come in, nothing mounted here goes out.
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::DOWNSTREAM,
    )?;
    let options =
        std::ffi::CString::new(format!("mode=0755,size={size}")).map_err(std::io::Error::other)?;
    rustix::mount::mount(
        "tmpfs",
        root,
        "tmpfs",
        MountFlags::empty(),
        Some(options.as_c_str()),
    )?;
    Ok(Scratch {
        root: root.to_path_buf(),
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_available() {
        let text = "MemTotal:       24000000 kB\nMemFree:          100000 kB\nMemAvailable:   22000000 kB\n";
        assert_eq!(mem_available(text), Some(22_000_000 * 1024));
        assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
        assert_eq!(mem_available("MemAvailable: lots\n"), None);
    }

    #[test]
    fn the_tree_goes_to_memory_only_when_it_may() {
        let gib = 1u64 << 30;
        assert_eq!(
            refusal(OutputFormat::Tar, false, true, gib, Some(4 * gib)),
            None
        );
        assert!(refusal(OutputFormat::Dir, false, true, gib, Some(4 * gib)).is_some());
        assert!(refusal(OutputFormat::Tar, true, true, gib, Some(4 * gib)).is_some());
        assert!(refusal(OutputFormat::Tar, false, false, gib, Some(4 * gib)).is_some());
        assert!(refusal(OutputFormat::Tar, false, true, gib, None).is_some());
        assert_eq!(
            refusal(OutputFormat::Tar, false, true, 3 * gib, Some(4 * gib)),
            Some("3072 MiB needed, 4096 MiB available".into())
        );
    }
}
