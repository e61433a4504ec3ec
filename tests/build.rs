//! `debroot build` on the fixture archive: extract mode without privilege, file by file.

mod common;

use common::deb::{Member, Package};
use common::fixture::Fixture;
use common::repo;
use common::stderr;

#[test]
fn extract_mode_builds_a_directory() {
    let fixture = Fixture::new(repo::trixie(vec![
        Package::new("base-files", "13.8")
            .essential()
            .file("./etc/debian_version", "13.8\n"),
        Package::new("hello", "2.10-3").member(Member::file(
            "./usr/bin/hello",
            0o4755,
            b"#!/bin/sh\n",
        )),
    ]));
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"hello\"]\n",
    );
    let out = fixture.run(&["build", "p.toml", "-o", "out", "--mode", "extract"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    eprintln!("{}", stderr(&out));
}
