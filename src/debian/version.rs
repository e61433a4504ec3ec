//! Debian package versions, ordered exactly as dpkg orders them.
//!
//! Parsing follows dpkg's `parseversion()` (lib/dpkg/parsehelp.c) and comparison its
//! `verrevcmp()` (lib/dpkg/version.c). Where dpkg only warns (a version that does not start with
//! a digit, an unexpected character), debroot refuses: such a version never appears in Debian's
//! archive, and a permissive parser is how `Version: 1/../../x` reaches a file name.
//!
//! Digit runs are compared as strings with their leading zeros stripped, so runs of any length
//! compare correctly without overflowing an integer. Equality and hashing follow the ordering:
//! `1.0`, `0:1.0`, `1.00` and `1.0-0` are one version to dpkg, and to us.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// The largest epoch dpkg accepts (`INT_MAX`).
const MAX_EPOCH: u64 = i32::MAX as u64;

/// A parsed Debian version: `[epoch:]upstream[-revision]`.
#[derive(Clone)]
pub struct Version {
    /// The text as written (without surrounding whitespace), kept for display.
    text: Box<str>,
    epoch: u32,
    /// Byte range of the upstream version within `text`.
    upstream: (u32, u32),
    /// Byte range of the revision within `text`; empty when there is none.
    revision: (u32, u32),
}

/// Why a version string is not a Debian version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version `{text}`: {reason}")]
pub struct VersionError {
    pub text: String,
    pub reason: &'static str,
}

