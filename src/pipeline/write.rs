//! The cleanup's last step and the output phase: every mtime clamped to the epoch, the tree
//! written as a directory, a tarball, an image with its dm-verity hash tree or an OCI image
//! (beside its final path, then renamed into place), and the manifest and provenance beside it.

use std::path::Path;

use crate::digest::Sha256Digest;
use crate::error::{Failure, ResultExt, io_at};
use crate::lock::Lock;
use crate::profile::OutputFormat;

use super::{Env, Report, RootJob};

/// Sets every mtime newer than `epoch` to `epoch` (files, directories and symlinks themselves),
/// and drops the sub-second part of older ones. Walks the tree by descriptors (`fdwalk`), so
/// that a tree of any depth is clamped within a small descriptor limit and no path grows longer
/// than the kernel takes.
pub fn clamp_mtimes(root: &Path, epoch: i64) -> Result<(), Failure> {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};
    struct Clamp {
        epoch: i64,
    }
    fn stamps(seconds: i64) -> Timestamps {
        let time = Timespec {
            tv_sec: seconds,
            tv_nsec: 0,
        };
        Timestamps {
            last_access: time,
            last_modification: time,
        }
    }
    impl crate::fdwalk::Visitor for Clamp {
        fn entry(
            &mut self,
            dir: &std::os::fd::OwnedFd,
            path: &[u8],
            name: &[u8],
            _kind: FileType,
        ) -> std::io::Result<bool> {
            let name = std::ffi::OsStr::from_bytes(name);
            let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
            if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
                return Ok(true);
            }
            if stat.st_mtime > self.epoch || stat.st_mtime_nsec != 0 {
                let seconds = stat.st_mtime.min(self.epoch);
                rustix::fs::utimensat(dir, name, &stamps(seconds), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| {
                        std::io::Error::new(
                            std::io::Error::from(e).kind(),
                            format!(
                                "cannot set the time of `{}` in the root: {e}",
                                crate::error::shown_bytes(
                                    &[path, b"/", name.as_bytes()].concat(),
                                    256
                                )
                            ),
                        )
                    })?;
            }
            Ok(false)
        }

        fn leave(
            &mut self,
            _parent: &std::os::fd::OwnedFd,
            _name: &[u8],
            dir: &std::os::fd::OwnedFd,
            path: &[u8],
        ) -> std::io::Result<()> {
            // Directories once their entries are done (setting an entry's time does not touch
            // its directory).
            if rustix::fs::fstat(dir)?.st_mtime > self.epoch {
                rustix::fs::futimens(dir, &stamps(self.epoch)).map_err(|e| {
                    std::io::Error::new(
                        std::io::Error::from(e).kind(),
                        format!(
                            "cannot set the time of `{}` in the root: {e}",
                            crate::error::shown_bytes(path, 256)
                        ),
                    )
                })?;
            }
            Ok(())
        }
    }
    use std::os::unix::ffi::OsStrExt;
    let failed = |e: std::io::Error| io_at("clamp the times of", root)(e);
    let open = || {
        rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| failed(e.into()))
    };
    crate::fdwalk::walk(open()?, false, &mut Clamp { epoch }).map_err(failed)?;
    rustix::fs::futimens(&open()?, &stamps(epoch)).map_err(|e| failed(e.into()))?;
    Ok(())
}

/// What [`write_output`] wrote.
pub struct Written {
    pub sha256: Sha256Digest,
    pub bytes: u64,
    /// Setuid and setgid files in a private directory output (see [`write_output`]).
    pub set_id: usize,
    pub image: Option<ImageInfo>,
}

/// What the manifest says of an image besides its own digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageInfo {
    /// The digest of the uncompressed tarball of the same tree: a `.tar` build's
    /// `output_sha256`, and the seed of the image's UUIDs.
    pub tree_sha256: Sha256Digest,
    pub verity: Option<VerityInfo>,
    /// Extended attributes of the tree the format cannot hold (squashfs: POSIX ACLs and other
    /// `system.*` names), as path (relative to the root) and name, left out of the image.
    pub dropped_xattrs: Vec<(String, String)>,
    /// An OCI image's digests.
    #[serde(default)]
    pub oci: Option<OciInfo>,
    /// A disk image's layout.
    #[serde(default)]
    pub disk: Option<DiskInfo>,
}

/// What the manifest says of a disk image (`--format disk`): its layout read back from the GPT,
/// the UKI and the update bundle beside it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DiskInfo {
    pub disk: crate::image::disk::Disk,
    /// The root image's digest and size (slot A's contents, the bundle's `root.squashfs`).
    pub root_sha256: Sha256Digest,
    pub root_bytes: u64,
    /// The update bundle's folder name, beside the image.
    pub bundle: String,
}

