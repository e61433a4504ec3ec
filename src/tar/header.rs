//! The tar header format, shared by the reader ([`super::read`]), the writer ([`super::write`])
//! and `output::read`: the 512-byte ustar/GNU header's fields, its numbers (octal text or GNU
//! base-256), its checksum, its NUL-terminated strings, and PAX extended records.
//!
//! Pure: bytes in, values out. Each reader keeps its own policy (the `.deb` reader refuses what
//! `output::read` accepts); where they read a number differently, [`Numbers`] says how.

use std::ops::Range;

/// A header, and the unit data is padded to.
pub const BLOCK: usize = 512;

pub const NAME: Range<usize> = 0..100;
pub const MODE: Range<usize> = 100..108;
pub const UID: Range<usize> = 108..116;
pub const GID: Range<usize> = 116..124;
pub const SIZE: Range<usize> = 124..136;
pub const MTIME: Range<usize> = 136..148;
pub const CHECKSUM: Range<usize> = 148..156;
pub const TYPEFLAG: usize = 156;
pub const LINKNAME: Range<usize> = 157..257;
/// `ustar\0` (POSIX) or `ustar ` (GNU, whose version field is ` \0`).
pub const MAGIC: Range<usize> = 257..263;
/// Magic and version together.
pub const MAGIC_VERSION: Range<usize> = 257..265;
pub const VERSION: Range<usize> = 263..265;
pub const UNAME: Range<usize> = 265..297;
pub const GNAME: Range<usize> = 297..329;
pub const DEVMAJOR: Range<usize> = 329..337;
pub const DEVMINOR: Range<usize> = 337..345;
/// ustar's name prefix.
pub const PREFIX: Range<usize> = 345..500;
/// GNU's access and change times, where ustar has its prefix.
pub const GNU_ATIME: Range<usize> = 345..357;
pub const GNU_CTIME: Range<usize> = 357..369;

/// POSIX ustar: `ustar\0` and version `00`.
pub const USTAR_MAGIC_VERSION: &[u8; 8] = b"ustar\x0000";
/// GNU: `ustar  \0`.
pub const GNU_MAGIC_VERSION: &[u8; 8] = b"ustar  \x00";
pub const USTAR_MAGIC: &[u8; 6] = b"ustar\0";
pub const GNU_MAGIC: &[u8; 6] = b"ustar ";

/// Type flags.
pub mod typeflag {
    /// A regular file (`'0'`; the old NUL and the contiguous `'7'` are regular files too).
    pub const REGULAR: u8 = b'0';
    pub const REGULAR_OLD: u8 = 0;
    pub const CONTIGUOUS: u8 = b'7';
    pub const HARDLINK: u8 = b'1';
    pub const SYMLINK: u8 = b'2';
    pub const CHAR: u8 = b'3';
    pub const BLOCK: u8 = b'4';
    pub const DIR: u8 = b'5';
    pub const FIFO: u8 = b'6';
    /// PAX records for the next member.
    pub const PAX_LOCAL: u8 = b'x';
    /// PAX records for every later member.
    pub const PAX_GLOBAL: u8 = b'g';
    /// GNU long name / long link target of the next member.
    pub const GNU_LONGNAME: u8 = b'L';
    pub const GNU_LONGLINK: u8 = b'K';
}

/// How strictly an octal field is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbers {
    /// Leading spaces, the digits, then only NULs and spaces (the `.deb` reader).
    Strict,
    /// Everything up to the first NUL, spaces anywhere ignored (tarballs read back for `diff`).
    Lenient,
}

/// A numeric field: GNU base-256 (big-endian, the top bit of the first byte marks it; negative
/// numbers refused) or octal text read as `numbers` says. An empty field is 0; `None` for
/// anything else that is not a number or does not fit a `u64`.
pub fn number(field: &[u8], numbers: Numbers) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        if field[0] & 0x40 != 0 {
            return None;
        }
        let mut value: u64 = u64::from(field[0] & 0x3f);
        for &byte in &field[1..] {
            value = value.checked_mul(256)?.checked_add(u64::from(byte))?;
        }
        return Some(value);
    }
    octal(field, numbers)
}

