//! The lockfile parser, and what must hold of a lock that parses: written back
//! (`Lock::to_toml`, the canonical bytes) it parses to the same lock, and writing is stable.
#![no_main]

use debroot::lock::Lock;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(lock) = Lock::parse(text) else {
        return;
    };
    let written = lock.to_toml("fuzz.toml");
    match Lock::parse(&written) {
        Ok(again) => {
            assert_eq!(
                again, lock,
                "the lock written back parses to another:\n{written}"
            );
            assert_eq!(again.to_toml("fuzz.toml"), written, "writing is not stable");
        }
        Err(error) => panic!("the lock written back does not parse: {error}\n{written}"),
    }
});
