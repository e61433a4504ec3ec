//! Fetching and verifying a profile's suites: what `apt-get update` does, the edge of `repo`.
//!
//! For each suite (SUITE, SUITE-updates, SUITE-security): fetch `dists/SUITE/InRelease` (at most
//! [`MAX_INRELEASE_BYTES`]), split its envelope strictly, verify its signatures against the
//! keyring, parse only the verified text as a `Release` and check it (suite, architectures,
//! components, time). Then, for each component and architecture, fetch the `Packages` index the
//! signed `Release` lists (by hash when the archive offers it), check its size and SHA-256
//! before decompressing it, decompress it to at most its listed uncompressed size, check that
//! digest too, and parse it.
//!
//! A suite whose `InRelease` and `Release` are both missing (404) is not on the archive: SUITE-updates
//! and SUITE-security are then left out (a release may have neither yet), SUITE is an error that
//! lists the suites the archive's `dists/` index page names, when the server offers one.
//!
//! Indexes are stored in the content-addressed cache under the digest of the file fetched, so a
//! suite that did not change costs one request: its `InRelease`. There is never a fallback from
//! `InRelease` to an unsigned `Release`, from https to http, or to another mirror.

use std::time::{Duration, Instant};

use url::Url;

use crate::cache::{Cache, CacheError, Lookup};
use crate::compression::{self, Compression, DecompressError};
use crate::debian::Architecture;
use crate::digest::Sha256Digest;
use crate::error::{Classify, ExitClass};
use crate::fetch::{FetchError, FetchErrorKind, Fetcher};
use crate::redact::redact;
use crate::repo::clearsign::{self, EnvelopeError};
use crate::repo::compact;
use crate::repo::packages::{self, PackagesError, PackagesIndex};
use crate::repo::release::{
    self, CheckError, Expectation, FileEntry, Release, ReleaseError, TimeCheck,
};
use crate::repo::signature::{self, GoodSignature, Keyring, SignatureError};
use crate::repo::source::{Archive, Sources};

/// apt's `Acquire::MaxReleaseFileSize` is 10 MB; Debian's InRelease is about 150 kB.
pub const MAX_INRELEASE_BYTES: u64 = 10 << 20;
/// The largest uncompressed `Packages` debroot reads (trixie's main/amd64 is about 57 MB).
pub const MAX_INDEX_BYTES: u64 = 512 << 20;

/// A suite to read, and from which archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteRequest {
    pub suite: String,
    pub archive: Archive,
    /// Read only where the archive has it: when its `InRelease` and `Release` are both missing
    /// (404), the suite is left out ([`skipped`]) instead of failing.
    pub optional: bool,
}

pub use crate::profile::{WITHOUT_UPDATES, has_updates};

/// The suites of a profile: SUITE, and with `updates` SUITE-updates and SUITE-security, except
/// for the suites that never have them ([`WITHOUT_UPDATES`]). Those two are optional: read only
/// where the archive has them (a stable release before its first update has no `-updates`).
/// With `backports`, SUITE-backports too (required: asking for it and not finding it is an error).
pub fn suites_of(source: &crate::profile::Source) -> Vec<SuiteRequest> {
    let mut suites = vec![SuiteRequest {
        suite: source.suite.clone(),
        archive: Archive::Main,
        optional: false,
    }];
    if source.updates && has_updates(&source.suite) {
        suites.push(SuiteRequest {
            suite: format!("{}-updates", source.suite),
            archive: Archive::Main,
            optional: true,
        });
        suites.push(SuiteRequest {
            suite: format!("{}-security", source.suite),
            archive: Archive::Security,
            optional: true,
        });
    }
    if source.backports {
        suites.push(SuiteRequest {
            suite: format!("{}-backports", source.suite),
            archive: Archive::Main,
            optional: false,
        });
    }
    suites
}

