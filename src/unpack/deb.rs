//! The `.deb` container, read strictly (deb(5), dpkg parity; docs/THREATS.md C7).
//!
//! An ar archive in the common format: `!<arch>\n`, then members with 60-byte headers whose
//! sizes are decimal and fit in what remains, each padded to an even length with `\n`. The
//! members are `debian-binary` (format `2.x`), then `control.tar[.gz|.xz|.zst]`, then
//! `data.tar[.gz|.xz|.zst]`, in that order; members whose names start with `_` may come between
//! them and are skipped (dpkg reserves them); members after `data.tar` (a signature, a
//! `trailer`) are skipped too, but never a second `debian-binary`, `control.tar` or `data.tar`.
//! BSD long names, GNU symbol tables, names of only spaces or slashes, a missing or repeated
//! member, or an unknown member before `data.tar` are refused with the member's name and offset.
//! `data.tar.bz2` and `.lzma` are refused as unsupported: Debian's archive has none.
//!
//! `data.tar` is decoded as it is read ([`DataTar`]). Its decoder must use every byte of the
//! member: a second xz stream, gzip member or zstd frame after the first is data hidden after the
//! end of the archive, and refused (docs/THREATS.md C8g).

use std::cell::{Cell, RefCell};
use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::rc::Rc;

use crate::compression::{Compression, DecompressError};

/// Largest `control.tar` (compressed or not), as apt's 64 MiB.
pub const MAX_CONTROL: u64 = 64 << 20;

/// Why a `.deb` is refused.
#[derive(Debug, thiserror::Error)]
pub enum DebError {
    #[error("not a Debian package: {0}")]
    Format(String),
    #[error("ar member `{name}` at byte {offset}: {reason}")]
    Member {
        name: String,
        offset: u64,
        reason: String,
    },
    #[error("cannot decompress `{member}`")]
    Decompress {
        member: String,
        #[source]
        source: DecompressError,
    },
    #[error("`{member}`")]
    Tar {
        member: String,
        #[source]
        source: crate::tar::read::TarError,
    },
    #[error("reading the package: {0}")]
    Io(#[source] io::Error),
}

/// One ar member header.
#[derive(Debug, Clone)]
struct Member {
    name: String,
    size: u64,
    offset: u64,
    /// The header's modification time, when it is a decimal number of seconds.
    mtime: Option<i64>,
}

/// A `.deb` being read front to back.
pub struct DebReader<R> {
    inner: R,
    offset: u64,
    /// Bytes of the current member (and its padding) not consumed.
    pending: u64,
}

fn member_error(member: &Member, reason: impl Into<String>) -> DebError {
    DebError::Member {
        name: member.name.clone(),
        offset: member.offset,
        reason: reason.into(),
    }
}

impl<R: Read> DebReader<R> {
    /// Checks the ar magic and `debian-binary`, and positions at the next member.
    pub fn open(mut inner: R) -> Result<Self, DebError> {
        let mut magic = [0u8; 8];
        inner
            .read_exact(&mut magic)
            .map_err(|_| DebError::Format("file is shorter than an ar header".into()))?;
        if &magic != b"!<arch>\n" {
            return Err(DebError::Format("bad ar magic (not an ar archive)".into()));
        }
        let mut reader = DebReader {
            inner,
            offset: 8,
            pending: 0,
        };
        let first = reader
            .next_member()?
            .ok_or_else(|| DebError::Format("empty ar archive".into()))?;
        if first.name != "debian-binary" {
            return Err(member_error(&first, "expected `debian-binary` first"));
        }
        if first.size > 64 {
            return Err(member_error(&first, "too long"));
        }
        let version = reader.read_member(&first, 64)?;
        let text = String::from_utf8_lossy(&version);
        let major = text.split('.').next().unwrap_or("");
        if major != "2" || !text.ends_with('\n') {
            return Err(member_error(
                &first,
                format!("unsupported format version `{}`", text.trim()),
            ));
        }
        Ok(reader)
    }

