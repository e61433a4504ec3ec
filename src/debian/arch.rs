//! Debian architecture names and wildcards, matched as dpkg matches them.
//!
//! dpkg maps every architecture to a tuple `abi-libc-os-cpu` (data/tupletable + data/cputable)
//! and a wildcard such as `linux-any` or `any-amd64` to a tuple with `any` in some places; an
//! architecture matches a wildcard when every component is equal or `any` (`debarch_is` in
//! scripts/Dpkg/Arch.pm). As there, `any` matches every name including `all`, and `all` has no
//! tuple, so no other wildcard matches it.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A Debian architecture name such as `amd64`, `arm64` or `all`. Shared: every package record
/// of an index carries its architecture, and a clone is a reference count.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Architecture(Arc<str>);

/// Why a string is not an architecture name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid architecture `{}`: {reason}", crate::debian::escape(.text.as_bytes()))]
pub struct ArchError {
    pub text: String,
    pub reason: &'static str,
}

/// CPU names of dpkg's data/cputable.
const CPUS: &[&str] = &[
    "i386",
    "ia64",
    "alpha",
    "amd64",
    "arc",
    "armeb",
    "arm",
    "arm64",
    "avr32",
    "hppa",
    "loong64",
    "m32r",
    "m68k",
    "mips",
    "mipsel",
    "mipsr6",
    "mipsr6el",
    "mips64",
    "mips64el",
    "mips64r6",
    "mips64r6el",
    "nios2",
    "or1k",
    "powerpc",
    "powerpcel",
    "ppc64",
    "ppc64el",
    "riscv64",
    "s390",
    "s390x",
    "sh3",
    "sh3eb",
    "sh4",
    "sh4eb",
    "sparc",
    "sparc64",
    "tilegx",
];

/// dpkg's data/tupletable, in its order: (tuple, architecture). `<cpu>` stands for any CPU name.
const TUPLES: &[(&str, &str)] = &[
    ("eabi-uclibc-linux-arm", "uclibc-linux-armel"),
    ("base-uclibc-linux-<cpu>", "uclibc-linux-<cpu>"),
    ("eabihf-musl-linux-arm", "musl-linux-armhf"),
    ("base-musl-linux-<cpu>", "musl-linux-<cpu>"),
    ("ilp32-gnu-linux-arm64", "arm64ilp32"),
    ("eabihf-gnu-linux-arm", "armhf"),
    ("eabi-gnu-linux-arm", "armel"),
    ("abin32-gnu-linux-mips64r6el", "mipsn32r6el"),
    ("abin32-gnu-linux-mips64r6", "mipsn32r6"),
    ("abin32-gnu-linux-mips64el", "mipsn32el"),
    ("abin32-gnu-linux-mips64", "mipsn32"),
    ("abi64-gnu-linux-mips64r6el", "mips64r6el"),
    ("abi64-gnu-linux-mips64r6", "mips64r6"),
    ("abi64-gnu-linux-mips64el", "mips64el"),
    ("abi64-gnu-linux-mips64", "mips64"),
    ("spe-gnu-linux-powerpc", "powerpcspe"),
    ("x32-gnu-linux-amd64", "x32"),
    ("base-gnu-linux-<cpu>", "<cpu>"),
    ("eabihf-gnu-kfreebsd-arm", "kfreebsd-armhf"),
    ("base-gnu-kfreebsd-<cpu>", "kfreebsd-<cpu>"),
    ("base-gnu-knetbsd-<cpu>", "knetbsd-<cpu>"),
    ("base-gnu-kopensolaris-<cpu>", "kopensolaris-<cpu>"),
    ("base-gnu-hurd-<cpu>", "hurd-<cpu>"),
    ("base-bsd-dragonflybsd-<cpu>", "dragonflybsd-<cpu>"),
    ("base-bsd-freebsd-<cpu>", "freebsd-<cpu>"),
    ("base-bsd-openbsd-<cpu>", "openbsd-<cpu>"),
    ("base-bsd-netbsd-<cpu>", "netbsd-<cpu>"),
    ("base-bsd-darwin-<cpu>", "darwin-<cpu>"),
    ("base-sysv-aix-<cpu>", "aix-<cpu>"),
    ("base-sysv-solaris-<cpu>", "solaris-<cpu>"),
    ("eabi-uclibc-uclinux-arm", "uclinux-armel"),
    ("base-uclibc-uclinux-<cpu>", "uclinux-<cpu>"),
    ("base-tos-mint-m68k", "mint-m68k"),
];

/// The `abi-libc-os-cpu` tuple of a known architecture, as dpkg's `debarch_to_debtuple`.
fn tuple_of(arch: &str) -> Option<[String; 4]> {
    for (tuple, name) in TUPLES {
        let found = if name.contains("<cpu>") {
            let (prefix, suffix) = name.split_once("<cpu>").unwrap_or((name, ""));
            arch.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(suffix))
                .filter(|cpu| CPUS.contains(cpu))
                .map(|cpu| tuple.replace("<cpu>", cpu))
        } else {
            (arch == *name).then(|| (*tuple).to_owned())
        };
        if let Some(found) = found {
            let mut parts = found.splitn(4, '-');
            let mut next = || parts.next().unwrap_or_default().to_owned();
            return Some([next(), next(), next(), next()]);
        }
    }
    None
}