/// The suites of `requested` that [`load`] left out because the archive does not have them.
pub fn skipped<'a>(requested: &'a [SuiteRequest], loaded: &[Suite]) -> Vec<&'a SuiteRequest> {
    requested
        .iter()
        .filter(|wanted| !loaded.iter().any(|suite| &suite.request == *wanted))
        .collect()
}

/// What to read.
pub struct Request<'a> {
    pub sources: &'a Sources,
    pub keyring: &'a Keyring,
    pub suites: &'a [SuiteRequest],
    pub architectures: &'a [Architecture],
    pub components: &'a [String],
    pub time: TimeCheck,
}

/// One `Packages` index of a suite.
#[derive(Debug, Clone)]
pub struct IndexFile {
    pub component: String,
    pub architecture: Architecture,
    /// The path the signed `Release` lists (the compressed file fetched).
    pub path: String,
    pub compressed: FileEntry,
    pub uncompressed: FileEntry,
    /// Whether it came from the cache (no request made).
    pub cached: bool,
    pub packages: PackagesIndex,
}

/// A verified suite.
#[derive(Debug, Clone)]
pub struct Suite {
    pub request: SuiteRequest,
    pub base: Url,
    pub inrelease_url: Url,
    pub inrelease_sha256: Sha256Digest,
    pub release: Release,
    pub signatures: Vec<GoodSignature>,
    pub indexes: Vec<IndexFile>,
    pub elapsed: Duration,
}

/// Why a suite could not be read, naming the URL.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(
        "`{url}` is missing but an unsigned Release exists: the repository is no longer signed, and debroot never reads an unsigned Release"
    )]
    Unsigned { url: String },
    #[error("`{url}` is not a clearsigned file (captive portal or proxy?)")]
    NotClearsigned {
        url: String,
        #[source]
        source: EnvelopeError,
    },
    #[error("`{url}` is not signed by a trusted key")]
    Signature {
        url: String,
        #[source]
        source: SignatureError,
    },
    #[error("`{url}` has an invalid Release")]
    Release {
        url: String,
        #[source]
        source: ReleaseError,
    },
    #[error(
        "suite `{suite}` does not exist on the {place} (`{url}`: 404)",
        place = if *snapshot { "snapshot" } else { "mirror" }
    )]
    SuiteNotFound {
        suite: String,
        /// The `InRelease` asked for.
        url: String,
        /// Asked at a snapshot time.
        snapshot: bool,
        /// What the archive's `dists/` folder lists.
        listing: Listing,
    },
    // The verdict in the first line: "`URL`: Release is expired (invalid since ...)".
    #[error("`{url}`: {source}")]
    Check {
        url: String,
        #[source]
        source: CheckError,
    },
    #[error("`{url}` does not list `{path}`")]
    NotListed { url: String, path: String },
    #[error(
        "insufficient hash information: `{url}` lists `{path}` without the SHA256 of its uncompressed form"
    )]
    InsufficientHashes { url: String, path: String },
    #[error(
        "Hash Sum mismatch for `{url}`: expected {expected_size} bytes with SHA256 {expected}, got {size} bytes with SHA256 {got}"
    )]
    Mismatch {
        url: String,
        expected: Sha256Digest,
        expected_size: u64,
        got: Sha256Digest,
        size: u64,
    },
    #[error("cannot decompress `{url}`")]
    Decompress {
        url: String,
        #[source]
        source: DecompressError,
    },
    #[error("`{url}` is not a valid index")]
    Packages {
        url: String,
        #[source]
        source: PackagesError,
    },
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Classify for IndexError {
    fn class(&self) -> ExitClass {
        match self {
            IndexError::Fetch(error) => error.class(),
            // Not what was asked: like a package the archive does not have.
            IndexError::SuiteNotFound { .. } => ExitClass::Resolution,
            IndexError::Unsigned { .. }
            | IndexError::NotClearsigned { .. }
            | IndexError::Signature { .. }
            | IndexError::Release { .. }
            | IndexError::Check { .. }
            | IndexError::NotListed { .. }
            | IndexError::Packages { .. } => ExitClass::Trust,
            IndexError::InsufficientHashes { .. }
            | IndexError::Mismatch { .. }
            | IndexError::Decompress { .. } => ExitClass::Integrity,
            IndexError::Cache(error) => error.class(),
            IndexError::Internal(_) => ExitClass::Output,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            IndexError::Fetch(FetchError {
                kind: FetchErrorKind::Offline,
                ..
            }) => Some("run once without --offline to fill the cache".into()),
            IndexError::Fetch(FetchError {
                kind: FetchErrorKind::NotFound,
                ..
            }) => Some(
                "check the suite name and the mirror (or snapshot timestamp); `debroot index` shows which URLs are used".into(),
            ),
            IndexError::SuiteNotFound {
                suite,
                snapshot,
                listing,
                ..
            } => Some(suite_hint(suite, *snapshot, listing)),
            IndexError::Signature { .. } => Some(
                "check `source.keyring`: it must hold the key that signs this repository".into(),
            ),
            IndexError::Check {
                source: CheckError::Expired { .. },
                ..
            } => Some("the mirror is stale or frozen; use another mirror or pin a snapshot".into()),
            _ => None,
        }
    }
}