    fn skip_pending(&mut self) -> Result<(), DebError> {
        let count = self.pending;
        self.pending = 0;
        let copied =
            io::copy(&mut (&mut self.inner).take(count), &mut io::sink()).map_err(DebError::Io)?;
        if copied != count {
            return Err(DebError::Format(format!(
                "truncated ar archive at byte {}",
                self.offset + copied
            )));
        }
        self.offset += count;
        Ok(())
    }

    /// The next member's header, or `None` at a clean end.
    fn next_member(&mut self) -> Result<Option<Member>, DebError> {
        self.skip_pending()?;
        let mut header = [0u8; 60];
        let mut filled = 0;
        while filled < 60 {
            let n = self
                .inner
                .read(&mut header[filled..])
                .map_err(DebError::Io)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            return Ok(None);
        }
        let offset = self.offset;
        if filled < 60 {
            return Err(DebError::Format(format!(
                "truncated ar header at byte {offset}"
            )));
        }
        self.offset += 60;
        let raw_name = &header[0..16];
        let name_text = String::from_utf8_lossy(raw_name).into_owned();
        let shown = crate::debian::escape(name_text.trim_end().as_bytes());
        if &header[58..60] != b"`\n" {
            return Err(DebError::Member {
                name: shown,
                offset,
                reason: "bad ar header terminator".into(),
            });
        }
        let trimmed = name_text.trim_end_matches(' ');
        let name = trimmed.strip_suffix('/').unwrap_or(trimmed);
        if name.is_empty()
            || name.bytes().all(|b| b == b'/' || b == b' ')
            || name.starts_with("#1/")
            || name.contains('/')
        {
            return Err(DebError::Member {
                name: shown,
                offset,
                reason: "invalid ar member name (long-name tables and BSD names are refused)"
                    .into(),
            });
        }
        let size_text = String::from_utf8_lossy(&header[48..58]);
        let size_text = size_text.trim_end_matches(' ');
        if size_text.is_empty() || !size_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DebError::Member {
                name: shown,
                offset,
                reason: format!(
                    "invalid member size `{}`",
                    crate::debian::escape(size_text.as_bytes())
                ),
            });
        }
        let size: u64 = size_text.parse().map_err(|_| DebError::Member {
            name: shown.clone(),
            offset,
            reason: "member size out of range".into(),
        })?;
        self.pending = size + size % 2;
        // dpkg does not read the mtime: one that is not a number is no error, only unknown.
        let mtime_text = String::from_utf8_lossy(&header[16..28]);
        let mtime_text = mtime_text.trim_end_matches(' ');
        let mtime = (!mtime_text.is_empty() && mtime_text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| mtime_text.parse::<i64>().ok())
            .flatten();
        Ok(Some(Member {
            name: name.to_owned(),
            size,
            offset,
            mtime,
        }))
    }

    /// Reads a whole (small) member into memory, with its padding.
    fn read_member(&mut self, member: &Member, cap: u64) -> Result<Vec<u8>, DebError> {
        if member.size > cap {
            return Err(member_error(member, format!("larger than {cap} bytes")));
        }
        let mut data = vec![0u8; member.size as usize];
        self.inner
            .read_exact(&mut data)
            .map_err(|_| member_error(member, "member is larger than what remains of the file"))?;
        self.offset += member.size;
        self.pending = 0;
        if member.size % 2 == 1 {
            let mut pad = [0u8; 1];
            match self.inner.read(&mut pad) {
                Ok(1) if pad[0] == b'\n' => self.offset += 1,
                Ok(1) => {
                    return Err(member_error(
                        member,
                        "odd-sized member without `\\n` padding",
                    ));
                }
                Ok(_) => {
                    return Err(member_error(
                        member,
                        "odd-sized member without `\\n` padding",
                    ));
                }
                Err(error) => return Err(DebError::Io(error)),
            }
        }
        Ok(data)
    }

    /// The next member that is not a `_` reserved one.
    fn next_significant(&mut self) -> Result<Option<Member>, DebError> {
        loop {
            match self.next_member()? {
                Some(member) if member.name.starts_with('_') => continue,
                other => return Ok(other),
            }
        }
    }

    /// The package's build time: the modification time in the ar header of `control.tar`,
    /// read without reading the member. dpkg-deb writes `SOURCE_DATE_EPOCH` there (debhelper
    /// sets it from the date of the changelog entry), so it is a property of the package's bytes,
    /// the same on every mirror and every day. `None` when the header's field is not a number.
    pub fn build_time(&mut self) -> Result<Option<i64>, DebError> {
        let member = self
            .next_significant()?
            .ok_or_else(|| DebError::Format("no `control.tar` member".into()))?;
        if !member.name.starts_with("control.tar") {
            return Err(member_error(
                &member,
                "expected `control.tar[.gz|.xz|.zst]`",
            ));
        }
        Ok(member.mtime)
    }

    /// Reads and decompresses `control.tar` (at most [`MAX_CONTROL`] bytes either way).
    pub fn control_tar(&mut self) -> Result<Vec<u8>, DebError> {
        let member = self
            .next_significant()?
            .ok_or_else(|| DebError::Format("no `control.tar` member".into()))?;
        let compression = match member.name.as_str() {
            "control.tar" => Compression::None,
            "control.tar.gz" => Compression::Gzip,
            "control.tar.xz" => Compression::Xz,
            "control.tar.zst" => Compression::Zstd,
            _ => {
                return Err(member_error(
                    &member,
                    "expected `control.tar[.gz|.xz|.zst]`",
                ));
            }
        };
        if member.size == 0 {
            return Err(member_error(&member, "empty member"));
        }
        let bytes = self.read_member(&member, MAX_CONTROL)?;
        crate::compression::decompress(compression, &bytes, MAX_CONTROL).map_err(|source| {
            DebError::Decompress {
                member: member.name.clone(),
                source,
            }
        })
    }

    /// A decompressing reader over `data.tar`; the caller reads it to its end, which checks
    /// what follows it (see [`DataTar`]).
    pub fn data_tar(self) -> Result<(String, DataTar<R>), DebError>
    where
        R: 'static,
    {
        let mut this = self;
        let member = this
            .next_significant()?
            .ok_or_else(|| DebError::Format("no `data.tar` member".into()))?;
        let compression = data_compression(&member)?;
        // The member's bytes and its padding are read through `MemberBytes`, not skipped.
        this.pending = 0;
        let deb = Rc::new(RefCell::new(this));
        let consumed = Rc::new(Cell::new(0));
        let bytes = MemberBytes {
            deb: Rc::clone(&deb),
            remaining: member.size,
            name: member.name.clone(),
        };
        let counted = Counted {
            inner: io::BufReader::with_capacity(1 << 16, bytes),
            consumed: Rc::clone(&consumed),
        };
        let decoder = compression
            .decoder(counted)
            .map_err(|source| DebError::Decompress {
                member: member.name.clone(),
                source,
            })?;
        Ok((
            member.name.clone(),
            DataTar {
                decoder,
                deb,
                consumed,
                member,
                kind: compression.name(),
                checked: false,
            },
        ))
    }

    /// After `data.tar` (whose bytes were all read): its padding, then only members that are
    /// not a second `debian-binary`, `control.tar` or `data.tar`, up to a clean end of file.
    fn check_after_data(&mut self, data: &Member) -> Result<(), DebError> {
        if data.size % 2 == 1 {
            let mut pad = [0u8; 1];
            match self.inner.read(&mut pad) {
                // A last member without its padding byte is harmless (and dpkg accepts it).
                Ok(0) => return Ok(()),
                Ok(_) if pad[0] == b'\n' => self.offset += 1,
                Ok(_) => return Err(member_error(data, "odd-sized member without `\\n` padding")),
                Err(error) => return Err(DebError::Io(error)),
            }
        }
        while let Some(member) = self.next_member()? {
            let name = member.name.as_str();
            if name == "debian-binary" || name.starts_with("control.tar") {
                return Err(member_error(&member, "after `data.tar`"));
            }
            if name.starts_with("data.tar") {
                return Err(member_error(&member, "a second `data.tar`"));
            }
        }
        Ok(())
    }
}

