//! deb822 paragraphs (control files, `Packages`, `Release`, `.sources`), read as bytes.
//!
//! A paragraph is a run of fields separated from the next by blank lines (lines that are empty or
//! hold only spaces and tabs). A field is `Name: value`; lines starting with a space or a tab
//! continue the previous field; lines starting with `#` are comments. Field names are compared
//! ASCII-case-insensitively, as dpkg and apt do. Values are byte slices of the input: Debian
//! metadata is not promised to be UTF-8, and a parser that decodes first is a parser that can be
//! made to fail on a package description.
//!
//! Parsing borrows the input and allocates one `Vec` of fields per paragraph, so a 60 MB
//! `Packages` index parses in well under a second.

use std::borrow::Cow;

use memchr::memchr;

/// One `Name: value` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    pub name: &'a [u8],
    /// The value with the first line's leading and the last line's trailing whitespace removed;
    /// continuation lines are kept as written, each after a `\n`. Owned only when a comment line
    /// interrupted the value.
    pub value: Cow<'a, [u8]>,
    /// 1-based line of the field name.
    pub line: usize,
}

/// A paragraph (a stanza) of fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paragraph<'a> {
    /// 1-based line of the first field.
    pub line: usize,
    pub fields: Vec<Field<'a>>,
}

/// What is wrong with a deb822 document, with the line where it happens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct Deb822Error {
    pub line: usize,
    pub kind: Deb822ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Deb822ErrorKind {
    #[error("continuation line outside a field")]
    ContinuationWithoutField,
    #[error("line is not `Name: value` (no colon)")]
    MissingColon,
    #[error("empty field name")]
    EmptyFieldName,
    #[error("invalid character in field name `{0}`")]
    InvalidFieldName(String),
    #[error("duplicate field `{0}`")]
    DuplicateField(String),
    #[error("NUL byte in input")]
    Nul,
}

impl<'a> Paragraph<'a> {
    /// The value of field `name` (ASCII case-insensitive), if present.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.field(name).map(|field| &*field.value)
    }

    /// The field `name` (ASCII case-insensitive), if present.
    pub fn field(&self, name: &str) -> Option<&Field<'a>> {
        self.fields
            .iter()
            .find(|field| field.name.eq_ignore_ascii_case(name.as_bytes()))
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| b == b' ' || b == b'\t' || b == b'\r')
}

fn trim(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

/// Iterates over the paragraphs of `input`, stopping at the first error.
pub fn paragraphs(input: &[u8]) -> Paragraphs<'_> {
    Paragraphs {
        input,
        pos: 0,
        line: 0,
        failed: false,
        recover: false,
    }
}

/// Iterates over the paragraphs of `input`; after an error, skips to the next blank line and
/// goes on, so that one malformed stanza of an index does not hide the others.
pub fn paragraphs_recovering(input: &[u8]) -> Paragraphs<'_> {
    Paragraphs {
        recover: true,
        ..paragraphs(input)
    }
}

/// Parses every paragraph of `input`.
pub fn parse(input: &[u8]) -> Result<Vec<Paragraph<'_>>, Deb822Error> {
    paragraphs(input).collect()
}

/// Iterator over the paragraphs of a document; see [`paragraphs`].
pub struct Paragraphs<'a> {
    input: &'a [u8],
    pos: usize,
    /// Lines consumed so far.
    line: usize,
    failed: bool,
    recover: bool,
}

impl<'a> Paragraphs<'a> {
    /// The next line (without its `\n`) and its byte offset, or `None` at the end.
    fn next_line(&mut self) -> Option<(usize, &'a [u8])> {
        if self.pos >= self.input.len() {
            return None;
        }
        let start = self.pos;
        let rest = &self.input[start..];
        let end = memchr(b'\n', rest).map_or(self.input.len(), |i| start + i);
        self.pos = end + 1;
        self.line += 1;
        Some((start, &self.input[start..end]))
    }