/// What the manifest says of an OCI image (`oci` and `oci-archive`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OciInfo {
    /// The image manifest's digest (what `skopeo inspect` shows as `Digest`, and a registry
    /// as the image's): an `oci` build's `output_sha256`.
    pub manifest_digest: Sha256Digest,
    pub config_digest: Sha256Digest,
    pub layer_digest: Sha256Digest,
    pub layer_bytes: u64,
    pub layer_media_type: String,
    pub ref_name: String,
}

/// The dm-verity hash tree written beside an image (`veritysetup format`'s defaults).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerityInfo {
    pub root_hash: Sha256Digest,
    /// Hex.
    pub salt: String,
    pub uuid: String,
    pub data_blocks: u64,
    /// The hash file's name, beside the image.
    pub file: String,
    pub sha256: Sha256Digest,
    pub bytes: u64,
}

/// Writes the tree at `root` as `format` to `output` (beside it, then renamed into place); an
/// OCI image (`oci`, the spec of its documents) by [`write_oci`].
///
/// With `private` (a build without root: its files belong to the user, or to the user's
/// subordinate ids in `unshare` mode, so a setuid-root program of the image is a setuid program
/// of the user's on the host, and a setgid `shadow` one runs with a subordinate gid), a
/// directory output's top directory is mode 0700 (docs/THREATS.md rule 11 and G6): no other user
/// can reach what it holds, and every mode inside stays exact. Its digest is still that of the
/// tarball the same build writes (whose `./` says 0755): the tree as built, not the access
/// control of its folder on this host. A tarball carries its set-id bits inside the archive
/// and leaves no usable program on disk; it is written as any other.
///
/// `progress` is told the bytes of tarball written (or digested) as they go: the progress
/// display's only view of the output.
#[allow(clippy::too_many_arguments)]
pub fn write_output(
    root: &Path,
    output: &Path,
    format: OutputFormat,
    verity: bool,
    epoch: i64,
    owners: &dyn crate::output::Owners,
    private: bool,
    progress: &dyn Fn(u64),
    oci: Option<&crate::output::oci::Spec>,
) -> Result<Written, Failure> {
    let nodes = crate::output::walk(root, owners)?;
    if let (true, Some(spec)) = (format.is_oci(), oci) {
        let nodes = crate::output::with_static_dev(nodes, epoch);
        return write_oci(root, &nodes, output, format, epoch, spec);
    }
    if format == OutputFormat::Null {
        // The digest of the tarball the build would write, and nothing on disk.
        let nodes = crate::output::with_static_dev(nodes, epoch);
        let (sha256, bytes) = crate::output::write_tarball(
            root,
            &nodes,
            OutputFormat::Tar,
            Counting::new(std::io::sink(), progress),
        )?;
        return Ok(Written {
            sha256,
            bytes,
            set_id: 0,
            image: None,
        });
    }
    if format == OutputFormat::Disk {
        let nodes = crate::output::with_static_dev(nodes, epoch);
        return write_disk(root, &nodes, output, epoch, progress);
    }
    if format.is_image() {
        let nodes = crate::output::with_static_dev(nodes, epoch);
        return write_image(root, &nodes, output, format, verity, epoch, progress);
    }
    if format == OutputFormat::Dir {
        // The digest of a directory output is that of its uncompressed tarball.
        let (sha256, bytes) = crate::output::write_tarball(
            root,
            &nodes,
            OutputFormat::Tar,
            Counting::new(std::io::sink(), progress),
        )?;
        let mut set_id = 0;
        if private {
            set_id = nodes
                .iter()
                .filter(|n| {
                    matches!(n.kind, crate::output::NodeKind::File { .. }) && n.mode & 0o6000 != 0
                })
                .count();
            // Before the rename: the tree is never reachable by others at its final path.
            std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .map_err(io_at("set the mode of", root))?;
        }
        if output.exists() {
            std::fs::remove_dir(output).map_err(io_at("replace", output))?;
        }
        std::fs::rename(root, output).map_err(io_at("move the tree to", output))?;
        return Ok(Written {
            sha256,
            bytes,
            set_id,
            image: None,
        });
    }
    let nodes = crate::output::with_static_dev(nodes, epoch);
    let mut temporary = crate::atomic::Temporary::beside(output, 0o644)
        .map_err(io_at("create a temporary file beside", output))?;
    crate::workdir::register(temporary.path());
    let temporary_path = temporary.path().to_path_buf();
    let file = temporary
        .file()
        .try_clone()
        .map_err(io_at("write", &temporary_path))?;
    let mut writer = crate::output::Pipelined::new(file);
    let result =
        crate::output::write_tarball(root, &nodes, format, Counting::new(&mut writer, progress))
            .and_then(|done| {
                writer
                    .finish()
                    .map(|()| done)
                    .map_err(|source| crate::output::OutputError::Write {
                        path: temporary_path.clone(),
                        source,
                    })
            })
            .context(|| format!("cannot write `{}`", output.display()));
    let (digest, size) = match result {
        Ok(done) => done,
        Err(failure) => {
            crate::workdir::unregister(&temporary_path);
            return Err(failure);
        }
    };
    temporary
        .persist()
        .map_err(io_at("move the tarball to", output))?;
    crate::workdir::unregister(&temporary_path);
    Ok(Written {
        sha256: digest,
        bytes: size,
        set_id: 0,
        image: None,
    })
}

