//! Downloads: bytes from `http`, `https` and `file` URLs, bounded, retried, verified.
//!
//! Every download has a byte limit known in advance (the `Size` from signed metadata, or a fixed
//! cap for an `InRelease`) and is cut there: a server that sends more is refused, however it
//! announces its length. Downloads into the cache are streamed through SHA-256 and only a blob
//! whose digest and size match enters the store.
//!
//! Retries follow apt (acquire-worker.cc, basehttp.cc): connection failures, resets, truncated
//! bodies, timeouts, HTTP 5xx, 408 and 429 are transient and retried with exponential backoff
//! (`Retry-After` honoured, capped); 404, 401, 403 and other statuses are final. Redirects are
//! limited in number, never loop, never go from https to http, and never leave http(s).
//! Proxies come from the standard variables (`http_proxy`, `https_proxy`, `all_proxy`,
//! `no_proxy`, read through [`Context`]).

use std::fmt;
use std::time::Duration;

use futures_util::StreamExt;
use url::Url;

use crate::cache::{CacheError, Pending};
use crate::context::Context;
use crate::error::{Classify, ExitClass};
use crate::redact::redact;

/// Tunables of the downloader.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Attempts after the first for a transient failure.
    pub retries: u32,
    /// First backoff delay; doubled each retry.
    pub backoff: Duration,
    /// Longest backoff or `Retry-After` wait.
    pub max_wait: Duration,
    pub connect_timeout: Duration,
    /// A transfer that receives nothing for this long is timed out.
    pub read_timeout: Duration,
    /// A transfer slower than `low_speed_bytes` per `low_speed_window` is timed out.
    pub low_speed_window: Duration,
    pub low_speed_bytes: u64,
    pub max_redirects: usize,
    /// Use the cache only: every download is an error.
    pub offline: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            retries: 4,
            backoff: Duration::from_secs(1),
            max_wait: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(30),
            low_speed_window: Duration::from_secs(60),
            low_speed_bytes: 1024,
            max_redirects: 10,
            offline: false,
        }
    }
}

/// What went wrong with one URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchErrorKind {
    #[error("not found (HTTP 404)")]
    NotFound,
    #[error("access denied (HTTP {0})")]
    Denied(u16),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("the server sent more than the {limit} bytes expected")]
    TooLarge { limit: u64 },
    #[error("truncated (got {got} of {expected} bytes)")]
    Truncated { got: u64, expected: u64 },
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("connection failed: {0}")]
    Connection(String),
    #[error("redirect rejected: {0}")]
    Redirect(String),
    #[error("cannot read the file: {0}")]
    File(std::io::Error),
    #[error("not in the cache, and --offline forbids downloading it")]
    Offline,
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl FetchErrorKind {
    fn transient(&self) -> bool {
        match self {
            FetchErrorKind::Truncated { .. }
            | FetchErrorKind::Timeout(_)
            | FetchErrorKind::Connection(_) => true,
            FetchErrorKind::Status(code) => *code >= 500 || *code == 408 || *code == 429,
            _ => false,
        }
    }
}

/// A failed download, naming the URL (credentials redacted) and how many attempts were made.
#[derive(Debug, thiserror::Error)]
pub struct FetchError {
    pub url: String,
    pub attempts: u32,
    #[source]
    pub kind: FetchErrorKind,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.attempts > 1 {
            write!(
                f,
                "cannot fetch `{}` after {} attempts",
                self.url, self.attempts
            )
        } else {
            write!(f, "cannot fetch `{}`", self.url)
        }
    }
}

impl Classify for FetchError {
    fn class(&self) -> ExitClass {
        match &self.kind {
            FetchErrorKind::Cache(CacheError::Mismatch { .. })
            | FetchErrorKind::TooLarge { .. } => ExitClass::Integrity,
            FetchErrorKind::Cache(_) => ExitClass::Output,
            _ => ExitClass::Network,
        }
    }
}

/// The downloader.
pub struct Fetcher {
    client: reqwest::Client,
    options: FetchOptions,
}

/// Where a download's bytes go.
trait Sink {
    fn accept(&mut self, bytes: &[u8]) -> Result<(), FetchErrorKind>;
    fn written(&self) -> u64;
    fn restart(&mut self) -> Result<(), FetchErrorKind>;
}