impl Version {
    /// Parses a version as dpkg does, refusing what dpkg would only warn about.
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let fail = |reason| VersionError {
            text: input.to_owned(),
            reason,
        };
        let text = input.trim_matches([' ', '\t']);
        if text.is_empty() {
            return Err(fail("version string is empty"));
        }
        if text.len() > u32::MAX as usize / 2 {
            return Err(fail("version string is too long"));
        }
        if text.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(fail("version string has embedded spaces"));
        }
        let (epoch, rest_start) = match text.find(':') {
            Some(colon) => {
                let digits = &text[..colon];
                if digits.is_empty() {
                    return Err(fail("epoch in version is empty"));
                }
                if !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(fail("epoch in version is not number"));
                }
                let mut epoch: u64 = 0;
                for digit in digits.bytes() {
                    epoch = epoch * 10 + u64::from(digit - b'0');
                    if epoch > MAX_EPOCH {
                        return Err(fail("epoch in version is too big"));
                    }
                }
                if colon + 1 == text.len() {
                    return Err(fail("nothing after colon in version number"));
                }
                // The bound was checked against MAX_EPOCH above.
                (u32::try_from(epoch).unwrap_or(u32::MAX), colon + 1)
            }
            None => (0, 0),
        };
        let rest = &text[rest_start..];
        let (upstream_len, revision) = match rest.rfind('-') {
            Some(hyphen) => {
                if hyphen + 1 == rest.len() {
                    return Err(fail("revision number is empty"));
                }
                (hyphen, (rest_start + hyphen + 1, text.len()))
            }
            None => (rest.len(), (text.len(), text.len())),
        };
        let upstream = &rest[..upstream_len];
        let Some(first) = upstream.bytes().next() else {
            return Err(fail("version number is empty"));
        };
        if !first.is_ascii_digit() {
            return Err(fail("version number does not start with digit"));
        }
        if !upstream
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'~' | b':'))
        {
            return Err(fail("invalid character in version number"));
        }
        if !text[revision.0..revision.1]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'~'))
        {
            return Err(fail("invalid character in revision number"));
        }
        // Lengths were bounded above, so the offsets fit in u32.
        let offset = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(Version {
            text: text.into(),
            epoch,
            upstream: (offset(rest_start), offset(rest_start + upstream_len)),
            revision: (offset(revision.0), offset(revision.1)),
        })
    }

    /// The epoch; 0 when the version has none.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The upstream part, between the epoch and the last hyphen.
    pub fn upstream(&self) -> &str {
        &self.text[self.upstream.0 as usize..self.upstream.1 as usize]
    }

    /// The Debian revision, after the last hyphen; empty for a native version.
    pub fn revision(&self) -> &str {
        &self.text[self.revision.0 as usize..self.revision.1 as usize]
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// dpkg's weight of one character in the non-digit part of a version.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit and digit runs, `~` before everything, letters
/// before other characters, digit runs compared by value.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let non_digit = |s: &[u8], k: usize| k < s.len() && !s[k].is_ascii_digit();
    let digit = |s: &[u8], k: usize| k < s.len() && s[k].is_ascii_digit();
    while i < a.len() || j < b.len() {
        while non_digit(a, i) || non_digit(b, j) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            // Equal weights here mean the same non-digit character on both sides.
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// Feeds `hasher` a form of `part` that is equal for exactly the strings `verrevcmp` calls equal:
/// the sequence of (non-digit run, digit run without leading zeros), without trailing empty pairs.
fn hash_part<H: Hasher>(part: &[u8], hasher: &mut H) {
    let mut pairs: Vec<(&[u8], &[u8])> = Vec::new();
    let mut k = 0;
    while k < part.len() {
        let start = k;
        while k < part.len() && !part[k].is_ascii_digit() {
            k += 1;
        }
        let text = &part[start..k];
        while k < part.len() && part[k] == b'0' {
            k += 1;
        }
        let digits_start = k;
        while k < part.len() && part[k].is_ascii_digit() {
            k += 1;
        }
        pairs.push((text, &part[digits_start..k]));
    }
    while pairs
        .last()
        .is_some_and(|(t, d)| t.is_empty() && d.is_empty())
    {
        pairs.pop();
    }
    pairs.len().hash(hasher);
    for (text, digits) in pairs {
        text.hash(hasher);
        digits.hash(hasher);
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream().as_bytes(), other.upstream().as_bytes()))
            .then_with(|| verrevcmp(self.revision().as_bytes(), other.revision().as_bytes()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.epoch.hash(state);
        hash_part(self.upstream().as_bytes(), state);
        hash_part(self.revision().as_bytes(), state);
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.text)
    }
}

impl FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Version::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn hash_of(version: &Version) -> u64 {
        let mut hasher = DefaultHasher::new();
        version.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn parts() {
        let version = v("1:2.3-4-5");
        assert_eq!(version.epoch(), 1);
        assert_eq!(version.upstream(), "2.3-4");
        assert_eq!(version.revision(), "5");
        let native = v("2.36");
        assert_eq!(native.revision(), "");
        assert_eq!(v("2:1:3-1").upstream(), "1:3");
    }

    #[test]
    fn ordering_matches_dpkg_rules() {
        let ascending = [
            "1.0~rc1",
            "1.0~rc1+b1",
            "1.0",
            "1.0-0.1",
            "1.0-1",
            "1.0-1+b1",
            "1.0a",
            "1.0+dfsg",
            "1.1",
            "1.10",
            "2",
            "1:0.1",
        ];
        for pair in ascending.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert!(v("1.0~~") < v("1.0~"));
        assert!(v("1.0~") < v("1.0"));
    }

    #[test]
    fn equal_versions_hash_alike() {
        for (a, b) in [
            ("1.0", "0:1.0"),
            ("1.0", "1.00"),
            ("1.0", "1.0-0"),
            ("1.0a", "1.0a0"),
            ("007", "7"),
        ] {
            assert_eq!(v(a), v(b), "{a} == {b}");
            assert_eq!(hash_of(&v(a)), hash_of(&v(b)), "hash {a} == {b}");
        }
        assert_ne!(v("1.0"), v("1.0.0"));
    }

    #[test]
    fn long_digit_runs_do_not_overflow() {
        let big = format!("1.{}", "9".repeat(200));
        let bigger = format!("1.1{}", "0".repeat(200));
        assert!(v(&big) < v(&bigger));
        assert_eq!(
            v(&format!("1.000{}", "9".repeat(50))),
            v(&format!("1.{}", "9".repeat(50)))
        );
    }

    #[test]
    fn refuses_what_dpkg_refuses_or_warns_about() {
        for bad in [
            "",
            "   ",
            "1 0",
            ":1.0",
            "a:1.0",
            "1:",
            "1.0-",
            "-1",
            "99999999999:1.0",
            "2147483648:1",
            "a1.0",
            "1/../../x",
            "1.0_1",
            "1.0-1:2",
            "1.0-a_b",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(v(" 1.0\t").as_str(), "1.0");
        assert!(Version::parse("2147483647:1").is_ok());
    }
}
