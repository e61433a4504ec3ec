//! A deterministic tar writer, with headers built here.
//!
//! The `tar` crate's own helpers strip setuid bits or take the directory order of the
//! filesystem; this writer makes every header itself:
//!
//! - entries in byte order of their paths (`./`, then `./bin`, `./boot`, ...), never following a
//!   symlink (`lstat` semantics throughout);
//! - POSIX ustar headers, with a PAX extended header (named `./PaxHeaders/NAME`) only where ustar
//!   cannot say it: a path or link target longer than the ustar fields, a size of 8 GiB or more,
//!   and extended attributes (`SCHILY.xattr.*`, e.g. `security.capability`);
//! - numeric owners (no user or group names), exact modes including setuid, setgid and sticky
//!   bits, whole-second modification times, no access or change times;
//! - hard links as hard links (to the first path of the inode, in byte order);
//! - two zero blocks at the end, padded to a 10240-byte record as GNU tar does.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::header::{
    self, BLOCK, USTAR_MAGIC, fits_ustar, pax_record, typeflag, ustar_split, write_octal,
};

/// One node of a tree, as the writer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Path relative to the root, bytes; empty for the root.
    pub path: Vec<u8>,
    pub kind: NodeKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    /// Extended attributes, by name.
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    Dir,
    File {
        size: u64,
    },
    Symlink {
        target: Vec<u8>,
    },
    /// A hard link to an earlier path (relative, no `./`).
    Hardlink {
        target: Vec<u8>,
    },
    CharDevice {
        major: u32,
        minor: u32,
    },
    BlockDevice {
        major: u32,
        minor: u32,
    },
    Fifo,
}

/// Why an entry cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum TarWriteError {
    #[error("`{}`: {reason}", crate::debian::escape(.path))]
    Unrepresentable { path: Vec<u8>, reason: String },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The name a member is written under: `./` and the path; `./` for the root.
fn member_name(node: &Node) -> Vec<u8> {
    let mut name = b"./".to_vec();
    name.extend_from_slice(&node.path);
    if matches!(node.kind, NodeKind::Dir) && !node.path.is_empty() {
        name.push(b'/');
    }
    name
}

/// Writes entries to an inner writer.
pub struct TarWriter<W: Write> {
    inner: W,
    written: u64,
    /// File data on its way from a member's file to `inner` (made at the first file).
    buffer: Vec<u8>,
}

/// Bytes of file data read at once: most files of a root are smaller, so they cost one
/// `read` (`io::copy`'s 8 KiB cost one per 8 KiB: about 15,000 reads for a minbase tarball).
const COPY_BUFFER: usize = 256 << 10;

impl<W: Write> TarWriter<W> {
    pub fn new(inner: W) -> Self {
        TarWriter {
            inner,
            written: 0,
            buffer: Vec::new(),
        }
    }

