//! OCI image output: an image layout folder (`--format oci`, `NAME.oci`) or the same layout as a
//! tar archive (`--format oci-archive`, `NAME.oci.tar`, skopeo's `oci-archive:`).
//!
//! The image has one layer: the depth-first tarball debroot writes for `.tar` (static `/dev`
//! included), compressed with the fixed settings of `.tar.gz` or `.tar.zst` as
//! `output.compression` says; its `diff_id` is that tarball's SHA256 (the `tree_sha256` of the
//! manifest, and the `output_sha256` of a `.tar` build of the same tree). The layout:
//!
//! ```text
//! oci-layout                  {"imageLayoutVersion":"1.0.0"}
//! index.json                  one manifest, `org.opencontainers.image.ref.name` = `latest`
//! blobs/sha256/<manifest>     application/vnd.oci.image.manifest.v1+json
//! blobs/sha256/<config>       application/vnd.oci.image.config.v1+json
//! blobs/sha256/<layer>        application/vnd.oci.image.layer.v1.tar+gzip (or +zstd)
//! ```
//!
//! Every document is JSON serialized from structs (fields in declaration order, maps as
//! `BTreeMap`), without whitespace, and holds no time but the build's epoch, so the same tree and
//! lock give the same bytes. The archive's members are in depth-first byte order, owned by 0:0,
//! folders 0755 and files 0644, dated the epoch.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use super::{Layer, Node, NodeKind, OutputError};
use crate::digest::Sha256Digest;
use crate::profile::{LayerCompression, Profile};

pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// The reference name of the one image of a layout (`oci:DIR:latest`, `umoci unpack --image
/// DIR:latest`).
pub const REF_NAME: &str = "latest";
/// The `oci-layout` file.
pub const LAYOUT: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";
/// The `PATH` of the image's configuration (Debian's default for root).
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The command of the image's configuration.
pub const CMD: &str = "/bin/sh";
/// The prefix of debroot's own labels.
pub const LABEL_PREFIX: &str = "dev.debroot";

/// The OCI platform of a Debian architecture: GOARCH and its variant (the names of the image
/// spec and of Docker's and Podman's `--platform`); an architecture without an OCI name keeps
/// its Debian one.
pub fn platform(debian: &str) -> (String, Option<&'static str>) {
    let (architecture, variant) = match debian {
        "amd64" => ("amd64", None),
        "arm64" => ("arm64", Some("v8")),
        "armhf" => ("arm", Some("v7")),
        "armel" => ("arm", Some("v5")),
        "i386" => ("386", None),
        "ppc64el" => ("ppc64le", None),
        "ppc64" => ("ppc64", None),
        "s390x" => ("s390x", None),
        "riscv64" => ("riscv64", None),
        "mips64el" => ("mips64le", None),
        "mipsel" => ("mipsle", None),
        "loong64" => ("loong64", None),
        other => (other, None),
    };
    (architecture.to_owned(), variant)
}

/// What the image's documents say besides the layer: the build's, as plain values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The OCI architecture and variant of the profile's native architecture.
    pub architecture: String,
    pub variant: Option<&'static str>,
    /// The epoch, RFC 3339 UTC.
    pub created: String,
    pub compression: LayerCompression,
    /// `config.Labels` and the manifest's annotations.
    pub labels: BTreeMap<String, String>,
    /// The history entry's `created_by`.
    pub created_by: String,
}

impl Spec {
    /// The spec of `profile`'s image, built with `lock` (whose digest is `lock_sha256`) at
    /// `epoch`.
    pub fn new(
        profile: &Profile,
        lock: &crate::lock::Lock,
        lock_sha256: &Sha256Digest,
        epoch: i64,
    ) -> Spec {
        let (architecture, variant) = platform(profile.source.native_architecture().as_str());
        let created = crate::timestamp::Timestamp(epoch).rfc3339();
        let name = profile
            .path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut labels = BTreeMap::new();
        labels.insert("org.opencontainers.image.created".into(), created.clone());
        labels.insert("org.opencontainers.image.title".into(), name.clone());
        labels.insert(
            "org.opencontainers.image.base.name".into(),
            format!("debian:{}", profile.source.suite),
        );
        labels.insert(format!("{LABEL_PREFIX}.profile"), name.clone());
        labels.insert(
            format!("{LABEL_PREFIX}.suite"),
            profile.source.suite.clone(),
        );
        labels.insert(format!("{LABEL_PREFIX}.lock.sha256"), lock_sha256.hex());
        labels.insert(
            format!("{LABEL_PREFIX}.packages"),
            lock.packages.len().to_string(),
        );
        labels.insert(
            format!("{LABEL_PREFIX}.version"),
            env!("CARGO_PKG_VERSION").into(),
        );
        if let Some(snapshot) = lock.snapshot.or(profile.source.snapshot) {
            labels.insert(format!("{LABEL_PREFIX}.snapshot"), snapshot.rfc3339());
        }
        Spec {
            architecture,
            variant,
            created,
            compression: profile.output.compression,
            labels,
            created_by: format!(
                "debroot {} build {name} (suite {}, lock sha256:{})",
                env!("CARGO_PKG_VERSION"),
                profile.source.suite,
                lock_sha256.hex()
            ),
        }
    }