/// Reads `file` from its start, handing each piece to `each`.
fn read_through(
    file: &mut std::fs::File,
    path: &Path,
    mut each: impl FnMut(&[u8]),
) -> Result<(), Failure> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(0)).map_err(io_at("read", path))?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(io_at("read", path))?;
        if n == 0 {
            return Ok(());
        }
        each(&buffer[..n]);
    }
}

/// The path of a file written beside `output`: `OUTPUT.suffix`.
fn beside(output: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(suffix);
    std::path::PathBuf::from(name)
}

/// Writes an image of `nodes` (squashfs, erofs or ext4, by [`crate::image`]) beside `output`,
/// padded to whole 4096-byte blocks, then reads it back once for its digest and, with `verity`,
/// its dm-verity hash tree (`OUTPUT.verity`, and the root hash in `OUTPUT.roothash` as
/// systemd's tools look for it). Every file is renamed into place only when all are complete;
/// an existing `OUTPUT.verity` or `OUTPUT.roothash` that is not a regular file is refused, and
/// a stale pair from an earlier build with `--verity` is removed.
fn write_image(
    root: &Path,
    nodes: &[crate::output::Node],
    output: &Path,
    format: OutputFormat,
    verity: bool,
    epoch: i64,
    progress: &dyn Fn(u64),
) -> Result<Written, Failure> {
    use std::io::{Seek, SeekFrom, Write};
    let hash_path = beside(output, ".verity");
    let root_hash_path = beside(output, ".roothash");
    for path in [&hash_path, &root_hash_path] {
        if let Ok(meta) = std::fs::symlink_metadata(path)
            && !meta.is_file()
        {
            return Err(
                crate::error::local("write the dm-verity files")(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!(
                        "`{}` exists and is not a regular file; it is never replaced",
                        path.display()
                    ),
                ))
                .into(),
            );
        }
    }
    // The tree's digest: the seed of every UUID and hash seed of the image.
    let (tree_sha256, _) = crate::output::write_tarball(
        root,
        nodes,
        OutputFormat::Tar,
        Counting::new(std::io::sink(), progress),
    )?;
    // What squashfs cannot hold is left out, and said (mksquashfs drops it with a warning
    // only; tar2sqfs, mmdebstrap's, drops every attribute).
    let mut dropped_xattrs = Vec::new();
    let kept: Vec<crate::output::Node>;
    let nodes = if format == OutputFormat::Squashfs {
        kept = nodes
            .iter()
            .map(|node| {
                let mut node = node.clone();
                node.xattrs.retain(|name, _| {
                    let holds = crate::image::squashfs::holds_xattr(name);
                    if !holds {
                        dropped_xattrs.push((
                            crate::debian::escape(&node.path),
                            crate::debian::escape(name),
                        ));
                    }
                    holds
                });
                node
            })
            .collect();
        &kept[..]
    } else {
        nodes
    };
    let params = crate::image::Params {
        epoch,
        seed: tree_sha256.0,
    };

    let mut temporary = crate::atomic::Temporary::beside(output, 0o644)
        .map_err(io_at("create a temporary file beside", output))?;
    crate::workdir::register(temporary.path());
    let temporary_path = temporary.path().to_path_buf();
    let written =
        (|| -> Result<(Sha256Digest, u64, Option<crate::image::verity::Verity>), Failure> {
            let file = temporary.file();
            let mut writer = std::io::BufWriter::with_capacity(1 << 20, &mut *file);
            let source = crate::image::OnDisk(root);
            let result = match format {
                OutputFormat::Squashfs => {
                    crate::image::squashfs::write(nodes, &source, &params, &mut writer)
                }
                OutputFormat::Erofs => {
                    crate::image::erofs::write(nodes, &source, &params, &mut writer)
                }
                _ => crate::image::ext4::write(nodes, &source, &params, &mut writer),
            };
            result
                .map_err(|source| super::error::BuildError::Image {
                    format: format.as_str(),
                    source,
                })
                .context(|| format!("cannot write `{}`", output.display()))?;
            writer.flush().map_err(io_at("write", &temporary_path))?;
            drop(writer);
            let length = file
                .seek(SeekFrom::End(0))
                .map_err(io_at("write", &temporary_path))?;
            let padded = length.div_ceil(4096) * 4096;
            file.set_len(padded)
                .map_err(io_at("write", &temporary_path))?;
            // Read back for the digest, then (its salt derives from the digest) the hash tree,
            // through a descriptor of its own: the temporary is open for writing only.
            let file = &mut std::fs::File::open(&temporary_path)
                .map_err(io_at("read", &temporary_path))?;
            let mut hasher = crate::digest::Hasher::new();
            read_through(file, &temporary_path, |bytes| hasher.update(bytes))?;
            let digest = hasher.finish();
            let tree = if verity {
                let mut tree = crate::image::verity::Tree::new(&digest);
                read_through(file, &temporary_path, |bytes| tree.update(bytes))?;
                Some(
                    tree.finish()
                        .map_err(|source| super::error::BuildError::Verity {
                            path: output.to_path_buf(),
                            source,
                        })?,
                )
            } else {
                None
            };
            Ok((digest, padded, tree))
        })();
    let (sha256, bytes, tree) = match written {
        Ok(done) => done,
        Err(failure) => {
            crate::workdir::unregister(&temporary_path);
            return Err(failure);
        }
    };
    let verity_info = match &tree {
        Some(tree) => {
            crate::atomic::write(&hash_path, &tree.hash_file, 0o644)
                .map_err(io_at("write", &hash_path))?;
            crate::atomic::write(
                &root_hash_path,
                format!("{}\n", tree.root_hash.hex()).as_bytes(),
                0o644,
            )
            .map_err(io_at("write", &root_hash_path))?;
            Some(VerityInfo {
                root_hash: tree.root_hash,
                salt: hex::encode(tree.salt),
                uuid: tree.uuid_text(),
                data_blocks: tree.data_blocks,
                file: hash_path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                sha256: Sha256Digest::of(&tree.hash_file),
                bytes: tree.hash_file.len() as u64,
            })
        }
        None => {
            // A hash tree of an earlier image must not sit beside this one.
            for path in [&hash_path, &root_hash_path] {
                if path.is_file() {
                    std::fs::remove_file(path).map_err(io_at("remove the stale", path))?;
                }
            }
            None
        }
    };
    temporary
        .persist()
        .map_err(io_at("move the image to", output))?;
    crate::workdir::unregister(&temporary_path);
    Ok(Written {
        sha256,
        bytes,
        set_id: 0,
        image: Some(ImageInfo {
            tree_sha256,
            verity: verity_info,
            dropped_xattrs,
            oci: None,
            disk: None,
        }),
    })
}

