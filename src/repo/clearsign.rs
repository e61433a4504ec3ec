//! The OpenPGP cleartext-signature envelope of an `InRelease` file, split strictly.
//!
//! Most of apt's signature-bypass history lives in the gap between what the envelope parser
//! thinks is signed and what the verifier checked (CVE-2013-1051, CVE-2016-1252, Debian
//! #980849). debroot closes the gap by construction: this splitter produces the signed text, the
//! verifier checks the signatures over exactly that text, and the `Release` parser reads exactly
//! that text. Anything the splitter does not understand is an error, not something to skip:
//!
//! - the file starts with `-----BEGIN PGP SIGNED MESSAGE-----` (no text before it);
//! - armor headers are `Hash: ...` lines only, then one empty line;
//! - in the message, a line starting with `-` must be a `- ` escape or the exact
//!   `-----BEGIN PGP SIGNATURE-----` line;
//! - the signature block is armor headers (`Key: value`), an empty line, base64, an optional
//!   `=CRC`, and `-----END PGP SIGNATURE-----`;
//! - after that line only empty lines may follow (no second message, no unsigned text).
//!
//! Lines may end in LF or CRLF. Following RFC 4880 §7.1 the signed text is the message's lines
//! with trailing spaces and tabs removed; [`Cleartext::canonical`] joins them with CRLF (what the
//! signature covers) and [`Cleartext::text`] with LF (what the `Release` parser reads).

/// A split clearsigned file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleartext {
    /// The message lines, dash-unescaped, trailing whitespace removed.
    lines: Vec<Vec<u8>>,
    /// The `Hash:` armor header values, e.g. `SHA256`.
    pub hash_headers: Vec<String>,
    /// The armored signature block, from its BEGIN line through its END line, with LF endings.
    pub armored_signature: Vec<u8>,
}

/// What is wrong with the envelope, with the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct EnvelopeError {
    pub line: usize,
    pub reason: &'static str,
}

const BEGIN_MESSAGE: &[u8] = b"-----BEGIN PGP SIGNED MESSAGE-----";
const BEGIN_SIGNATURE: &[u8] = b"-----BEGIN PGP SIGNATURE-----";
const END_SIGNATURE: &[u8] = b"-----END PGP SIGNATURE-----";

fn strip_trailing_whitespace(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    &line[..end]
}

/// Splits `input` into lines without their LF or CRLF endings.
fn split_lines(input: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
        .into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect()
}

fn is_armor_header(line: &[u8]) -> bool {
    match line.iter().position(|&b| b == b':') {
        Some(colon) => {
            colon > 0
                && line[..colon]
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && line[0] != b'-'
                && line.get(colon + 1) == Some(&b' ')
        }
        None => false,
    }
}

fn is_base64_line(line: &[u8]) -> bool {
    !line.is_empty()
        && line
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
}

/// Splits a clearsigned file strictly; see the module docs for the grammar.
pub fn split(input: &[u8]) -> Result<Cleartext, EnvelopeError> {
    let lines = split_lines(input);
    let fail = |index: usize, reason| EnvelopeError {
        line: index + 1,
        reason,
    };
    let mut i = 0;
    if lines.first().map(|l| strip_trailing_whitespace(l)) != Some(BEGIN_MESSAGE) {
        return Err(fail(
            0,
            "not a clearsigned file: it does not start with `-----BEGIN PGP SIGNED MESSAGE-----`",
        ));
    }
    i += 1;
    let mut hash_headers = Vec::new();
    loop {
        let Some(line) = lines.get(i) else {
            return Err(fail(i, "armor headers do not end"));
        };
        if line.is_empty() {
            i += 1;
            break;
        }
        let Some(value) = line.strip_prefix(b"Hash: ") else {
            return Err(fail(i, "unexpected armor header (only `Hash:` is allowed)"));
        };
        let value = std::str::from_utf8(value)
            .ok()
            .filter(|v| v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b','))
            .ok_or_else(|| fail(i, "malformed `Hash:` armor header"))?;
        hash_headers.extend(value.split(',').map(str::to_owned));
        i += 1;
    }
    let mut message = Vec::new();
    loop {
        let Some(line) = lines.get(i) else {
            return Err(fail(i, "the signed message has no signature"));
        };
        if line.first() == Some(&b'-') {
            if let Some(unescaped) = line.strip_prefix(b"- ") {
                message.push(strip_trailing_whitespace(unescaped).to_vec());
                i += 1;
                continue;
            }
            if strip_trailing_whitespace(line) == BEGIN_SIGNATURE {
                break;
            }
            return Err(fail(i, "unexpected dash line in the signed message"));
        }
        message.push(strip_trailing_whitespace(line).to_vec());
        i += 1;
    }
    if message.is_empty() {
        return Err(fail(i, "the signed message is empty"));
    }
    let signature_start = i;
    i += 1;
    // Armor headers of the signature block, then exactly one empty line.
    loop {
        let Some(line) = lines.get(i) else {
            return Err(fail(i, "the signature block does not end"));
        };
        if line.is_empty() {
            i += 1;
            break;
        }
        if !is_armor_header(line) {
            return Err(fail(i, "malformed armor header in the signature block"));
        }
        i += 1;
    }
    let mut saw_checksum = false;
    loop {
        let Some(line) = lines.get(i) else {
            return Err(fail(i, "the signature block does not end"));
        };
        if *line == END_SIGNATURE {
            break;
        }
        if saw_checksum {
            return Err(fail(i, "text after the armor checksum"));
        }
        if line.first() == Some(&b'=') && line.len() == 5 {
            saw_checksum = true;
        } else if !is_base64_line(line) {
            return Err(fail(i, "unexpected text in the signature block"));
        }
        i += 1;
    }
    let signature_end = i;
    for (k, line) in lines.iter().enumerate().skip(signature_end + 1) {
        if !strip_trailing_whitespace(line).is_empty() {
            return Err(fail(k, "unsigned content after the signature"));
        }
    }
    let mut armored_signature = Vec::new();
    for line in &lines[signature_start..=signature_end] {
        armored_signature.extend_from_slice(line);
        armored_signature.push(b'\n');
    }
    Ok(Cleartext {
        lines: message,
        hash_headers,
        armored_signature,
    })
}