impl<R: Read + Seek> DebReader<R> {
    /// Checks the members after `control.tar` from their headers alone: `data.tar` (after `_`
    /// members), fitting in the file, then nothing but members that are not a second
    /// `debian-binary`, `control.tar` or `data.tar`. So a malformed container is refused before
    /// any of its files is written.
    pub fn check_members(&mut self) -> Result<(), DebError> {
        let data = self
            .next_significant()?
            .ok_or_else(|| DebError::Format("no `data.tar` member".into()))?;
        data_compression(&data)?;
        let length = self.inner.seek(SeekFrom::End(0)).map_err(DebError::Io)?;
        let end = self.offset.saturating_add(data.size);
        if end > length {
            return Err(member_error(
                &data,
                "member is larger than what remains of the file",
            ));
        }
        self.inner
            .seek(SeekFrom::Start(end))
            .map_err(DebError::Io)?;
        self.offset = end;
        self.pending = 0;
        self.check_after_data(&data)
    }
}

/// The compression of a `data.tar` member, by its name.
fn data_compression(member: &Member) -> Result<Compression, DebError> {
    let compression = match member.name.as_str() {
        "data.tar" => Compression::None,
        "data.tar.gz" => Compression::Gzip,
        "data.tar.xz" => Compression::Xz,
        "data.tar.zst" => Compression::Zstd,
        "data.tar.bz2" | "data.tar.lzma" => {
            return Err(member_error(
                member,
                "unsupported compression (Debian's archive uses xz, zstd and gzip)",
            ));
        }
        name if name.starts_with("control.tar") => {
            return Err(member_error(member, "a second `control.tar`"));
        }
        _ => return Err(member_error(member, "expected `data.tar[.gz|.xz|.zst]`")),
    };
    if member.size == 0 {
        return Err(member_error(member, "empty member"));
    }
    Ok(compression)
}