    fn error(&mut self, kind: Deb822ErrorKind) -> Option<Result<Paragraph<'a>, Deb822Error>> {
        let line = self.line;
        if self.recover {
            while let Some((_, rest)) = self.next_line() {
                if is_blank(rest) {
                    break;
                }
            }
        } else {
            self.failed = true;
        }
        Some(Err(Deb822Error { line, kind }))
    }
}

impl<'a> Iterator for Paragraphs<'a> {
    type Item = Result<Paragraph<'a>, Deb822Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let mut paragraph: Option<Paragraph<'a>> = None;
        // Byte range of the current field's value in the input, and whether a comment split it.
        let mut value: Option<(usize, usize)> = None;
        let mut split_value: Option<Vec<u8>> = None;
        while let Some((offset, line)) = self.next_line() {
            if memchr(0, line).is_some() {
                return self.error(Deb822ErrorKind::Nul);
            }
            if is_blank(line) {
                if paragraph.is_some() {
                    break;
                }
                continue;
            }
            if line[0] == b'#' {
                if let (Some((start, end)), None) = (value, &split_value) {
                    split_value = Some(self.input[start..end].to_vec());
                }
                continue;
            }
            if line[0] == b' ' || line[0] == b'\t' {
                let Some((start, end)) = value.as_mut() else {
                    return self.error(Deb822ErrorKind::ContinuationWithoutField);
                };
                let line_end = offset + line.len();
                if let Some(owned) = split_value.as_mut() {
                    owned.push(b'\n');
                    owned.extend_from_slice(line);
                } else if *start == *end && *end < offset {
                    // The first line was empty (`Field:` then continuation lines).
                    *start = offset;
                }
                *end = line_end;
                continue;
            }
            // A new field: finish the previous one.
            if let Some(paragraph) = paragraph.as_mut() {
                finish_field(paragraph, self.input, value.take(), split_value.take());
            }
            let Some(colon) = memchr(b':', line) else {
                return self.error(Deb822ErrorKind::MissingColon);
            };
            let name = &line[..colon];
            if name.is_empty() {
                return self.error(Deb822ErrorKind::EmptyFieldName);
            }
            if name[0] == b'-' || name.iter().any(|&b| b <= b' ' || b == 0x7f) {
                return self.error(Deb822ErrorKind::InvalidFieldName(crate::debian::escape(
                    name,
                )));
            }
            let paragraph = paragraph.get_or_insert_with(|| Paragraph {
                line: self.line,
                fields: Vec::with_capacity(16),
            });
            if paragraph
                .fields
                .iter()
                .any(|field| field.name.eq_ignore_ascii_case(name))
            {
                return self.error(Deb822ErrorKind::DuplicateField(crate::debian::escape(name)));
            }
            let value_start = offset + colon + 1;
            let skipped = line[colon + 1..]
                .iter()
                .take_while(|&&b| b == b' ' || b == b'\t')
                .count();
            let start = value_start + skipped;
            value = Some((start, offset + line.len()));
            paragraph.fields.push(Field {
                name,
                value: Cow::Borrowed(&[]),
                line: self.line,
            });
        }
        let mut paragraph = paragraph?;
        finish_field(&mut paragraph, self.input, value, split_value);
        Some(Ok(paragraph))
    }
}

/// Stores the value of the last field of `paragraph`.
fn finish_field<'a>(
    paragraph: &mut Paragraph<'a>,
    input: &'a [u8],
    value: Option<(usize, usize)>,
    split_value: Option<Vec<u8>>,
) {
    let (Some(field), Some((start, end))) = (paragraph.fields.last_mut(), value) else {
        return;
    };
    field.value = match split_value {
        Some(owned) => Cow::Owned(trim(&owned).to_vec()),
        None => Cow::Borrowed(trim(&input[start..end])),
    };
}

/// A field value as one logical line: continuation lines joined with single spaces. Used for
/// relation fields and lists, where line breaks are only formatting.
pub fn folded(value: &[u8]) -> Cow<'_, [u8]> {
    if memchr(b'\n', value).is_none() {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    for (i, line) in value.split(|&b| b == b'\n').enumerate() {
        let line = trim(line);
        if line.is_empty() {
            continue;
        }
        if i > 0 && !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(line);
    }
    Cow::Owned(out)
}