impl Cleartext {
    /// The signed text as a signature covers it: lines joined with CRLF, no final line ending.
    pub fn canonical(&self) -> Vec<u8> {
        self.lines.join(&b"\r\n"[..])
    }

    /// The signed text for parsing: lines joined with LF, with a final LF.
    pub fn text(&self) -> Vec<u8> {
        let mut text = self.lines.join(&b"\n"[..]);
        text.push(b'\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNATURE: &str =
        "-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n";

    fn file(message: &str) -> String {
        format!("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{message}{SIGNATURE}")
    }

    #[test]
    fn splits_a_well_formed_file() {
        let split = split(file("Origin: Debian\n- -dash\nLast: x  \n").as_bytes()).unwrap();
        assert_eq!(split.hash_headers, vec!["SHA256"]);
        assert_eq!(split.text(), b"Origin: Debian\n-dash\nLast: x\n");
        assert_eq!(split.canonical(), b"Origin: Debian\r\n-dash\r\nLast: x");
        assert_eq!(split.armored_signature, SIGNATURE.as_bytes());
    }

    #[test]
    fn crlf_is_accepted() {
        let crlf = file("Origin: Debian\n").replace('\n', "\r\n");
        let split = split(crlf.as_bytes()).unwrap();
        assert_eq!(split.text(), b"Origin: Debian\n");
    }

    #[test]
    fn envelope_smuggling_is_refused() {
        let good = file("Origin: Debian\n");
        let cases: Vec<(String, &str)> = vec![
            (format!("{good}Origin: Evil\n"), "unsigned content after the signature"),
            (format!("Origin: Evil\n{good}"), "does not start"),
            (file("Origin: Debian\n--X\n"), "unexpected dash line"),
            (
                file("Origin: Debian\n-----BEGIN PGP SIGNED MESSAGE-----\n"),
                "unexpected dash line",
            ),
            (format!("{good}{good}"), "unsigned content after the signature"),
            (
                good.replace("Hash: SHA256", "-Hash: SHA256"),
                "unexpected armor header",
            ),
            (
                good.replace("Hash: SHA256", "Comment: hi"),
                "unexpected armor header",
            ),
            (
                good.replace("-----END PGP SIGNATURE-----\n", ""),
                "does not end",
            ),
            // CVE-2013-1051: the empty line inside the signature block replaced by two spaces,
            // an unsigned Release appended.
            (
                format!(
                    "{}Origin: Evil\n",
                    good.replace("-----BEGIN PGP SIGNATURE-----\n\n", "-----BEGIN PGP SIGNATURE-----\n  \n")
                ),
                "malformed armor header",
            ),
            (
                good.replace("=abcd\n", "=abcd\nmore\n"),
                "text after the armor checksum",
            ),
            (
                "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n-----BEGIN PGP SIGNATURE-----\n\nAA\n-----END PGP SIGNATURE-----\n".into(),
                "empty",
            ),
            ("<html>captive portal</html>".into(), "does not start"),
        ];
        for (text, reason) in cases {
            let error = split(text.as_bytes()).expect_err(&text);
            assert!(
                error.reason.contains(reason),
                "{text:?}: got {error}, want {reason:?}"
            );
        }
    }
}
