//! Decompression with caps: xz, gzip, zstd and plain data, never more output than allowed and
//! never more decoder memory than allowed.
//!
//! The caps are the defence against decompression bombs (docs/THREATS.md C8, A6f): an index is
//! decoded to at most the uncompressed size its signed `Release` lists, a `.deb` member to at most
//! the member cap. xz and zstd decoders get an explicit memory limit (a stream declaring a 1.5 GiB
//! dictionary or a 2 GiB window is refused before anything is allocated), and data after the end
//! of the compressed stream is an error, not something to ignore.

use std::io::{self, Read};

/// The compressions debroot reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
}

/// Largest xz decoder memory (xz -9 needs 65 MiB; Debian uses -6, 9 MiB).
pub const XZ_MEMORY_LIMIT: u64 = 128 << 20;
/// Largest zstd window, as a power of two (zstd's default maximum for decoding is 27: 128 MiB).
pub const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// Why decoding stopped.
#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    #[error("decoded data exceeds {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("decoder memory limit exceeded ({0})")]
    Memory(String),
    #[error("truncated or corrupt {kind} stream: {source}")]
    Corrupt {
        kind: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("data after the end of the {kind} stream")]
    TrailingData { kind: &'static str },
}

impl Compression {
    /// The compression a file name's extension says.
    pub fn from_extension(name: &str) -> Option<Self> {
        let extension = name.rsplit_once('.').map_or("", |(_, e)| e);
        match extension {
            "xz" => Some(Compression::Xz),
            "gz" => Some(Compression::Gzip),
            "zst" => Some(Compression::Zstd),
            _ if !name.contains('.') || name.ends_with(".tar") => Some(Compression::None),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }

    /// A reader that decodes `input` (one stream, no trailing data). Wrap it in [`Capped`] to
    /// bound its output.
    pub fn decoder<'a, R: io::BufRead + 'a>(
        self,
        input: R,
    ) -> Result<Box<dyn Read + 'a>, DecompressError> {
        Ok(match self {
            Compression::None => Box::new(input),
            Compression::Gzip => {
                Box::new(Strict::new(flate2::bufread::GzDecoder::new(input), "gzip"))
            }
            Compression::Xz => {
                let stream = liblzma::stream::Stream::new_stream_decoder(XZ_MEMORY_LIMIT, 0)
                    .map_err(|e| DecompressError::Memory(e.to_string()))?;
                Box::new(Strict::new(
                    liblzma::bufread::XzDecoder::new_stream(input, stream),
                    "xz",
                ))
            }
            Compression::Zstd => {
                let mut decoder = zstd::stream::read::Decoder::with_buffer(input).map_err(|e| {
                    DecompressError::Corrupt {
                        kind: "zstd",
                        source: e,
                    }
                })?;
                decoder
                    .window_log_max(ZSTD_WINDOW_LOG_MAX)
                    .map_err(|e| DecompressError::Memory(e.to_string()))?;
                Box::new(Strict::new(decoder.single_frame(), "zstd"))
            }
        })
    }
}

/// Maps decoder I/O errors to their kind (memory limits are reported as such).
struct Strict<R> {
    inner: R,
    kind: &'static str,
}

impl<R> Strict<R> {
    fn new(inner: R, kind: &'static str) -> Self {
        Strict { inner, kind }
    }
}

impl<R: Read> Read for Strict<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|error| {
            let text = error.to_string();
            let memory = text.contains("memory") || text.contains("Frame requires too much");
            io::Error::new(
                error.kind(),
                if memory {
                    format!("decoder memory limit exceeded: {text}")
                } else {
                    format!("{} {text}", self.kind)
                },
            )
        })
    }
}

/// Decodes all of `input` into memory, at most `limit` bytes.
pub fn decompress(
    compression: Compression,
    input: &[u8],
    limit: u64,
) -> Result<Vec<u8>, DecompressError> {
    let kind = compression.name();
    let mut reader = io::BufReader::new(input);
    let mut decoder = compression.decoder(&mut reader)?;
    let mut out = Vec::with_capacity(limit.min(64 << 20) as usize);
    let read = (&mut decoder)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|source| {
            if source.to_string().contains("decoder memory limit") {
                DecompressError::Memory(source.to_string())
            } else {
                DecompressError::Corrupt { kind, source }
            }
        })?;
    if read as u64 > limit {
        return Err(DecompressError::TooLarge { limit });
    }
    drop(decoder);
    if compression != Compression::None {
        let rest = io::BufRead::fill_buf(&mut reader)
            .map_err(|source| DecompressError::Corrupt { kind, source })?;
        if !rest.is_empty() {
            return Err(DecompressError::TrailingData { kind });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 6);
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn round_trips() {
        let data = b"Package: hello\n".repeat(100);
        assert_eq!(
            decompress(Compression::Xz, &xz(&data), 10_000).unwrap(),
            data
        );
        assert_eq!(
            decompress(Compression::Gzip, &gz(&data), 10_000).unwrap(),
            data
        );
        let zst = zstd::encode_all(&data[..], 3).unwrap();
        assert_eq!(decompress(Compression::Zstd, &zst, 10_000).unwrap(), data);
        assert_eq!(decompress(Compression::None, &data, 10_000).unwrap(), data);
    }

    #[test]
    fn output_is_capped() {
        let zeros = vec![0u8; 1 << 20];
        let error = decompress(Compression::Xz, &xz(&zeros), 1000).unwrap_err();
        assert!(matches!(error, DecompressError::TooLarge { limit: 1000 }));
        let error = decompress(Compression::Gzip, &gz(&zeros), (1 << 20) - 1).unwrap_err();
        assert!(matches!(error, DecompressError::TooLarge { .. }));
        assert!(decompress(Compression::Gzip, &gz(&zeros), 1 << 20).is_ok());
    }

    #[test]
    fn truncated_and_trailing_data_are_errors() {
        let data = xz(b"hello world");
        assert!(decompress(Compression::Xz, &data[..data.len() - 4], 100).is_err());
        assert!(decompress(Compression::Xz, &[], 100).is_err());
        let mut trailing = data.clone();
        trailing.extend_from_slice(b"hidden");
        assert!(matches!(
            decompress(Compression::Xz, &trailing, 100),
            Err(DecompressError::TrailingData { .. }) | Err(DecompressError::Corrupt { .. })
        ));
        let mut two = gz(b"a");
        two.extend_from_slice(&gz(b"b"));
        assert!(decompress(Compression::Gzip, &two, 100).is_err());
    }

    #[test]
    fn zstd_window_above_the_limit_is_refused() {
        // A frame header declaring windowLog 31 (docs/THREATS.md C8a).
        let mut params = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
        params.window_log(31).unwrap();
        params.long_distance_matching(true).unwrap();
        params.write_all(&vec![7u8; 1 << 16]).unwrap();
        let frame = params.finish().unwrap();
        let error = decompress(Compression::Zstd, &frame, 1 << 20).unwrap_err();
        assert!(
            matches!(
                error,
                DecompressError::Memory(_) | DecompressError::Corrupt { .. }
            ),
            "{error}"
        );
    }
}
