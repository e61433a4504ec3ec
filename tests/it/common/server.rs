//! A loopback HTTP/1.1 server for the tests: serves a directory (with an HTML index of a folder
//! asked for with a trailing `/`, as deb.debian.org's), counts requests, and injects
//! faults (truncation, resets, slow drips, endless bodies, statuses, redirects) per path.
//!
//! Bound to `127.0.0.1:0`; shut down when dropped.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What to do instead of serving a file normally.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status (and an optional `Retry-After`), `times` times, then serve.
    Status {
        code: u16,
        retry_after: Option<u64>,
        times: usize,
    },
    /// Send the right headers, then only the first `at` bytes, then close cleanly.
    Truncate { at: usize, times: usize },
    /// Send the first `at` bytes, then reset the connection.
    Reset { at: usize, times: usize },
    /// Send this body instead (e.g. wrong bytes of the right size, or a captive portal page).
    Replace { body: Vec<u8> },
    /// Send the file, then keep sending zeros forever, with this `Content-Length` (or none).
    Endless { content_length: Option<u64> },
    /// Send the headers, then one byte every `interval`.
    Drip { interval: Duration },
    /// Accept the connection and never answer.
    Silent,
    /// Redirect to this location.
    Redirect { location: String },
}

#[derive(Default)]
struct State {
    faults: BTreeMap<String, Fault>,
    /// Every request path, in order, with when it came.
    log: Vec<(String, Instant)>,
}

/// The server.
pub struct Server {
    pub port: u16,
    root: PathBuf,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Serves the files under `root`.
    pub fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let server = Server {
            port,
            root: root.to_path_buf(),
            state: state.clone(),
            stop: stop.clone(),
        };
        let root = root.to_path_buf();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else {
                    continue;
                };
                let root = root.clone();
                let state = state.clone();
                thread::spawn(move || {
                    let _ = handle(stream, &root, &state);
                });
            }
        });
        server
    }

    /// `http://127.0.0.1:PORT/` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}/{}",
            self.port,
            path.trim_start_matches('/')
        )
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Injects a fault for requests of exactly `path` (starting with `/`).
    pub fn fault(&self, path: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .insert(path.to_owned(), fault);
    }

    pub fn clear_faults(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    /// Paths requested so far.
    pub fn requests(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// When each request of `path` came.
    pub fn request_times(&self, path: &str) -> Vec<Instant> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, t)| *t)
            .collect()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn percent_decode(path: &str) -> Vec<u8> {
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&path[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn file_for(root: &Path, path: &str) -> Option<PathBuf> {
    local_path(root, path).filter(|full| full.is_file())
}

/// Where the request `path` is under `root` (whether there is something or not).
fn local_path(root: &Path, path: &str) -> Option<PathBuf> {
    let decoded = String::from_utf8(percent_decode(path)).ok()?;
    // The snapshot.debian.org layout: `/archive/ARCHIVE/TIMESTAMP/...` serves the archive as
    // it was at that time; the fixture has one state, served for every timestamp.
    let decoded = match decoded.strip_prefix("/archive/") {
        Some(rest) => {
            let mut parts = rest.splitn(3, '/');
            let (archive, _timestamp, rest) = (parts.next()?, parts.next()?, parts.next()?);
            format!("/{archive}/{rest}")
        }
        None => decoded,
    };
    let relative = Path::new(decoded.trim_start_matches('/'));
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    Some(root.join(relative))
}

/// An HTML index of the folder `path` (ending in `/`) names, like Apache's autoindex (which
/// deb.debian.org offers): one `<a href="NAME/">` per entry, sorted.
fn listing_for(root: &Path, path: &str) -> Option<Vec<u8>> {
    if !path.ends_with('/') {
        return None;
    }
    let folder = local_path(root, path)?;
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let slash = if entry.file_type().ok()?.is_dir() {
                "/"
            } else {
                ""
            };
            Some(format!("{}{slash}", entry.file_name().to_str()?))
        })
        .collect();
    names.sort();
    let mut page = format!(
        "<html><head><title>Index of {path}</title></head><body><h1>Index of {path}</h1><pre><a href=\"../\">../</a>\n"
    );
    for name in names {
        page.push_str(&format!("<a href=\"{name}\">{name}</a>\n"));
    }
    page.push_str("</pre></body></html>\n");
    Some(page.into_bytes())
}