/// The files of an update bundle (`OUTPUT.update/`, [`write_disk`]).
pub const BUNDLE_ROOT: &str = "root.squashfs";
pub const BUNDLE_VERITY: &str = "root.verity";
pub const BUNDLE_ROOTHASH: &str = "roothash";
pub const BUNDLE_SUMS: &str = "SHA256SUMS";
pub const BUNDLE_MANIFEST: &str = "manifest.json";

/// Writes a disk image ([`crate::image::disk`]) of `nodes` at `output`, and its update bundle
/// `OUTPUT.update/`: the squashfs root and its dm-verity hash tree are written by
/// [`write_image`] in a private folder beside `output`, the UKI, ESP and GPT made from them,
/// the disk renamed into place, then the bundle (`root.squashfs`, `root.verity`, `roothash`,
/// `kiosk_VERSION.efi`, `SHA256SUMS`, `manifest.json`) put in place of an earlier one.
fn write_disk(
    root: &Path,
    nodes: &[crate::output::Node],
    output: &Path,
    epoch: i64,
    progress: &dyn Fn(u64),
) -> Result<Written, Failure> {
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let work =
        crate::workdir::create(&parent, &name).map_err(io_at("create a folder in", &parent))?;
    let result = write_disk_in(root, nodes, output, &work, epoch, progress);
    let _ = crate::workdir::remove_anywhere(&work);
    crate::workdir::unregister(&work);
    result
}

