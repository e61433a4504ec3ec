//! CycloneDX 1.5 in JSON: the output as the BOM's component, one `library` component per
//! Debian package (its purl as `bom-ref`), and the dependency graph. Pure.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Contents, Subject, to_text, uuid_of};

/// The document, as written to `OUTPUT.cdx.json`.
pub fn document(contents: &Contents, subject: &Subject<'_>) -> String {
    let refs: BTreeMap<String, String> = contents
        .packages
        .iter()
        .map(|p| (p.key(), p.purl(contents)))
        .collect();
    let root_ref = format!("debroot:image:{}", subject.profile);
    let components: Vec<Value> = contents
        .packages
        .iter()
        .map(|package| {
            let mut component = json!({
                "type": "library",
                "bom-ref": refs[&package.key()],
                "name": package.name,
                "version": package.version,
                "purl": refs[&package.key()],
                "hashes": [{ "alg": "SHA-256", "content": package.sha256 }],
                "properties": [
                    { "name": "debroot:architecture", "value": package.architecture },
                    { "name": "debroot:source", "value": package.source },
                    { "name": "debroot:source-version", "value": package.source_version },
                ],
            });
            if let (Some(license), Some(fields)) = (&package.license, component.as_object_mut()) {
                fields.insert("licenses".into(), json!([{ "expression": license }]));
            }
            component
        })
        .collect();
    let mut dependencies = vec![json!({
        "ref": root_ref,
        "dependsOn": contents.packages.iter().map(|p| refs[&p.key()].clone()).collect::<Vec<_>>(),
    })];
    for package in &contents.packages {
        let on: Vec<&String> = package
            .depends
            .iter()
            .filter_map(|key| refs.get(key))
            .collect();
        dependencies.push(json!({ "ref": refs[&package.key()], "dependsOn": on }));
    }
    let document = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", uuid_of(subject.sha256, "cyclonedx")),
        "version": 1,
        "metadata": {
            "timestamp": crate::timestamp::Timestamp(subject.epoch).rfc3339(),
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "debroot",
                    "version": env!("CARGO_PKG_VERSION"),
                }],
            },
            "component": {
                "type": "operating-system",
                "bom-ref": root_ref,
                "name": subject.profile,
                "hashes": [{ "alg": "SHA-256", "content": subject.sha256.hex() }],
            },
        },
        "components": components,
        "dependencies": dependencies,
    });
    to_text(&document)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bom_names_every_package_and_dependency() {
        let digest = crate::digest::Sha256Digest::of(b"out");
        let subject = Subject {
            profile: "kiosk",
            sha256: &digest,
            epoch: 1_700_000_000,
        };
        let contents = crate::sbom::spdx::tests::sample();
        let text = document(&contents, &subject);
        let bom: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(bom["specVersion"], "1.5");
        assert_eq!(bom["components"].as_array().unwrap().len(), 3);
        assert_eq!(
            bom["components"][0]["licenses"][0]["expression"],
            "LGPL-2.1-or-later"
        );
        assert!(bom["components"][2].get("licenses").is_none());
        assert_eq!(
            bom["dependencies"][2]["dependsOn"][0],
            "pkg:deb/debian/libc6@1.0-1?arch=amd64&distro=debian-13"
        );
        assert_eq!(bom["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
    }
}
