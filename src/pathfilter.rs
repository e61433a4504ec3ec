//! Path filters with dpkg's `--path-exclude` / `--path-include` semantics (pure, no I/O).
//!
//! dpkg (`src/main/filters.c`) keeps its filters in option order and, for each member of a
//! package's `data.tar`, starts from "keep" and walks **all** of them: a pattern that matches
//! makes the member skipped (exclude) or kept (include), so the last match wins. A pattern is
//! matched against the member's name without its leading `.` (`/usr/share/doc/x`) by
//! `fnmatch(3)` with flags 0: `*` and `?` match `/` too, a leading `.` is not special, `[...]`
//! classes and backslash escapes work. A directory or symlink that would be skipped is kept
//! when its name starts with the literal part of any include pattern (the pattern cut at its
//! first `*`, `?`, `[` or `\`, trailing `/` removed): `/usr/share/doc/*/copyright` keeps every
//! directory and symlink whose path starts with `/usr/share/doc`, which may keep more than
//! needed, as dpkg's manual says. The root of the package is never filtered.
//!
//! A profile's lists combine as **all excludes, then all includes** (each list in profile
//! order, base profile first), which is what "drop `/usr/share/doc/*` but keep
//! `/usr/share/doc/*/copyright`" needs; [`PathFilter::dpkg_cfg`] writes them in that order for
//! the dpkg runs inside the image.

/// One filter rule: a pattern and whether a match keeps (include) or skips (exclude).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rule {
    pub include: bool,
    pub pattern: String,
}

impl Rule {
    /// `path-exclude` or `path-include`, as dpkg's option is named.
    pub fn option(&self) -> &'static str {
        if self.include {
            "path-include"
        } else {
            "path-exclude"
        }
    }
}

/// Filters in the order dpkg applies them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PathFilter {
    pub rules: Vec<Rule>,
}

impl PathFilter {
    /// All `excludes`, then all `includes`, each in the order given.
    pub fn new<E, I>(excludes: E, includes: I) -> PathFilter
    where
        E: IntoIterator,
        E::Item: Into<String>,
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let rules = excludes
            .into_iter()
            .map(|p| Rule {
                include: false,
                pattern: p.into(),
            })
            .chain(includes.into_iter().map(|p| Rule {
                include: true,
                pattern: p.into(),
            }))
            .collect();
        PathFilter { rules }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether dpkg would skip the member at `path` (relative to the root, no leading `/` or
    /// `./`, `""` for the root itself; directories without a trailing `/`). `dir_or_symlink`:
    /// the member is a directory or a symlink (the re-inclusion rule).
    pub fn skips(&self, path: &[u8], dir_or_symlink: bool) -> bool {
        if self.rules.is_empty() || path.is_empty() {
            return false;
        }
        let mut name = Vec::with_capacity(path.len() + 1);
        name.push(b'/');
        name.extend_from_slice(path);
        let mut skip = false;
        for rule in &self.rules {
            if fnmatch(rule.pattern.as_bytes(), &name) {
                skip = !rule.include;
            }
        }
        if skip && dir_or_symlink {
            for rule in self.rules.iter().filter(|r| r.include) {
                if name.starts_with(literal_prefix(rule.pattern.as_bytes())) {
                    return false;
                }
            }
        }
        skip
    }

    /// The lines of a file for `/etc/dpkg/dpkg.cfg.d/`: one `path-exclude=`/`path-include=`
    /// line per rule, in order.
    pub fn dpkg_cfg(&self) -> String {
        let mut text = String::from(
            "# Written by debroot from the profile's `packages.path-exclude` and\n# `packages.path-include`: dpkg runs in this root filter as the build did.\n",
        );
        for rule in &self.rules {
            text.push_str(rule.option());
            text.push('=');
            text.push_str(&rule.pattern);
            text.push('\n');
        }
        text
    }
}

/// The part of `pattern` before its first wildcard (`*`, `?`, `[`, `\`), trailing `/` removed:
/// what dpkg compares a directory or symlink name with to re-include it.
pub fn literal_prefix(pattern: &[u8]) -> &[u8] {
    let end = pattern
        .iter()
        .position(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
        .unwrap_or(pattern.len());
    let mut prefix = &pattern[..end];
    while let [rest @ .., b'/'] = prefix {
        prefix = rest;
    }
    prefix
}

/// Checks a pattern of `packages.path-exclude` / `path-include`: absolute, and writable as one
/// line of a dpkg configuration file. Returns what is wrong.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if !pattern.starts_with('/') {
        return Err(format!(
            "`{}` must start with `/` (dpkg matches patterns against absolute paths such as `/usr/share/doc/x`)",
            crate::debian::escape(pattern.as_bytes())
        ));
    }
    if pattern.chars().any(char::is_control) {
        return Err(format!(
            "`{}` holds a control character (a newline or tab cannot be written to dpkg's configuration)",
            crate::debian::escape(pattern.as_bytes())
        ));
    }
    if pattern.ends_with(char::is_whitespace) {
        return Err(format!(
            "`{}` ends with white space, which dpkg's configuration files drop",
            crate::debian::escape(pattern.as_bytes())
        ));
    }
    let trailing_backslashes = pattern.bytes().rev().take_while(|&b| b == b'\\').count();
    if trailing_backslashes % 2 == 1 {
        return Err(format!(
            "`{}` ends with a lone `\\`, which escapes nothing",
            crate::debian::escape(pattern.as_bytes())
        ));
    }
    Ok(())
}