/// The bytes of the `data.tar` member, read from the shared `.deb` reader.
struct MemberBytes<R> {
    deb: Rc<RefCell<DebReader<R>>>,
    remaining: u64,
    name: String,
}

impl<R: Read> Read for MemberBytes<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let mut deb = self.deb.borrow_mut();
        let n = deb.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "member `{}` is larger than what remains of the file",
                    self.name
                ),
            ));
        }
        deb.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Counts the bytes a decoder takes from its input.
struct Counted<B> {
    inner: B,
    consumed: Rc<Cell<u64>>,
}

impl<B: BufRead> Read for Counted<B> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.set(self.consumed.get() + n as u64);
        Ok(n)
    }
}

impl<B: BufRead> BufRead for Counted<B> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.consumed.set(self.consumed.get() + amount as u64);
    }
}

/// The decoded `data.tar`. At the end of the decoded stream it checks that the decoder used
/// every byte of the member (nothing hidden after the compressed stream, C8g) and what follows
/// the member in the `.deb` (C7e); either failure is a read error naming the member.
pub struct DataTar<R> {
    decoder: Box<dyn Read>,
    deb: Rc<RefCell<DebReader<R>>>,
    consumed: Rc<Cell<u64>>,
    member: Member,
    kind: &'static str,
    checked: bool,
}

impl<R: Read> DataTar<R> {
    fn check_end(&mut self) -> Result<(), DebError> {
        let consumed = self.consumed.get();
        if consumed != self.member.size {
            return Err(member_error(
                &self.member,
                format!(
                    "data after the end of the {} stream ({} of {} bytes used)",
                    self.kind, consumed, self.member.size
                ),
            ));
        }
        self.deb.borrow_mut().check_after_data(&self.member)
    }
}