/// What the archive's `dists/` folder lists, for a suite that is not there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// The suites of its HTML index.
    Suites(Vec<String>),
    /// Why there is no list (no index page, or one without suites).
    Unavailable(String),
}

/// The largest `dists/` index page read (deb.debian.org's is about 10 kB).
const MAX_LISTING_BYTES: u64 = 1 << 20;
/// At most this many suites are named in a hint.
const MAX_LISTED: usize = 40;

fn suite_hint(suite: &str, snapshot: bool, listing: &Listing) -> String {
    let mut hint = match listing {
        Listing::Suites(names) => {
            let mut shown: Vec<String> = names
                .iter()
                .take(MAX_LISTED)
                .map(|n| format!("`{n}`"))
                .collect();
            if names.len() > MAX_LISTED {
                shown.push(format!("and {} more", names.len() - MAX_LISTED));
            }
            let has = format!("it has {}", shown.join(", "));
            match closest(suite, names) {
                Some(near) => format!("did you mean `{near}`? {has}"),
                None => format!("check `source.suite`: {has}"),
            }
        }
        Listing::Unavailable(why) => {
            format!("check `source.suite` (the suites it has could not be listed: {why})")
        }
    };
    if snapshot {
        hint.push_str("; at a snapshot, a suite exists only after its first upload: check the snapshot timestamp and the suite");
    }
    hint
}

/// The suite of `names` nearest `suite` by edit distance, when near enough to be a typo.
pub fn closest<'a>(suite: &str, names: &'a [String]) -> Option<&'a str> {
    names
        .iter()
        .map(|name| (crate::debian::distance(suite, name), name))
        .filter(|(d, name)| *d <= 2.max(suite.len().min(name.len()) / 3))
        .min()
        .map(|(_, name)| name.as_str())
}

/// The suite names of a `dists/` HTML index page (Apache's, nginx's or snapshot.debian.org's
/// autoindex): the relative links to folders, `href="NAME/"`, whose names are suite-like. Pure.
pub fn listed_suites(page: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(page);
    let mut names: Vec<String> = Vec::new();
    for piece in text.split("href=").skip(1) {
        let Some(quote) = piece.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        let Some(target) = piece[1..].split(quote).next() else {
            continue;
        };
        let target = target.strip_prefix("./").unwrap_or(target);
        let Some(name) = target.strip_suffix('/') else {
            continue;
        };
        let suite_like = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '+'));
        if suite_like {
            names.push(name.to_owned());
        }
    }
    names.sort();
    names.dedup();
    names
}