/// `fnmatch(pattern, name, 0)` as glibc does it, byte-wise: `*` matches any run of bytes (`/`
/// and a leading `.` included), `?` any one byte, `[...]` a class (`!` or `^` negates, ranges,
/// `[:alpha:]` and the other POSIX classes, `\` escapes), `\x` the byte `x`. A `[` with no
/// closing `]` matches itself.
pub fn fnmatch(pattern: &[u8], name: &[u8]) -> bool {
    // Iterative with one backtrack point: the last `*` seen and where its match ends.
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    // Runs of `*` are one.
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    star = Some((p, n));
                    continue;
                }
                b'?' if n < name.len() => {
                    p += 1;
                    n += 1;
                    continue;
                }
                b'[' if n < name.len() => match bracket(pattern, p + 1, name[n]) {
                    Some((true, next)) => {
                        p = next;
                        n += 1;
                        continue;
                    }
                    Some((false, _)) => {}
                    // No closing `]`: a literal `[`.
                    None => {
                        if name[n] == b'[' {
                            p += 1;
                            n += 1;
                            continue;
                        }
                    }
                },
                b'\\' if n < name.len() => {
                    let literal = pattern.get(p + 1).copied().unwrap_or(b'\\');
                    if name[n] == literal {
                        p += if p + 1 < pattern.len() { 2 } else { 1 };
                        n += 1;
                        continue;
                    }
                }
                c if c != b'?' && c != b'[' && c != b'\\' && n < name.len() && name[n] == c => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
        } else if n == name.len() {
            return true;
        }
        // A mismatch: let the last `*` take one more byte, if there is one.
        match star {
            Some((after, taken)) if taken < name.len() => {
                star = Some((after, taken + 1));
                p = after;
                n = taken + 1;
            }
            _ => return false,
        }
    }
}

/// Matches `c` against the class that starts at `pattern[start]` (just after its `[`).
/// Returns whether it matched and the index after the closing `]`, or `None` when the class is
/// not closed.
fn bracket(pattern: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = start;
    let negate = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let &b = pattern.get(i)?;
        if b == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        // A POSIX class: `[:alpha:]`.
        if b == b'['
            && pattern.get(i + 1) == Some(&b':')
            && let Some(len) = pattern[i + 2..].windows(2).position(|w| w == b":]")
        {
            let name = &pattern[i + 2..i + 2 + len];
            // An unknown class makes glibc's whole pattern invalid: it matches nothing.
            let class = posix_class(name)?;
            if class(c) {
                matched = true;
            }
            i += 2 + len + 2;
            continue;
        }
        let (low, next) = if b == b'\\' {
            (*pattern.get(i + 1)?, i + 2)
        } else {
            (b, i + 1)
        };
        // A range `a-z` (a `-` before the closing `]` is itself).
        if pattern.get(next) == Some(&b'-')
            && let Some(&after) = pattern.get(next + 1)
            && after != b']'
        {
            let (high, end) = if after == b'\\' {
                (*pattern.get(next + 2)?, next + 3)
            } else {
                (after, next + 2)
            };
            if low <= c && c <= high {
                matched = true;
            }
            i = end;
            continue;
        }
        if c == low {
            matched = true;
        }
        i = next;
    }
}

