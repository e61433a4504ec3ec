//! Debian vocabulary checked against Debian's own tools, on real data.
//!
//! The fixture `tests/fixtures/trixie-main-amd64-Packages.trimmed.xz` is trixie's real
//! `main/binary-amd64/Packages`, trimmed to every eleventh stanza plus every `Essential`,
//! `required` and `important` package, and to the fields these tests read.

use crate::common;

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::process::Command;

use debroot::debian::deb822;
use debroot::debian::relation::{self, FieldKind};
use debroot::debian::{Architecture, Version};

/// What dpkg says of `a` against `b`.
fn dpkg_order(a: &str, b: &str) -> Ordering {
    let holds = |op: &str| {
        Command::new("dpkg")
            .args(["--compare-versions", a, op, b])
            .status()
            .expect("dpkg runs (this test needs a Debian machine)")
            .success()
    };
    if holds("lt") {
        Ordering::Less
    } else if holds("eq") {
        Ordering::Equal
    } else {
        Ordering::Greater
    }
}

/// A small deterministic generator (no dependency on the order of a hash map or on time).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % bound
    }
}

#[test]
fn version_order_matches_dpkg_on_real_versions() {
    let index = common::fixture_packages();
    let mut texts = BTreeSet::new();
    for paragraph in deb822::parse(&index).expect("fixture parses") {
        let version = paragraph
            .get("Version")
            .expect("every stanza has a Version");
        texts.insert(String::from_utf8(version.to_vec()).expect("versions are ASCII"));
    }
    let mut versions: Vec<Version> = texts
        .iter()
        .map(|t| Version::parse(t).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    // Sorting every version of the fixture works, and adjacent pairs in our order are the
    // closest comparisons: if dpkg agrees on each, it agrees with the whole order.
    versions.sort();
    let mut pairs: Vec<(String, String)> = versions
        .windows(2)
        .map(|w| (w[0].to_string(), w[1].to_string()))
        .collect();
    let mut random = Lcg(0x5eed);
    for _ in 0..2000 {
        let a = &versions[random.next(versions.len())];
        let b = &versions[random.next(versions.len())];
        pairs.push((a.to_string(), b.to_string()));
    }
    // Tricky shapes that the archive has few of.
    for (a, b) in [
        ("1.0~rc1", "1.0"),
        ("1.0~~", "1.0~"),
        ("1:0.1", "9.9"),
        ("1.0", "1.0-0"),
        ("1.0", "1.00"),
        ("1.0a", "1.0+"),
        ("1.0-1", "1.0+1"),
        ("0:1.0", "1.0"),
        ("1.000000000000000000001", "1.1"),
        ("1.99999999999999999999999", "1.100000000000000000000000"),
        ("2.0-1~bpo12+1", "2.0-1"),
        ("7.4.2", "7.4.10"),
    ] {
        pairs.push((a.to_owned(), b.to_owned()));
    }
    assert!(pairs.len() >= 5000, "only {} pairs", pairs.len());

    let mismatches: Vec<String> = std::thread::scope(|scope| {
        let chunks: Vec<_> = pairs
            .chunks(pairs.len().div_ceil(4))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|(a, b)| {
                            let ours = Version::parse(a).unwrap().cmp(&Version::parse(b).unwrap());
                            let dpkg = dpkg_order(a, b);
                            (ours != dpkg)
                                .then(|| format!("{a} vs {b}: ours {ours:?}, dpkg {dpkg:?}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    eprintln!(
        "dpkg --compare-versions: {} pairs from {} distinct real versions, {} mismatches",
        pairs.len(),
        versions.len(),
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn every_relation_field_of_the_fixture_parses() {
    let index = common::fixture_packages();
    let fields = [
        ("Pre-Depends", FieldKind::PreDepends),
        ("Depends", FieldKind::Depends),
        ("Recommends", FieldKind::Recommends),
        ("Suggests", FieldKind::Suggests),
        ("Enhances", FieldKind::Enhances),
        ("Conflicts", FieldKind::Conflicts),
        ("Breaks", FieldKind::Breaks),
        ("Replaces", FieldKind::Replaces),
        ("Provides", FieldKind::Provides),
    ];
    let mut parsed = 0;
    let mut relations = 0;
    let mut errors = Vec::new();
    for paragraph in deb822::parse(&index).unwrap() {
        for (name, kind) in fields {
            let Some(value) = paragraph.get(name) else {
                continue;
            };
            let text = std::str::from_utf8(&deb822::folded(value))
                .unwrap()
                .to_owned();
            match relation::parse(kind, &text) {
                Ok(list) => {
                    parsed += 1;
                    relations += list.len();
                    // What we print parses back to the same relations.
                    let printed: Vec<String> = list.iter().map(ToString::to_string).collect();
                    assert_eq!(relation::parse(kind, &printed.join(", ")).unwrap(), list);
                }
                Err(error) => errors.push(format!("line {}: {error}", paragraph.line)),
            }
        }
    }
    eprintln!(
        "relation fields: {parsed} parsed ({relations} relations), {} errors",
        errors.len()
    );
    assert!(parsed > 10_000, "only {parsed} fields");
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn architecture_wildcards_match_dpkg() {
    common::tools::require("perl:Dpkg::Arch");
    let arches = [
        "amd64",
        "i386",
        "arm64",
        "armel",
        "armhf",
        "ppc64el",
        "riscv64",
        "s390x",
        "mips64el",
        "x32",
        "loong64",
        "hurd-i386",
        "hurd-amd64",
        "kfreebsd-amd64",
        "musl-linux-amd64",
        "uclibc-linux-armel",
        "arm64ilp32",
        "powerpcspe",
        "all",
    ];
    let wildcards = [
        "any",
        "all",
        "linux-any",
        "any-amd64",
        "any-i386",
        "any-arm",
        "hurd-any",
        "kfreebsd-any",
        "gnu-any-any",
        "musl-any-any",
        "eabihf-any-any-any",
        "base-gnu-linux-any",
        "any-any",
        "amd64",
        "armhf",
        "any-riscv64",
    ];
    let mut script = String::from("use Dpkg::Arch qw(debarch_is);\n");
    for arch in arches {
        for wildcard in wildcards {
            script.push_str(&format!(
                "print debarch_is('{arch}', '{wildcard}') ? \"1\\n\" : \"0\\n\";\n"
            ));
        }
    }
    let output = Command::new("perl")
        .args(["-e", &script])
        .output()
        .expect("perl runs (needs libdpkg-perl)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<&str> = std::str::from_utf8(&output.stdout)
        .unwrap()
        .lines()
        .collect();
    let mut k = 0;
    let mut mismatches = Vec::new();
    for arch in arches {
        for wildcard in wildcards {
            let dpkg = answers[k] == "1";
            k += 1;
            let ours = Architecture::parse(arch).unwrap().matches(wildcard);
            if ours != dpkg {
                mismatches.push(format!("{arch} ~ {wildcard}: ours {ours}, dpkg {dpkg}"));
            }
        }
    }
    assert_eq!(k, answers.len());
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::hash::{DefaultHasher, Hash, Hasher};

    fn version() -> impl Strategy<Value = Version> {
        (
            prop::option::of(0u32..3),
            "[0-9][0-9a-z.+~]{0,6}",
            prop::option::of("[0-9a-z.+~]{1,4}"),
        )
            .prop_map(|(epoch, upstream, revision)| {
                let mut text = String::new();
                if let Some(epoch) = epoch {
                    text.push_str(&format!("{epoch}:"));
                }
                text.push_str(&upstream);
                if let Some(revision) = revision {
                    text.push('-');
                    text.push_str(&revision);
                }
                Version::parse(&text).unwrap()
            })
    }

    fn hash(v: &Version) -> u64 {
        let mut h = DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn order_is_total(a in version(), b in version(), c in version()) {
            // Antisymmetric and consistent with equality and hashing.
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
            prop_assert_eq!(a == b, a.cmp(&b) == Ordering::Equal);
            if a == b {
                prop_assert_eq!(hash(&a), hash(&b));
            }
            // Transitive.
            if a <= b && b <= c {
                prop_assert!(a <= c);
            }
            // Printing and parsing again gives the same version.
            prop_assert_eq!(Version::parse(&a.to_string()).unwrap(), a.clone());
        }
    }
}