fn write_head(
    stream: &mut TcpStream,
    code: u16,
    headers: &[(&str, String)],
) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {code} {reason}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())
}

fn handle(mut stream: TcpStream, root: &Path, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let mut path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    // As a proxy, requests come in absolute form (`GET http://host/path`): serve the path.
    if let Some(rest) = path.strip_prefix("http://") {
        path = rest
            .find('/')
            .map_or("/".to_owned(), |i| rest[i..].to_owned());
    }
    let fault = {
        let mut state = state.lock().unwrap();
        state.log.push((path.clone(), Instant::now()));
        let fault = state.faults.get(&path).cloned();
        // Faults that happen a number of times count down.
        if let Some(
            Fault::Status { times, .. }
            | Fault::Truncate { times, .. }
            | Fault::Reset { times, .. },
        ) = state.faults.get_mut(&path)
        {
            if *times <= 1 {
                let removed = state.faults.remove(&path);
                drop(removed);
            } else {
                *times -= 1;
            }
        }
        fault
    };
    let file = file_for(root, &path);
    let body = match &file {
        Some(f) => std::fs::read(f).ok(),
        None => listing_for(root, &path),
    };
    match fault {
        Some(Fault::Status {
            code, retry_after, ..
        }) => {
            let mut headers = vec![("Content-Length", "0".to_owned())];
            if let Some(seconds) = retry_after {
                headers.push(("Retry-After", seconds.to_string()));
            }
            write_head(&mut stream, code, &headers)?;
        }
        Some(Fault::Redirect { location }) => {
            write_head(
                &mut stream,
                302,
                &[("Location", location), ("Content-Length", "0".to_owned())],
            )?;
        }
        Some(Fault::Silent) => {
            thread::sleep(Duration::from_secs(3600));
        }
        Some(Fault::Replace { body }) => {
            write_head(
                &mut stream,
                200,
                &[("Content-Length", body.len().to_string())],
            )?;
            stream.write_all(&body)?;
        }
        Some(fault) => {
            let Some(body) = body else {
                write_head(&mut stream, 404, &[("Content-Length", "0".to_owned())])?;
                return Ok(());
            };
            match fault {
                Fault::Truncate { at, .. } => {
                    write_head(
                        &mut stream,
                        200,
                        &[("Content-Length", body.len().to_string())],
                    )?;
                    stream.write_all(&body[..at.min(body.len())])?;
                    stream.flush()?;
                    stream.shutdown(Shutdown::Both)?;
                }
                Fault::Reset { at, .. } => {
                    write_head(
                        &mut stream,
                        200,
                        &[("Content-Length", body.len().to_string())],
                    )?;
                    stream.write_all(&body[..at.min(body.len())])?;
                    stream.flush()?;
                    // SO_LINGER 0 turns the close into a reset.
                    set_linger_zero(&stream);
                    drop(stream);
                    return Ok(());
                }
                Fault::Endless { content_length } => {
                    let mut headers = Vec::new();
                    if let Some(length) = content_length {
                        headers.push(("Content-Length", length.to_string()));
                    }
                    write_head(&mut stream, 200, &headers)?;
                    stream.write_all(&body)?;
                    let zeros = vec![0u8; 1 << 16];
                    while stream.write_all(&zeros).is_ok() {}
                }
                Fault::Drip { interval } => {
                    write_head(
                        &mut stream,
                        200,
                        &[("Content-Length", body.len().to_string())],
                    )?;
                    for byte in &body {
                        if stream.write_all(&[*byte]).is_err() {
                            break;
                        }
                        thread::sleep(interval);
                    }
                }
                _ => unreachable!("handled above"),
            }
        }
        None => match body {
            Some(body) => {
                write_head(
                    &mut stream,
                    200,
                    &[("Content-Length", body.len().to_string())],
                )?;
                stream.write_all(&body)?;
            }
            None => write_head(&mut stream, 404, &[("Content-Length", "0".to_owned())])?,
        },
    }
    stream.flush()?;
    let _ = stream.shutdown(Shutdown::Write);
    // Drain what the client still sends, so the close is clean.
    let mut sink = [0u8; 1024];
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = stream.read(&mut sink);
    Ok(())
}

fn set_linger_zero(stream: &TcpStream) {
    let _ = rustix::net::sockopt::set_socket_linger(stream, Some(Duration::ZERO));
}
