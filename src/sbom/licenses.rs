//! Licenses from Debian's machine-readable `copyright` files (DEP-5, copyright-format 1.0),
//! as SPDX license expressions. Pure.
//!
//! A package's declared license is the conjunction (`AND`) of the licenses its `Files`
//! paragraphs name, each paragraph's `License:` short name turned into SPDX's vocabulary:
//! Debian's `GPL-2+` is `GPL-2.0-or-later`, `Expat` is `MIT`, `or`/`and` are `OR`/`AND`, and
//! `X with Y exception` is kept whole. A name SPDX does not list becomes
//! `LicenseRef-NAME` (SPDX's form for other licenses), which a document must define: the
//! caller lists those with [`License::references`]. A `copyright` file that is not
//! machine-readable gives no license (the SBOM says `NOASSERTION`), never a guess.

use std::collections::BTreeSet;

/// The DEP-5 format line (with or without `https`, with or without the trailing `/`).
fn is_machine_readable(first_paragraph: &crate::debian::deb822::Paragraph<'_>) -> bool {
    let Some(format) = first_paragraph.get("Format") else {
        return false;
    };
    let format = String::from_utf8_lossy(format);
    let format = format.trim().trim_end_matches('/');
    format.ends_with("debian.org/doc/packaging-manuals/copyright-format/1.0")
}

/// A package's license as its copyright file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct License {
    /// The SPDX license expression.
    pub expression: String,
}

impl License {
    /// The `LicenseRef-...` identifiers the expression uses, sorted.
    pub fn references(&self) -> Vec<String> {
        let mut found: BTreeSet<String> = BTreeSet::new();
        for word in self.expression.split([' ', '(', ')']) {
            if word.starts_with("LicenseRef-") {
                found.insert(word.to_owned());
            }
        }
        found.into_iter().collect()
    }
}

/// The declared license of a `copyright` file, or `None` when it is not machine-readable or
/// names no license.
pub fn declared(copyright: &[u8]) -> Option<License> {
    let mut paragraphs = crate::debian::deb822::paragraphs_recovering(copyright);
    let header = paragraphs.next()?.ok()?;
    if !is_machine_readable(&header) {
        return None;
    }
    let mut terms: BTreeSet<String> = BTreeSet::new();
    for paragraph in paragraphs {
        let Ok(paragraph) = paragraph else { break };
        // Only `Files` paragraphs say what a file is under; stand-alone `License` paragraphs
        // hold the texts of names used elsewhere.
        if paragraph.get("Files").is_none() {
            continue;
        }
        let Some(value) = paragraph.get("License") else {
            continue;
        };
        let value = String::from_utf8_lossy(value);
        let short = value.lines().next().unwrap_or("").trim();
        if short.is_empty() {
            continue;
        }
        terms.insert(expression(short));
    }
    if terms.is_empty() {
        return None;
    }
    let parts: Vec<String> = terms
        .iter()
        .map(|term| {
            if terms.len() > 1 && (term.contains(" OR ") || term.contains(" AND ")) {
                format!("({term})")
            } else {
                term.clone()
            }
        })
        .collect();
    Some(License {
        expression: parts.join(" AND "),
    })
}

/// One paragraph's `License:` short name (`GPL-2+ or Artistic`, `LGPL-2.1+ and BSD-3-clause`,
/// `GPL-2+ with OpenSSL exception`) as an SPDX expression. Debian gives `or` and `and` no
/// precedence rule of their own; SPDX's (`AND` binds tighter) is kept, with `or` splitting
/// first, as DEP-5's own examples read.
pub fn expression(short: &str) -> String {
    let alternatives: Vec<String> = split_words(short, "or")
        .iter()
        .map(|alternative| {
            let all: Vec<String> = split_words(alternative, "and")
                .iter()
                .map(|one| identifier(one.trim()))
                .collect();
            all.join(" AND ")
        })
        .collect();
    alternatives.join(" OR ")
}

/// `text` split at the word `word` (case-insensitive, between spaces or commas).
fn split_words(text: &str, word: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    for token in text.split_whitespace() {
        let bare = token.trim_end_matches(',');
        if bare.eq_ignore_ascii_case(word) {
            parts.push(String::new());
            continue;
        }
        let last = parts.last_mut().expect("never empty");
        if !last.is_empty() {
            last.push(' ');
        }
        last.push_str(token.trim_end_matches(','));
    }
    parts.retain(|part| !part.is_empty());
    parts
}

