//! Relation fields, versions and the other words of the Debian vocabulary, with what must hold
//! of what parses:
//! - a relation field written back (`Display`) parses to the same relations;
//! - a version written back parses to the same version, and version comparison is a total
//!   order (antisymmetric and transitive, on the input's lines taken as versions) whose equal
//!   versions hash alike.
#![no_main]

use std::cmp::Ordering;
use std::hash::{DefaultHasher, Hash, Hasher};

use debroot::debian::relation::{self, FieldKind};
use debroot::debian::{Architecture, PackageName, Version};
use debroot::timestamp::Timestamp;

const FIELD_KINDS: [FieldKind; 10] = [
    FieldKind::PreDepends,
    FieldKind::Depends,
    FieldKind::Recommends,
    FieldKind::Suggests,
    FieldKind::Enhances,
    FieldKind::Conflicts,
    FieldKind::Breaks,
    FieldKind::Replaces,
    FieldKind::Provides,
    FieldKind::BuildDepends,
];

fn hash(version: &Version) -> u64 {
    let mut hasher = DefaultHasher::new();
    version.hash(&mut hasher);
    hasher.finish()
}

fn relations(text: &str) {
    for kind in FIELD_KINDS {
        let Ok(parsed) = relation::parse(kind, text) else {
            continue;
        };
        let written = parsed
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        match relation::parse(kind, &written) {
            Ok(again) => assert_eq!(
                again,
                parsed,
                "{}: `{text}` written as `{written}` parses to other relations",
                kind.name()
            ),
            Err(error) => panic!(
                "{}: `{text}` written as `{written}` does not parse: {error}",
                kind.name()
            ),
        }
    }
}

fn versions(text: &str) {
    let versions: Vec<Version> = text
        .lines()
        .filter_map(|line| Version::parse(line).ok())
        .take(3)
        .collect();
    for version in &versions {
        let again = Version::parse(&version.to_string())
            .unwrap_or_else(|error| panic!("`{version}` written back does not parse: {error}"));
        assert_eq!(again.as_str(), version.as_str());
        assert_eq!(again.cmp(version), Ordering::Equal);
    }
    for a in &versions {
        for b in &versions {
            let ab = a.cmp(b);
            assert_eq!(ab, b.cmp(a).reverse(), "`{a}` and `{b}` compare both ways");
            if ab == Ordering::Equal {
                assert_eq!(hash(a), hash(b), "`{a}` == `{b}` but their hashes differ");
            }
            for c in &versions {
                if ab.is_le() && b.cmp(c).is_le() {
                    assert!(a <= c, "`{a}` <= `{b}` <= `{c}` but not `{a}` <= `{c}`");
                }
            }
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    relations(&text);
    versions(&text);
    for line in text.lines().take(4) {
        let _ = PackageName::parse(line);
        let _ = Architecture::parse(line);
        let _ = debroot::debian::arch::is_valid_pattern(line);
        let _ = Timestamp::parse_snapshot(line);
        let _ = Timestamp::parse_release_date(line);
    }
});