/// An octal text field (no base-256), read as `numbers` says.
pub fn octal(field: &[u8], numbers: Numbers) -> Option<u64> {
    let digits: Vec<u8> = match numbers {
        Numbers::Strict => {
            let start = field.iter().position(|&b| b != b' ').unwrap_or(field.len());
            let end = field[start..]
                .iter()
                .position(|&b| b == 0 || b == b' ')
                .map_or(field.len(), |i| start + i);
            // Only NULs and spaces may follow the digits.
            if field[end..].iter().any(|&b| b != 0 && b != b' ') {
                return None;
            }
            field[start..end].to_vec()
        }
        Numbers::Lenient => field
            .iter()
            .copied()
            .take_while(|&b| b != 0)
            .filter(|&b| b != b' ')
            .collect(),
    };
    let mut value: u64 = 0;
    for byte in digits {
        if !(b'0'..=b'7').contains(&byte) {
            return None;
        }
        value = value.checked_mul(8)?.checked_add(u64::from(byte - b'0'))?;
    }
    Some(value)
}

/// Writes `value` as octal digits filling `field` but its last byte, which is NUL; `false` when
/// the value does not fit.
pub fn write_octal(field: &mut [u8], value: u64) -> bool {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    if text.len() > width {
        return false;
    }
    field[..width].copy_from_slice(text.as_bytes());
    field[width] = 0;
    true
}

/// The POSIX checksum of `header`: the sum of its bytes as unsigned bytes, the checksum field
/// counted as spaces.
pub fn checksum(header: &[u8]) -> u64 {
    header
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if CHECKSUM.contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum()
}

/// Whether `stored` is the checksum of the 512-byte `header`: the sum of its bytes with the
/// checksum field counted as spaces, as unsigned bytes (POSIX) or as signed ones (old tars).
pub fn checksum_matches(header: &[u8], stored: u64) -> bool {
    let signed: i64 = header
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if CHECKSUM.contains(&i) {
                32
            } else {
                i64::from(b as i8)
            }
        })
        .sum();
    stored == checksum(header) || i64::try_from(stored).ok() == Some(signed)
}

/// A field up to its first NUL.
pub fn c_string(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// A NUL-terminated name field, or `None` when something other than NULs follows the first NUL
/// (a name with an embedded NUL: `a\0../../x` is `a` to one tool and more to another).
pub fn name_field(field: &[u8]) -> Option<&[u8]> {
    let name = c_string(field);
    field[name.len()..].iter().all(|&b| b == 0).then_some(name)
}

/// A name field without the NULs that pad it (for a message about a NUL inside it).
pub fn without_trailing_nuls(field: &[u8]) -> &[u8] {
    let end = field.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &field[..end]
}

/// How much of a name a message shows (names may be 4 KiB long).
const SHOWN_NAME: usize = 256;

/// A member name for a message: escaped, and when longer than 256 bytes, its start and end
/// (`crate::error::shown_bytes`).
pub fn shown_name(name: &[u8]) -> String {
    crate::error::shown_bytes(name, SHOWN_NAME)
}

/// Where a name too long for the 100-byte name field splits into ustar's prefix and name: the
/// index of the `/` between them, or `None` when no split fits (then a PAX `path` carries it).
pub fn ustar_split(name: &[u8]) -> Option<usize> {
    name[..name.len().min(PREFIX.len() + 1)]
        .iter()
        .rposition(|&b| b == b'/')
        .filter(|&i| i > 0 && name.len() - i - 1 <= NAME.len() && name.len() - i > 1)
}

/// Whether a member name fits ustar's name and prefix fields.
pub fn fits_ustar(name: &[u8]) -> bool {
    name.len() <= NAME.len() || ustar_split(name).is_some()
}

/// PAX records: `(key, value)` in order.
pub type PaxRecords = Vec<(Vec<u8>, Vec<u8>)>;

/// One PAX record, `LEN KEY=VALUE\n`, where LEN counts itself.
pub fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
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

/// Parses PAX records (`LEN KEY=VALUE\n`); NUL padding after the last one is allowed.
pub fn pax_records(data: &[u8]) -> Result<PaxRecords, String> {
    let mut records = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let space = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or("malformed PAX record")?;
        let length: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or("malformed PAX record length")?;
        if length <= space + 1 || length > rest.len() || rest[length - 1] != b'\n' {
            return Err("malformed PAX record length".into());
        }
        let record = &rest[space + 1..length - 1];
        let equals = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or("PAX record without `=`")?;
        records.push((record[..equals].to_vec(), record[equals + 1..].to_vec()));
        rest = &rest[length..];
    }
    Ok(records)
}