/// The lines of a multi-line field (`SHA256:` in a `Release` file, `conffiles`), each trimmed,
/// empty lines skipped.
pub fn lines(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b'\n')
        .map(trim)
        .filter(|line| !line.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_fields_and_continuations() {
        let text = b"Package: hello\nVersion: 2.10-3\nDescription: greet\n the world\n .\n twice\n\n\n# comment\nPackage: other\nDepends: a,\n b\n";
        let paragraphs = parse(text).unwrap();
        assert_eq!(paragraphs.len(), 2);
        assert_eq!(paragraphs[0].line, 1);
        assert_eq!(paragraphs[0].get("package"), Some(&b"hello"[..]));
        assert_eq!(
            paragraphs[0].get("DESCRIPTION"),
            Some(&b"greet\n the world\n .\n twice"[..])
        );
        assert_eq!(paragraphs[1].line, 10);
        assert_eq!(paragraphs[1].field("Depends").unwrap().line, 11);
        assert_eq!(&*folded(paragraphs[1].get("Depends").unwrap()), b"a, b");
    }

    #[test]
    fn empty_first_line_and_comments_inside_a_value() {
        let text = b"SHA256:\n abc 1 main/x\n# note\n def 2 main/y\nOther: 1\n";
        let paragraphs = parse(text).unwrap();
        let value = paragraphs[0].get("sha256").unwrap();
        let lines: Vec<&[u8]> = lines(value).collect();
        assert_eq!(lines, vec![&b"abc 1 main/x"[..], &b"def 2 main/y"[..]]);
        assert_eq!(paragraphs[0].get("other"), Some(&b"1"[..]));
    }

    #[test]
    fn crlf_and_whitespace_only_separators() {
        let text = b"A: 1\r\nB: two\r\n \t\r\nC: 3\r\n";
        let paragraphs = parse(text).unwrap();
        assert_eq!(paragraphs.len(), 2);
        assert_eq!(paragraphs[0].get("b"), Some(&b"two"[..]));
    }

    #[test]
    fn errors_name_the_line() {
        let cases: [(&[u8], usize, Deb822ErrorKind); 6] = [
            (b" leading\n", 1, Deb822ErrorKind::ContinuationWithoutField),
            (b"A: 1\nno colon\n", 2, Deb822ErrorKind::MissingColon),
            (b"A: 1\n: x\n", 2, Deb822ErrorKind::EmptyFieldName),
            (
                b"A: 1\na: 2\n",
                2,
                Deb822ErrorKind::DuplicateField("a".to_owned()),
            ),
            (
                b"A b: 1\n",
                1,
                Deb822ErrorKind::InvalidFieldName("A b".to_owned()),
            ),
            (b"A: 1\n\nB: \0\n", 3, Deb822ErrorKind::Nul),
        ];
        for (text, line, kind) in cases {
            let error = parse(text).unwrap_err();
            assert_eq!(
                error,
                Deb822Error { line, kind },
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn recovering_skips_only_the_bad_paragraph() {
        let text = b"A: 1\n\nB: 1\nB: 2\nC: 3\n\nD: 4\n";
        let results: Vec<_> = paragraphs_recovering(text).collect();
        assert_eq!(results.len(), 3);
        assert!(results[0].is_ok());
        assert_eq!(results[1].as_ref().unwrap_err().line, 4);
        assert_eq!(results[2].as_ref().unwrap().get("d"), Some(&b"4"[..]));
        assert_eq!(paragraphs(text).count(), 2);
    }

    #[test]
    fn no_trailing_newline_and_empty_input() {
        assert!(parse(b"").unwrap().is_empty());
        assert!(parse(b"\n\n  \n").unwrap().is_empty());
        let paragraphs = parse(b"A: 1").unwrap();
        assert_eq!(paragraphs[0].get("a"), Some(&b"1"[..]));
    }
}
