//! Writing records for people (text, optionally coloured) and for programs (JSON Lines; the
//! schema is in the parent module's docs).

use serde_json::{Map, Value as Json, json};

use super::{ContentDetail, PackageChange, Record, Value, Which};

/// The operands and the kinds of what they named, for the summary.
#[derive(Debug, Clone)]
pub struct Operands {
    pub a: Vec<u8>,
    pub b: Vec<u8>,
    pub a_kind: &'static str,
    pub b_kind: &'static str,
}

/// A tree path as shown: `/` and the path (the root is `/`), escaped where not printable.
pub fn display_path(path: &[u8]) -> String {
    format!("/{}", crate::debian::escape(path))
}

fn absolute(path: &[u8]) -> Vec<u8> {
    let mut out = b"/".to_vec();
    out.extend_from_slice(path);
    out
}

fn shown(value: &Value) -> String {
    match value {
        Value::Absent => "(none)".into(),
        Value::Text(text) => text.clone(),
        Value::Bytes(bytes) => format!("`{}`", crate::debian::escape(bytes)),
    }
}

const RESET: &str = "\x1b[0m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const YELLOW: &str = "\x1b[33m";

struct Painter(bool);

impl Painter {
    fn paint(&self, style: &str, text: &str) -> String {
        if self.0 {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }
}

/// The records for people, one or more lines each, ending with a summary line.
pub fn text(records: &[Record], operands: &Operands, color: bool) -> String {
    let painter = Painter(color);
    let mut out = String::new();
    let mut in_packages = false;
    for record in records {
        let is_package = matches!(record, Record::Package { .. });
        if is_package && !in_packages {
            out.push_str(&painter.paint(BOLD, "packages:"));
            out.push('\n');
        }
        in_packages = is_package;
        match record {
            Record::Package {
                change,
                name,
                architecture,
                a,
                b,
                detail,
            } => {
                let version = |v: &Option<String>| v.clone().unwrap_or_default();
                let line = match change {
                    PackageChange::Added => {
                        painter.paint(GREEN, &format!("  + {name}:{architecture} {}", version(b)))
                    }
                    PackageChange::Removed => {
                        painter.paint(RED, &format!("  - {name}:{architecture} {}", version(a)))
                    }
                    PackageChange::Changed => painter.paint(
                        YELLOW,
                        &format!(
                            "  ~ {name}:{architecture} {} -> {}{}",
                            version(a),
                            version(b),
                            detail
                                .as_ref()
                                .map(|d| format!(" ({d})"))
                                .unwrap_or_default()
                        ),
                    ),
                };
                out.push_str(&line);
                out.push('\n');
            }
            Record::OnlyIn {
                side,
                path,
                kind,
                entries_below,
            } => {
                let below = if *entries_below > 0 {
                    format!(", and {entries_below} entries below it")
                } else {
                    String::new()
                };
                let (label, style) = match side {
                    Which::A => ("only in A:", RED),
                    Which::B => ("only in B:", GREEN),
                };
                out.push_str(&format!(
                    "{} {} ({kind}{below})\n",
                    painter.paint(style, label),
                    painter.paint(BOLD, &display_path(path))
                ));
            }
            Record::Attribute {
                path,
                attribute,
                a,
                b,
            } => {
                out.push_str(&format!(
                    "{}: {} {} -> {}\n",
                    painter.paint(BOLD, &display_path(path)),
                    attribute.replace('_', " "),
                    painter.paint(RED, &shown(a)),
                    painter.paint(GREEN, &shown(b))
                ));
            }
            Record::Xattr { path, name, a, b } => {
                let value = |v: &Option<Vec<u8>>| {
                    shown(
                        &v.as_ref()
                            .map_or(Value::Absent, |v| Value::Bytes(v.clone())),
                    )
                };
                out.push_str(&format!(
                    "{}: xattr `{}` {} -> {}\n",
                    painter.paint(BOLD, &display_path(path)),
                    crate::debian::escape(name),
                    painter.paint(RED, &value(a)),
                    painter.paint(GREEN, &value(b))
                ));
            }
            Record::Content {
                path,
                a_size,
                b_size,
                detail,
                ..
            } => {
                let head = painter.paint(BOLD, &display_path(path));
                match detail {
                    ContentDetail::Text { diff, truncated } => {
                        out.push_str(&format!("{head}: content differs (text)\n"));
                        for line in diff.lines() {
                            let style = if line.starts_with("+++") || line.starts_with("---") {
                                BOLD
                            } else if line.starts_with('+') {
                                GREEN
                            } else if line.starts_with('-') {
                                RED
                            } else if line.starts_with("@@") {
                                CYAN
                            } else {
                                ""
                            };
                            if style.is_empty() {
                                out.push_str(line);
                            } else {
                                out.push_str(&painter.paint(style, line));
                            }
                            out.push('\n');
                        }
                        if *truncated {
                            out.push_str("... (diff cut; --max-lines shows more)\n");
                        }
                    }
                    ContentDetail::Binary { first_difference } => {
                        out.push_str(&format!(
                            "{head}: binary content differs: size {a_size} -> {b_size} bytes, first difference at byte {first_difference}\n"
                        ));
                    }
                    ContentDetail::Unexamined => {
                        out.push_str(&format!(
                            "{head}: content differs: size {a_size} -> {b_size} bytes (not examined: over the memory budget)\n"
                        ));
                    }
                }
            }
            Record::Archive {
                aspect,
                path,
                field,
                a,
                b,
            } => {
                let what = match (aspect, path, field) {
                    (_, Some(path), Some(field)) => {
                        format!("header of {}: {field}", display_path(path))
                    }
                    (_, None, Some(field)) if field == "omitted" => {
                        out.push_str(&format!(
                            "{} {}\n",
                            painter.paint(BOLD, "archive:"),
                            shown(a)
                        ));
                        continue;
                    }
                    (aspect, _, _) => aspect.replace('_', " "),
                };
                out.push_str(&format!(
                    "{} {what}: {} -> {}\n",
                    painter.paint(BOLD, "archive:"),
                    painter.paint(RED, &shown(a)),
                    painter.paint(GREEN, &shown(b))
                ));
            }
            Record::Manifest { field, a, b } => {
                out.push_str(&format!(
                    "{} {field}: {} -> {}\n",
                    painter.paint(BOLD, "manifest:"),
                    painter.paint(RED, &shown(a)),
                    painter.paint(GREEN, &shown(b))
                ));
            }
        }
    }
    let a = String::from_utf8_lossy(&operands.a);
    let b = String::from_utf8_lossy(&operands.b);
    if records.is_empty() {
        out.push_str(&format!("{a} and {b} are equal\n"));
    } else {
        out.push_str(&format!(
            "{a} and {b} differ: {} difference{}\n",
            records.len(),
            if records.len() == 1 { "" } else { "s" }
        ));
    }
    out
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Puts a byte string under `key`, or under `key_base64` when it is not UTF-8.
fn put_bytes(map: &mut Map<String, Json>, key: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            map.insert(key.to_owned(), Json::String(text.to_owned()));
        }
        Err(_) => {
            map.insert(format!("{key}_base64"), Json::String(base64(bytes)));
        }
    }
}

fn put_value(map: &mut Map<String, Json>, key: &str, value: &Value) {
    match value {
        Value::Absent => {
            map.insert(key.to_owned(), Json::Null);
        }
        Value::Text(text) => {
            map.insert(key.to_owned(), Json::String(text.clone()));
        }
        Value::Bytes(bytes) => put_bytes(map, key, bytes),
    }
}

fn put_optional_bytes(map: &mut Map<String, Json>, key: &str, bytes: &Option<Vec<u8>>) {
    match bytes {
        Some(bytes) => put_bytes(map, key, bytes),
        None => {
            map.insert(key.to_owned(), Json::Null);
        }
    }
}

fn object(value: Json) -> Map<String, Json> {
    match value {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

/// One JSON object per record, a line each, then the summary line.
pub fn json_lines(records: &[Record], operands: &Operands) -> String {
    let mut out = String::new();
    for record in records {
        let map = match record {
            Record::Package {
                change,
                name,
                architecture,
                a,
                b,
                detail,
            } => object(json!({
                "record": "package",
                "change": match change {
                    PackageChange::Added => "added",
                    PackageChange::Removed => "removed",
                    PackageChange::Changed => "changed",
                },
                "name": name,
                "architecture": architecture,
                "a": a,
                "b": b,
                "detail": detail,
            })),
            Record::OnlyIn {
                side,
                path,
                kind,
                entries_below,
            } => {
                let mut map = object(json!({
                    "record": "only_in",
                    "side": side.letter(),
                    "type": kind,
                    "entries_below": entries_below,
                }));
                put_bytes(&mut map, "path", &absolute(path));
                map
            }
            Record::Attribute {
                path,
                attribute,
                a,
                b,
            } => {
                let mut map = object(json!({"record": "attribute", "attribute": attribute}));
                put_bytes(&mut map, "path", &absolute(path));
                put_value(&mut map, "a", a);
                put_value(&mut map, "b", b);
                map
            }
            Record::Xattr { path, name, a, b } => {
                let mut map = object(json!({"record": "xattr"}));
                put_bytes(&mut map, "path", &absolute(path));
                put_bytes(&mut map, "name", name);
                put_optional_bytes(&mut map, "a", a);
                put_optional_bytes(&mut map, "b", b);
                map
            }
            Record::Content {
                path,
                a_size,
                b_size,
                a_sha256,
                b_sha256,
                detail,
            } => {
                let mut map = object(json!({
                    "record": "content",
                    "a_size": a_size,
                    "b_size": b_size,
                    "a_sha256": a_sha256.hex(),
                    "b_sha256": b_sha256.hex(),
                }));
                put_bytes(&mut map, "path", &absolute(path));
                match detail {
                    ContentDetail::Text { diff, truncated } => {
                        map.insert("kind".into(), json!("text"));
                        map.insert("diff".into(), json!(diff));
                        map.insert("truncated".into(), json!(truncated));
                    }
                    ContentDetail::Binary { first_difference } => {
                        map.insert("kind".into(), json!("binary"));
                        map.insert("first_difference".into(), json!(first_difference));
                    }
                    ContentDetail::Unexamined => {
                        map.insert("kind".into(), json!("unexamined"));
                    }
                }
                map
            }
            Record::Archive {
                aspect,
                path,
                field,
                a,
                b,
            } => {
                let mut map =
                    object(json!({"record": "archive", "aspect": aspect, "field": field}));
                match path {
                    Some(path) => put_bytes(&mut map, "path", &absolute(path)),
                    None => {
                        map.insert("path".into(), Json::Null);
                    }
                }
                put_value(&mut map, "a", a);
                put_value(&mut map, "b", b);
                map
            }
            Record::Manifest { field, a, b } => {
                let mut map = object(json!({"record": "manifest", "field": field}));
                put_value(&mut map, "a", a);
                put_value(&mut map, "b", b);
                map
            }
        };
        out.push_str(&Json::Object(map).to_string());
        out.push('\n');
    }
    let mut summary = object(json!({
        "record": "summary",
        "schema": 1,
        "a_kind": operands.a_kind,
        "b_kind": operands.b_kind,
        "differences": records.len(),
        "equal": records.is_empty(),
    }));
    put_bytes(&mut summary, "a", &operands.a);
    put_bytes(&mut summary, "b", &operands.b);
    out.push_str(&Json::Object(summary).to_string());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn non_utf8_paths_are_base64() {
        let records = vec![Record::OnlyIn {
            side: Which::A,
            path: b"etc/\xff".to_vec(),
            kind: "file",
            entries_below: 0,
        }];
        let operands = Operands {
            a: b"a".to_vec(),
            b: b"b".to_vec(),
            a_kind: "directory",
            b_kind: "directory",
        };
        let text = json_lines(&records, &operands);
        let first: Json = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["path_base64"], base64(b"/etc/\xff"));
        assert!(first.get("path").is_none());
    }
}
