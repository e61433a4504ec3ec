//! debroot's integration tests, in one test binary: one module per area, the helpers in
//! [`common`]. One binary links the crate once instead of once per file.
//!
//! The groups are chosen by test name (module path), in `tests/run` and `.config/nextest.toml`:
//!
//! - hermetic: every test not `#[ignore]`d (`cargo nextest run`);
//! - live: the `live*` modules (`test(/^live/)`), ignored unless run with `--run-ignored only`
//!   and `DEBROOT_TEST_LIVE=1`, when the host's Debian mirror answers;
//! - privileged: the `privileged*` modules (`test(/^privileged/)`), ignored unless run with
//!   `--run-ignored only`, as root where namespaces work.
//!
//! CONTRIBUTING.md says how to run each group and how to add a test, a fixture or a snapshot.

mod common;

mod apt_priorities;
mod build;
mod builtin_profiles;
mod ci_workflow;
mod cli;
mod cli_profile;
mod contrib;
mod debian_vs_dpkg;
mod diff;
mod disk;
mod fetch;
mod front;
mod hook_helpers;
mod index;
mod live;
mod live_arch;
mod live_build;
mod live_disk;
mod live_front;
mod live_kiosk;
mod live_oci;
mod live_paths;
mod live_sbom;
mod local_packages;
mod lock;
mod no_panic;
mod oci;
mod path_filters;
mod privileged;
mod privileged_build;
mod privileged_disk;
mod privileged_hooks;
mod privileged_image_erofs;
mod privileged_image_ext4;
mod privileged_image_squashfs;
mod privileged_paths;
mod privileged_threats;
mod repositories;
mod reproducibility;
mod resolver_properties;
mod sbom;
mod scenarios;
mod structure;
mod threats_extract;
mod tools;
