//! OpenPGP packets from outside: the input as a keyring (a profile's `keyring` file), and as
//! the signature packets of a clearsigned `Release` whose signed part is the seed's, verified
//! against the seed's keyring. The seed is the real signature packets, so mutations reach the
//! subpackets, the issuer look-up, the key validity checks and the cryptographic check.
#![no_main]

use debroot::repo::{clearsign, signature};
use debroot_fuzz::{REFERENCE, armor, keyring, signed_part};

libfuzzer_sys::fuzz_target!(
    init: {
        keyring();
        signed_part();
    },
    |data: &[u8]| {
        if let Ok(parsed) = signature::Keyring::parse(data) {
            let _ = parsed.fingerprints();
        }
        let mut input = signed_part().to_vec();
        input.extend_from_slice(&armor(data));
        if let Ok(cleartext) = clearsign::split(&input) {
            let _ = signature::verify(keyring(), &cleartext, REFERENCE);
        }
    }
);
