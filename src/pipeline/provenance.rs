//! `OUTPUT.provenance.json`: an unsigned in-toto Statement v1 whose predicate is SLSA
//! provenance v1, written beside every output file with the manifest.
//!
//! - `subject`: the output's file name and its `output_sha256` (an `oci` layout's is its image
//!   manifest's digest, as a registry names the image);
//! - `buildDefinition.buildType`: [`BUILD_TYPE`], whose parameters are these:
//!   `externalParameters` (what the user chose: the profile file's name and SHA256, the lock's
//!   name and SHA256, mode, format, epoch, snapshot), `internalParameters` (what debroot derived:
//!   where the epoch came from, the profile's resolution digest, suite, architectures);
//! - `resolvedDependencies`: the lock file, then every package of the lock as a
//!   `pkg:deb/debian/NAME@VERSION?arch=ARCH` purl with the `.deb`'s SHA256;
//! - `runDetails.builder`: [`BUILDER_ID`] and debroot's version. No wall-clock time and no
//!   invocation id are recorded (`metadata` is empty), so two builds of the same inputs write the
//!   same bytes; the build's time is the epoch.
//!
//! Signing is the user's (e.g. `cosign attest-blob`); the README shows how.

use crate::digest::Sha256Digest;
use crate::lock::Lock;

use super::Report;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// What debroot's build type means: the parameters above, version 1.
pub const BUILD_TYPE: &str = "https://debroot.dev/build/v1";
/// The builder: debroot run by whoever holds the statement's signature.
pub const BUILDER_ID: &str = "https://debroot.dev/builder/local/v1";

/// The bytes of a profile and a lock, as the statement names them.
pub struct Inputs<'a> {
    /// The profile file's name and the SHA256 of its bytes ([`crate::profile::Profile::files_sha256`]).
    pub profile_name: &'a str,
    pub profile_sha256: Sha256Digest,
    /// The profile's resolution digest (the manifest's `profile_digest`).
    pub profile_digest: Sha256Digest,
    pub lock_name: &'a str,
    pub lock_sha256: Sha256Digest,
    pub suite: &'a str,
    pub architectures: Vec<String>,
}

/// A package's purl: `pkg:deb/debian/NAME@VERSION?arch=ARCH`, encoded as the SBOMs' are
/// ([`crate::sbom::purl`]: `+` is `%2B`, an epoch's `:` stays).
pub fn purl(name: &str, version: &str, architecture: &str) -> String {
    crate::sbom::purl(name, version, architecture, None)
}

/// The statement's text (pretty JSON and a newline; no I/O).
pub fn statement(report: &Report, inputs: &Inputs<'_>, lock: &Lock) -> String {
    let subject_name = report
        .output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut dependencies = vec![serde_json::json!({
        "name": inputs.lock_name,
        "digest": { "sha256": inputs.lock_sha256.hex() },
    })];
    dependencies.extend(lock.packages.iter().map(|p| {
        serde_json::json!({
            "uri": purl(&p.name, &p.version, &p.architecture),
            "name": p.filename.rsplit('/').next().unwrap_or(&p.filename),
            "digest": { "sha256": p.sha256.hex() },
        })
    }));
    let snapshot = lock.snapshot.map(|s| s.rfc3339());
    let document = serde_json::json!({
        "_type": STATEMENT_TYPE,
        "subject": [{
            "name": subject_name,
            "digest": { "sha256": report.sha256.hex() },
        }],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "profile": {
                        "name": inputs.profile_name,
                        "digest": { "sha256": inputs.profile_sha256.hex() },
                    },
                    "lock": {
                        "name": inputs.lock_name,
                        "digest": { "sha256": inputs.lock_sha256.hex() },
                    },
                    "mode": report.mode.as_str(),
                    "format": report.format.as_str(),
                    "epoch": report.epoch,
                    "snapshot": snapshot,
                },
                "internalParameters": {
                    "epochFrom": report.epoch_from.as_str(),
                    "profileDigest": inputs.profile_digest.hex(),
                    "suite": inputs.suite,
                    "architectures": inputs.architectures,
                },
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {
                    "id": BUILDER_ID,
                    "version": { "debroot": env!("CARGO_PKG_VERSION") },
                },
                "metadata": {},
            },
        },
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_encode_what_a_version_needs() {
        assert_eq!(
            purl("bash", "5.2.15-2+b2", "amd64"),
            "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64"
        );
        assert_eq!(
            purl("libc6", "1:2.36~rc1", "arm64"),
            "pkg:deb/debian/libc6@1:2.36~rc1?arch=arm64"
        );
    }
}