/// [`write_disk`]'s work, in the private folder `work`.
fn write_disk_in(
    root: &Path,
    nodes: &[crate::output::Node],
    output: &Path,
    work: &Path,
    epoch: i64,
    progress: &dyn Fn(u64),
) -> Result<Written, Failure> {
    let bundle = work.join("update");
    std::fs::create_dir(&bundle).map_err(io_at("create", &bundle))?;
    let root_image = bundle.join(BUNDLE_ROOT);
    let squashfs = write_image(
        root,
        nodes,
        &root_image,
        OutputFormat::Squashfs,
        true,
        epoch,
        progress,
    )?;
    let Some(mut image) = squashfs.image else {
        return Err(
            crate::error::local("write the disk image")(std::io::Error::other(
                "the root image has no image information",
            ))
            .into(),
        );
    };
    let Some(mut verity) = image.verity.take() else {
        return Err(
            crate::error::local("write the disk image")(std::io::Error::other(
                "the root image has no hash tree",
            ))
            .into(),
        );
    };
    let verity_path = bundle.join(BUNDLE_VERITY);
    std::fs::rename(beside(&root_image, ".verity"), &verity_path)
        .map_err(io_at("write", &verity_path))?;
    let roothash_path = bundle.join(BUNDLE_ROOTHASH);
    std::fs::rename(beside(&root_image, ".roothash"), &roothash_path)
        .map_err(io_at("write", &roothash_path))?;
    let params = crate::image::Params {
        epoch,
        seed: image.tree_sha256.0,
    };
    let disk = crate::image::disk::write(&crate::image::disk::Input {
        tree: root,
        work,
        root_image: &root_image,
        verity_file: &verity_path,
        root_hash: verity.root_hash,
        epoch,
        params,
        slot_size: None,
    })
    .context(|| format!("cannot write `{}`", output.display()))?;

    // The bundle: the UKI without boot counting (the update adds it as it installs the UKI).
    let uki_file = format!("{}{}.efi", crate::image::disk::UKI_PREFIX, disk.version);
    let uki_path = bundle.join(&uki_file);
    std::fs::rename(&disk.uki, &uki_path).map_err(io_at("write", &uki_path))?;
    let sums = format!(
        "{}  {BUNDLE_ROOT}\n{}  {BUNDLE_VERITY}\n{}  {uki_file}\n",
        squashfs.sha256.hex(),
        verity.sha256.hex(),
        disk.uki_sha256.hex()
    );
    let sums_path = bundle.join(BUNDLE_SUMS);
    crate::atomic::write(&sums_path, sums.as_bytes(), 0o644).map_err(io_at("write", &sums_path))?;
    let (root_uuid, verity_uuid) = crate::image::disk::slot_uuids(&verity.root_hash);
    let bundle_manifest = serde_json::json!({
        "version": disk.version,
        "root_hash": verity.root_hash.hex(),
        "command_line": disk.command_line,
        "kernel": disk.kernel,
        "slot_size": disk.slot_size,
        "verity_size": disk.verity_size,
        "root": {
            "file": BUNDLE_ROOT,
            "bytes": squashfs.bytes,
            "sha256": squashfs.sha256.hex(),
            "partition_uuid": root_uuid,
        },
        "verity": {
            "file": BUNDLE_VERITY,
            "bytes": verity.bytes,
            "sha256": verity.sha256.hex(),
            "partition_uuid": verity_uuid,
            "salt": verity.salt,
            "uuid": verity.uuid,
            "data_blocks": verity.data_blocks,
        },
        "uki": {
            "file": uki_file,
            "bytes": disk.uki_bytes,
            "sha256": disk.uki_sha256.hex(),
            "esp_name": disk.uki_name,
        },
    });
    let mut text = serde_json::to_string_pretty(&bundle_manifest).unwrap_or_default();
    text.push('\n');
    let manifest_path = bundle.join(BUNDLE_MANIFEST);
    crate::atomic::write(&manifest_path, text.as_bytes(), 0o644)
        .map_err(io_at("write", &manifest_path))?;

    // The disk's digest, then the disk durable and in place.
    let mut file = std::fs::File::open(&disk.image).map_err(io_at("read", &disk.image))?;
    let mut hasher = crate::digest::Hasher::new();
    let mut bytes = 0u64;
    read_through(&mut file, &disk.image, |piece| {
        hasher.update(piece);
        bytes += piece.len() as u64;
    })?;
    let sha256 = hasher.finish();
    file.sync_all().map_err(io_at("write", &disk.image))?;
    drop(file);
    std::fs::set_permissions(
        &disk.image,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .map_err(io_at("set the mode of", &disk.image))?;
    std::fs::rename(&disk.image, output).map_err(io_at("move the image to", output))?;
    let bundle_output = beside(output, ".update");
    if let Ok(meta) = std::fs::symlink_metadata(&bundle_output)
        && !meta.is_dir()
    {
        return Err(
            crate::error::local("write the update bundle")(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "`{}` exists and is not a folder; it is never replaced",
                    bundle_output.display()
                ),
            ))
            .into(),
        );
    }
    std::fs::set_permissions(&bundle, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(io_at("set the mode of", &bundle))?;
    replace_folder(&bundle, &bundle_output)?;

    let bundle_name = bundle_output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    verity.file = format!("{bundle_name}/{BUNDLE_VERITY}");
    Ok(Written {
        sha256,
        bytes,
        set_id: 0,
        image: Some(ImageInfo {
            tree_sha256: image.tree_sha256,
            verity: Some(verity),
            dropped_xattrs: image.dropped_xattrs,
            oci: None,
            disk: Some(DiskInfo {
                disk,
                root_sha256: squashfs.sha256,
                root_bytes: squashfs.bytes,
                bundle: bundle_name,
            }),
        }),
    })
}

/// Writes an OCI image of `nodes` ([`crate::output::oci`]): the layout is made in a private
/// folder beside `output` (removed on failure or interruption), then, for `oci`, renamed into
/// place (an earlier layout at `output` exchanged with it atomically, then removed), or, for
/// `oci-archive`, written as a tar archive beside `output` and renamed into place.
fn write_oci(
    root: &Path,
    nodes: &[crate::output::Node],
    output: &Path,
    format: OutputFormat,
    epoch: i64,
    spec: &crate::output::oci::Spec,
) -> Result<Written, Failure> {
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let layout =
        crate::workdir::create(&parent, &name).map_err(io_at("create a folder in", &parent))?;
    let result = write_layout(root, nodes, &layout, output, format, epoch, spec);
    if result.is_err() || format == OutputFormat::OciArchive {
        // The archive holds what the folder did; a failed layout goes entirely.
        let _ = crate::workdir::remove_anywhere(&layout);
    }
    crate::workdir::unregister(&layout);
    result
}