/// The error for `wanted`, whose `InRelease` and `Release` are both missing: it names the suites
/// the archive's `dists/` index lists, when the server offers one.
async fn suite_not_found(
    fetcher: &Fetcher,
    request: &Request<'_>,
    wanted: &SuiteRequest,
    url: &Url,
) -> IndexError {
    let dists = request.sources.base_for(wanted.archive).join("dists/");
    let listing = match dists {
        Err(e) => Listing::Unavailable(e.to_string()),
        Ok(dists) => match fetcher.get(&dists, MAX_LISTING_BYTES).await {
            Ok(page) => {
                let names = listed_suites(&page);
                if names.is_empty() {
                    Listing::Unavailable(format!("`{}` lists no suites", redact(&dists)))
                } else {
                    Listing::Suites(names)
                }
            }
            Err(error) => Listing::Unavailable(format!("{error}: {}", error.kind)),
        },
    };
    IndexError::SuiteNotFound {
        suite: wanted.suite.clone(),
        url: redact(url),
        snapshot: matches!(request.time, TimeCheck::Snapshot { .. }),
        listing,
    }
}

/// The cache ref that records a suite's `InRelease` as missing, for offline runs.
fn absent_ref(inrelease_url: &Url) -> String {
    format!("absent {inrelease_url}")
}

/// Index files, in preference order: smaller downloads first.
const PREFERRED: [&str; 4] = [".xz", ".zst", ".gz", ""];

/// Reads and verifies every suite of `request`, concurrently. When several fail, the error
/// reported is the first suite's in the request's order, never whichever failed first in time.
/// An optional suite the archive does not have is left out ([`skipped`] names them); a required
/// one is [`IndexError::SuiteNotFound`].
pub async fn load(
    fetcher: &Fetcher,
    cache: &Cache,
    request: &Request<'_>,
) -> Result<Vec<Suite>, IndexError> {
    let loads = request
        .suites
        .iter()
        .map(|suite| load_suite(fetcher, cache, request, suite));
    let results = futures_util::future::join_all(loads).await;
    let mut suites = Vec::new();
    for (wanted, result) in request.suites.iter().zip(results) {
        match result? {
            Found::Suite(suite) => suites.push(*suite),
            Found::Absent(_) if wanted.optional => {}
            Found::Absent(url) => {
                return Err(suite_not_found(fetcher, request, wanted, &url).await);
            }
        }
    }
    Ok(suites)
}

/// A suite read, or missing from the archive (its `InRelease` URL).
enum Found {
    Suite(Box<Suite>),
    Absent(Url),
}