impl Sink for Vec<u8> {
    fn accept(&mut self, bytes: &[u8]) -> Result<(), FetchErrorKind> {
        self.extend_from_slice(bytes);
        Ok(())
    }
    fn written(&self) -> u64 {
        self.len() as u64
    }
    fn restart(&mut self) -> Result<(), FetchErrorKind> {
        self.clear();
        Ok(())
    }
}

impl Sink for Pending {
    fn accept(&mut self, bytes: &[u8]) -> Result<(), FetchErrorKind> {
        self.write(bytes).map_err(FetchErrorKind::Cache)
    }
    fn written(&self) -> u64 {
        Pending::written(self)
    }
    fn restart(&mut self) -> Result<(), FetchErrorKind> {
        self.reset().map_err(FetchErrorKind::Cache)
    }
}

/// An attempt's failure, with how long the server asked us to wait.
struct AttemptError {
    kind: FetchErrorKind,
    retry_after: Option<Duration>,
}

impl From<FetchErrorKind> for AttemptError {
    fn from(kind: FetchErrorKind) -> Self {
        AttemptError {
            kind,
            retry_after: None,
        }
    }
}

fn describe_reqwest(error: &reqwest::Error) -> FetchErrorKind {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if error.is_redirect() {
        FetchErrorKind::Redirect(text)
    } else if error.is_timeout() {
        FetchErrorKind::Timeout(text)
    } else {
        FetchErrorKind::Connection(text)
    }
}

