//! A parsed `Packages` index in a compact binary form, kept in the cache so that a warm `lock`
//! or `index` neither reads nor parses the ~57 MB of deb822 text again.
//!
//! Pure (no I/O; a large index is decoded on two threads). The form holds exactly what
//! [`PackagesIndex`] holds (the fields the resolver and the lock use, the rejected stanzas with
//! their reasons), so decoding gives back the very index the text parsed to, and the lock
//! written from it is the same bytes. It is hand-written rather
//! than a serde format (postcard, bincode) or rkyv: the records are a dozen strings and small
//! numbers, the debroot types (package names, versions) are not serde types, and a decoder of a
//! few dozen lines that re-validates every value is easier to keep total (no panic, no
//! allocation larger than the input) than a zero-copy archive whose safety rests on a validator.
//!
//! Trust: the blob is a derived blob of the content-addressed cache, hashed again on every read
//! like every blob. The decoder nonetheless treats its input as untrusted: lengths are bounded by
//! what is left of the input, strings must be UTF-8, names, versions, architectures and pool
//! paths go through the same checks as the text parser's, and the header names the index digest
//! and architecture it was made from, so a blob filed under the wrong index is refused. Any
//! failure is a [`DecodeError`]; the caller then parses the text again and replaces the blob.
//!
//! Layout (integers little-endian; `str` is a `u32` length and UTF-8 bytes; `opt` is a byte 0 or
//! 1 then the value):
//!
//! ```text
//! magic "debroot-packages" u32 FORMAT, [u8; 32] SHA-256 of the index text, str architecture
//! u32 count, then per package:
//!   str name, str version, str architecture, u8 multi-arch, u8 essential, u8 priority,
//!   str filename, u64 size, [u8; 32] SHA256, 7 x opt str relations, u64 line
//! u32 count, then per rejected stanza: u64 line, opt str package, str reason
//! ```

use crate::debian::fields::{MultiArch, Priority};
use crate::debian::{Architecture, PackageName, Version};
use crate::digest::Sha256Digest;
use crate::repo::packages::{PackageRecord, PackagesIndex, Rejected, RelationTexts};

const MAGIC: &[u8; 16] = b"debroot-packages";
/// Bumped with every change of the layout or of what the text parser accepts: the cache key
/// includes it ([`KIND`]), so an older blob is never read as a newer one.
pub const FORMAT: u32 = 1;
/// The cache's kind of derived blob: a `Packages` index of the source digest, parsed.
pub const KIND: &str = "packages-parsed-1";

/// Why bytes are not a compact index of the expected source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a parsed index of this source: {0}")]
pub struct DecodeError(pub &'static str);

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, value: &str) {
    // A string longer than 4 GiB cannot come from an index debroot reads (512 MiB at most).
    put_u32(out, u32::try_from(value.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(value.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => out.push(0),
        Some(value) => {
            out.push(1);
            put_str(out, value);
        }
    }
}

fn multi_arch_code(value: MultiArch) -> u8 {
    match value {
        MultiArch::No => 0,
        MultiArch::Same => 1,
        MultiArch::Foreign => 2,
        MultiArch::Allowed => 3,
    }
}

fn priority_code(value: Priority) -> u8 {
    match value {
        Priority::Required => 0,
        Priority::Important => 1,
        Priority::Standard => 2,
        Priority::Optional => 3,
        Priority::Extra => 4,
        Priority::Other => 5,
    }
}

/// The compact form of `index`, parsed from the text whose SHA-256 is `source` for `arch`.
pub fn encode(index: &PackagesIndex, source: &Sha256Digest, arch: &Architecture) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + index.packages.len() * 256);
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, FORMAT);
    out.extend_from_slice(&source.0);
    put_str(&mut out, arch.as_str());
    put_u32(
        &mut out,
        u32::try_from(index.packages.len()).unwrap_or(u32::MAX),
    );
    for record in &index.packages {
        put_str(&mut out, record.name.as_str());
        put_str(&mut out, record.version.as_str());
        put_str(&mut out, record.architecture.as_str());
        out.push(multi_arch_code(record.multi_arch));
        out.push(u8::from(record.essential));
        out.push(priority_code(record.priority));
        put_str(&mut out, &record.filename);
        put_u64(&mut out, record.size);
        out.extend_from_slice(&record.sha256.0);
        let r = &record.relations;
        for text in [
            &r.pre_depends,
            &r.depends,
            &r.recommends,
            &r.conflicts,
            &r.breaks,
            &r.replaces,
            &r.provides,
        ] {
            put_opt(&mut out, text.as_deref());
        }
        put_u64(&mut out, record.line as u64);
    }
    put_u32(
        &mut out,
        u32::try_from(index.rejected.len()).unwrap_or(u32::MAX),
    );
    for rejected in &index.rejected {
        put_u64(&mut out, rejected.line as u64);
        put_opt(&mut out, rejected.package.as_deref());
        put_str(&mut out, &rejected.reason);
    }
    out
}