fn posix_class(name: &[u8]) -> Option<fn(u8) -> bool> {
    Some(match name {
        b"alnum" => |c: u8| c.is_ascii_alphanumeric(),
        b"alpha" => |c: u8| c.is_ascii_alphabetic(),
        b"blank" => |c: u8| c == b' ' || c == b'\t',
        b"cntrl" => |c: u8| c.is_ascii_control(),
        b"digit" => |c: u8| c.is_ascii_digit(),
        b"graph" => |c: u8| c.is_ascii_graphic(),
        b"lower" => |c: u8| c.is_ascii_lowercase(),
        b"print" => |c: u8| c.is_ascii_graphic() || c == b' ',
        b"punct" => |c: u8| c.is_ascii_punctuation(),
        b"space" => |c: u8| c.is_ascii_whitespace() || c == 0x0b,
        b"upper" => |c: u8| c.is_ascii_uppercase(),
        b"xdigit" => |c: u8| c.is_ascii_hexdigit(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        fnmatch(pattern.as_bytes(), name.as_bytes())
    }

    #[test]
    fn stars_and_question_marks_match_slashes() {
        assert!(m("/usr/share/doc/*", "/usr/share/doc/foo/README"));
        assert!(m(
            "/usr/share/doc/*/copyright",
            "/usr/share/doc/foo/copyright"
        ));
        assert!(m(
            "/usr/share/doc/*/copyright",
            "/usr/share/doc/a/b/copyright"
        ));
        assert!(!m(
            "/usr/share/doc/*/copyright",
            "/usr/share/doc/foo/copyright.gz"
        ));
        assert!(m("/usr/share/doc/*", "/usr/share/doc/"));
        assert!(!m("/usr/share/doc/*", "/usr/share/doc"));
        assert!(m("/usr?share", "/usr/share"));
        assert!(m("*", "/.hidden"));
        assert!(m("/usr/*.mo", "/usr/share/locale/de/LC_MESSAGES/x.mo"));
        assert!(m("/a**b", "/ab"));
        assert!(!m("/a*b", "/a/c"));
    }

    #[test]
    fn classes_and_escapes() {
        assert!(m("/usr/share/locale/[a-d]*", "/usr/share/locale/de/x"));
        assert!(!m("/usr/share/locale/[!a-d]*", "/usr/share/locale/de/x"));
        assert!(m("/usr/share/locale/[^a-d]*", "/usr/share/locale/fr/x"));
        assert!(m("/x[]]", "/x]"));
        assert!(m("/x[!]]", "/xa"));
        assert!(m("/x[a-]", "/x-"));
        assert!(m("/x[[:digit:]]", "/x7"));
        assert!(!m("/x[[:digit:]]", "/xa"));
        assert!(!m("/x[[:nope:]]", "/xa"));
        assert!(m("/x[/]y", "/x/y"));
        assert!(m("/a\\*", "/a*"));
        assert!(!m("/a\\*", "/ab"));
        assert!(m("/x[\\]]", "/x]"));
        assert!(m("/x[", "/x["));
        assert!(m("/x[ab", "/x[ab"));
    }

    #[test]
    fn the_last_match_wins() {
        let filter = PathFilter::new(["/usr/share/doc/*"], ["/usr/share/doc/*/copyright"]);
        assert!(filter.skips(b"usr/share/doc/foo/README", false));
        assert!(!filter.skips(b"usr/share/doc/foo/copyright", false));
        assert!(!filter.skips(b"usr/bin/foo", false));
        assert!(!filter.skips(b"", true));
        // Excluding the directory's own name only excludes that name.
        let filter = PathFilter::new(["/usr/share/doc"], Vec::<String>::new());
        assert!(filter.skips(b"usr/share/doc", true));
        assert!(!filter.skips(b"usr/share/doc/foo", false));
    }

    #[test]
    fn directories_and_symlinks_are_kept_under_an_include_prefix() {
        let filter = PathFilter::new(["/usr/share/doc/*"], ["/usr/share/doc/*/copyright"]);
        assert!(!filter.skips(b"usr/share/doc/foo", true));
        // The prefix is a plain byte prefix: more than needed, as in dpkg.
        let filter = PathFilter::new(["/usr/*"], ["/usr/share/doc/*/copyright"]);
        assert!(!filter.skips(b"usr/share/docs-extra", true));
        assert!(filter.skips(b"usr/share/docs-extra", false));
        assert!(
            filter.skips(b"usr/share", true),
            "not a parent of the prefix"
        );
        // A pattern without wildcards, with a trailing slash.
        let filter = PathFilter::new(["/opt/*"], ["/opt/app/"]);
        assert!(!filter.skips(b"opt/app", true));
        assert!(!filter.skips(b"opt/app/sub", true));
        assert!(filter.skips(b"opt/app/file", false));
    }

    #[test]
    fn literal_prefixes() {
        assert_eq!(
            literal_prefix(b"/usr/share/doc/*/copyright"),
            b"/usr/share/doc"
        );
        assert_eq!(literal_prefix(b"/a/b//"), b"/a/b");
        assert_eq!(literal_prefix(b"/a\\*"), b"/a");
        assert_eq!(literal_prefix(b"/x?"), b"/x");
        assert_eq!(literal_prefix(b"*"), b"");
    }

    #[test]
    fn patterns_are_checked() {
        assert!(check_pattern("/usr/share/doc/*").is_ok());
        assert!(
            check_pattern("usr/share/doc/*")
                .unwrap_err()
                .contains("must start with `/`")
        );
        assert!(
            check_pattern("/a\nb")
                .unwrap_err()
                .contains("control character")
        );
        assert!(check_pattern("/a ").unwrap_err().contains("white space"));
        assert!(check_pattern("/a\\").unwrap_err().contains("lone"));
        assert!(check_pattern("/a\\\\").is_ok());
    }

    #[test]
    fn the_dpkg_configuration_lists_excludes_then_includes() {
        let filter = PathFilter::new(
            ["/usr/share/doc/*", "/usr/share/man/*"],
            ["/usr/share/doc/*/copyright"],
        );
        assert!(filter.dpkg_cfg().ends_with(
            "path-exclude=/usr/share/doc/*\npath-exclude=/usr/share/man/*\npath-include=/usr/share/doc/*/copyright\n"
        ));
    }

    /// The matcher against glibc's own `fnmatch(3)` with flags 0, which dpkg calls.
    #[test]
    fn the_matcher_agrees_with_glibc() {
        unsafe extern "C" {
            fn fnmatch(
                pattern: *const std::ffi::c_char,
                name: *const std::ffi::c_char,
                flags: i32,
            ) -> i32;
        }
        let glibc = |pattern: &[u8], name: &[u8]| {
            let p = std::ffi::CString::new(pattern).unwrap();
            let n = std::ffi::CString::new(name).unwrap();
            // SAFETY: two NUL-terminated strings that live through the call.
            unsafe { fnmatch(p.as_ptr(), n.as_ptr(), 0) == 0 }
        };
        let atoms: [&[u8]; 16] = [
            b"/",
            b"a",
            b"b",
            b".",
            b"-",
            b"]",
            b"*",
            b"?",
            b"[ab]",
            b"[!a]",
            b"[a-]",
            b"[]a]",
            b"\\*",
            b"\\a",
            b"[[:alpha:]]",
            b"[",
        ];
        let names: [&[u8]; 12] = [
            b"", b"/", b"a", b"/a", b"/a/b", b"ab", b"/.a", b"*", b"]", b"a-b", b"[a", b"/a]b",
        ];
        let mut checked = 0;
        // Every pattern of up to three atoms, against every name.
        let mut patterns: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..3 {
            let longer: Vec<Vec<u8>> = patterns
                .iter()
                .flat_map(|p| {
                    atoms.iter().map(move |a| {
                        let mut q = p.clone();
                        q.extend_from_slice(a);
                        q
                    })
                })
                .collect();
            patterns.extend(longer);
            patterns.sort();
            patterns.dedup();
        }
        for pattern in &patterns {
            for name in names {
                assert_eq!(
                    super::fnmatch(pattern, name),
                    glibc(pattern, name),
                    "pattern {:?} name {:?}",
                    String::from_utf8_lossy(pattern),
                    String::from_utf8_lossy(name)
                );
                checked += 1;
            }
        }
        assert!(checked > 10_000, "{checked}");
    }
}