impl Fetcher {
    pub fn new(context: &Context, options: FetchOptions) -> Result<Self, FetchError> {
        // reqwest is built without a bundled TLS provider; install ring's once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let max_redirects = options.max_redirects;
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            match redirect_verdict(attempt.previous(), attempt.url(), max_redirects) {
                Ok(()) => attempt.follow(),
                Err(reason) => attempt.error(reason),
            }
        });
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(policy)
            .user_agent(concat!("debroot/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout);
        let no_proxy = context
            .proxy("no_proxy")
            .and_then(reqwest::NoProxy::from_string);
        let proxy_error = |name: &str, error: reqwest::Error| FetchError {
            url: format!("${name}"),
            attempts: 0,
            kind: FetchErrorKind::Connection(format!("invalid proxy: {error}")),
        };
        for name in ["http_proxy", "https_proxy", "all_proxy"] {
            if let Some(value) = context.proxy(name) {
                let proxy = match name {
                    "http_proxy" => reqwest::Proxy::http(value),
                    "https_proxy" => reqwest::Proxy::https(value),
                    _ => reqwest::Proxy::all(value),
                }
                .map_err(|e| proxy_error(name, e))?;
                builder = builder.proxy(proxy.no_proxy(no_proxy.clone()));
            }
        }
        let client = builder.build().map_err(|e| FetchError {
            url: String::new(),
            attempts: 0,
            kind: describe_reqwest(&e),
        })?;
        Ok(Fetcher { client, options })
    }

    pub fn offline(&self) -> bool {
        self.options.offline
    }

    pub fn options(&self) -> &FetchOptions {
        &self.options
    }

    /// Fetches `url` into memory; more than `limit` bytes is an error.
    pub async fn get(&self, url: &Url, limit: u64) -> Result<Vec<u8>, FetchError> {
        let mut bytes = Vec::new();
        self.fetch(url, limit, None, &mut bytes).await?;
        Ok(bytes)
    }

    /// Runs attempts until one succeeds or a final error; returns the attempt count.
    async fn fetch(
        &self,
        url: &Url,
        limit: u64,
        exact: Option<u64>,
        sink: &mut dyn Sink,
    ) -> Result<u32, FetchError> {
        if self.options.offline && url.scheme() != "file" {
            return Err(FetchError {
                url: redact(url),
                attempts: 0,
                kind: FetchErrorKind::Offline,
            });
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = if url.scheme() == "file" {
                read_file(url, limit, sink).map_err(AttemptError::from)
            } else {
                self.attempt(url, limit, exact, sink).await
            };
            let result = result.and_then(|()| match exact {
                Some(expected) if sink.written() < expected => {
                    Err(AttemptError::from(FetchErrorKind::Truncated {
                        got: sink.written(),
                        expected,
                    }))
                }
                _ => Ok(()),
            });
            match result {
                Ok(()) => return Ok(attempt),
                Err(error) if error.kind.transient() && attempt <= self.options.retries => {
                    let backoff = self
                        .options
                        .backoff
                        .saturating_mul(1 << (attempt - 1).min(16));
                    let wait = error
                        .retry_after
                        .unwrap_or(backoff)
                        .min(self.options.max_wait);
                    tokio::time::sleep(wait).await;
                    sink.restart().map_err(|kind| FetchError {
                        url: redact(url),
                        attempts: attempt,
                        kind,
                    })?;
                }
                Err(error) => {
                    return Err(FetchError {
                        url: redact(url),
                        attempts: attempt,
                        kind: error.kind,
                    });
                }
            }
        }
    }

    async fn attempt(
        &self,
        url: &Url,
        limit: u64,
        exact: Option<u64>,
        sink: &mut dyn Sink,
    ) -> Result<(), AttemptError> {
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| AttemptError::from(describe_reqwest(&e)))?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            // A redirect the client did not follow (one it cannot, such as to `file:`).
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|v| crate::debian::escape(v.as_bytes()))
                .unwrap_or_default();
            return Err(FetchErrorKind::Redirect(format!(
                "HTTP {status} to `{location}` is not followed"
            ))
            .into());
        }
        if status != 200 {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let kind = match status {
                404 | 410 => FetchErrorKind::NotFound,
                401 | 403 => FetchErrorKind::Denied(status),
                _ => FetchErrorKind::Status(status),
            };
            return Err(AttemptError { kind, retry_after });
        }
        let response_length = response.content_length();
        if let Some(length) = response_length
            && length > limit
        {
            return Err(FetchErrorKind::TooLarge { limit }.into());
        }
        let mut stream = response.bytes_stream();
        let window = self.options.low_speed_window;
        let mut window_start = tokio::time::Instant::now();
        let mut window_bytes = 0u64;
        let expected = exact.or(response_length);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| {
                // A body that ends early is a truncation, whatever the transport calls it.
                match expected {
                    Some(expected) if !error.is_timeout() => {
                        AttemptError::from(FetchErrorKind::Truncated {
                            got: sink.written(),
                            expected,
                        })
                    }
                    _ => AttemptError::from(describe_reqwest(&error)),
                }
            })?;
            if sink.written() + chunk.len() as u64 > limit {
                return Err(FetchErrorKind::TooLarge { limit }.into());
            }
            sink.accept(&chunk)?;
            window_bytes += chunk.len() as u64;
            if window_start.elapsed() >= window {
                if window_bytes < self.options.low_speed_bytes {
                    return Err(FetchErrorKind::Timeout(format!(
                        "slower than {} bytes in {} s",
                        self.options.low_speed_bytes,
                        window.as_secs()
                    ))
                    .into());
                }
                window_start = tokio::time::Instant::now();
                window_bytes = 0;
            }
        }
        Ok(())
    }
}

/// Whether a redirect from the chain `previous` to `next` may be followed: a bounded number of
/// hops, http(s) only, never from https down to http, never back to a URL already visited,
/// never to a URL that decodes to control characters (apt's rule since CVE-2019-3462: no
/// mirror has such paths, and a `%0a` there is an attempt at header injection).
pub fn redirect_verdict(previous: &[Url], next: &Url, max_redirects: usize) -> Result<(), String> {
    if previous.len() > max_redirects {
        return Err(format!("more than {max_redirects} redirects"));
    }
    if !matches!(next.scheme(), "http" | "https") {
        return Err(format!("to a `{}` URL", next.scheme()));
    }
    if decodes_to_control(next.as_str()) {
        return Err("the location holds an encoded control character".to_owned());
    }
    if previous.iter().any(|p| p.scheme() == "https") && next.scheme() != "https" {
        return Err("from https to http".to_owned());
    }
    if previous.contains(next) {
        return Err(format!("loop back to `{}`", redact(next)));
    }
    Ok(())
}

/// Whether `text` holds a `%XX` escape of a control character (C0 or DEL).
fn decodes_to_control(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.windows(3).any(|w| {
        w[0] == b'%'
            && std::str::from_utf8(&w[1..])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .is_some_and(|b| b < 0x20 || b == 0x7f)
    })
}