/// A reader over the bytes that never reads past their end.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.bytes.len() {
            return Err(DecodeError("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn usize(&mut self) -> Result<usize, DecodeError> {
        usize::try_from(self.u64()?).map_err(|_| DecodeError("number out of range"))
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let len = usize::try_from(self.u32()?).map_err(|_| DecodeError("length out of range"))?;
        std::str::from_utf8(self.take(len)?).map_err(|_| DecodeError("text is not UTF-8"))
    }

    fn opt(&mut self) -> Result<Option<&'a str>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.str().map(Some),
            _ => Err(DecodeError("invalid option tag")),
        }
    }

    /// A count of items each at least `min` bytes long: never more than the input can hold,
    /// so a forged count cannot make the decoder reserve memory.
    fn count(&mut self, min: usize) -> Result<usize, DecodeError> {
        let count = usize::try_from(self.u32()?).map_err(|_| DecodeError("count out of range"))?;
        if count > self.bytes.len() / min.max(1) {
            return Err(DecodeError("count larger than the input"));
        }
        Ok(count)
    }
}

fn multi_arch_of(code: u8) -> Result<MultiArch, DecodeError> {
    Ok(match code {
        0 => MultiArch::No,
        1 => MultiArch::Same,
        2 => MultiArch::Foreign,
        3 => MultiArch::Allowed,
        _ => return Err(DecodeError("invalid Multi-Arch")),
    })
}

fn priority_of(code: u8) -> Result<Priority, DecodeError> {
    Ok(match code {
        0 => Priority::Required,
        1 => Priority::Important,
        2 => Priority::Standard,
        3 => Priority::Optional,
        4 => Priority::Extra,
        5 => Priority::Other,
        _ => return Err(DecodeError("invalid Priority")),
    })
}

/// The smallest encoded package: empty strings, no relations.
const MIN_RECORD: usize = 4 * 4 + 3 + 8 + 32 + 7 + 8;
/// The smallest encoded rejected stanza.
const MIN_REJECTED: usize = 8 + 1 + 4;

/// Indexes with fewer packages are decoded on one thread.
const PARALLEL_FROM: usize = 4096;

/// The index encoded in `bytes`, which must have been made from the text with SHA-256 `source`
/// for `arch`. Every value is checked as the text parser checks it.
///
/// A large index is decoded in two halves on two threads (the second half found by skipping
/// the first half's values by their lengths): the suite's main index is the longest step
/// before the resolver can start. The result, and the first error in byte order, are those
/// of a decode from start to end.
pub fn decode(
    bytes: &[u8],
    source: &Sha256Digest,
    arch: &Architecture,
) -> Result<PackagesIndex, DecodeError> {
    let mut r = Reader { bytes };
    if r.take(MAGIC.len())? != MAGIC {
        return Err(DecodeError("no magic"));
    }
    if r.u32()? != FORMAT {
        return Err(DecodeError("another format"));
    }
    if r.array::<32>()? != source.0 {
        return Err(DecodeError("made from another index"));
    }
    if r.str()? != arch.as_str() {
        return Err(DecodeError("made for another architecture"));
    }
    let all = Architecture::parse("all").map_err(|_| DecodeError("no `all` architecture"))?;
    let count = r.count(MIN_RECORD)?;
    let first = count / 2;
    // Where the second half starts; `None` (a small index, or one that does not even skip
    // well) is decoded in one run, which finds the error if there is one.
    let second = (count >= PARALLEL_FROM)
        .then(|| {
            let mut skip = Reader { bytes: r.bytes };
            (0..first)
                .try_for_each(|_| skip_record(&mut skip))
                .ok()
                .map(|()| skip)
        })
        .flatten();
    let (packages, mut r) = match second {
        None => records(r, count, count, arch, &all)?,
        Some(second) => {
            let halves = std::thread::scope(|scope| {
                let later = std::thread::Builder::new()
                    .name("decode".into())
                    .spawn_scoped(scope, || records(second, count - first, 0, arch, &all));
                let earlier = records(r, first, count, arch, &all);
                let later = match later {
                    Ok(handle) => handle.join().ok(),
                    Err(_) => None,
                };
                (earlier, later)
            });
            match halves {
                (Err(error), _) => return Err(error),
                (Ok((mut packages, _)), Some(later)) => {
                    let (rest, r) = later?;
                    packages.extend(rest);
                    (packages, r)
                }
                // No second thread: the second half here.
                (Ok((mut packages, r)), None) => {
                    let (rest, r) = records(r, count - first, 0, arch, &all)?;
                    packages.extend(rest);
                    (packages, r)
                }
            }
        }
    };
    let count = r.count(MIN_REJECTED)?;
    let mut rejected = Vec::with_capacity(count);
    for _ in 0..count {
        let line = r.usize()?;
        let package = r.opt()?.map(str::to_owned);
        let reason = r.str()?.to_owned();
        rejected.push(Rejected {
            line,
            package,
            reason,
        });
    }
    if !r.bytes.is_empty() {
        return Err(DecodeError("trailing bytes"));
    }
    Ok(PackagesIndex { packages, rejected })
}