async fn load_suite(
    fetcher: &Fetcher,
    cache: &Cache,
    request: &Request<'_>,
    suite: &SuiteRequest,
) -> Result<Found, IndexError> {
    let started = Instant::now();
    let base = request.sources.base_for(suite.archive).clone();
    let dists = base
        .join(&format!("dists/{}/", suite.suite))
        .map_err(|e| IndexError::Internal(e.to_string()))?;
    let inrelease_url = dists
        .join("InRelease")
        .map_err(|e| IndexError::Internal(e.to_string()))?;
    let shown = redact(&inrelease_url);
    let speculation = speculate(cache, &inrelease_url, request);
    // Offline: the InRelease last verified from this URL, still verified again below.
    let offline_copy = if fetcher.offline() {
        let cached = cache
            .get_ref(inrelease_url.as_str())
            .map(|digest| cache.read_unsized(&digest, MAX_INRELEASE_BYTES))
            .transpose()?;
        match cached {
            Some(Lookup::Hit(bytes)) => Some(bytes),
            // Found missing when last online.
            _ if cache.get_ref(&absent_ref(&inrelease_url)).is_some() => {
                return Ok(Found::Absent(inrelease_url));
            }
            _ => {
                return Err(IndexError::Fetch(FetchError {
                    url: shown,
                    attempts: 0,
                    kind: FetchErrorKind::Offline,
                }));
            }
        }
    } else {
        None
    };
    let fetched = match offline_copy {
        Some(bytes) => Ok(bytes),
        None => fetcher.get(&inrelease_url, MAX_INRELEASE_BYTES).await,
    };
    let bytes = match fetched {
        Ok(bytes) => bytes,
        Err(error) => {
            // A missing InRelease next to a present Release is a repository that stopped
            // signing (or an attacker who removed the signature): say so. The Release is only
            // probed, never parsed or used (docs/THREATS.md A8).
            if matches!(error.kind, FetchErrorKind::NotFound) {
                let release_url = dists
                    .join("Release")
                    .map_err(|e| IndexError::Internal(e.to_string()))?;
                match fetcher.get(&release_url, MAX_INRELEASE_BYTES).await {
                    Ok(_) => return Err(IndexError::Unsigned { url: shown }),
                    // Neither: the archive does not have this suite.
                    Err(FetchError {
                        kind: FetchErrorKind::NotFound,
                        ..
                    }) => {
                        cache.set_ref(&absent_ref(&inrelease_url), &Sha256Digest::of(b""))?;
                        return Ok(Found::Absent(inrelease_url));
                    }
                    // Not knowing whether it is there is a failure, this one.
                    Err(other) => return Err(other.into()),
                }
            }
            return Err(error.into());
        }
    };
    let inrelease_sha256 = Sha256Digest::of(&bytes);
    let cleartext = clearsign::split(&bytes).map_err(|source| IndexError::NotClearsigned {
        url: shown.clone(),
        source,
    })?;
    let reference = match request.time {
        TimeCheck::Live { now } => now,
        TimeCheck::Snapshot { at } => at,
    };
    let signatures =
        signature::verify(request.keyring, &cleartext, reference).map_err(|source| {
            IndexError::Signature {
                url: shown.clone(),
                source,
            }
        })?;
    let release = release::parse(&cleartext.text()).map_err(|source| IndexError::Release {
        url: shown.clone(),
        source,
    })?;
    release
        .check(&Expectation {
            suite: &suite.suite,
            architectures: request.architectures,
            components: request.components,
            time: request.time,
        })
        .map_err(|source| IndexError::Check {
            url: shown.clone(),
            source,
        })?;
    // Keep the InRelease itself, by digest: a lock names it, offline runs read it.
    cache.insert(inrelease_sha256, &bytes)?;
    cache.set_ref(inrelease_url.as_str(), &inrelease_sha256)?;

    let wanted = wanted_indexes(&release, request.components, request.architectures);
    // The speculation's indexes that this Release names too; the others are dropped before
    // any index is read.
    let mut speculated = match speculation {
        Some(task) => task.await.unwrap_or_default(),
        None => Vec::new(),
    };
    speculated.retain(|(path, source, _)| {
        release
            .files
            .get(path)
            .is_some_and(|entry| entry.sha256 == *source)
    });
    let mut indexes = Vec::new();
    for (component, arch) in wanted {
        let index = load_index(
            fetcher,
            cache,
            &release,
            &dists,
            &shown,
            &component,
            &arch,
            &mut speculated,
        )
        .await?;
        indexes.push(index);
    }
    Ok(Found::Suite(Box::new(Suite {
        request: suite.clone(),
        base,
        inrelease_url,
        inrelease_sha256,
        release,
        signatures,
        indexes,
        elapsed: started.elapsed(),
    })))
}

/// The `Packages` indexes of a suite to read, by component and architecture: each requested
/// architecture, and like apt a separate `binary-all` index only when the Release has the
/// architecture `all` and does not say its packages are in every `binary-ARCH` index.
fn wanted_indexes(
    release: &Release,
    components: &[String],
    architectures: &[Architecture],
) -> Vec<(String, Architecture)> {
    let all = release.architectures.iter().any(|a| a == "all") && !release.all_in_arch_indexes;
    let mut wanted = Vec::new();
    for component in components {
        for arch in architectures {
            wanted.push((component.clone(), arch.clone()));
        }
        if all {
            wanted.push((component.clone(), Architecture::all()));
        }
    }
    wanted
}

/// The path a Release lists for the uncompressed `Packages` index of `component` and `arch`.
fn packages_path(component: &str, arch: &Architecture) -> String {
    format!("{component}/binary-{arch}/Packages")
}

/// Indexes decoded ahead: ([`packages_path`], digest of the index text, the parsed index).
type Speculated = Vec<(String, Sha256Digest, PackagesIndex)>;

