//! A strict tar reader for the members of a `.deb` (dpkg parity, docs/THREATS.md §1 rule 6, C6).
//!
//! Accepted: ustar (POSIX `ustar\0` + `00`) and GNU (`ustar  \0`) headers, with regular files,
//! hard links, symbolic links and directories, GNU long names (`L`) and long link targets
//! (`K`), octal or GNU base-256 numbers. Refused, naming the member index and byte offset: a bad
//! header checksum, PAX headers (`x`, `g`: the TARmageddon class of smuggled sizes), sparse,
//! multivolume, volume and names entries, device nodes, FIFOs and any unknown type, sizes that
//! are not numbers or are absurd, names that are absolute, contain `..`, an empty component, a
//! newline or a NUL byte (a name field whose NUL terminator is followed by anything but NULs, as
//! tools disagree on which name such a field holds), or are longer than [`MAX_NAME`], a mode field
//! whose file-type bits contradict the type flag (a "regular file" whose mode says socket), a hard
//! link or directory that carries data, and an archive that ends without its end-of-archive
//! blocks. After the end-of-archive blocks at most [`MAX_PADDING`] zero bytes may follow (tar's
//! record padding); anything else is data hidden after the end and refused (C8g).
//!
//! The reader is streaming: [`TarReader::next_entry`] returns the next entry's header and the caller
//! reads its data with [`TarReader::read`] before asking for the next.

use std::io::{self, Read};

pub use super::header::shown_name;
use super::header::{
    self, BLOCK, GNU_MAGIC_VERSION, Numbers, USTAR_MAGIC_VERSION, c_string, checksum_matches,
    name_field, typeflag, without_trailing_nuls,
};

/// Longest member name or link target (Linux `PATH_MAX`).
pub const MAX_NAME: usize = 4096;
/// Largest member (as apt's `APT_FILESIZE_LIMIT`, 128 GiB).
pub const MAX_MEMBER: u64 = 1 << 37;
/// Most zero bytes accepted after the end-of-archive blocks. GNU tar pads to its record size
/// (10 KiB by default, 1 MiB at the largest blocking factor anyone uses); more zeros would only
/// make the decoder work for nothing.
pub const MAX_PADDING: u64 = 1 << 20;

/// What kind of entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
}

/// One member's header, validated and normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path relative to the root, without a leading `./` or trailing `/`; empty for the
    /// root directory itself (`./`).
    pub path: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub uname: Vec<u8>,
    pub gname: Vec<u8>,
    pub mtime: i64,
    /// Data bytes (regular files only).
    pub size: u64,
    /// Symlink target as written, or the normalized path of a hard link's target.
    pub link: Vec<u8>,
    /// 0-based index of the member in the archive.
    pub index: usize,
    /// Byte offset of the member's header.
    pub offset: u64,
}

/// Why an archive is refused.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("member {index}{} at byte {offset}: {reason}", name.as_ref().map(|n| format!(" `{n}`")).unwrap_or_default())]
    Invalid {
        index: usize,
        /// The member's name as written (escaped, shortened), when the header got that far.
        name: Option<String>,
        offset: u64,
        reason: String,
    },
    #[error("truncated tar (ends inside member {index} at byte {offset})")]
    Truncated { index: usize, offset: u64 },
    #[error("reading the tar stream: {0}")]
    Io(#[source] io::Error),
}

/// A numeric field, strictly (only NULs and spaces after the digits).
fn octal(field: &[u8]) -> Option<u64> {
    header::number(field, Numbers::Strict)
}

/// The file-type bits some writers (Go's `archive/tar`) put in the mode field.
fn mode_type_matches(mode: u64, kind: Kind) -> bool {
    let bits = mode & 0o170_000;
    bits == 0
        || bits
            == match kind {
                Kind::File | Kind::Hardlink => 0o100_000,
                Kind::Dir => 0o040_000,
                Kind::Symlink => 0o120_000,
            }
}