impl<R: Read> Read for DataTar<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.decoder.read(buf).map_err(|error| {
            if error.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "truncated {} stream in `{}`: {error}",
                        self.kind, self.member.name
                    ),
                )
            } else {
                error
            }
        })?;
        if n == 0 && !buf.is_empty() && !self.checked {
            self.checked = true;
            self.check_end()
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = b"!<arch>\n".to_vec();
        for (name, data) in members {
            out.extend_from_slice(
                format!(
                    "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                    name,
                    0,
                    0,
                    0,
                    "100644",
                    data.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    /// Reads the control member and checks the rest, as `read_control` does, then opens
    /// `data.tar` as `unpack_data` does.
    fn open(bytes: Vec<u8>) -> Result<(Vec<u8>, String), DebError> {
        let mut checked = DebReader::open(io::Cursor::new(bytes.clone()))?;
        checked.control_tar()?;
        checked.check_members()?;
        let mut reader = DebReader::open(io::Cursor::new(bytes))?;
        let control = reader.control_tar()?;
        let (name, _) = reader.data_tar()?;
        Ok((control, name))
    }

    #[test]
    fn the_build_time_is_the_control_members_mtime() {
        let mut deb = ar(&[
            ("debian-binary", b"2.0\n"),
            ("_extra", b"x"),
            ("control.tar", b"ctl"),
            ("data.tar", b"d"),
        ]);
        let at = |deb: &[u8]| {
            DebReader::open(io::Cursor::new(deb.to_vec()))
                .and_then(|mut reader| reader.build_time())
                .map_err(|e| e.to_string())
        };
        assert_eq!(at(&deb), Ok(Some(0)));
        // The third header (after `debian-binary` and `_extra`, each 60 + 4 or 2 bytes).
        let control = 8 + 60 + 4 + 60 + 2;
        assert_eq!(&deb[control..control + 11], b"control.tar");
        deb[control + 16..control + 28].copy_from_slice(b"1700000000  ");
        assert_eq!(at(&deb), Ok(Some(1_700_000_000)));
        deb[control + 16..control + 28].copy_from_slice(b"-1          ");
        assert_eq!(
            at(&deb),
            Ok(None),
            "not a number: unknown, as dpkg ignores it"
        );
        let no_control = ar(&[("debian-binary", b"2.0\n"), ("data.tar", b"d")]);
        assert!(
            at(&no_control)
                .unwrap_err()
                .contains("expected `control.tar")
        );
    }

    #[test]
    fn member_order_and_reserved_members() {
        let good = ar(&[
            ("debian-binary", b"2.0\n"),
            ("_extra", b"x"),
            ("control.tar", b"ctl"),
            ("data.tar", b"d"),
            ("trailer", b"t"),
        ]);
        let (control, data) = open(good).unwrap();
        assert_eq!(control, b"ctl");
        assert_eq!(data, "data.tar");
    }

    #[test]
    fn refuses_malformed_containers() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"!<arch>X".to_vec(), "magic"),
            (
                ar(&[("debian-binary", b"3.0\n")]),
                "unsupported format version",
            ),
            (ar(&[("control.tar", b"x")]), "debian-binary"),
            (
                ar(&[
                    ("debian-binary", b"2.0\n"),
                    ("zzz", b"x"),
                    ("control.tar", b"c"),
                ]),
                "expected `control.tar",
            ),
            (
                ar(&[("debian-binary", b"2.0\n"), ("#1/long", b"x")]),
                "invalid ar member name",
            ),
            (
                ar(&[("debian-binary", b"2.0\n"), ("//", b"x")]),
                "invalid ar member name",
            ),
            (
                ar(&[("debian-binary", b"2.0\n"), ("control.tar", b"")]),
                "empty member",
            ),
            (
                ar(&[
                    ("debian-binary", b"2.0\n"),
                    ("control.tar", b"c"),
                    ("data.tar.bz2", b""),
                ]),
                "unsupported compression",
            ),
            (
                ar(&[
                    ("debian-binary", b"2.0\n"),
                    ("control.tar", b"c"),
                    ("control.tar.xz", b""),
                ]),
                "second `control.tar`",
            ),
        ];
        for (bytes, reason) in cases {
            let error = match open(bytes) {
                Err(error) => error.to_string(),
                Ok(_) => panic!("{reason}: accepted"),
            };
            assert!(error.contains(reason), "{error} lacks {reason}");
        }
        // A size that is not a number, or larger than the file.
        let mut bad = ar(&[("debian-binary", b"2.0\n"), ("control.tar", b"ab")]);
        let at = bad.len() - 2 - 12;
        bad[at..at + 2].copy_from_slice(b"-1");
        assert!(
            open(bad)
                .unwrap_err()
                .to_string()
                .contains("invalid member size")
        );
        let mut long = ar(&[("debian-binary", b"2.0\n"), ("control.tar", b"ab")]);
        long.truncate(long.len() - 1);
        assert!(
            open(long)
                .unwrap_err()
                .to_string()
                .contains("larger than what remains")
        );
        // An odd member without its padding byte.
        let mut unpadded = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar", b"abc"),
            ("data.tar", b"d"),
        ]);
        let pad = 8 + 60 + 4 + 60 + 3;
        unpadded[pad] = b'X';
        assert!(open(unpadded).unwrap_err().to_string().contains("padding"));
    }

    /// Reads `data.tar` of `bytes` to its end.
    fn read_data(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        let mut reader = DebReader::open(io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
        reader.control_tar().map_err(|e| e.to_string())?;
        let (_, mut data) = reader.data_tar().map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        data.read_to_end(&mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 1);
        io::Write::write_all(&mut encoder, data).unwrap();
        encoder.finish().unwrap()
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut encoder, data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn data_tar_is_read_to_the_end_of_the_file() {
        let deb = |data: (&str, Vec<u8>), after: &[(&str, &[u8])]| {
            let mut members: Vec<(&str, &[u8])> =
                vec![("debian-binary", b"2.0\n"), ("control.tar", b"c")];
            members.push((data.0, &data.1));
            members.extend_from_slice(after);
            ar(&members)
        };
        // A trailer after data.tar (a signature, say) is skipped; odd sizes keep their padding.
        let good = deb(
            ("data.tar.xz", xz(b"tar")),
            &[("trailer", b"odd"), ("_sig", b"s")],
        );
        assert_eq!(read_data(good).unwrap(), b"tar");
        let good = deb(("data.tar.gz", gz(b"tar")), &[]);
        assert_eq!(read_data(good).unwrap(), b"tar");
        let zst = zstd::encode_all(&b"tar"[..], 1).unwrap();
        assert_eq!(
            read_data(deb(("data.tar.zst", zst.clone()), &[])).unwrap(),
            b"tar"
        );
        // A second data or control member after it is refused (C7e).
        for (name, reason) in [
            ("data.tar.xz", "a second `data.tar`"),
            ("data.tar.gz", "a second `data.tar`"),
            ("control.tar", "after `data.tar`"),
        ] {
            let error = read_data(deb(("data.tar.xz", xz(b"tar")), &[(name, b"x")])).unwrap_err();
            assert!(error.contains(reason) && error.contains(name), "{error}");
        }
        // Data hidden after the compressed stream, inside the member (C8g).
        let mut two = xz(b"tar");
        two.extend_from_slice(&xz(b"hidden"));
        let error = read_data(deb(("data.tar.xz", two), &[])).unwrap_err();
        assert!(
            error.contains("data after the end of the xz stream"),
            "{error}"
        );
        let mut two = gz(b"tar");
        two.extend_from_slice(&gz(b"hidden"));
        let error = read_data(deb(("data.tar.gz", two), &[])).unwrap_err();
        assert!(
            error.contains("data after the end of the gzip stream"),
            "{error}"
        );
        // A zstd skippable frame (magic 0x184D2A50, 4-byte length) after the data frame.
        let mut skippable = zst;
        skippable.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 6, 0, 0, 0]);
        skippable.extend_from_slice(b"hidden");
        let error = read_data(deb(("data.tar.zst", skippable), &[])).unwrap_err();
        assert!(
            error.contains("data after the end of the zstd stream"),
            "{error}"
        );
        // A member that ends before its declared size.
        let mut short = deb(("data.tar.xz", xz(b"tar")), &[]);
        short.truncate(short.len() - 3);
        let error = read_data(short).unwrap_err();
        assert!(error.contains("larger than what remains"), "{error}");
    }
}
