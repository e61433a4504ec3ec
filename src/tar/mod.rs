//! Tar, in one place: the header format ([`header`]: fields, octal and base-256 numbers, the
//! checksum, PAX records), the strict streaming reader for the members of a `.deb` ([`read`]),
//! and the deterministic writer of tarball outputs ([`write`](mod@write)).
//!
//! `output::read` reads debroot's own tarballs back for `debroot diff` with the same header and
//! PAX code, under its own, lenient, policy: it extracts nothing, so it accepts what [`read`]
//! refuses (PAX headers, device nodes, FIFOs).

pub mod header;
pub mod read;
pub mod write;
