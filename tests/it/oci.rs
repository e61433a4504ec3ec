//! OCI image output (`--format oci`, `oci-archive`) on the fixture archive, in extract mode:
//! identical bytes across builds, the layer is the `.tar` build's tarball, and the real tools
//! (skopeo, umoci) read the image; their tests say so and pass when a tool is not installed.

use crate::common;

use std::path::{Path, PathBuf};

use common::deb::{Member, Package};
use common::fixture::Fixture;
use common::repo;
use common::stderr;

fn fixture() -> Fixture {
    let fixture = Fixture::new(repo::trixie(vec![
        Package::new("base-files", "13.8")
            .essential()
            .file("./etc/debian_version", "13.8\n")
            .member(Member::dir("./tmp/", 0o1777)),
        Package::new("hello", "2.10-3")
            .member(Member::file(
                "./usr/bin/hello",
                0o4755,
                b"#!/bin/sh\necho hello\n",
            ))
            .member(Member::hardlink("./usr/bin/hello-again", "./usr/bin/hello"))
            .member(Member::symlink("./usr/bin/hi", "hello")),
    ]));
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"hello\"]\n",
    );
    fixture
}

fn build(fixture: &Fixture, output: &str, extra: &[&str]) {
    let mut args = vec!["build", "p.toml", "-o", output, "--mode", "extract"];
    args.extend_from_slice(extra);
    let out = fixture.run(&args, &[("SOURCE_DATE_EPOCH", "1700000000")]);
    assert_eq!(out.status.code(), Some(0), "{output}: {}", stderr(&out));
}

fn manifest(fixture: &Fixture, name: &str) -> serde_json::Value {
    let path = fixture.path().join(format!("{name}.manifest.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Every file of a folder, by relative path, with its bytes.
fn files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                found.push((path.strip_prefix(root).unwrap().to_path_buf(), bytes));
            }
        }
    }
    found.sort();
    found
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