    pub fn layer_media_type(&self) -> &'static str {
        match self.compression {
            LayerCompression::Gzip => MEDIA_LAYER_GZIP,
            LayerCompression::Zstd => MEDIA_LAYER_ZSTD,
        }
    }
}

#[derive(Serialize)]
struct Descriptor<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    digest: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<Platform<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Serialize)]
struct Platform<'a> {
    architecture: &'a str,
    os: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
}

#[derive(Serialize)]
struct Config<'a> {
    created: &'a str,
    architecture: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
    os: &'a str,
    config: RunConfig<'a>,
    rootfs: RootFs,
    history: Vec<History<'a>>,
}

#[derive(Serialize)]
struct RunConfig<'a> {
    #[serde(rename = "Env")]
    env: Vec<&'a str>,
    #[serde(rename = "Cmd")]
    cmd: Vec<&'a str>,
    #[serde(rename = "Labels")]
    labels: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<String>,
}

#[derive(Serialize)]
struct History<'a> {
    created: &'a str,
    created_by: &'a str,
}

#[derive(Serialize)]
struct Manifest<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    config: Descriptor<'a>,
    layers: Vec<Descriptor<'a>>,
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Index<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    manifests: Vec<Descriptor<'a>>,
}

/// The documents of an image whose layer is `layer`: the config and manifest blobs and
/// `index.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Documents {
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
    pub index: Vec<u8>,
}

impl Documents {
    pub fn config_digest(&self) -> Sha256Digest {
        Sha256Digest::of(&self.config)
    }

    pub fn manifest_digest(&self) -> Sha256Digest {
        Sha256Digest::of(&self.manifest)
    }
}

fn digest_text(digest: &Sha256Digest) -> String {
    format!("sha256:{}", digest.hex())
}

/// The image's documents (no I/O).
pub fn documents(spec: &Spec, layer: &Layer) -> Documents {
    let config = Config {
        created: &spec.created,
        architecture: &spec.architecture,
        variant: spec.variant,
        os: "linux",
        config: RunConfig {
            env: vec![PATH_ENV],
            cmd: vec![CMD],
            labels: &spec.labels,
        },
        rootfs: RootFs {
            kind: "layers",
            diff_ids: vec![digest_text(&layer.diff_id)],
        },
        history: vec![History {
            created: &spec.created,
            created_by: &spec.created_by,
        }],
    };
    let config = to_json(&config);
    let manifest = Manifest {
        schema_version: 2,
        media_type: MEDIA_MANIFEST,
        config: Descriptor {
            media_type: MEDIA_CONFIG,
            digest: digest_text(&Sha256Digest::of(&config)),
            size: config.len() as u64,
            platform: None,
            annotations: None,
        },
        layers: vec![Descriptor {
            media_type: spec.layer_media_type(),
            digest: digest_text(&layer.sha256),
            size: layer.bytes,
            platform: None,
            annotations: None,
        }],
        annotations: spec.labels.clone(),
    };
    let manifest = to_json(&manifest);
    let index = Index {
        schema_version: 2,
        media_type: MEDIA_INDEX,
        manifests: vec![Descriptor {
            media_type: MEDIA_MANIFEST,
            digest: digest_text(&Sha256Digest::of(&manifest)),
            size: manifest.len() as u64,
            platform: Some(Platform {
                architecture: &spec.architecture,
                os: "linux",
                variant: spec.variant,
            }),
            annotations: Some(BTreeMap::from([(
                "org.opencontainers.image.ref.name".to_owned(),
                REF_NAME.to_owned(),
            )])),
        }],
    };
    let index = to_json(&index);
    Documents {
        config,
        manifest,
        index,
    }
}

/// A document's bytes: compact JSON, fields in declaration order.
fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Structs of strings, numbers and string maps always serialize.
    serde_json::to_vec(value).unwrap_or_default()
}

/// The files of a layout folder other than the layer, as (path relative to the layout, bytes),
/// in no particular order.
pub fn small_files(documents: &Documents) -> Vec<(String, &[u8])> {
    vec![
        ("oci-layout".into(), LAYOUT.as_bytes()),
        ("index.json".into(), &documents.index[..]),
        (
            format!("blobs/sha256/{}", documents.config_digest().hex()),
            &documents.config[..],
        ),
        (
            format!("blobs/sha256/{}", documents.manifest_digest().hex()),
            &documents.manifest[..],
        ),
    ]
}