/// `file://` URLs: the same limit, no retries needed.
fn read_file(url: &Url, limit: u64, sink: &mut dyn Sink) -> Result<(), FetchErrorKind> {
    use std::io::Read;
    let path = url
        .to_file_path()
        .map_err(|()| FetchErrorKind::File(std::io::Error::other("not a local path")))?;
    let file = std::fs::File::open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            FetchErrorKind::NotFound
        } else {
            FetchErrorKind::File(e)
        }
    })?;
    let mut reader = file.take(limit + 1);
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buffer).map_err(FetchErrorKind::File)?;
        if n == 0 {
            return Ok(());
        }
        if sink.written() + n as u64 > limit {
            return Err(FetchErrorKind::TooLarge { limit });
        }
        sink.accept(&buffer[..n])?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn redirects_never_downgrade_loop_or_leave_http() {
        let start = [url("https://mirror.test/debian/x.deb")];
        assert!(redirect_verdict(&start, &url("https://other.test/x.deb"), 10).is_ok());
        assert_eq!(
            redirect_verdict(&start, &url("http://mirror.test/debian/x.deb"), 10),
            Err("from https to http".to_owned())
        );
        assert!(redirect_verdict(&start, &url("file:///host_sentinel/x"), 10).is_err());
        assert!(redirect_verdict(&start, &url("mirror+http://x/"), 10).is_err());
        for injected in [
            "https://mirror.test/x.deb%0d%0aSHA256-Hash:%20x",
            "https://mirror.test/x.deb%0A",
            "https://mirror.test/x.deb?%7f",
        ] {
            assert!(
                redirect_verdict(&start, &url(injected), 10).is_err(),
                "{injected}"
            );
        }
        assert!(redirect_verdict(&start, &url("https://mirror.test/a%2Bb%20c.deb"), 10).is_ok());
        let chain = [url("http://a.test/1"), url("http://b.test/2")];
        assert!(
            redirect_verdict(&chain, &url("http://a.test/1"), 10)
                .unwrap_err()
                .starts_with("loop")
        );
        let long: Vec<Url> = (0..11)
            .map(|i| url(&format!("http://a.test/{i}")))
            .collect();
        assert!(
            redirect_verdict(&long, &url("http://a.test/x"), 10)
                .unwrap_err()
                .starts_with("more than")
        );
    }
}

/// A package (or any blob) to bring into the cache.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub url: Url,
    pub sha256: crate::digest::Sha256Digest,
    pub size: u64,
    /// `name version architecture`, for messages.
    pub label: String,
}

/// What a run of [`fetch_all`] did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Already in the cache (verified).
    pub cached: usize,
    pub downloaded: usize,
    /// Bytes downloaded.
    pub bytes: u64,
    /// Blobs that were in the cache but corrupt, removed and downloaded again.
    pub repaired: Vec<String>,
    /// Every wanted blob, open and verified, by digest: what the build reads (never the path
    /// again).
    pub blobs: std::collections::BTreeMap<crate::digest::Sha256Digest, crate::cache::Blob>,
}

/// Told about progress as it happens (the printer's progress bar, or nothing).
pub trait Observer: Send + Sync {
    fn bytes(&self, _count: u64) {}
    fn bytes_lost(&self, _count: u64) {}
    fn done(&self, _label: &str) {}
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {}

/// A failed package download, naming the package.
#[derive(Debug, thiserror::Error)]
#[error("cannot fetch `{label}`")]
pub struct PackageError {
    pub label: String,
    #[source]
    pub source: FetchError,
}

impl Classify for PackageError {
    fn class(&self) -> ExitClass {
        self.source.class()
    }

    fn hint(&self) -> Option<String> {
        match &self.source.kind {
            FetchErrorKind::NotFound => Some(
                "the mirror no longer has this version (a live mirror drops old versions at each point release); run `debroot lock --update PROFILE`, or pin `source.snapshot`".into(),
            ),
            FetchErrorKind::Offline => Some("run once without --offline to fill the cache".into()),
            FetchErrorKind::Cache(CacheError::Mismatch { .. }) => Some(
                "the mirror served other bytes than the signed index promised; try another mirror".into(),
            ),
            _ => None,
        }
    }
}

/// A sink into the cache that reports bytes to an observer.
struct Observed<'a> {
    pending: Pending,
    observer: &'a dyn Observer,
}