/// A PAX time (`SECONDS[.FRACTION]`): seconds, and nanoseconds when a fraction is written.
pub fn pax_time(value: &[u8]) -> Option<(i64, Option<u32>)> {
    let text = std::str::from_utf8(value).ok()?;
    let (seconds, fraction) = match text.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (text, None),
    };
    let seconds: i64 = seconds.parse().ok()?;
    let nanoseconds = match fraction {
        Some(f) if f.bytes().all(|b| b.is_ascii_digit()) => {
            let mut digits: String = f.chars().take(9).collect();
            while digits.len() < 9 {
                digits.push('0');
            }
            Some(digits.parse().ok()?)
        }
        Some(_) => return None,
        None => None,
    };
    Some((seconds, nanoseconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_octal_and_base_256() {
        for numbers in [Numbers::Strict, Numbers::Lenient] {
            assert_eq!(number(b"0000644\0", numbers), Some(0o644));
            assert_eq!(number(b"  644 \0", numbers), Some(0o644));
            assert_eq!(number(b"\0\0\0\0", numbers), Some(0));
            assert_eq!(number(b"0009\0", numbers), None);
            assert_eq!(number(&[0x80, 0, 0, 1, 0], numbers), Some(256));
            // Negative base-256 numbers are refused.
            assert_eq!(number(&[0xff, 0xff], numbers), None);
        }
        // Strict: nothing but NULs and spaces after the digits; lenient: up to the NUL.
        assert_eq!(number(b"12 34\0", Numbers::Strict), None);
        assert_eq!(number(b"12 34\0", Numbers::Lenient), Some(0o1234));
        assert_eq!(number(b"12\0x", Numbers::Strict), None);
        assert_eq!(number(b"12\0x", Numbers::Lenient), Some(0o12));
        // `octal` has no base-256.
        assert_eq!(octal(&[0x80, 1], Numbers::Lenient), None);
    }

    #[test]
    fn octal_round_trips_and_refuses_what_does_not_fit() {
        let mut field = [0u8; 8];
        assert!(write_octal(&mut field, 0o4755));
        assert_eq!(&field, b"0004755\0");
        assert_eq!(number(&field, Numbers::Strict), Some(0o4755));
        assert!(!write_octal(&mut field, 1 << 21));
    }

    #[test]
    fn checksums_unsigned_and_signed() {
        let mut header = [0u8; BLOCK];
        header[..4].copy_from_slice(b"name");
        header[200] = 0xff;
        let sum = checksum(&header);
        assert_eq!(
            sum,
            8 * 32 + u64::from(b"name".iter().map(|&b| u32::from(b)).sum::<u32>()) + 255
        );
        assert!(checksum_matches(&header, sum));
        assert!(checksum_matches(&header, sum - 256));
        assert!(!checksum_matches(&header, sum + 1));
    }

    #[test]
    fn name_fields_and_splits() {
        assert_eq!(c_string(b"abc\0def"), b"abc");
        assert_eq!(name_field(b"abc\0\0"), Some(&b"abc"[..]));
        assert_eq!(name_field(b"abc\0x"), None);
        assert_eq!(without_trailing_nuls(b"a\0b\0\0"), b"a\0b");
        assert!(fits_ustar(&[b'a'; 100]));
        let long = format!("{}/{}", "d".repeat(150), "f".repeat(99));
        assert_eq!(ustar_split(long.as_bytes()), Some(150));
        assert!(!fits_ustar(&[b'a'; 101]));
        assert!(!fits_ustar(format!("{}/f", "d".repeat(160)).as_bytes()));
    }

    #[test]
    fn pax_records_round_trip_and_refuse_garbage() {
        let record = pax_record("path", b"x");
        assert_eq!(record, b"9 path=x\n");
        let long = pax_record("path", &[b'a'; 95]);
        let text = String::from_utf8(long.clone()).unwrap();
        let length: usize = text.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(length, long.len());
        assert_eq!(
            pax_records(&long).unwrap(),
            vec![(b"path".to_vec(), vec![b'a'; 95])]
        );
        assert_eq!(
            pax_records(b"16 path=abcdefg\n\0\0").unwrap(),
            vec![(b"path".to_vec(), b"abcdefg".to_vec())]
        );
        assert!(pax_records(b"99 path=x\n").is_err());
        assert!(pax_records(b"garbage").is_err());
        assert!(pax_records(b"7 path\n").is_err());
    }

    #[test]
    fn pax_times_keep_nanoseconds() {
        assert_eq!(
            pax_time(b"1700000000.5"),
            Some((1_700_000_000, Some(500_000_000)))
        );
        assert_eq!(pax_time(b"12"), Some((12, None)));
        assert_eq!(pax_time(b"x"), None);
        assert_eq!(pax_time(b"1.x"), None);
    }
}