/// Writes the layout folder at `layout` (its `blobs/sha256` made and filled) as a tar archive
/// to `writer`: members in depth-first byte order, 0:0, folders 0755, files 0644, dated
/// `epoch`. Returns the archive's SHA256 and size.
pub fn write_archive<W: Write>(
    layout: &Path,
    epoch: i64,
    writer: W,
) -> Result<(Sha256Digest, u64), OutputError> {
    let (hashing, hasher) = super::Hashing::new(writer);
    let node = |path: &str, kind: NodeKind, mode: u32| Node {
        path: path.as_bytes().to_vec(),
        kind,
        mode,
        uid: 0,
        gid: 0,
        mtime: epoch,
        xattrs: BTreeMap::new(),
    };
    let mut nodes = vec![
        node("", NodeKind::Dir, 0o755),
        node("blobs", NodeKind::Dir, 0o755),
        node("blobs/sha256", NodeKind::Dir, 0o755),
    ];
    let blobs = layout.join("blobs/sha256");
    let read_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OutputError::Walk { path, source }
    };
    let mut files: Vec<String> = vec!["index.json".into(), "oci-layout".into()];
    for entry in std::fs::read_dir(&blobs).map_err(read_error(&blobs))? {
        let entry = entry.map_err(read_error(&blobs))?;
        files.push(format!(
            "blobs/sha256/{}",
            entry.file_name().to_string_lossy()
        ));
    }
    for file in files {
        let full = layout.join(&file);
        let size = std::fs::symlink_metadata(&full)
            .map_err(read_error(&full))?
            .len();
        nodes.push(node(&file, NodeKind::File { size }, 0o644));
    }
    nodes.sort_by(|a, b| super::tree_order(&a.path, &b.path));
    let write_error = |source| OutputError::Write {
        path: layout.to_path_buf(),
        source,
    };
    super::write_tar(layout, &nodes, hashing)?
        .flush()
        .map_err(write_error)?;
    hasher.finish().map_err(write_error)
}

/// Writes `bytes` as `path` in a layout being made (mode 0644).
pub fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            architecture: "arm64".into(),
            variant: Some("v8"),
            created: "2024-01-02T03:04:05Z".into(),
            compression: LayerCompression::Zstd,
            labels: BTreeMap::from([("b".into(), "2".into()), ("a".into(), "1".into())]),
            created_by: "debroot test".into(),
        }
    }

    #[test]
    fn platforms_are_the_oci_names() {
        assert_eq!(platform("amd64"), ("amd64".into(), None));
        assert_eq!(platform("arm64"), ("arm64".into(), Some("v8")));
        assert_eq!(platform("armhf"), ("arm".into(), Some("v7")));
        assert_eq!(platform("armel"), ("arm".into(), Some("v5")));
        assert_eq!(platform("i386"), ("386".into(), None));
        assert_eq!(platform("ppc64el"), ("ppc64le".into(), None));
        assert_eq!(platform("riscv64"), ("riscv64".into(), None));
    }

    #[test]
    fn documents_are_deterministic_and_point_at_each_other() {
        let layer = Layer {
            sha256: Sha256Digest([1; 32]),
            bytes: 1234,
            diff_id: Sha256Digest([2; 32]),
        };
        let documents = documents(&spec(), &layer);
        assert_eq!(documents, super::documents(&spec(), &layer));
        let config: serde_json::Value = serde_json::from_slice(&documents.config).unwrap();
        assert_eq!(config["architecture"], "arm64");
        assert_eq!(config["variant"], "v8");
        assert_eq!(config["os"], "linux");
        assert_eq!(config["created"], "2024-01-02T03:04:05Z");
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            format!("sha256:{}", "02".repeat(32))
        );
        let text = String::from_utf8(documents.config.clone()).unwrap();
        assert!(text.find("\"a\":\"1\"").unwrap() < text.find("\"b\":\"2\"").unwrap());
        let manifest: serde_json::Value = serde_json::from_slice(&documents.manifest).unwrap();
        assert_eq!(
            manifest["config"]["digest"],
            format!("sha256:{}", documents.config_digest().hex())
        );
        assert_eq!(manifest["layers"][0]["mediaType"], MEDIA_LAYER_ZSTD);
        assert_eq!(manifest["layers"][0]["size"], 1234);
        let index: serde_json::Value = serde_json::from_slice(&documents.index).unwrap();
        assert_eq!(
            index["manifests"][0]["digest"],
            format!("sha256:{}", documents.manifest_digest().hex())
        );
        assert_eq!(
            index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
            REF_NAME
        );
    }
}