/// Normalizes a member name: one leading `./` removed, one trailing `/` removed; refuses
/// absolute names, `..`, `.` or empty components (except the root `./`), newlines.
pub fn normalize(name: &[u8]) -> Result<Vec<u8>, String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!("name longer than {MAX_NAME} bytes"));
    }
    if name.contains(&b'\n') {
        return Err("name contains a newline".into());
    }
    if name[0] == b'/' {
        return Err("absolute name".into());
    }
    let mut rest = name.strip_prefix(b"./").unwrap_or(name);
    if rest == b"." || rest.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(stripped) = rest.strip_suffix(b"/") {
        rest = stripped;
    }
    for component in rest.split(|&b| b == b'/') {
        match component {
            b"" => return Err("empty path component".into()),
            b"." => return Err("`.` path component".into()),
            b".." => return Err("`..` path component".into()),
            _ => {}
        }
    }
    Ok(rest.to_vec())
}

/// The streaming reader.
pub struct TarReader<R> {
    inner: R,
    offset: u64,
    index: usize,
    /// Data bytes of the current entry not yet read.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    done: bool,
}

impl<R: Read> TarReader<R> {
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            offset: 0,
            index: 0,
            remaining: 0,
            padding: 0,
            done: false,
        }
    }

    fn invalid(&self, offset: u64, reason: impl Into<String>) -> TarError {
        TarError::Invalid {
            index: self.index,
            name: None,
            offset,
            reason: reason.into(),
        }
    }

    fn invalid_member(&self, offset: u64, name: &[u8], reason: impl Into<String>) -> TarError {
        TarError::Invalid {
            index: self.index,
            name: Some(shown_name(name)),
            offset,
            reason: reason.into(),
        }
    }

    /// Reads exactly `buf.len()` bytes; `Ok(false)` at a clean end of stream before any byte.
    fn read_block(&mut self, buf: &mut [u8]) -> Result<bool, TarError> {
        let mut filled = 0;
        while filled < buf.len() {
            let n = match self.inner.read(&mut buf[filled..]) {
                Ok(n) => n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(TarError::Io(error)),
            };
            if n == 0 {
                if filled == 0 {
                    return Ok(false);
                }
                return Err(TarError::Truncated {
                    index: self.index,
                    offset: self.offset,
                });
            }
            filled += n;
        }
        self.offset += buf.len() as u64;
        Ok(true)
    }

    fn skip(&mut self, mut count: u64) -> Result<(), TarError> {
        let mut buffer = [0u8; 8192];
        while count > 0 {
            let chunk = count.min(buffer.len() as u64) as usize;
            if !self.read_block(&mut buffer[..chunk])? {
                return Err(TarError::Truncated {
                    index: self.index,
                    offset: self.offset,
                });
            }
            count -= chunk as u64;
        }
        Ok(())
    }

    /// Reads up to `buf.len()` bytes of the current entry's data; 0 at its end.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, TarError> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = loop {
            match self.inner.read(&mut buf[..want]) {
                Ok(n) => break n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(TarError::Io(error)),
            }
        };
        if n == 0 {
            return Err(TarError::Truncated {
                index: self.index,
                offset: self.offset,
            });
        }
        self.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }

    /// Reads a GNU long name/link payload (NUL-terminated), at most [`MAX_NAME`] + 1 bytes.
    fn long_value(&mut self, size: u64, header_offset: u64) -> Result<Vec<u8>, TarError> {
        if size > MAX_NAME as u64 + 1 {
            return Err(self.invalid(
                header_offset,
                format!("GNU long name of {size} bytes is longer than {MAX_NAME} bytes"),
            ));
        }
        let mut value = vec![0u8; size as usize];
        if !self.read_block(&mut value)? {
            return Err(TarError::Truncated {
                index: self.index,
                offset: self.offset,
            });
        }
        self.skip((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64)?;
        match name_field(&value) {
            Some(name) => Ok(name.to_vec()),
            None => Err(self.invalid_member(
                header_offset,
                without_trailing_nuls(&value),
                "GNU long name or link contains a NUL byte",
            )),
        }
    }

    /// The next entry, or `None` at the end of the archive.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        if self.done {
            return Ok(None);
        }
        // Skip whatever the caller did not read of the previous entry.
        let rest = self.remaining + self.padding;
        self.remaining = 0;
        self.padding = 0;
        self.skip(rest)?;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        loop {
            let header_offset = self.offset;
            let mut header = [0u8; BLOCK];
            if !self.read_block(&mut header)? {
                return Err(TarError::Truncated {
                    index: self.index,
                    offset: self.offset,
                });
            }
            if header.iter().all(|&b| b == 0) {
                if long_name.is_some() || long_link.is_some() {
                    return Err(
                        self.invalid(header_offset, "GNU long name not followed by an entry")
                    );
                }
                self.finish(header_offset)?;
                return Ok(None);
            }
            let stored = octal(&header[header::CHECKSUM])
                .ok_or_else(|| self.invalid(header_offset, "malformed header checksum"))?;
            if !checksum_matches(&header, stored) {
                return Err(self.invalid(header_offset, "bad header checksum"));
            }
            let magic = &header[header::MAGIC_VERSION];
            if magic != USTAR_MAGIC_VERSION && magic != GNU_MAGIC_VERSION {
                return Err(self.invalid(header_offset, "not a ustar or GNU tar header"));
            }
            let typeflag = header[header::TYPEFLAG];
            let shown = long_name
                .clone()
                .unwrap_or_else(|| c_string(&header[header::NAME]).to_vec());
            let size = octal(&header[header::SIZE]).ok_or_else(|| {
                self.invalid_member(header_offset, &shown, "malformed size field")
            })?;
            if size > MAX_MEMBER {
                return Err(self.invalid_member(
                    header_offset,
                    &shown,
                    format!("member of {size} bytes exceeds the size cap of {MAX_MEMBER} bytes"),
                ));
            }
            match typeflag {
                typeflag::GNU_LONGNAME => {
                    if long_name.is_some() {
                        return Err(self.invalid(header_offset, "two GNU long names for one entry"));
                    }
                    long_name = Some(self.long_value(size, header_offset)?);
                    continue;
                }
                typeflag::GNU_LONGLINK => {
                    if long_link.is_some() {
                        return Err(self.invalid(header_offset, "two GNU long links for one entry"));
                    }
                    long_link = Some(self.long_value(size, header_offset)?);
                    continue;
                }
                _ => {}
            }
            // The name as written, for messages, before the type is judged.
            let raw_name = match long_name.take() {
                Some(name) => name,
                None => {
                    let name = name_field(&header[header::NAME]);
                    let prefix = if magic == USTAR_MAGIC_VERSION {
                        name_field(&header[header::PREFIX])
                    } else {
                        Some(&b""[..])
                    };
                    let (Some(name), Some(prefix)) = (name, prefix) else {
                        return Err(self.invalid_member(
                            header_offset,
                            without_trailing_nuls(&header[header::NAME]),
                            "unsafe path: name contains a NUL byte",
                        ));
                    };
                    if prefix.is_empty() {
                        name.to_vec()
                    } else {
                        let mut full = prefix.to_vec();
                        full.push(b'/');
                        full.extend_from_slice(name);
                        full
                    }
                }
            };
            let kind = match typeflag {
                typeflag::REGULAR | typeflag::REGULAR_OLD | typeflag::CONTIGUOUS => Kind::File,
                typeflag::HARDLINK => Kind::Hardlink,
                typeflag::SYMLINK => Kind::Symlink,
                typeflag::DIR => Kind::Dir,
                typeflag::CHAR | typeflag::BLOCK | typeflag::FIFO => {
                    return Err(self.invalid_member(
                        header_offset,
                        &raw_name,
                        "special files are not allowed (Debian Policy 10.6)",
                    ));
                }
                typeflag::PAX_LOCAL | typeflag::PAX_GLOBAL => {
                    return Err(self.invalid_member(
                        header_offset,
                        &raw_name,
                        "PAX headers are not allowed in a .deb",
                    ));
                }
                other => {
                    return Err(self.invalid_member(
                        header_offset,
                        &raw_name,
                        format!(
                            "unsupported tar entry type `{}`",
                            crate::debian::escape(&[other])
                        ),
                    ));
                }
            };
            let path = normalize(&raw_name).map_err(|reason| {
                self.invalid_member(header_offset, &raw_name, format!("unsafe path: {reason}"))
            })?;
            let link = match long_link.take() {
                Some(link) => link,
                None => name_field(&header[header::LINKNAME])
                    .ok_or_else(|| {
                        self.invalid_member(
                            header_offset,
                            &raw_name,
                            "link target contains a NUL byte",
                        )
                    })?
                    .to_vec(),
            };
            let number = |range: std::ops::Range<usize>, what: &str| {
                octal(&header[range]).ok_or_else(|| {
                    self.invalid_member(header_offset, &raw_name, format!("malformed {what} field"))
                })
            };
            let mode = number(header::MODE, "mode")?;
            if mode > 0o177_777 || !mode_type_matches(mode, kind) {
                return Err(self.invalid_member(
                    header_offset,
                    &raw_name,
                    format!("mode {mode:o} does not match the entry type"),
                ));
            }
            let mode = mode as u32 & 0o7777;
            let uid = u32::try_from(number(header::UID, "uid")?)
                .map_err(|_| self.invalid_member(header_offset, &raw_name, "uid out of range"))?;
            let gid = u32::try_from(number(header::GID, "gid")?)
                .map_err(|_| self.invalid_member(header_offset, &raw_name, "gid out of range"))?;
            let mtime = i64::try_from(number(header::MTIME, "mtime")?)
                .map_err(|_| self.invalid_member(header_offset, &raw_name, "mtime out of range"))?;
            let link = match kind {
                Kind::Symlink => {
                    if link.is_empty() || link.len() > MAX_NAME || link.contains(&b'\n') {
                        return Err(self.invalid_member(
                            header_offset,
                            &raw_name,
                            format!("invalid symlink target `{}`", shown_name(&link)),
                        ));
                    }
                    link
                }
                Kind::Hardlink => normalize(&link).map_err(|reason| {
                    self.invalid_member(
                        header_offset,
                        &raw_name,
                        format!("unsafe hard link target `{}`: {reason}", shown_name(&link)),
                    )
                })?,
                _ => Vec::new(),
            };
            if kind != Kind::File && size != 0 {
                return Err(self.invalid_member(
                    header_offset,
                    &raw_name,
                    "a link or directory member carries data",
                ));
            }
            if path.is_empty() && kind != Kind::Dir {
                return Err(self.invalid_member(
                    header_offset,
                    &raw_name,
                    "unsafe path: the root entry is not a directory",
                ));
            }
            let entry = Entry {
                path,
                kind,
                mode,
                uid,
                gid,
                uname: c_string(&header[header::UNAME]).to_vec(),
                gname: c_string(&header[header::GNAME]).to_vec(),
                mtime,
                size,
                link,
                index: self.index,
                offset: header_offset,
            };
            self.index += 1;
            self.remaining = size;
            self.padding = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
            return Ok(Some(entry));
        }
    }

    /// After the first zero block: a second one, then at most [`MAX_PADDING`] zeros to the end.
    fn finish(&mut self, offset: u64) -> Result<(), TarError> {
        self.done = true;
        let mut block = [0u8; BLOCK];
        if !self.read_block(&mut block)? {
            return Err(self.invalid(offset, "missing second end-of-archive block"));
        }
        if block.iter().any(|&b| b != 0) {
            return Err(self.invalid(offset, "data after the end of the archive"));
        }
        let end = self.offset;
        let mut buffer = [0u8; 8192];
        loop {
            let n = match self.inner.read(&mut buffer) {
                Ok(n) => n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(TarError::Io(error)),
            };
            if n == 0 {
                break;
            }
            if let Some(at) = buffer[..n].iter().position(|&b| b != 0) {
                return Err(
                    self.invalid(self.offset + at as u64, "data after the end of the archive")
                );
            }
            self.offset += n as u64;
            if self.offset - end > MAX_PADDING {
                return Err(self.invalid(
                    end,
                    format!(
                        "more than {MAX_PADDING} bytes of padding after the end of the archive"
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &[u8], kind: u8, size: u64, link: &[u8]) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name);
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[136..148].copy_from_slice(b"14000000000\0");
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link);
        h[257..265].copy_from_slice(b"ustar\x0000");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn archive(members: &[([u8; 512], &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (h, data) in members {
            out.extend_from_slice(h);
            out.extend_from_slice(data);
            out.extend(std::iter::repeat_n(0u8, (512 - data.len() % 512) % 512));
        }
        out.extend([0u8; 1024]);
        out
    }

    fn entries(bytes: &[u8]) -> Result<Vec<Entry>, TarError> {
        let mut reader = TarReader::new(bytes);
        let mut out = Vec::new();
        while let Some(entry) = reader.next_entry()? {
            out.push(entry);
        }
        Ok(out)
    }

    #[test]
    fn reads_members() {
        let bytes = archive(&[
            (header(b"./", b'5', 0, b""), b""),
            (header(b"./usr/bin/", b'5', 0, b""), b""),
            (header(b"./usr/bin/hello", b'0', 5, b""), b"hello"),
            (header(b"./usr/bin/hi", b'1', 0, b"./usr/bin/hello"), b""),
            (header(b"./bin", b'2', 0, b"usr/bin"), b""),
        ]);
        let list = entries(&bytes).unwrap();
        assert_eq!(list.len(), 5);
        assert_eq!(list[0].path, b"");
        assert_eq!(list[1].path, b"usr/bin");
        assert_eq!(list[2].size, 5);
        assert_eq!(list[3].link, b"usr/bin/hello");
        assert_eq!(list[4].kind, Kind::Symlink);
    }

    #[test]
    fn refuses_hostile_members() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (archive(&[(header(b"../x", b'0', 0, b""), b"")]), "`..`"),
            (
                archive(&[(header(b"a/../../x", b'0', 0, b""), b"")]),
                "`..`",
            ),
            (
                archive(&[(header(b"/abs/x", b'0', 0, b""), b"")]),
                "absolute",
            ),
            (
                archive(&[(header(b"a//b", b'0', 0, b""), b"")]),
                "empty path component",
            ),
            (archive(&[(header(b"a\nb", b'0', 0, b""), b"")]), "newline"),
            (
                archive(&[(header(b"dev/sda", b'4', 0, b""), b"")]),
                "special files",
            ),
            (
                archive(&[(header(b"fifo", b'6', 0, b""), b"")]),
                "special files",
            ),
            (archive(&[(header(b"pax", b'x', 0, b""), b"")]), "PAX"),
            (
                archive(&[(header(b"sparse", b'S', 0, b""), b"")]),
                "unsupported",
            ),
            (
                archive(&[(header(b"h", b'1', 100, b"x"), &[0u8; 100])]),
                "carries data",
            ),
            (
                archive(&[(header(b"h", b'1', 0, b"../../x"), b"")]),
                "unsafe hard link",
            ),
        ];
        for (bytes, reason) in cases {
            let error = entries(&bytes).unwrap_err().to_string();
            assert!(error.contains(reason), "{error} lacks {reason}");
        }
        let mut bad_checksum = archive(&[(header(b"x", b'0', 0, b""), b"")]);
        bad_checksum[0] = b'y';
        assert!(
            entries(&bad_checksum)
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
    }

    #[test]
    fn end_of_archive_rules() {
        let good = archive(&[(header(b"x", b'0', 1, b""), b"x")]);
        let truncated = &good[..1024];
        assert!(matches!(
            entries(truncated),
            Err(TarError::Truncated { .. })
        ));
        let mut garbage = good.clone();
        garbage.extend_from_slice(b"hidden");
        assert!(
            entries(&garbage)
                .unwrap_err()
                .to_string()
                .contains("after the end")
        );
        let mut zeros = good.clone();
        zeros.extend([0u8; 4096]);
        assert!(entries(&zeros).is_ok());
    }

    #[test]
    fn gnu_long_names_are_bounded() {
        let long = vec![b'a'; 300];
        let mut name_payload = long.clone();
        name_payload.push(0);
        let bytes = archive(&[
            (
                header(b"././@LongLink", b'L', name_payload.len() as u64, b""),
                &name_payload,
            ),
            (header(b"short", b'0', 0, b""), b""),
        ]);
        assert_eq!(entries(&bytes).unwrap()[0].path, long);
        let huge = vec![b'a'; 5000];
        let bytes = archive(&[(
            header(b"././@LongLink", b'L', huge.len() as u64, b""),
            &huge,
        )]);
        assert!(
            entries(&bytes)
                .unwrap_err()
                .to_string()
                .contains("long name")
        );
        let bytes = archive(&[(header(b"././@LongLink", b'L', 4, b""), b"abc\0")]);
        assert!(
            entries(&bytes)
                .unwrap_err()
                .to_string()
                .contains("not followed")
        );
    }

    /// `header` with `edit` applied and its checksum recomputed.
    fn edited(mut h: [u8; 512], edit: impl FnOnce(&mut [u8; 512])) -> [u8; 512] {
        edit(&mut h);
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    #[test]
    fn names_with_a_nul_byte_are_refused() {
        // `x\0../../pwn`: `x` to one tool, more to another.
        let h = edited(header(b"x", b'0', 0, b""), |h| {
            h[1..11].copy_from_slice(b"\0../../pwn");
        });
        let error = entries(&archive(&[(h, b"")])).unwrap_err().to_string();
        assert!(
            error.contains("NUL byte") && error.contains("member 0"),
            "{error}"
        );
        let h = edited(header(b"l", b'2', 0, b"t"), |h| {
            h[159..163].copy_from_slice(b"/etc");
        });
        let error = entries(&archive(&[(h, b"")])).unwrap_err().to_string();
        assert!(error.contains("link target contains a NUL byte"), "{error}");
        let payload = b"a\0../../pwn\0";
        let bytes = archive(&[
            (
                header(b"././@LongLink", b'L', payload.len() as u64, b""),
                payload,
            ),
            (header(b"short", b'0', 0, b""), b""),
        ]);
        let error = entries(&bytes).unwrap_err().to_string();
        assert!(error.contains("contains a NUL byte"), "{error}");
    }

    #[test]
    fn mode_type_bits_must_match_the_type_flag() {
        // Go's archive/tar writes the type bits: accepted when they agree.
        let go = edited(header(b"f", b'0', 0, b""), |h| {
            h[100..108].copy_from_slice(b"0100644\0");
        });
        assert_eq!(entries(&archive(&[(go, b"")])).unwrap()[0].mode, 0o644);
        let dir = edited(header(b"d/", b'5', 0, b""), |h| {
            h[100..108].copy_from_slice(b"0040755\0");
        });
        assert_eq!(entries(&archive(&[(dir, b"")])).unwrap()[0].mode, 0o755);
        // A "regular file" whose mode says socket (0140000), or bits above the type.
        for mode in [b"0140755\0", b"0020644\0", b"7777777\0"] {
            let h = edited(header(b"sock", b'0', 0, b""), |h| {
                h[100..108].copy_from_slice(mode);
            });
            let error = entries(&archive(&[(h, b"")])).unwrap_err().to_string();
            assert!(
                error.contains("does not match the entry type") && error.contains("`sock`"),
                "{error}"
            );
        }
    }

    #[test]
    fn padding_after_the_end_is_bounded() {
        let mut padded = archive(&[(header(b"x", b'0', 1, b""), b"x")]);
        padded.extend(std::iter::repeat_n(0u8, MAX_PADDING as usize));
        assert!(entries(&padded).is_ok());
        padded.extend([0u8; 8192]);
        let error = entries(&padded).unwrap_err().to_string();
        assert!(error.contains("padding after the end"), "{error}");
    }

    #[test]
    fn messages_name_the_member_shortened() {
        let error = entries(&archive(&[(header(b"dev/sda", b'3', 0, b""), b"")]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "member 0 `dev/sda` at byte 0: special files are not allowed (Debian Policy 10.6)"
        );
        let long = vec![b'a'; 4097];
        let shown = shown_name(&long);
        assert!(
            shown.contains("...") && shown.ends_with(" (4097 bytes)") && shown.len() < 300,
            "{shown}"
        );
        assert_eq!(shown_name(b"caf\xe9"), "caf\\xe9");
    }
}