/// Reads and decodes, on a blocking thread, the parsed indexes (`compact`) that the InRelease
/// last verified from `inrelease_url` named, while the fresh InRelease is fetched and
/// verified: a suite that did not change since (the common case) then has its indexes ready
/// when the fresh Release names them. Nothing is trusted from it: the old InRelease is only
/// read to know which cached blobs to decode (its signature is not checked), every blob is
/// verified as on any read, and an index is used only when the fresh, verified Release names
/// its digest ([`load_suite`]). `None` when the cache has no InRelease from this URL.
fn speculate(
    cache: &Cache,
    inrelease_url: &Url,
    request: &Request<'_>,
) -> Option<tokio::task::JoinHandle<Speculated>> {
    let digest = cache.get_ref(inrelease_url.as_str())?;
    let cache = cache.clone();
    let components = request.components.to_vec();
    let architectures = request.architectures.to_vec();
    Some(tokio::task::spawn_blocking(move || {
        let Ok(Lookup::Hit(bytes)) = cache.read_unsized(&digest, MAX_INRELEASE_BYTES) else {
            return Vec::new();
        };
        let Some(release) = clearsign::split(&bytes)
            .ok()
            .and_then(|cleartext| release::parse(&cleartext.text()).ok())
        else {
            return Vec::new();
        };
        let mut decoded = Vec::new();
        for (component, arch) in wanted_indexes(&release, &components, &architectures) {
            let path = packages_path(&component, &arch);
            let Some(entry) = release.files.get(&path) else {
                continue;
            };
            if let Ok(Some(bytes)) =
                cache.read_derived(compact::KIND, &entry.sha256, MAX_INDEX_BYTES)
                && let Ok(index) = compact::decode(&bytes, &entry.sha256, &arch)
            {
                decoded.push((path, entry.sha256, index));
            }
        }
        decoded
    }))
}