/// [`write_oci`]'s work, in the private folder `layout`.
fn write_layout(
    root: &Path,
    nodes: &[crate::output::Node],
    layout: &Path,
    output: &Path,
    format: OutputFormat,
    epoch: i64,
    spec: &crate::output::oci::Spec,
) -> Result<Written, Failure> {
    let blobs = layout.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(io_at("create", &blobs))?;
    let layer_path = blobs.join("layer.partial");
    let file = std::fs::File::create(&layer_path).map_err(io_at("create", &layer_path))?;
    let mut writer = crate::output::Pipelined::new(file);
    let layer = crate::output::write_layer(root, nodes, spec.compression.tarball(), &mut writer)
        .and_then(|layer| {
            writer
                .finish()
                .map(|()| layer)
                .map_err(|source| crate::output::OutputError::Write {
                    path: layer_path.clone(),
                    source,
                })
        })
        .context(|| format!("cannot write `{}`", output.display()))?;
    let layer_blob = blobs.join(layer.sha256.hex());
    std::fs::rename(&layer_path, &layer_blob).map_err(io_at("write", &layer_blob))?;
    let documents = crate::output::oci::documents(spec, &layer);
    let mut total = layer.bytes;
    for (file, bytes) in crate::output::oci::small_files(&documents) {
        let path = layout.join(file);
        crate::output::oci::write_file(&path, bytes).map_err(io_at("write", &path))?;
        total += bytes.len() as u64;
    }
    for folder in [layout, &layout.join("blobs"), &blobs] {
        std::fs::set_permissions(folder, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(io_at("set the mode of", folder))?;
    }
    let info = OciInfo {
        manifest_digest: documents.manifest_digest(),
        config_digest: documents.config_digest(),
        layer_digest: layer.sha256,
        layer_bytes: layer.bytes,
        layer_media_type: spec.layer_media_type().into(),
        ref_name: crate::output::oci::REF_NAME.into(),
    };
    let (sha256, bytes) = if format == OutputFormat::Oci {
        replace_folder(layout, output)?;
        (info.manifest_digest, total)
    } else {
        let mut temporary = crate::atomic::Temporary::beside(output, 0o644)
            .map_err(io_at("create a temporary file beside", output))?;
        let temporary_path = temporary.path().to_path_buf();
        crate::workdir::register(&temporary_path);
        let written = (|| {
            let file = temporary.file();
            let mut buffered = std::io::BufWriter::with_capacity(1 << 20, &mut *file);
            let done = crate::output::oci::write_archive(layout, epoch, &mut buffered)
                .context(|| format!("cannot write `{}`", output.display()))?;
            std::io::Write::flush(&mut buffered).map_err(io_at("write", &temporary_path))?;
            Ok::<_, Failure>(done)
        })();
        let done = match written {
            Ok(done) => done,
            Err(failure) => {
                crate::workdir::unregister(&temporary_path);
                return Err(failure);
            }
        };
        temporary
            .persist()
            .map_err(io_at("move the archive to", output))?;
        crate::workdir::unregister(&temporary_path);
        done
    };
    Ok(Written {
        sha256,
        bytes,
        set_id: 0,
        image: Some(ImageInfo {
            tree_sha256: layer.diff_id,
            verity: None,
            dropped_xattrs: Vec::new(),
            oci: Some(info),
            disk: None,
        }),
    })
}

/// Moves the finished folder `made` to `output`: renamed over an absent or empty folder, or
/// exchanged atomically with an earlier layout ([`setup::preflight`] allowed only those), which
/// is then removed from where `made` was.
///
/// [`setup::preflight`]: super::setup::preflight
fn replace_folder(made: &Path, output: &Path) -> Result<(), Failure> {
    let empty = std::fs::read_dir(output)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    match std::fs::symlink_metadata(output) {
        Ok(meta) if meta.is_dir() && !empty => {
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                made,
                rustix::fs::CWD,
                output,
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .map_err(|e| io_at("replace", output)(std::io::Error::from(e)))?;
            crate::workdir::remove_anywhere(made).map_err(io_at("remove the earlier", made))?;
        }
        Ok(meta) if meta.is_dir() => {
            std::fs::remove_dir(output).map_err(io_at("replace", output))?;
            std::fs::rename(made, output).map_err(io_at("move the image to", output))?;
        }
        _ => std::fs::rename(made, output).map_err(io_at("move the image to", output))?,
    }
    Ok(())
}

/// The manifest written beside an output.
pub fn manifest(
    report: &Report,
    profile_digest: &Sha256Digest,
    lock_digest: &Sha256Digest,
    lock: &Lock,
) -> String {
    let packages: Vec<serde_json::Value> = lock
        .packages
        .iter()
        .map(|p| {
            serde_json::json!({
                "name": p.name,
                "version": p.version,
                "architecture": p.architecture,
                "sha256": p.sha256.hex(),
            })
        })
        .collect();
    let document = serde_json::json!({
        "debroot": env!("CARGO_PKG_VERSION"),
        "format": report.format.as_str(),
        "mode": report.mode.as_str(),
        "epoch": report.epoch,
        "epoch_from": report.epoch_from.as_str(),
        "profile_digest": profile_digest.hex(),
        "lock_digest": lock_digest.hex(),
        "output_sha256": report.sha256.hex(),
        "output_bytes": report.bytes,
        "packages": packages,
    });
    let mut document = document;
    if let (false, Some(fields)) = (report.path_filter.is_empty(), document.as_object_mut()) {
        let rules: Vec<serde_json::Value> = report
            .path_filter
            .rules
            .iter()
            .map(|rule| serde_json::json!({ rule.option(): rule.pattern }))
            .collect();
        fields.insert(
            "path_filters".into(),
            serde_json::json!({ "rules": rules, "filtered_paths": report.filtered }),
        );
    }
    if let (Some(image), Some(fields)) = (&report.image, document.as_object_mut()) {
        fields.insert("tree_sha256".into(), image.tree_sha256.hex().into());
        if let Some(oci) = &image.oci {
            fields.insert(
                "oci".into(),
                serde_json::json!({
                    "manifest_digest": format!("sha256:{}", oci.manifest_digest.hex()),
                    "config_digest": format!("sha256:{}", oci.config_digest.hex()),
                    "layer_digest": format!("sha256:{}", oci.layer_digest.hex()),
                    "layer_bytes": oci.layer_bytes,
                    "layer_media_type": oci.layer_media_type,
                    "ref_name": oci.ref_name,
                }),
            );
        }
        if !image.dropped_xattrs.is_empty() {
            let dropped: Vec<serde_json::Value> = image
                .dropped_xattrs
                .iter()
                .map(|(path, name)| serde_json::json!({ "path": format!("/{path}"), "name": name }))
                .collect();
            fields.insert("dropped_xattrs".into(), dropped.into());
        }
        if let Some(disk) = &image.disk {
            let partitions: Vec<serde_json::Value> = disk
                .disk
                .gpt
                .partitions
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "number": p.number,
                        "label": p.label,
                        "type": p.type_uuid,
                        "uuid": p.uuid,
                        "offset": p.offset,
                        "bytes": p.bytes,
                    })
                })
                .collect();
            fields.insert(
                "disk".into(),
                serde_json::json!({
                    "table": "gpt",
                    "sector_size": 512,
                    "disk_uuid": disk.disk.gpt.disk_uuid,
                    "partitions": partitions,
                    "version": disk.disk.version,
                    "slot_size": disk.disk.slot_size,
                    "verity_size": disk.disk.verity_size,
                    "esp_size": disk.disk.esp_size,
                    "root_sha256": disk.root_sha256.hex(),
                    "root_bytes": disk.root_bytes,
                    "uki": {
                        "path": format!("/EFI/Linux/{}", disk.disk.uki_name),
                        "sha256": disk.disk.uki_sha256.hex(),
                        "bytes": disk.disk.uki_bytes,
                        "kernel": disk.disk.kernel,
                        "command_line": disk.disk.command_line,
                    },
                    "update_bundle": disk.bundle,
                }),
            );
        }
        if let Some(verity) = &image.verity {
            fields.insert(
                "verity".into(),
                serde_json::json!({
                    "root_hash": verity.root_hash.hex(),
                    "hash_algorithm": "sha256",
                    "format": 1,
                    "data_block_size": crate::image::verity::BLOCK,
                    "hash_block_size": crate::image::verity::BLOCK,
                    "data_blocks": verity.data_blocks,
                    "hash_offset": 0,
                    "salt": verity.salt,
                    "uuid": verity.uuid,
                    "file": verity.file,
                    "sha256": verity.sha256.hex(),
                    "bytes": verity.bytes,
                }),
            );
        }
    }
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes the manifest beside the output (`OUTPUT.manifest.json`).
pub fn write_manifest(
    report: &Report,
    profile: &crate::profile::Profile,
    lock: &Lock,
) -> Result<(), Failure> {
    let text = manifest(
        report,
        &profile.resolution_digest(),
        &lock.digest(&profile.file_name()),
        lock,
    );
    let path = {
        let mut name = report.output.as_os_str().to_owned();
        name.push(".manifest.json");
        std::path::PathBuf::from(name)
    };
    crate::atomic::write(&path, text.as_bytes(), 0o644).map_err(io_at("write", &path))?;
    write_provenance(report, profile, lock)
}