/// One license name (maybe with an exception) as an SPDX identifier or `LicenseRef-`.
fn identifier(name: &str) -> String {
    if let Some(id) = spdx_id(name) {
        return id.to_owned();
    }
    let lower = name.to_ascii_lowercase();
    if let Some(at) = lower.find(" with ")
        && let Some(base) = spdx_id(name[..at].trim())
    {
        let exception = name[at + 6..].trim();
        let exception = exception
            .strip_suffix(" exception")
            .or_else(|| exception.strip_suffix(" Exception"))
            .unwrap_or(exception);
        if let Some(known) = spdx_exception(exception) {
            return format!("{base} WITH {known}");
        }
    }
    license_ref(name)
}

/// `LicenseRef-` followed by the name with every character SPDX does not allow in an
/// identifier (letters, digits, `.` and `-`) replaced by `-`.
pub fn license_ref(name: &str) -> String {
    let mut id = String::from("LicenseRef-");
    for c in name.chars() {
        id.push(if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            c
        } else {
            '-'
        });
    }
    id
}

/// Debian's short names (copyright-format 1.0's list and those common in the archive) and the
/// SPDX identifiers they mean; SPDX identifiers written as such are accepted as they are.
fn spdx_id(name: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("Apache-1.0", "Apache-1.0"),
        ("Apache-1.1", "Apache-1.1"),
        ("Apache-2.0", "Apache-2.0"),
        ("Apache-2", "Apache-2.0"),
        ("Artistic", "Artistic-1.0-Perl"),
        ("Artistic-1.0", "Artistic-1.0"),
        ("Artistic-2.0", "Artistic-2.0"),
        ("BSD-2-clause", "BSD-2-Clause"),
        ("BSD-3-clause", "BSD-3-Clause"),
        ("BSD-4-clause", "BSD-4-Clause"),
        ("BSL-1.0", "BSL-1.0"),
        ("CC0-1.0", "CC0-1.0"),
        ("CC0", "CC0-1.0"),
        ("CC-BY-3.0", "CC-BY-3.0"),
        ("CC-BY-4.0", "CC-BY-4.0"),
        ("CC-BY-SA-3.0", "CC-BY-SA-3.0"),
        ("CC-BY-SA-4.0", "CC-BY-SA-4.0"),
        ("CDDL-1.0", "CDDL-1.0"),
        ("EPL-1.0", "EPL-1.0"),
        ("EPL-2.0", "EPL-2.0"),
        ("Expat", "MIT"),
        ("MIT", "MIT"),
        ("FTL", "FTL"),
        ("GFDL-1.2", "GFDL-1.2-only"),
        ("GFDL-1.2+", "GFDL-1.2-or-later"),
        ("GFDL-1.3", "GFDL-1.3-only"),
        ("GFDL-1.3+", "GFDL-1.3-or-later"),
        ("GFDL-NIV-1.2+", "GFDL-1.2-no-invariants-or-later"),
        ("GFDL-NIV-1.3+", "GFDL-1.3-no-invariants-or-later"),
        ("GPL-1", "GPL-1.0-only"),
        ("GPL-1+", "GPL-1.0-or-later"),
        ("GPL-2", "GPL-2.0-only"),
        ("GPL-2+", "GPL-2.0-or-later"),
        ("GPL-3", "GPL-3.0-only"),
        ("GPL-3+", "GPL-3.0-or-later"),
        ("AGPL-3", "AGPL-3.0-only"),
        ("AGPL-3+", "AGPL-3.0-or-later"),
        ("LGPL-2", "LGPL-2.0-only"),
        ("LGPL-2+", "LGPL-2.0-or-later"),
        ("LGPL-2.0", "LGPL-2.0-only"),
        ("LGPL-2.0+", "LGPL-2.0-or-later"),
        ("LGPL-2.1", "LGPL-2.1-only"),
        ("LGPL-2.1+", "LGPL-2.1-or-later"),
        ("LGPL-3", "LGPL-3.0-only"),
        ("LGPL-3+", "LGPL-3.0-or-later"),
        ("LGPL-3.0", "LGPL-3.0-only"),
        ("LGPL-3.0+", "LGPL-3.0-or-later"),
        ("GPL-2.0", "GPL-2.0-only"),
        ("GPL-2.0+", "GPL-2.0-or-later"),
        ("GPL-3.0", "GPL-3.0-only"),
        ("GPL-3.0+", "GPL-3.0-or-later"),
        ("ISC", "ISC"),
        ("MPL-1.1", "MPL-1.1"),
        ("MPL-2.0", "MPL-2.0"),
        ("OFL-1.1", "OFL-1.1"),
        ("OpenSSL", "OpenSSL"),
        ("PSF-2", "PSF-2.0"),
        ("Python-2.0", "Python-2.0"),
        ("Unicode-DFS-2016", "Unicode-DFS-2016"),
        ("Zlib", "Zlib"),
        ("zlib", "Zlib"),
        ("Zope-2.1", "ZPL-2.1"),
        ("ZPL-2.1", "ZPL-2.1"),
        ("X11", "X11"),
        ("curl", "curl"),
        ("BSD-2-Clause", "BSD-2-Clause"),
        ("BSD-3-Clause", "BSD-3-Clause"),
        ("BSD-4-Clause", "BSD-4-Clause"),
        ("GPL-2.0-only", "GPL-2.0-only"),
        ("GPL-2.0-or-later", "GPL-2.0-or-later"),
        ("GPL-3.0-only", "GPL-3.0-only"),
        ("GPL-3.0-or-later", "GPL-3.0-or-later"),
        ("LGPL-2.1-only", "LGPL-2.1-only"),
        ("LGPL-2.1-or-later", "LGPL-2.1-or-later"),
        ("LGPL-3.0-only", "LGPL-3.0-only"),
        ("LGPL-3.0-or-later", "LGPL-3.0-or-later"),
        ("public-domain", "LicenseRef-public-domain"),
    ];
    TABLE
        .iter()
        .find(|(debian, _)| *debian == name)
        .map(|(_, spdx)| *spdx)
}