#[test]
fn oci_outputs_rebuild_to_the_same_bytes_and_hold_the_tarball() {
    let fixture = fixture();
    build(&fixture, "k.tar", &[]);
    build(&fixture, "k.oci", &[]);
    build(&fixture, "again", &["--format", "oci"]);
    build(&fixture, "k.oci.tar", &[]);
    build(&fixture, "again.oci.tar", &["--format", "oci-archive"]);
    let path = |name: &str| fixture.path().join(name);
    let layout = path("k.oci");
    assert_eq!(files(&layout), files(&path("again")), "a rebuild differs");
    let archive = std::fs::read(path("k.oci.tar")).unwrap();
    assert!(
        archive == std::fs::read(path("again.oci.tar")).unwrap(),
        "a rebuild of the archive differs"
    );

    // An archive streams to stdout; a layout folder cannot.
    let streamed = fixture.run(
        &[
            "build",
            "p.toml",
            "-o",
            "-",
            "--format",
            "oci-archive",
            "--mode",
            "extract",
        ],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_eq!(streamed.status.code(), Some(0), "{}", stderr(&streamed));
    assert!(streamed.stdout == archive, "stdout is not the archive");
    let folder = fixture.run(
        &[
            "build", "p.toml", "-o", "-", "--format", "oci", "--mode", "extract",
        ],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_eq!(folder.status.code(), Some(2), "{}", stderr(&folder));

    // The layout: oci-layout, index.json -> manifest -> config and the layer.
    assert_eq!(
        std::fs::read_to_string(layout.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let index = json(&layout.join("index.json"));
    let entry = &index["manifests"][0];
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "latest"
    );
    assert_eq!(entry["platform"]["architecture"], "amd64");
    let digest = entry["digest"].as_str().unwrap();
    let image = json(&blob(&layout, digest));
    assert_eq!(
        image["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let config = json(&blob(&layout, image["config"]["digest"].as_str().unwrap()));
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["config"]["Labels"]["dev.debroot.profile"], "p");
    assert_eq!(config["config"]["Labels"]["dev.debroot.suite"], "trixie");
    assert_eq!(config["history"][0]["created"], "2023-11-14T22:13:20Z");
    let layer = &image["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let compressed = std::fs::read(blob(&layout, layer["digest"].as_str().unwrap())).unwrap();
    assert_eq!(layer["size"].as_u64().unwrap(), compressed.len() as u64);

    // The layer is the `.tar` build's tarball; its diff_id that tarball's digest.
    let mut tarball = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut tarball,
    )
    .unwrap();
    assert!(
        tarball == std::fs::read(path("k.tar")).unwrap(),
        "the layer is not the tarball"
    );
    let tree = manifest(&fixture, "k.tar")["output_sha256"].clone();
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        format!("sha256:{}", tree.as_str().unwrap())
    );

    // The manifests: a layout's digest is its image manifest's, an archive's its bytes'.
    let m = manifest(&fixture, "k.oci");
    assert_eq!(m["format"], "oci");
    assert_eq!(m["tree_sha256"], tree);
    assert_eq!(
        format!("sha256:{}", m["output_sha256"].as_str().unwrap()),
        digest
    );
    assert_eq!(m["oci"]["manifest_digest"], digest);
    let m = manifest(&fixture, "k.oci.tar");
    assert_eq!(m["format"], "oci-archive");
    assert_eq!(
        m["output_sha256"].as_str().unwrap(),
        repo::sha256_hex(&archive)
    );
    assert_eq!(m["oci"]["manifest_digest"], digest);

    // The archive holds the layout's files, sorted, 0:0, dated the epoch.
    let mut members = Vec::new();
    for entry in tar::Archive::new(&archive[..]).entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0));
        assert_eq!(header.mtime().unwrap(), 1_700_000_000);
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        if header.entry_type().is_file() {
            let relative = name.trim_start_matches("./").to_owned();
            assert_eq!(
                bytes,
                std::fs::read(layout.join(&relative)).unwrap(),
                "{name}"
            );
        }
        members.push(name);
    }
    assert_eq!(&members[..3], ["./", "./blobs/", "./blobs/sha256/"]);
    assert_eq!(
        &members[members.len() - 2..],
        ["./index.json", "./oci-layout"]
    );
    assert_eq!(members.len(), 3 + 3 + 2);

    // A rebuild replaces a layout, here with a zstd layer; anything else is refused.
    std::fs::write(
        path("p.toml"),
        format!(
            "{}\n[output]\ncompression = \"zstd\"\n",
            std::fs::read_to_string(path("p.toml")).unwrap()
        ),
    )
    .unwrap();
    build(&fixture, "k.oci", &[]);
    let index = json(&layout.join("index.json"));
    let image = json(&blob(
        &layout,
        index["manifests"][0]["digest"].as_str().unwrap(),
    ));
    assert_eq!(
        image["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    assert_eq!(
        std::fs::read_dir(layout.join("blobs/sha256"))
            .unwrap()
            .count(),
        3,
        "the earlier layout's blobs are gone"
    );
    std::fs::create_dir(path("other")).unwrap();
    std::fs::write(path("other/x"), "x").unwrap();
    let refused = fixture.run(
        &[
            "build", "p.toml", "-o", "other", "--format", "oci", "--mode", "extract",
        ],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        stderr(&refused).contains("no OCI image layout"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(std::fs::read(path("other/x")).unwrap(), b"x");
    // Nothing of the builds is left beside the outputs.
    let leftovers: Vec<String> = std::fs::read_dir(fixture.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".debroot-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A tool on `PATH`, or `None` after saying that the test skips it.
fn tool(name: &str) -> Option<()> {
    let found = std::process::Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: `{name}` is not installed (apt-get install {name})");
    }
    found.then_some(())
}

fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `skopeo inspect` reads both forms, and sees the same image; `umoci unpack` of the layout
/// gives the tree of the `.tar` build (`debroot diff` exit 0).
#[test]
fn skopeo_and_umoci_read_the_oci_outputs() {
    let Some(()) = tool("skopeo") else { return };
    let fixture = fixture();
    build(&fixture, "k.oci", &[]);
    build(&fixture, "k.oci.tar", &[]);
    let dir = fixture.path();
    let layout: serde_json::Value =
        serde_json::from_str(&run("skopeo", &["inspect", "oci:k.oci:latest"], dir)).unwrap();
    let archive: serde_json::Value =
        serde_json::from_str(&run("skopeo", &["inspect", "oci-archive:k.oci.tar"], dir)).unwrap();
    assert_eq!(layout["Architecture"], "amd64");
    assert_eq!(layout["Os"], "linux");
    assert_eq!(layout["Created"], "2023-11-14T22:13:20Z");
    assert_eq!(layout["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(layout["Labels"]["dev.debroot.suite"], "trixie");
    assert_eq!(layout["Digest"], archive["Digest"]);
    assert_eq!(layout["Layers"], archive["Layers"]);
    assert_eq!(
        format!(
            "sha256:{}",
            manifest(&fixture, "k.oci")["output_sha256"]
                .as_str()
                .unwrap()
        ),
        layout["Digest"].as_str().unwrap()
    );

    let Some(()) = tool("umoci") else { return };
    build(&fixture, "k.tar", &[]);
    // Without root, umoci cannot make device nodes nor give files to others: `--rootless`
    // unpacks as the user, and only a root run compares the whole tree.
    let root = rustix::process::geteuid().is_root();
    let mut args = vec!["unpack", "--image", "k.oci:latest", "bundle"];
    if !root {
        args.insert(1, "--rootless");
    }
    run("umoci", &args, dir);
    if !root {
        eprintln!("skipped: the comparison of umoci's tree needs root (owners and /dev)");
        return;
    }
    let diff = common::debroot(dir, &["diff", "k.tar", "bundle/rootfs"], &[]);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "{}{}",
        common::stdout(&diff),
        stderr(&diff)
    );
}

/// `OUTPUT.provenance.json`: an in-toto statement with a SLSA provenance v1 predicate naming the
/// output's digest, the same bytes when the build is repeated.
#[test]
fn provenance_names_the_output_and_its_inputs_and_rebuilds_the_same() {
    let fixture = fixture();
    let path = |name: &str| fixture.path().join(name);
    for output in ["k.tar", "k.oci.tar", "k.oci"] {
        build(&fixture, output, &[]);
        let statement_path = path(&format!("{output}.provenance.json"));
        let first = std::fs::read(&statement_path).unwrap();
        build(&fixture, output, &[]);
        assert!(
            first == std::fs::read(&statement_path).unwrap(),
            "{output}: a rebuild wrote another statement"
        );
        let statement: serde_json::Value = serde_json::from_slice(&first).unwrap();
        let m = manifest(&fixture, output);
        assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
        assert_eq!(statement["subject"][0]["name"], output);
        assert_eq!(
            statement["subject"][0]["digest"]["sha256"],
            m["output_sha256"]
        );
        let definition = &statement["predicate"]["buildDefinition"];
        assert_eq!(definition["buildType"], "https://debroot.dev/build/v1");
        let external = &definition["externalParameters"];
        assert_eq!(external["profile"]["name"], "p.toml");
        assert_eq!(
            external["profile"]["digest"]["sha256"].as_str().unwrap(),
            repo::sha256_hex(&std::fs::read(path("p.toml")).unwrap())
        );
        assert_eq!(external["lock"]["name"], "p.lock");
        assert_eq!(
            external["lock"]["digest"]["sha256"].as_str().unwrap(),
            repo::sha256_hex(&std::fs::read(path("p.lock")).unwrap())
        );
        assert_eq!(external["lock"]["digest"]["sha256"], m["lock_digest"]);
        assert_eq!(external["mode"], "extract");
        assert_eq!(external["format"], m["format"]);
        assert_eq!(external["epoch"], 1_700_000_000);
        let dependencies = definition["resolvedDependencies"].as_array().unwrap();
        assert_eq!(dependencies[0]["name"], "p.lock");
        let packages = m["packages"].as_array().unwrap();
        assert_eq!(dependencies.len(), 1 + packages.len());
        for (dependency, package) in dependencies[1..].iter().zip(packages) {
            assert_eq!(
                dependency["uri"],
                format!(
                    "pkg:deb/debian/{}@{}?arch={}",
                    package["name"].as_str().unwrap(),
                    package["version"].as_str().unwrap(),
                    package["architecture"].as_str().unwrap()
                )
            );
            assert_eq!(dependency["digest"]["sha256"], package["sha256"]);
        }
        let builder = &statement["predicate"]["runDetails"]["builder"];
        assert_eq!(builder["id"], "https://debroot.dev/builder/local/v1");
        assert_eq!(builder["version"]["debroot"], env!("CARGO_PKG_VERSION"));
    }
}

/// `verify --output-format oci-archive`: every run writes the archive, and the runs agree on
/// its digest; `oci`, a folder, is refused as `dir` is (verify hashes files).
#[test]
fn verify_compares_oci_images() {
    let fixture = fixture();
    let tmp = fixture.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    for format in ["oci", "oci-archive"] {
        let out = fixture.run(
            &[
                "verify",
                "p.toml",
                "--modes",
                "extract",
                "--output-format",
                format,
                "--format",
                "json",
            ],
            &[
                ("SOURCE_DATE_EPOCH", "1700000000"),
                ("TMPDIR", tmp.to_str().unwrap()),
            ],
        );
        if format == "oci" {
            assert_eq!(out.status.code(), Some(2), "{format}: {}", stderr(&out));
            assert!(stderr(&out).contains("choose a tarball format"));
            continue;
        }
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["reproducible"], true, "{format}: {report}");
        assert!(report.to_string().contains("out.oci.tar"), "{report}");
    }
}

/// `verify --provenance FILE`: the output's provenance with every run's digest and conditions,
/// the same bytes when verified again.
#[test]
fn verify_writes_a_provenance_that_records_the_runs() {
    let fixture = fixture();
    let tmp = fixture.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut texts = Vec::new();
    for name in ["a.json", "b.json"] {
        let out = fixture.run(
            &[
                "verify",
                "p.toml",
                "--modes",
                "extract",
                "--output-format",
                "oci-archive",
                "--provenance",
                name,
            ],
            &[
                ("SOURCE_DATE_EPOCH", "1700000000"),
                ("TMPDIR", tmp.to_str().unwrap()),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        texts.push(fixture.read(name));
    }
    assert_eq!(texts[0], texts[1], "verifying again writes the same bytes");
    let statement: serde_json::Value = serde_json::from_str(&texts[0]).unwrap();
    let runs = statement["predicate"]["runDetails"]["byproducts"]
        .as_array()
        .unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["digest"], runs[1]["digest"]);
    assert_eq!(runs[0]["digest"], statement["subject"][0]["digest"]);
    assert_eq!(runs[0]["annotations"]["umask"], "0022");
    assert_eq!(runs[1]["annotations"]["umask"], "0077");
    assert!(
        runs.iter().any(|r| r["annotations"]["cache"] == "cold"),
        "{runs:?}"
    );
    let verify = &statement["predicate"]["buildDefinition"]["internalParameters"]["verify"];
    assert_eq!(verify["runs"], 2);
    assert_eq!(verify["reproducible"], true);
}