/// Writes the provenance statement beside the output (`OUTPUT.provenance.json`,
/// [`super::provenance`]).
pub fn write_provenance(
    report: &Report,
    profile: &crate::profile::Profile,
    lock: &Lock,
) -> Result<(), Failure> {
    let lock_name = profile
        .lock_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let profile_name = profile.file_name();
    let inputs = super::provenance::Inputs {
        profile_name: &profile_name,
        profile_sha256: profile.files_sha256,
        profile_digest: profile.resolution_digest(),
        lock_name: &lock_name,
        lock_sha256: lock.digest(&profile_name),
        suite: &profile.source.suite,
        architectures: profile
            .source
            .architectures
            .iter()
            .map(ToString::to_string)
            .collect(),
    };
    let text = super::provenance::statement(report, &inputs, lock);
    let path = beside(&report.output, ".provenance.json");
    crate::atomic::write(&path, text.as_bytes(), 0o644).map_err(io_at("write", &path))?;
    Ok(())
}

/// Writes the SBOMs the profile's `output.sbom` asks for beside the output
/// (`OUTPUT.spdx.json`, `OUTPUT.cdx.json`), each atomically.
pub fn write_sboms(
    report: &Report,
    profile: &crate::profile::Profile,
    contents: &crate::sbom::Contents,
) -> Result<(), Failure> {
    let profile_name = profile
        .path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let subject = crate::sbom::Subject {
        profile: &profile_name,
        sha256: &report.sha256,
        epoch: report.epoch,
    };
    for format in &profile.output.sbom {
        let text = match format {
            crate::profile::SbomFormat::Spdx => crate::sbom::spdx::document(contents, &subject),
            crate::profile::SbomFormat::CycloneDx => {
                crate::sbom::cyclonedx::document(contents, &subject)
            }
        };
        let path = beside(&report.output, format.suffix());
        crate::atomic::write(&path, text.as_bytes(), 0o644).map_err(io_at("write", &path))?;
    }
    Ok(())
}