/// License exceptions SPDX lists, by the names Debian's copyright files give them.
fn spdx_exception(name: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("Autoconf", "Autoconf-exception-2.0"),
        ("autoconf", "Autoconf-exception-2.0"),
        ("Bison", "Bison-exception-2.2"),
        ("bison", "Bison-exception-2.2"),
        ("Classpath", "Classpath-exception-2.0"),
        ("GCC", "GCC-exception-3.1"),
        ("GCC-3.1", "GCC-exception-3.1"),
        ("Font", "Font-exception-2.0"),
        ("font", "Font-exception-2.0"),
        ("Libtool", "Libtool-exception"),
        ("libtool", "Libtool-exception"),
        ("LLVM", "LLVM-exception"),
    ];
    TABLE
        .iter()
        .find(|(debian, _)| *debian == name)
        .map(|(_, spdx)| *spdx)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: x\n\n";

    #[test]
    fn short_names_become_spdx_expressions() {
        assert_eq!(expression("GPL-2+"), "GPL-2.0-or-later");
        assert_eq!(expression("Expat"), "MIT");
        assert_eq!(
            expression("GPL-1+ or Artistic"),
            "GPL-1.0-or-later OR Artistic-1.0-Perl"
        );
        assert_eq!(
            expression("LGPL-2.1+ and BSD-3-clause or MIT"),
            "LGPL-2.1-or-later AND BSD-3-Clause OR MIT"
        );
        assert_eq!(
            expression("GPL-3+ with Autoconf exception"),
            "GPL-3.0-or-later WITH Autoconf-exception-2.0"
        );
        assert_eq!(expression("BSD-variant"), "LicenseRef-BSD-variant");
        assert_eq!(
            expression("GPL-2+ with some odd exception"),
            "LicenseRef-GPL-2--with-some-odd-exception"
        );
        assert_eq!(expression("public-domain"), "LicenseRef-public-domain");
    }

    #[test]
    fn a_machine_readable_file_declares_the_conjunction_of_its_files_paragraphs() {
        let text = format!(
            "{HEADER}Files: *\nCopyright: 1999 A\nLicense: GPL-2+\n\nFiles: lib/*\nCopyright: B\nLicense: LGPL-2.1+ or MIT\n\nFiles: doc/*\nLicense: GPL-2+\n\nLicense: GPL-2+\n This program is free software...\n"
        );
        let license = declared(text.as_bytes()).unwrap();
        assert_eq!(
            license.expression,
            "GPL-2.0-or-later AND (LGPL-2.1-or-later OR MIT)"
        );
        assert!(license.references().is_empty());
        let text = format!("{HEADER}Files: *\nLicense: BSD-variant\n");
        let license = declared(text.as_bytes()).unwrap();
        assert_eq!(license.references(), ["LicenseRef-BSD-variant"]);
    }

    #[test]
    fn free_form_or_empty_files_declare_nothing() {
        assert_eq!(
            declared(b"This is the Debian package of x.\n\nCopyright: GPL\n"),
            None
        );
        assert_eq!(declared(b""), None);
        assert_eq!(declared(HEADER.as_bytes()), None);
        assert_eq!(declared(b"\xff\xfe\x00garbage"), None);
    }
}
