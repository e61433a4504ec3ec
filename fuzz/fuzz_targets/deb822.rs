//! deb822 text as mirrors and packages give it, through every reader of it: the strict and the
//! recovering paragraph readers, folding, and the `Release`, `Packages` and dpkg `status`
//! parsers built on them.
#![no_main]

use std::sync::OnceLock;

use debroot::debian::{Architecture, deb822};
use debroot::repo::{packages, release};

fn amd64() -> &'static Architecture {
    static ARCH: OnceLock<Architecture> = OnceLock::new();
    ARCH.get_or_init(|| Architecture::parse("amd64").expect("amd64 is an architecture"))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = deb822::parse(data);
    for paragraph in deb822::paragraphs_recovering(data).flatten() {
        let _ = paragraph.get("Package");
        if let Some(value) = paragraph.get("description") {
            let _ = deb822::folded(value);
        }
    }
    let _ = deb822::folded(data);
    let _ = deb822::lines(data).count();
    if let Ok(release) = release::parse(data) {
        let _ = release.has_component("main");
    }
    let _ = packages::parse(data, amd64());
    let _ = debroot::diff::dpkg_packages(data);
});