/// `-o -`: the tarball the root phases wrote at `written` copied to stdout, or with `null` the
/// manifest printed there. No file is left.
pub fn to_stdout(
    env: &Env<'_>,
    report: &Report,
    written: &Path,
    profile: &crate::profile::Profile,
    lock: &Lock,
) -> Result<(), Failure> {
    if report.format == OutputFormat::Null {
        let text = manifest(
            report,
            &profile.resolution_digest(),
            &lock.digest(&profile.file_name()),
            lock,
        );
        env.printer
            .data(&text)
            .map_err(|e| crate::error::local("write the manifest to stdout")(e).into())
    } else {
        let mut file = std::fs::File::open(written).map_err(io_at("read", written))?;
        let mut stdout = std::io::stdout().lock();
        std::io::copy(&mut file, &mut stdout)
            .and_then(|_| std::io::Write::flush(&mut stdout))
            .map_err(crate::error::local("write the tarball to stdout"))?;
        Ok(())
    }
}

/// A writer that tells `progress` how many bytes went through it (for the progress display: the
/// bytes are passed on untouched).
struct Counting<'a, W> {
    inner: W,
    progress: &'a dyn Fn(u64),
}

impl<'a, W> Counting<'a, W> {
    fn new(inner: W, progress: &'a dyn Fn(u64)) -> Self {
        Counting { inner, progress }
    }
}

impl<W: std::io::Write> std::io::Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        (self.progress)(written as u64);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Says which extended attributes an image could not hold.
pub fn tell_image(env: &Env<'_>, job: &RootJob<'_>, written: &Written) {
    let Some(image) = &written.image else {
        return;
    };
    if let Some((path, name)) = image.dropped_xattrs.first() {
        env.printer.warn(&format!(
            "{} cannot hold {} extended attribute{} of the tree (POSIX ACLs and other `system.*` names), left out of `{}`: `{name}` of `/{path}`{}; the manifest lists them (`dropped_xattrs`)",
            if job.format == OutputFormat::Disk {
                "squashfs (the disk's root)"
            } else {
                job.format.as_str()
            },
            image.dropped_xattrs.len(),
            if image.dropped_xattrs.len() == 1 { "" } else { "s" },
            job.output.display(),
            if image.dropped_xattrs.len() > 1 { " and others" } else { "" },
        ));
    }
}

/// Says what a private directory output means (see [`write_output`]).
pub fn tell_private(env: &Env<'_>, job: &RootJob<'_>, written: &Written) {
    if !(job.private && job.format == OutputFormat::Dir) {
        return;
    }
    env.printer.status(
        "Private",
        &format!(
            "`{}` is mode 0700: built without root, its files are yours (or your subordinate ids')",
            job.output.display()
        ),
    );
    if written.set_id > 0 {
        env.printer.warn(&format!(
            "`{}` holds {} setuid or setgid files owned by you or your subordinate ids; keep it mode 0700 (other users could run them as you), or build a tarball",
            job.output.display(),
            written.set_id
        ));
    }
}