impl Sink for Observed<'_> {
    fn accept(&mut self, bytes: &[u8]) -> Result<(), FetchErrorKind> {
        self.pending.write(bytes).map_err(FetchErrorKind::Cache)?;
        self.observer.bytes(bytes.len() as u64);
        Ok(())
    }
    fn written(&self) -> u64 {
        self.pending.written()
    }
    fn restart(&mut self) -> Result<(), FetchErrorKind> {
        self.observer.bytes_lost(self.pending.written());
        self.pending.reset().map_err(FetchErrorKind::Cache)
    }
}

impl Fetcher {
    /// Downloads `size` bytes of `url` into the cache, reporting progress; the blob, open.
    async fn download_observed(
        &self,
        url: &Url,
        size: u64,
        pending: Pending,
        observer: &dyn Observer,
    ) -> Result<crate::cache::Blob, FetchError> {
        let mut sink = Observed { pending, observer };
        let attempts = self.fetch(url, size, Some(size), &mut sink).await?;
        // fsync and rename block: keep them off the download threads.
        let pending = sink.pending;
        let committed = tokio::task::spawn_blocking(move || pending.commit_blob())
            .await
            .map_err(|e| {
                CacheError::from(crate::error::local("commit a blob to the cache")(
                    std::io::Error::other(e.to_string()),
                ))
            })
            .and_then(|result| result);
        committed.map_err(|e| FetchError {
            url: redact(url),
            attempts,
            kind: FetchErrorKind::Cache(e),
        })
    }
}

/// Brings every wanted blob into the cache: verified blobs already there are kept (a corrupt
/// one is removed and downloaded again), the rest downloaded, at most `jobs` at a time. Stops
/// at the first failure; nothing unverified is ever left in the cache. Every blob comes back
/// open and verified ([`Report::blobs`]).
pub async fn fetch_all(
    fetcher: &Fetcher,
    cache: &crate::cache::Cache,
    wanted: &[Wanted],
    jobs: usize,
    observer: &dyn Observer,
) -> Result<Report, PackageError> {
    use crate::cache::Lookup;
    use futures_util::stream::{self, TryStreamExt};
    crate::cache::reserve_open_files(wanted.len());
    let report = std::sync::Mutex::new(Report::default());
    stream::iter(wanted.iter().map(Ok::<_, PackageError>))
        .try_for_each_concurrent(jobs.max(1), |item| {
            let report = &report;
            async move {
                let fail = |source: FetchError| PackageError {
                    label: item.label.clone(),
                    source,
                };
                let cache_error = |e: CacheError| {
                    fail(FetchError {
                        url: redact(&item.url),
                        attempts: 0,
                        kind: FetchErrorKind::Cache(e),
                    })
                };
                let blob_cache = cache.clone();
                let (digest, size) = (item.sha256, item.size);
                let lookup = tokio::task::spawn_blocking(move || {
                    blob_cache.open_blob_verified(&digest, size)
                })
                .await
                .map_err(|e| {
                    cache_error(CacheError::from(crate::error::io_at(
                        "use cache directory",
                        &cache.path(&digest),
                    )(
                        std::io::Error::other(e.to_string())
                    )))
                })?
                .map_err(cache_error)?;
                match lookup {
                    Lookup::Hit(blob) => {
                        observer.bytes(item.size);
                        observer.done(&item.label);
                        let mut report = report.lock().expect("report lock");
                        report.cached += 1;
                        report.blobs.insert(digest, blob);
                        return Ok(());
                    }
                    Lookup::Corrupt(path) => {
                        report.lock().expect("report lock").repaired.push(format!(
                            "{} ({})",
                            item.label,
                            path.display()
                        ));
                    }
                    Lookup::Miss => {}
                }
                let pending = cache.begin(item.sha256, item.size).map_err(cache_error)?;
                let blob = fetcher
                    .download_observed(&item.url, item.size, pending, observer)
                    .await
                    .map_err(fail)?;
                observer.done(&item.label);
                let mut report = report.lock().expect("report lock");
                report.downloaded += 1;
                report.bytes += item.size;
                report.blobs.insert(digest, blob);
                Ok(())
            }
        })
        .await?;
    Ok(report.into_inner().expect("report lock"))
}
