//! SPDX 2.3 in JSON: one package for the output, one per Debian package, `CONTAINS` and
//! `DEPENDS_ON` relationships, and a definition of every `LicenseRef-` a package uses. Pure.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Contents, Subject, to_text, uuid_of};

/// `SPDXRef-` followed by `text` with every character an SPDX identifier may not hold
/// (anything but letters, digits, `.` and `-`) written as `.xHH`.
fn spdx_id(kind: &str, text: &str) -> String {
    let mut id = format!("SPDXRef-{kind}-");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            id.push(byte as char);
        } else {
            id.push_str(&format!(".x{byte:02X}"));
        }
    }
    id
}

/// The document, as written to `OUTPUT.spdx.json`.
pub fn document(contents: &Contents, subject: &Subject<'_>) -> String {
    let created = crate::timestamp::Timestamp(subject.epoch).rfc3339();
    let root_id = spdx_id("Image", subject.profile);
    let mut packages = vec![json!({
        "SPDXID": root_id,
        "name": subject.profile,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "checksums": [{ "algorithm": "SHA256", "checksumValue": subject.sha256.hex() }],
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "OPERATING_SYSTEM",
        "comment": "The root filesystem debroot built from the profile's lock.",
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": root_id,
    })];
    let ids: BTreeMap<String, String> = contents
        .packages
        .iter()
        .map(|p| (p.key(), spdx_id("Package-deb", &p.key())))
        .collect();
    // LicenseRef- identifier -> the packages that use it.
    let mut references: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for package in &contents.packages {
        let id = &ids[&package.key()];
        let declared = match &package.license {
            Some(expression) => {
                let license = super::licenses::License {
                    expression: expression.clone(),
                };
                for reference in license.references() {
                    references
                        .entry(reference)
                        .or_default()
                        .push(package.name.clone());
                }
                expression.clone()
            }
            None => "NOASSERTION".to_owned(),
        };
        packages.push(json!({
            "SPDXID": id,
            "name": package.name,
            "versionInfo": package.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "checksums": [{ "algorithm": "SHA256", "checksumValue": package.sha256 }],
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": declared,
            "copyrightText": "NOASSERTION",
            "sourceInfo": format!(
                "built package from: {} {}",
                package.source, package.source_version
            ),
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": package.purl(contents),
            }],
        }));
        relationships.push(json!({
            "spdxElementId": root_id,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    for package in &contents.packages {
        for dependency in &package.depends {
            if let Some(target) = ids.get(dependency) {
                relationships.push(json!({
                    "spdxElementId": ids[&package.key()],
                    "relationshipType": "DEPENDS_ON",
                    "relatedSpdxElement": target,
                }));
            }
        }
    }
    let extracted: Vec<Value> = references
        .iter()
        .map(|(id, users)| {
            let name = id.trim_start_matches("LicenseRef-");
            json!({
                "licenseId": id,
                "name": name,
                "extractedText": format!(
                    "The license Debian's machine-readable copyright files call `{name}`; its text is in /usr/share/doc/PACKAGE/copyright of: {}.",
                    users.join(", ")
                ),
            })
        })
        .collect();
    let mut document = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("debroot-{}", subject.profile),
        "documentNamespace": format!(
            "https://spdx.org/spdxdocs/debroot/{}-{}",
            crate::sbom::licenses::license_ref(subject.profile).trim_start_matches("LicenseRef-"),
            uuid_of(subject.sha256, "spdx")
        ),
        "creationInfo": {
            "created": created,
            "creators": [format!("Tool: debroot-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": relationships,
    });
    if !extracted.is_empty()
        && let Some(fields) = document.as_object_mut()
    {
        fields.insert("hasExtractedLicensingInfos".into(), extracted.into());
    }
    to_text(&document)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sbom::Facts;

    pub(crate) fn sample() -> Contents {
        let facts = |name: &str, license: Option<&str>, depends: &[&str]| Facts {
            name: name.into(),
            version: "1.0-1".into(),
            architecture: "amd64".into(),
            sha256: "ab".repeat(32),
            source: format!("{name}-src"),
            source_version: "1.0-1".into(),
            license: license.map(str::to_owned),
            depends: depends.iter().map(|d| (*d).to_owned()).collect(),
        };
        Contents {
            distro_version: Some("13".into()),
            distro_codename: Some("trixie".into()),
            packages: vec![
                facts("libc6", Some("LGPL-2.1-or-later"), &[]),
                facts(
                    "hello",
                    Some("GPL-3.0-or-later AND LicenseRef-BSD-variant"),
                    &["libc6:amd64"],
                ),
                facts("libstdc++6", None, &["libc6:amd64"]),
            ],
        }
    }

    #[test]
    fn the_document_names_every_package_and_relation() {
        let digest = crate::digest::Sha256Digest::of(b"out");
        let subject = Subject {
            profile: "kiosk",
            sha256: &digest,
            epoch: 1_700_000_000,
        };
        let text = document(&sample(), &subject);
        assert_eq!(
            text,
            document(&sample(), &subject),
            "the same bytes each time"
        );
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        assert_eq!(doc["creationInfo"]["created"], "2023-11-14T22:13:20Z");
        assert_eq!(doc["packages"].as_array().unwrap().len(), 4);
        assert_eq!(
            doc["packages"][3]["SPDXID"],
            "SPDXRef-Package-deb-libstdc.x2B.x2B6.x3Aamd64"
        );
        assert_eq!(doc["packages"][3]["licenseDeclared"], "NOASSERTION");
        assert_eq!(
            doc["packages"][2]["externalRefs"][0]["referenceLocator"],
            "pkg:deb/debian/hello@1.0-1?arch=amd64&distro=debian-13"
        );
        let depends: Vec<(&str, &str)> = doc["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["relationshipType"] == "DEPENDS_ON")
            .map(|r| {
                (
                    r["spdxElementId"].as_str().unwrap(),
                    r["relatedSpdxElement"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            depends,
            [
                (
                    "SPDXRef-Package-deb-hello.x3Aamd64",
                    "SPDXRef-Package-deb-libc6.x3Aamd64"
                ),
                (
                    "SPDXRef-Package-deb-libstdc.x2B.x2B6.x3Aamd64",
                    "SPDXRef-Package-deb-libc6.x3Aamd64"
                )
            ]
        );
        assert_eq!(
            doc["hasExtractedLicensingInfos"][0]["licenseId"],
            "LicenseRef-BSD-variant"
        );
    }
}
