//! Debian's vocabulary: deb822 paragraphs, versions, package names, relations, architectures,
//! and the control fields with a fixed set of words (`Multi-Arch`, `Priority`, `Essential`).
//!
//! Pure: these modules take bytes and strings and return typed values. They never read a file,
//! the network, the environment or the clock. Every rule is dpkg's (checked against dpkg itself
//! in `tests/debian_vs_dpkg.rs`), except where the module docs say debroot is stricter.

pub mod arch;
pub mod deb822;
pub mod fields;
pub mod name;
pub mod relation;
pub mod version;

pub use arch::Architecture;
pub use fields::{MultiArch, Priority};
pub use name::PackageName;
pub use relation::{Constraint, Dependency, FieldKind, Op, Relation};
pub use version::Version;

/// Renders bytes for a message: printable ASCII as is, everything else (control characters,
/// non-UTF-8 bytes, backslashes) escaped, so a hostile name cannot forge output lines.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
                c => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// Levenshtein edit distance between two names, for "did you mean" suggestions (packages,
/// suites).
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_keeps_text_and_quotes_the_rest() {
        assert_eq!(super::escape(b"usr/bin/t\xc3\xa9"), "usr/bin/t\u{e9}");
        assert_eq!(super::escape(b"a\nb\x00\xff\\"), "a\\nb\\u{0}\\xff\\\\");
    }
}