/// The tuple of a wildcard (`linux-any`, `any-amd64`, `gnu-any-any`...) or of a plain
/// architecture, as dpkg's `debwildcard_to_debtuple`.
fn wildcard_tuple(wildcard: &str) -> Option<[String; 4]> {
    let parts: Vec<&str> = wildcard.splitn(4, '-').collect();
    if !parts.contains(&"any") {
        return tuple_of(wildcard);
    }
    let any = || "any".to_owned();
    let own = |i: usize| parts[i].to_owned();
    Some(match parts.len() {
        4 => [own(0), own(1), own(2), own(3)],
        3 => [any(), own(0), own(1), own(2)],
        2 => [any(), any(), own(0), own(1)],
        _ => [any(), any(), any(), any()],
    })
}

impl Architecture {
    /// Parses an architecture name (not a wildcard): lowercase letters, digits and `-`.
    pub fn parse(text: &str) -> Result<Self, ArchError> {
        let fail = |reason| ArchError {
            text: text.to_owned(),
            reason,
        };
        let bytes = text.as_bytes();
        if bytes.is_empty() || bytes.len() > 64 {
            return Err(fail("must be 1 to 64 characters long"));
        }
        if !(bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit()) {
            return Err(fail("must start with a lowercase letter or a digit"));
        }
        if !bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(fail("may contain only lowercase letters, digits and `-`"));
        }
        if text == "any" || text.split('-').any(|part| part == "any") {
            return Err(fail("is a wildcard, not an architecture"));
        }
        Ok(Architecture(text.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `all`, the pseudo-architecture of architecture-independent packages.
    pub fn all() -> Self {
        Architecture("all".into())
    }

    /// True for `all`, the pseudo-architecture of architecture-independent packages.
    pub fn is_all(&self) -> bool {
        &*self.0 == "all"
    }

    /// Whether this architecture is one dpkg knows (has a tuple), such as `amd64` or `armhf`.
    pub fn is_known(&self) -> bool {
        self.is_all() || tuple_of(&self.0).is_some()
    }

    /// Whether this architecture matches `pattern`: a name, `any`, or a wildcard such as
    /// `linux-any` or `any-amd64`. Mirrors dpkg's `debarch_is`.
    pub fn matches(&self, pattern: &str) -> bool {
        if pattern == &*self.0 || pattern == "any" {
            return true;
        }
        let (Some(real), Some(alias)) = (tuple_of(&self.0), wildcard_tuple(pattern)) else {
            return false;
        };
        real.iter()
            .zip(alias.iter())
            .all(|(r, a)| a == "any" || a == r)
    }

    /// The Debian name of the architecture this program was compiled for, used as the default
    /// native architecture of a profile.
    pub fn build_default() -> Self {
        let name = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "i386",
            "aarch64" => "arm64",
            "arm" => "armhf",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64el",
            "powerpc64" => "ppc64",
            "riscv64" => "riscv64",
            "s390x" => "s390x",
            "loongarch64" => "loong64",
            "mips64" if cfg!(target_endian = "little") => "mips64el",
            other => other,
        };
        Architecture(name.into())
    }
}

/// Whether `pattern` is an architecture name or a wildcard dpkg would understand.
pub fn is_valid_pattern(pattern: &str) -> bool {
    pattern == "any"
        || pattern == "all"
        || (!pattern.is_empty()
            && pattern
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !pattern.starts_with('-')
            && !pattern.ends_with('-'))
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

impl FromStr for Architecture {
    type Err = ArchError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Architecture::parse(s)
    }
}

impl serde::Serialize for Architecture {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Architecture {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Architecture::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arch(name: &str) -> Architecture {
        Architecture::parse(name).unwrap()
    }

    #[test]
    fn wildcards() {
        let amd64 = arch("amd64");
        assert!(amd64.matches("amd64"));
        assert!(amd64.matches("any"));
        assert!(amd64.matches("linux-any"));
        assert!(amd64.matches("any-amd64"));
        assert!(amd64.matches("gnu-any-any"));
        assert!(amd64.matches("base-gnu-linux-any"));
        assert!(!amd64.matches("all"));
        assert!(!amd64.matches("any-i386"));
        assert!(!amd64.matches("hurd-any"));
        assert!(arch("x32").matches("any-amd64"));
        assert!(arch("armhf").matches("any-arm"));
        assert!(arch("armhf").matches("eabihf-any-any-any"));
        assert!(!arch("armel").matches("eabihf-any-any-any"));
        assert!(arch("hurd-i386").matches("hurd-any"));
        assert!(arch("hurd-i386").matches("any-i386"));
        assert!(!arch("hurd-i386").matches("linux-any"));
        assert!(arch("musl-linux-amd64").matches("musl-any-any"));
        let all = arch("all");
        assert!(all.matches("all"));
        assert!(all.matches("any"));
        assert!(!all.matches("linux-any"));
    }

    #[test]
    fn names() {
        assert!(Architecture::parse("amd64;rm -rf /").is_err());
        assert!(Architecture::parse("any").is_err());
        assert!(Architecture::parse("linux-any").is_err());
        assert!(Architecture::parse("AMD64").is_err());
        assert!(arch("ppc64el").is_known());
        assert!(!arch("madeup").is_known());
    }
}
