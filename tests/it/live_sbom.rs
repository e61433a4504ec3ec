//! The SBOMs debroot writes, checked by tools that are not debroot's: SPDX 2.3 against the
//! official JSON schema and by spdx-tools' validator, CycloneDX 1.5 against its official
//! schema (`tests/sbom/validate.py`, in a virtual environment made from PyPI: hence live). The
//! fixture archive keeps it quick; the kiosk profile's SBOM is validated by `live_kiosk`.

use crate::common;

use common::deb::Package;
use common::fixture::Fixture;
use common::repo;
use common::stderr;

const DEP5: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: 2024 Someone\nLicense: GPL-2+ with Autoconf exception or Artistic\n\nFiles: odd/*\nCopyright: 2024 Other\nLicense: BSD-like, see below\n";

#[test]
#[ignore = "live: needs PyPI for the validators"]
fn spdx_and_cyclonedx_documents_pass_the_official_schemas_and_spdx_tools() {
    common::tools::require("python3");
    let fixture = Fixture::new(repo::trixie(vec![
        Package::new("base-files", "13.8").essential().file(
            "./etc/os-release",
            "VERSION_ID=\"13\"\nVERSION_CODENAME=trixie\n",
        ),
        Package::new("libfoo1", "1:2.0~rc1-1+b2").field("Source", "foo (1:2.0~rc1-1)"),
        Package::new("hello", "2.10-3")
            .depends("libfoo1, base-files")
            .file("./usr/share/doc/hello/copyright", DEP5),
    ]));
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"hello\"]\n[output]\nsbom = [\"spdx\", \"cyclonedx\"]\n",
    );
    let out = fixture.run(
        &["build", "p.toml", "-o", "a.tar", "--mode", "extract"],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    common::sbom_tools::validate("spdx", &fixture.path().join("a.tar.spdx.json"));
    common::sbom_tools::validate("cyclonedx", &fixture.path().join("a.tar.cdx.json"));

    // The check can fail: a document the schema refuses is refused.
    let broken = fixture
        .read("a.tar.spdx.json")
        .replace("\"SPDX-2.3\"", "\"SPDX-9\"");
    std::fs::write(fixture.path().join("broken.spdx.json"), broken).unwrap();
    let refused = std::panic::catch_unwind(|| {
        common::sbom_tools::validate("spdx", &fixture.path().join("broken.spdx.json"))
    });
    assert!(refused.is_err(), "a wrong spdxVersion passes the validator");
}