    /// Copies at most `size` bytes of `data` into the archive; returns how many there were.
    fn copy_data(&mut self, data: &mut dyn io::Read, size: u64) -> io::Result<u64> {
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.resize(COPY_BUFFER, 0);
        let result = (|| {
            let mut copied = 0u64;
            while copied < size {
                let want = (size - copied).min(COPY_BUFFER as u64) as usize;
                let n = match data.read(&mut buffer[..want]) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => return Err(error),
                };
                self.write_all(&buffer[..n])?;
                copied += n as u64;
            }
            Ok(copied)
        })();
        self.buffer = buffer;
        result
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        let rest = (BLOCK as u64 - self.written % BLOCK as u64) % BLOCK as u64;
        self.write_all(&vec![0u8; rest as usize])
    }

    fn header(
        &mut self,
        name: &[u8],
        typeflag: u8,
        node: &Node,
        size: u64,
        link: &[u8],
        devices: (u32, u32),
    ) -> Result<(), TarWriteError> {
        let mut h = [0u8; BLOCK];
        // Long names: split into prefix and name when possible, else the PAX header carries it.
        if name.len() <= header::NAME.len() {
            h[..name.len()].copy_from_slice(name);
        } else if let Some(split) = ustar_split(name) {
            h[header::PREFIX][..split].copy_from_slice(&name[..split]);
            h[..name.len() - split - 1].copy_from_slice(&name[split + 1..]);
        } else {
            // Truncated in the ustar field; readers use the PAX `path` record.
            h[header::NAME].copy_from_slice(&name[..header::NAME.len()]);
        }
        let unrepresentable = |reason: &str| TarWriteError::Unrepresentable {
            path: node.path.clone(),
            reason: reason.to_owned(),
        };
        if !write_octal(&mut h[header::MODE], u64::from(node.mode & 0o7777))
            || !write_octal(&mut h[header::UID], u64::from(node.uid))
            || !write_octal(&mut h[header::GID], u64::from(node.gid))
        {
            return Err(unrepresentable("owner does not fit a ustar header"));
        }
        if !write_octal(&mut h[header::SIZE], if size >= 1 << 33 { 0 } else { size }) {
            return Err(unrepresentable("size does not fit"));
        }
        let mtime = u64::try_from(node.mtime).map_err(|_| unrepresentable("mtime before 1970"))?;
        if !write_octal(&mut h[header::MTIME], mtime) {
            return Err(unrepresentable("mtime does not fit"));
        }
        h[header::TYPEFLAG] = typeflag;
        let link_field = &link[..link.len().min(header::LINKNAME.len())];
        h[header::LINKNAME][..link_field.len()].copy_from_slice(link_field);
        h[header::MAGIC].copy_from_slice(USTAR_MAGIC);
        h[header::VERSION].copy_from_slice(b"00");
        if typeflag == typeflag::CHAR || typeflag == typeflag::BLOCK {
            write_octal(&mut h[header::DEVMAJOR], u64::from(devices.0));
            write_octal(&mut h[header::DEVMINOR], u64::from(devices.1));
        }
        // Six digits, a NUL and a space, as GNU tar writes it.
        let checksum = header::checksum(&h);
        write_octal(&mut h[header::CHECKSUM][..7], checksum);
        h[header::CHECKSUM.end - 1] = b' ';
        self.write_all(&h)?;
        Ok(())
    }

    /// Writes one node; `data` supplies a regular file's bytes.
    pub fn append(
        &mut self,
        node: &Node,
        data: Option<&mut dyn io::Read>,
    ) -> Result<(), TarWriteError> {
        let name = member_name(node);
        let (typeflag, size, link, devices): (u8, u64, &[u8], (u32, u32)) = match &node.kind {
            NodeKind::Dir => (typeflag::DIR, 0, b"", (0, 0)),
            NodeKind::File { size } => (typeflag::REGULAR, *size, b"", (0, 0)),
            NodeKind::Symlink { target } => (typeflag::SYMLINK, 0, target.as_slice(), (0, 0)),
            NodeKind::Hardlink { target } => (typeflag::HARDLINK, 0, target.as_slice(), (0, 0)),
            NodeKind::CharDevice { major, minor } => (typeflag::CHAR, 0, b"", (*major, *minor)),
            NodeKind::BlockDevice { major, minor } => (typeflag::BLOCK, 0, b"", (*major, *minor)),
            NodeKind::Fifo => (typeflag::FIFO, 0, b"", (0, 0)),
        };
        let link_name: Vec<u8> = match &node.kind {
            NodeKind::Hardlink { target } => {
                let mut full = b"./".to_vec();
                full.extend_from_slice(target);
                full
            }
            _ => link.to_vec(),
        };
        // PAX records for what ustar cannot hold.
        let mut records = Vec::new();
        if !fits_ustar(&name) {
            records.extend(pax_record("path", &name));
        }
        if link_name.len() > header::LINKNAME.len() {
            records.extend(pax_record("linkpath", &link_name));
        }
        if size >= 1 << 33 {
            records.extend(pax_record("size", size.to_string().as_bytes()));
        }
        for (key, value) in &node.xattrs {
            let key = format!("SCHILY.xattr.{}", String::from_utf8_lossy(key));
            records.extend(pax_record(&key, value));
        }
        if !records.is_empty() {
            let base = node.path.rsplit(|&b| b == b'/').next().unwrap_or(b"");
            let mut pax_name = b"./PaxHeaders/".to_vec();
            pax_name.extend_from_slice(&base[..base.len().min(80)]);
            let pax_node = Node {
                path: Vec::new(),
                kind: NodeKind::File {
                    size: records.len() as u64,
                },
                mode: 0o644,
                uid: 0,
                gid: 0,
                mtime: node.mtime,
                xattrs: BTreeMap::new(),
            };
            self.header(
                &pax_name,
                typeflag::PAX_LOCAL,
                &pax_node,
                records.len() as u64,
                b"",
                (0, 0),
            )?;
            self.write_all(&records)?;
            self.pad()?;
        }
        self.header(&name, typeflag, node, size, &link_name, devices)?;
        if let (NodeKind::File { size }, Some(data)) = (&node.kind, data) {
            let copied = self.copy_data(data, *size)?;
            if copied != *size {
                return Err(TarWriteError::Unrepresentable {
                    path: node.path.clone(),
                    reason: format!("file changed while it was written ({copied} of {size} bytes)"),
                });
            }
            self.pad()?;
        }
        Ok(())
    }

    /// Ends the archive and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.write_all(&[0u8; 1024])?;
        let rest = (10240 - self.written % 10240) % 10240;
        self.write_all(&vec![0u8; rest as usize])?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str, kind: NodeKind, mode: u32) -> Node {
        Node {
            path: path.as_bytes().to_vec(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 1_700_000_000,
            xattrs: BTreeMap::new(),
        }
    }

    #[test]
    fn writes_what_gnu_tar_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.tar");
        let file = std::fs::File::create(&path).unwrap();
        let mut writer = TarWriter::new(file);
        let long = format!("usr/share/{}/file", "d".repeat(150));
        let mut capability = node("usr/bin/ping", NodeKind::File { size: 4 }, 0o755);
        capability
            .xattrs
            .insert(b"security.capability".to_vec(), vec![1, 0, 0, 2]);
        writer
            .append(&node("", NodeKind::Dir, 0o755), None)
            .unwrap();
        writer
            .append(
                &node("usr/bin/su", NodeKind::File { size: 3 }, 0o4755),
                Some(&mut &b"su\n"[..]),
            )
            .unwrap();
        writer.append(&capability, Some(&mut &b"ping"[..])).unwrap();
        writer
            .append(
                &node(&long, NodeKind::File { size: 1 }, 0o644),
                Some(&mut &b"x"[..]),
            )
            .unwrap();
        writer
            .append(
                &node(
                    "bin",
                    NodeKind::Symlink {
                        target: b"usr/bin".to_vec(),
                    },
                    0o777,
                ),
                None,
            )
            .unwrap();
        writer
            .append(
                &node(
                    "usr/bin/su2",
                    NodeKind::Hardlink {
                        target: b"usr/bin/su".to_vec(),
                    },
                    0o4755,
                ),
                None,
            )
            .unwrap();
        writer.finish().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len() % 10240, 0);
        let listing = std::process::Command::new("tar")
            .args(["--numeric-owner", "-tvf"])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&listing.stdout);
        assert!(
            listing.status.success(),
            "{}",
            String::from_utf8_lossy(&listing.stderr)
        );
        assert!(text.contains("-rwsr-xr-x 0/0"), "{text}");
        assert!(text.contains(&format!("./{long}")), "{text}");
        assert!(text.contains("./bin -> usr/bin"), "{text}");
        assert!(
            text.contains("./usr/bin/su2 link to ./usr/bin/su"),
            "{text}"
        );
        let xattrs = std::process::Command::new("tar")
            .args(["--xattrs", "--xattrs-include=*", "-tvvf"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(xattrs.status.success());
    }
}