/// Skips one package as [`record`] reads it, checking nothing but the lengths.
fn skip_record(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    let skip_str = |r: &mut Reader<'_>| -> Result<(), DecodeError> {
        let len = usize::try_from(r.u32()?).map_err(|_| DecodeError("length out of range"))?;
        r.take(len).map(drop)
    };
    for _ in 0..3 {
        skip_str(r)?; // name, version, architecture
    }
    r.take(3)?; // Multi-Arch, Essential, Priority
    skip_str(r)?; // filename
    r.take(8 + 32)?; // size, SHA256
    for _ in 0..7 {
        match r.u8()? {
            0 => {}
            1 => skip_str(r)?,
            _ => return Err(DecodeError("invalid option tag")),
        }
    }
    r.take(8).map(drop) // line
}

/// `count` packages from `r`, in a vector with room for `capacity`, and the reader after them.
fn records<'a>(
    mut r: Reader<'a>,
    count: usize,
    capacity: usize,
    arch: &Architecture,
    all: &Architecture,
) -> Result<(Vec<PackageRecord>, Reader<'a>), DecodeError> {
    let mut packages = Vec::with_capacity(capacity.max(count));
    for _ in 0..count {
        packages.push(record(&mut r, arch, all)?);
    }
    Ok((packages, r))
}

