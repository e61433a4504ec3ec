//! Package names, validated by Debian Policy §5.6.7.
//!
//! A name is lowercase letters, digits, `+`, `-` and `.`, at least two characters, starting with
//! an alphanumeric character. dpkg itself is slightly more lenient (it allows `_` and uppercase in
//! some paths); Debian's archive never uses either, and a name that reaches a file name under
//! `/var/lib/dpkg/info` must not carry a `/` or `..`, so debroot follows Policy.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A valid Debian package name.
///
/// Shared, not copied: the universe holds ~70,000 names and keys every one of them in maps, so
/// a clone is a reference count, not an allocation.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageName(Arc<str>);

/// Why a string is not a package name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid package name `{}`: {reason}", crate::debian::escape(.text.as_bytes()))]
pub struct NameError {
    pub text: String,
    pub reason: &'static str,
}

/// Longest name debroot accepts; dpkg has no limit, the archive's longest is far below this.
const MAX_NAME_LEN: usize = 256;

/// A byte a package name may hold: lowercase letter, digit, `+`, `-`, `.` (one test per byte:
/// names are checked ~150,000 times per `lock`).
pub(crate) fn is_name_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
}

impl PackageName {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let fail = |reason| NameError {
            text: text.to_owned(),
            reason,
        };
        let bytes = text.as_bytes();
        if bytes.len() < 2 {
            return Err(fail("must be at least two characters long"));
        }
        if bytes.len() > MAX_NAME_LEN {
            return Err(fail("is too long"));
        }
        if !(bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit()) {
            return Err(fail("must start with a lowercase letter or a digit"));
        }
        if !bytes.iter().all(|&b| is_name_byte(b)) {
            return Err(fail(
                "may contain only lowercase letters, digits, `+`, `-` and `.`",
            ));
        }
        Ok(PackageName(text.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

impl Borrow<str> for PackageName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl FromStr for PackageName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PackageName::parse(s)
    }
}

impl serde::Serialize for PackageName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for PackageName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PackageName::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_policy_names() {
        for good in [
            "libc6",
            "g++",
            "libstdc++6",
            "0ad",
            "python3.13",
            "x11-common",
        ] {
            assert!(PackageName::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn refuses_the_rest() {
        for bad in [
            "",
            "a",
            "-foo",
            ".foo",
            "Foo",
            "foo/bar",
            "../../evil",
            "foo bar",
            "foo_bar",
            "$(touch /tmp/x)",
            "foo\nbar",
        ] {
            assert!(PackageName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
