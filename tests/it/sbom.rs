//! SBOMs beside the output: SPDX 2.3 (always, unless `output.sbom` says otherwise) and
//! CycloneDX 1.5, from the lock, the packages' control data and their machine-readable
//! copyright files; the same bytes from the same build.

use crate::common;

use common::deb::{Member, Package};
use common::fixture::Fixture;
use common::repo;
use common::stderr;
use serde_json::Value;

const DEP5: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: hello\n\nFiles: *\nCopyright: 2024 Someone\nLicense: GPL-3+\n\nFiles: lib/*\nCopyright: 2024 Other\nLicense: BSD-variant\n\nLicense: GPL-3+\n The text.\n";

fn fixture(sbom: &str) -> Fixture {
    let fixture = Fixture::new(repo::trixie(vec![
        Package::new("base-files", "13.8")
            .essential()
            .file("./etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nVERSION_ID=\"13\"\nVERSION_CODENAME=trixie\n"),
        Package::new("libfoo1", "2.0-1")
            .field("Source", "foo (2.0-1)")
            .file("./usr/share/doc/libfoo1/copyright", "Free-form text, not machine-readable.\n"),
        Package::new("hello", "2.10-3+b1")
            .field("Source", "hello (2.10-3)")
            .depends("libfoo1 (>= 2.0), missing-thing | base-files")
            .file("./usr/share/doc/hello/copyright", DEP5),
        // A copyright "file" that is a symlink out of the tree is read inside it, or not at all.
        Package::new("evil", "1").member(Member::symlink(
            "./usr/share/doc/evil/copyright",
            "/etc/passwd",
        )),
    ]));
    fixture.write_profile(
        "",
        &format!("[packages]\nvariant = \"minbase\"\ninclude = [\"hello\", \"evil\"]\n{sbom}"),
    );
    fixture
}

fn build(fixture: &Fixture, output: &str) {
    let out = fixture.run(
        &["build", "p.toml", "-o", output, "--mode", "extract"],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn json(fixture: &Fixture, name: &str) -> Value {
    serde_json::from_str(&fixture.read(name)).unwrap()
}

fn package<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {doc:#}"))
}

#[test]
fn an_spdx_document_is_written_beside_every_output_and_says_what_is_in_it() {
    let fixture = fixture("");
    build(&fixture, "a.tar");
    let doc = json(&fixture, "a.tar.spdx.json");
    assert!(
        !fixture.path().join("a.tar.cdx.json").exists(),
        "CycloneDX only when asked for"
    );
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["creationInfo"]["created"], "2023-11-14T22:13:20Z");
    let manifest = json(&fixture, "a.tar.manifest.json");
    let image = &doc["packages"][0];
    assert_eq!(image["primaryPackagePurpose"], "OPERATING_SYSTEM");
    assert_eq!(
        image["checksums"][0]["checksumValue"],
        manifest["output_sha256"]
    );
    let lock = fixture.read("p.lock");
    let hello = package(&doc, "hello");
    assert_eq!(hello["versionInfo"], "2.10-3+b1");
    assert_eq!(
        hello["externalRefs"][0]["referenceLocator"],
        "pkg:deb/debian/hello@2.10-3%2Bb1?arch=amd64&distro=debian-13"
    );
    let sha = hello["checksums"][0]["checksumValue"].as_str().unwrap();
    assert!(lock.contains(sha), "the .deb's SHA256 is the lock's");
    assert_eq!(hello["sourceInfo"], "built package from: hello 2.10-3");
    assert_eq!(
        hello["licenseDeclared"],
        "GPL-3.0-or-later AND LicenseRef-BSD-variant"
    );
    assert_eq!(
        doc["hasExtractedLicensingInfos"][0]["licenseId"],
        "LicenseRef-BSD-variant"
    );
    assert_eq!(package(&doc, "libfoo1")["licenseDeclared"], "NOASSERTION");
    assert_eq!(package(&doc, "evil")["licenseDeclared"], "NOASSERTION");
    assert_eq!(
        package(&doc, "libfoo1")["sourceInfo"],
        "built package from: foo 2.0-1"
    );
    let id = |name: &str| package(&doc, name)["SPDXID"].as_str().unwrap().to_owned();
    let mut depends: Vec<(String, String)> = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationshipType"] == "DEPENDS_ON")
        .map(|r| {
            (
                r["spdxElementId"].as_str().unwrap().to_owned(),
                r["relatedSpdxElement"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    depends.sort();
    let mut expected = vec![
        (id("hello"), id("libfoo1")),
        (id("hello"), id("base-files")),
    ];
    expected.sort();
    assert_eq!(depends, expected);
    let contains = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationshipType"] == "CONTAINS")
        .count();
    assert_eq!(contains, 4);
}

#[test]
fn sboms_are_the_same_bytes_from_the_same_build_and_cyclonedx_on_request() {
    let fixture = fixture("[output]\nsbom = [\"cyclonedx\", \"spdx\"]\n");
    build(&fixture, "a.tar");
    build(&fixture, "b.tar");
    for suffix in [".spdx.json", ".cdx.json"] {
        let a = fixture.read(&format!("a.tar{suffix}"));
        let b = fixture.read(&format!("b.tar{suffix}"));
        assert_eq!(a, b, "{suffix}: the same bytes, whatever the output's name");
    }
    let bom = json(&fixture, "a.tar.cdx.json");
    assert_eq!(bom["specVersion"], "1.5");
    let hello = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "hello")
        .unwrap();
    assert_eq!(
        hello["licenses"][0]["expression"],
        "GPL-3.0-or-later AND LicenseRef-BSD-variant"
    );
    let purl = hello["purl"].as_str().unwrap();
    let deps = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == purl)
        .unwrap();
    assert_eq!(deps["dependsOn"].as_array().unwrap().len(), 2);
}

#[test]
fn an_unknown_sbom_format_is_an_error_at_its_place() {
    let fixture = fixture("[output]\nsbom = [\"spdx\", \"swid\"]\n");
    let out = common::debroot(fixture.path(), &["profile", "show", "p.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(
        text.contains("`output.sbom`: unknown SBOM format `swid` (known: spdx, cyclonedx)"),
        "{text}"
    );
}
