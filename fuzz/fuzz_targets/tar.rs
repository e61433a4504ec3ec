//! tar headers and streams as the unpacker reads them (ustar, GNU long names and links, pax
//! records, checksums, sizes, padding), every entry's data to the end; the same bytes as a
//! `control.tar` (its members, the `control` paragraph, `conffiles`); the member name
//! normalization; and the shared header helpers `output::read` also uses (PAX records, numbers).
#![no_main]

use debroot::tar::header::{self, Numbers};
use debroot::tar::read::{self, TarReader};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut reader = TarReader::new(data);
    let mut buffer = [0u8; 4096];
    // Every entry costs at least one header block of the input, so the loop ends.
    while let Ok(Some(_entry)) = reader.next_entry() {
        while let Ok(n) = reader.read(&mut buffer) {
            if n == 0 {
                break;
            }
        }
    }
    let _ = debroot::unpack::parse_control_tar(data);
    let name = &data[..data.len().min(512)];
    let _ = read::normalize(name);
    let _ = read::shown_name(name);
    let _ = header::pax_records(data);
    let _ = header::pax_time(name);
    let _ = header::number(name, Numbers::Strict);
    let _ = header::number(name, Numbers::Lenient);
});