/// One package, every value checked.
fn record(
    r: &mut Reader<'_>,
    arch: &Architecture,
    all: &Architecture,
) -> Result<PackageRecord, DecodeError> {
    // As written by `encode`: exactly the text the value gives back (the form is canonical).
    let text = r.str()?;
    let name = PackageName::parse(text)
        .ok()
        .filter(|name| name.as_str() == text)
        .ok_or(DecodeError("invalid name"))?;
    let text = r.str()?;
    let version = Version::parse(text)
        .ok()
        .filter(|version| version.as_str() == text)
        .ok_or(DecodeError("invalid version"))?;
    // The index's architecture or `all`, as the text parser accepted.
    let architecture = match r.str()? {
        text if text == arch.as_str() => arch.clone(),
        text if text == all.as_str() => all.clone(),
        _ => return Err(DecodeError("package of another architecture")),
    };
    let multi_arch = multi_arch_of(r.u8()?)?;
    let essential = match r.u8()? {
        0 => false,
        1 => true,
        _ => return Err(DecodeError("invalid Essential")),
    };
    let priority = priority_of(r.u8()?)?;
    let filename = r.str()?;
    if !crate::repo::packages::valid_filename(filename) {
        return Err(DecodeError("unsafe Filename"));
    }
    let size = r.u64()?;
    let sha256 = Sha256Digest(r.array()?);
    let mut text = || -> Result<Option<Box<str>>, DecodeError> { Ok(r.opt()?.map(Into::into)) };
    let relations = RelationTexts {
        pre_depends: text()?,
        depends: text()?,
        recommends: text()?,
        conflicts: text()?,
        breaks: text()?,
        replaces: text()?,
        provides: text()?,
    };
    let line = r.usize()?;
    Ok(PackageRecord {
        name,
        version,
        architecture,
        multi_arch,
        essential,
        priority,
        filename: filename.into(),
        size,
        sha256,
        relations,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::packages;

    const HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn amd64() -> Architecture {
        Architecture::parse("amd64").unwrap()
    }

    fn sample() -> Vec<u8> {
        format!(
            "Package: hello\nVersion: 1:2.10-3\nArchitecture: amd64\nMulti-Arch: foreign\n\
             Essential: yes\nPriority: required\nFilename: pool/main/h/hello/hello_2.10-3_amd64.deb\n\
             Size: 100\nSHA256: {HASH}\nPre-Depends: libc6 (>= 2.34)\nDepends: a,\n b | c\n\
             Recommends: r\nConflicts: x\nBreaks: y (<< 2)\nReplaces: z\nProvides: hello-virtual (= 1)\n\
             Description: hi\n\n\
             Package: data\nVersion: 1.0\nArchitecture: all\nFilename: pool/main/d/data/data_1.0_all.deb\n\
             Size: 7\nSHA256: {HASH}\nPriority: weird\n\n\
             Package: bad\nVersion: 1\nArchitecture: amd64\nFilename: /etc/passwd\nSize: 1\nSHA256: {HASH}\n\n\
             Version: 2\n\n\
             Package: héllo\nVersion: 1\n\n"
        )
        .into_bytes()
    }

    #[test]
    fn decoding_gives_back_the_parsed_index() {
        let text = sample();
        let source = Sha256Digest::of(&text);
        let index = packages::parse(&text, &amd64()).unwrap();
        assert_eq!(index.packages.len(), 2);
        assert_eq!(index.rejected.len(), 3);
        let bytes = encode(&index, &source, &amd64());
        assert_eq!(decode(&bytes, &source, &amd64()), Ok(index.clone()));
        assert_eq!(
            decode(&bytes, &Sha256Digest::of(b"other"), &amd64()),
            Err(DecodeError("made from another index"))
        );
        let arm64 = Architecture::parse("arm64").unwrap();
        assert!(decode(&bytes, &source, &arm64).is_err());
        let empty = PackagesIndex::default();
        let bytes = encode(&empty, &source, &amd64());
        assert_eq!(decode(&bytes, &source, &amd64()), Ok(empty));
    }

    #[test]
    fn every_damaged_form_is_refused_without_panic() {
        let text = sample();
        let source = Sha256Digest::of(&text);
        let index = packages::parse(&text, &amd64()).unwrap();
        let bytes = encode(&index, &source, &amd64());
        // Every truncation, and every single byte changed in a few ways.
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len], &source, &amd64()).is_err(), "{len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, &source, &amd64()).is_err());
        for at in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[at] ^= flip;
                // Some changes still decode (a size, a digest byte): never a panic.
                let _ = decode(&damaged, &source, &amd64());
            }
        }
        // A forged count does not reserve memory for it.
        let mut forged = bytes[..MAGIC.len() + 4 + 32].to_vec();
        put_str(&mut forged, "amd64");
        put_u32(&mut forged, u32::MAX);
        assert_eq!(
            decode(&forged, &source, &amd64()),
            Err(DecodeError("count larger than the input"))
        );
    }

    #[test]
    fn a_large_index_decodes_in_two_halves_to_the_same_records() {
        let mut index = packages::parse(&sample(), &amd64()).unwrap();
        let template = index.packages[0].clone();
        index.packages = (0..PARALLEL_FROM + 3)
            .map(|n| {
                let mut record = template.clone();
                record.name = PackageName::parse(&format!("p{n}")).unwrap();
                record.line = n;
                if n % 3 == 0 {
                    record.relations = RelationTexts::default();
                }
                record
            })
            .collect();
        let source = Sha256Digest::of(b"large");
        let bytes = encode(&index, &source, &amd64());
        assert_eq!(decode(&bytes, &source, &amd64()), Ok(index.clone()));
        // A damaged record in either half, or a cut anywhere, is the error of a decode in one
        // run: the first one in byte order.
        let at = |name: &str| {
            let needle = [&(name.len() as u32).to_le_bytes()[..], name.as_bytes()].concat();
            bytes
                .windows(needle.len())
                .position(|w| w == needle.as_slice())
                .unwrap()
                + 4
        };
        for name in ["p1", "p4000"] {
            let mut damaged = bytes.clone();
            damaged[at(name)] = b'P';
            assert_eq!(
                decode(&damaged, &source, &amd64()),
                Err(DecodeError("invalid name"))
            );
        }
        let mut both = bytes.clone();
        both[at("p4000")] = b'P';
        let filename = at("p2") + 2 + 4 + template.version.as_str().len() + 4 + 5 + 3 + 4;
        assert_eq!(&both[filename..filename + 4], b"pool");
        both[filename] = b'/';
        assert_eq!(
            decode(&both, &source, &amd64()),
            Err(DecodeError("unsafe Filename"))
        );
        for len in (0..bytes.len()).step_by(4999) {
            assert!(decode(&bytes[..len], &source, &amd64()).is_err(), "{len}");
        }
    }

    #[test]
    fn a_smuggled_value_is_refused_like_in_text() {
        let mut index = packages::parse(&sample(), &amd64()).unwrap();
        let source = Sha256Digest::of(b"x");
        index.packages[0].filename = "../../etc/shadow".into();
        let bytes = encode(&index, &source, &amd64());
        assert_eq!(
            decode(&bytes, &source, &amd64()),
            Err(DecodeError("unsafe Filename"))
        );
    }
}
