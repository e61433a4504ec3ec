//! An `InRelease` as a mirror serves it: the clearsign envelope split (armor headers, dash
//! escapes, the signature block), its signatures verified against the seed's keyring, and the
//! signed text read as a `Release`.
#![no_main]

use debroot::repo::{clearsign, release, signature};
use debroot_fuzz::{REFERENCE, keyring};

libfuzzer_sys::fuzz_target!(
    init: {
        keyring();
    },
    |data: &[u8]| {
        if let Ok(cleartext) = clearsign::split(data) {
            let _ = cleartext.canonical();
            let text = cleartext.text();
            let _ = signature::verify(keyring(), &cleartext, REFERENCE);
            if let Ok(release) = release::parse(&text) {
                let _ = release.has_component("main");
            }
        }
    }
);