#[allow(clippy::too_many_arguments)]
async fn load_index(
    fetcher: &Fetcher,
    cache: &Cache,
    release: &Release,
    dists: &Url,
    release_url: &str,
    component: &str,
    arch: &Architecture,
    speculated: &mut Speculated,
) -> Result<IndexFile, IndexError> {
    // The security archive lists `main/...` while its Components say `updates/main`.
    let plain = packages_path(component, arch);
    let uncompressed = *release.files.get(&plain).ok_or_else(|| {
        let any_listed = PREFERRED
            .iter()
            .any(|ext| release.files.contains_key(&format!("{plain}{ext}")));
        if any_listed {
            IndexError::InsufficientHashes {
                url: release_url.to_owned(),
                path: plain.clone(),
            }
        } else {
            IndexError::NotListed {
                url: release_url.to_owned(),
                path: plain.clone(),
            }
        }
    })?;
    let (path, compressed) = PREFERRED
        .iter()
        .find_map(|ext| {
            let path = format!("{plain}{ext}");
            release.files.get(&path).map(|entry| (path, *entry))
        })
        .ok_or_else(|| IndexError::NotListed {
            url: release_url.to_owned(),
            path: plain.clone(),
        })?;
    let compression = Compression::from_extension(&path).unwrap_or(Compression::None);
    let join = |path: &str| {
        dists
            .join(path)
            .map_err(|e| IndexError::Internal(e.to_string()))
    };
    let plain_url = join(&path)?;
    let mut url = plain_url.clone();
    if release.acquire_by_hash {
        let folder = path.rsplit_once('/').map_or("", |(folder, _)| folder);
        url = join(&format!(
            "{folder}/by-hash/SHA256/{}",
            compressed.sha256.hex()
        ))?;
    }
    let mut shown = redact(&url);
    let limit = uncompressed.size.min(MAX_INDEX_BYTES);
    // The parsed index is kept in the cache, a blob derived from the index text (by the
    // digest the Release gives it), verified like every blob and decoded with every value
    // checked again (`compact`): a warm run neither reads nor parses the text.
    let source = uncompressed.sha256;
    let ahead = speculated
        .iter()
        .position(|(path, digest, _)| *path == plain && *digest == source)
        .map(|at| speculated.swap_remove(at).2);
    let parsed = if ahead.is_some() {
        ahead
    } else {
        let (cache, arch) = (cache.clone(), arch.clone());
        tokio::task::spawn_blocking(move || -> Result<Option<PackagesIndex>, CacheError> {
            let Some(bytes) = cache.read_derived(compact::KIND, &source, MAX_INDEX_BYTES)? else {
                return Ok(None);
            };
            // A blob that does not decode is parsed again from the text and replaced.
            Ok(compact::decode(&bytes, &source, &arch).ok())
        })
        .await
        .map_err(|e| IndexError::Internal(e.to_string()))??
    };
    if let Some(packages) = parsed {
        return Ok(IndexFile {
            component: component.to_owned(),
            architecture: arch.clone(),
            path,
            compressed,
            uncompressed,
            cached: true,
            packages,
        });
    }
    let parse = |text: Vec<u8>, shown: String, arch: Architecture| {
        let cache = cache.clone();
        tokio::task::spawn_blocking(move || {
            let index = packages::parse(&text, &arch)
                .map_err(|source| IndexError::Packages { url: shown, source })?;
            drop(text);
            cache.insert_derived(
                compact::KIND,
                &source,
                &compact::encode(&index, &source, &arch),
            )?;
            Ok::<_, IndexError>(index)
        })
    };
    // The decompressed index is cached too (by its own digest from the Release): reading and
    // hashing it is several times faster than decompressing again.
    if let Lookup::Hit(text) = cache.read(&uncompressed.sha256, uncompressed.size)? {
        let packages = parse(text, shown, arch.clone())
            .await
            .map_err(|e| IndexError::Internal(e.to_string()))??;
        return Ok(IndexFile {
            component: component.to_owned(),
            architecture: arch.clone(),
            path,
            compressed,
            uncompressed,
            cached: true,
            packages,
        });
    }
    let (bytes, cached) = match cache.read(&compressed.sha256, compressed.size)? {
        Lookup::Hit(bytes) => (bytes, true),
        Lookup::Miss | Lookup::Corrupt(_) => {
            // A by-hash file may be missing on a mirror; the plain path serves the same bytes
            // (or not, and then the digest check says so).
            let bytes = match fetcher.get(&url, compressed.size).await {
                Err(FetchError {
                    kind: FetchErrorKind::NotFound,
                    ..
                }) if url != plain_url => {
                    shown = redact(&plain_url);
                    fetcher.get(&plain_url, compressed.size).await?
                }
                other => other?,
            };
            let got = Sha256Digest::of(&bytes);
            if got != compressed.sha256 || bytes.len() as u64 != compressed.size {
                return Err(IndexError::Mismatch {
                    url: shown,
                    expected: compressed.sha256,
                    expected_size: compressed.size,
                    got,
                    size: bytes.len() as u64,
                });
            }
            cache.insert(compressed.sha256, &bytes)?;
            (bytes, false)
        }
    };
    let shown_for_task = shown.clone();
    let text = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, IndexError> {
        let text = compression::decompress(compression, &bytes, limit).map_err(|source| {
            IndexError::Decompress {
                url: shown_for_task.clone(),
                source,
            }
        })?;
        let got = Sha256Digest::of(&text);
        if got != uncompressed.sha256 || text.len() as u64 != uncompressed.size {
            return Err(IndexError::Mismatch {
                url: format!("{shown_for_task} (uncompressed)"),
                expected: uncompressed.sha256,
                expected_size: uncompressed.size,
                got,
                size: text.len() as u64,
            });
        }
        Ok(text)
    })
    .await
    .map_err(|e| IndexError::Internal(e.to_string()))??;
    if compression != Compression::None {
        cache.insert(uncompressed.sha256, &text)?;
    }
    let parsed = parse(text, shown, arch.clone())
        .await
        .map_err(|e| IndexError::Internal(e.to_string()))??;
    Ok(IndexFile {
        component: component.to_owned(),
        architecture: arch.clone(),
        path,
        compressed,
        uncompressed,
        cached,
        packages: parsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(suite: &str, updates: bool) -> crate::profile::Source {
        crate::profile::Source {
            suite: suite.into(),
            updates,
            components: vec!["main".into()],
            architectures: vec![Architecture::parse("amd64").unwrap()],
            mirror: None,
            snapshot: None,
            keyring: "keyring.gpg".into(),
            backports: false,
            repositories: Vec::new(),
        }
    }

    fn names(suites: &[SuiteRequest]) -> Vec<(&str, Archive, bool)> {
        suites
            .iter()
            .map(|s| (s.suite.as_str(), s.archive, s.optional))
            .collect()
    }

    #[test]
    fn updates_and_security_only_for_releases() {
        assert_eq!(
            names(&suites_of(&source("trixie", true))),
            [
                ("trixie", Archive::Main, false),
                ("trixie-updates", Archive::Main, true),
                ("trixie-security", Archive::Security, true),
            ]
        );
        assert_eq!(
            names(&suites_of(&source("trixie", false))),
            [("trixie", Archive::Main, false)]
        );
        for suite in ["unstable", "sid", "experimental", "rc-buggy"] {
            assert_eq!(
                names(&suites_of(&source(suite, true))),
                [(suite, Archive::Main, false)]
            );
        }
        // Testing has both in Debian's archives (testing-security exists).
        assert_eq!(suites_of(&source("testing", true)).len(), 3);
    }

    #[test]
    fn an_autoindex_page_lists_its_suites() {
        // deb.debian.org's Apache index, shortened.
        let page = br#"<html><body><h1>Index of /debian/dists</h1><table>
<tr><th><a href="?C=N;O=D">Name</a></th></tr>
<tr><td><a href="/debian/">Parent Directory</a></td></tr>
<tr><td><a href="bookworm-backports/">bookworm-backports/</a></td></tr>
<tr><td><a href="bookworm/">bookworm/</a></td></tr>
<tr><td><a href='sid/'>sid/</a></td></tr>
<tr><td><a href="./trixie-updates/">trixie-updates/</a></td></tr>
<tr><td><a href="README">README</a></td></tr>
<tr><td><a href="../">..</a></td></tr>
<tr><td><a href="http://elsewhere/x/">x</a></td></tr>
<tr><td><a href="bookworm/">again</a></td></tr>
</table></body></html>"#;
        assert_eq!(
            listed_suites(page),
            ["bookworm", "bookworm-backports", "sid", "trixie-updates"]
        );
        assert!(listed_suites(b"").is_empty());
        assert!(listed_suites(b"href=").is_empty());
        assert!(listed_suites("href=\"\u{e9}/\" href='".as_bytes()).is_empty());
    }

    #[test]
    fn the_closest_suite_is_suggested_when_near() {
        let names: Vec<String> = ["bookworm", "bookworm-updates", "sid", "trixie"]
            .map(String::from)
            .to_vec();
        assert_eq!(closest("bookwrom", &names), Some("bookworm"));
        assert_eq!(closest("trixi", &names), Some("trixie"));
        assert_eq!(closest("sdi", &names), Some("sid"));
        assert_eq!(closest("forky", &names), None);
        assert_eq!(closest("x", &[]), None);
    }

    #[test]
    fn the_hint_lists_suites_and_says_when_it_cannot() {
        let listing = Listing::Suites(vec!["bookworm".into(), "trixie".into()]);
        assert_eq!(
            suite_hint("bookwrom", false, &listing),
            "did you mean `bookworm`? it has `bookworm`, `trixie`"
        );
        let hint = suite_hint("x", true, &Listing::Unavailable("no index".into()));
        assert!(hint.contains("could not be listed: no index"), "{hint}");
        assert!(hint.contains("snapshot timestamp"), "{hint}");
    }
}
