//! Relation fields: `Depends`, `Pre-Depends`, `Recommends`, `Suggests`, `Enhances`, `Conflicts`,
//! `Breaks`, `Replaces`, `Provides` (and the source-package forms with restrictions).
//!
//! Grammar, following dpkg's `f_dependency` (lib/dpkg/fields.c) and Debian Policy §7.1:
//!
//! ```text
//! field        = relation *( "," relation )
//! relation     = alternative *( "|" alternative )      ; "|" only where the field allows it
//! alternative  = name [ ":" arch-qualifier ] [ "(" op version ")" ]
//!                [ "[" arch-pattern *( arch-pattern ) "]" ] *( "<" profile-term *profile-term ">" )
//! op           = "<<" | "<=" | "=" | ">=" | ">>"
//! ```
//!
//! dpkg accepts a few obsolete forms with a warning; debroot refuses them (a bare version without
//! an operator, whose meaning changed over the years) or reads them as dpkg does (`<` is `<=`,
//! `>` is `>=`). Nothing is ever dropped: an input either parses into exactly what it says or is
//! an error that names the offending text and its byte offset.

use std::fmt;

use crate::debian::arch::{self, Architecture};
use crate::debian::name::PackageName;
use crate::debian::version::Version;

/// The relation fields, which differ in what they allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldKind {
    PreDepends,
    Depends,
    Recommends,
    Suggests,
    Enhances,
    Conflicts,
    Breaks,
    Replaces,
    Provides,
    /// `Build-Depends` and friends: the only fields with `[arch]` and `<profile>` restrictions.
    BuildDepends,
}

impl FieldKind {
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::PreDepends => "Pre-Depends",
            FieldKind::Depends => "Depends",
            FieldKind::Recommends => "Recommends",
            FieldKind::Suggests => "Suggests",
            FieldKind::Enhances => "Enhances",
            FieldKind::Conflicts => "Conflicts",
            FieldKind::Breaks => "Breaks",
            FieldKind::Replaces => "Replaces",
            FieldKind::Provides => "Provides",
            FieldKind::BuildDepends => "Build-Depends",
        }
    }

    /// dpkg refuses `|` in `Conflicts`, `Breaks`, `Provides` and `Replaces`.
    fn allows_alternatives(self) -> bool {
        !matches!(
            self,
            FieldKind::Conflicts | FieldKind::Breaks | FieldKind::Provides | FieldKind::Replaces
        )
    }

    fn allows_restrictions(self) -> bool {
        self == FieldKind::BuildDepends
    }
}

/// A version operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// `<<`
    Earlier,
    /// `<=`
    EarlierOrEqual,
    /// `=`
    Equal,
    /// `>=`
    LaterOrEqual,
    /// `>>`
    Later,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Earlier => "<<",
            Op::EarlierOrEqual => "<=",
            Op::Equal => "=",
            Op::LaterOrEqual => ">=",
            Op::Later => ">>",
        }
    }

    /// Whether `version` satisfies `version OP bound`.
    pub fn admits(self, version: &Version, bound: &Version) -> bool {
        let ordering = version.cmp(bound);
        match self {
            Op::Earlier => ordering.is_lt(),
            Op::EarlierOrEqual => ordering.is_le(),
            Op::Equal => ordering.is_eq(),
            Op::LaterOrEqual => ordering.is_ge(),
            Op::Later => ordering.is_gt(),
        }
    }
}

/// `(op version)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Constraint {
    pub op: Op,
    pub version: Version,
}

impl Constraint {
    pub fn admits(&self, version: &Version) -> bool {
        self.op.admits(version, &self.version)
    }
}

/// The `:qualifier` after a package name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArchQualifier {
    /// `:any`: any architecture, for a `Multi-Arch: allowed` package.
    Any,
    /// `:native`: the native architecture (build dependencies).
    Native,
    /// `:ARCH`: that architecture.
    Arch(Architecture),
}

/// `[amd64 arm64]` or `[!i386 !hurd-any]`: all terms negated or none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArchRestriction {
    pub negated: bool,
    pub patterns: Vec<String>,
}

impl ArchRestriction {
    /// Whether the alternative applies on `arch`.
    pub fn applies_to(&self, arch: &Architecture) -> bool {
        let hit = self.patterns.iter().any(|pattern| arch.matches(pattern));
        hit != self.negated
    }
}

/// One term of a `<...>` build-profile list, e.g. `!nocheck`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProfileTerm {
    pub negated: bool,
    pub name: String,
}

/// One alternative of a relation: a package (or virtual package) with optional qualifiers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dependency {
    pub name: PackageName,
    pub arch: Option<ArchQualifier>,
    pub constraint: Option<Constraint>,
    pub arch_restriction: Option<ArchRestriction>,
    /// Disjunction of conjunctions: `<a b> <c>` means (a and b) or c.
    pub profile_restriction: Vec<Vec<ProfileTerm>>,
}

/// A relation: one or more alternatives separated by `|`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relation {
    pub alternatives: Vec<Dependency>,
}

/// Why a relation field does not parse: the field, the byte offset and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` field at byte {offset}: {reason} (in `{}`)", crate::debian::escape(.text.as_bytes()))]
pub struct RelationError {
    pub field: &'static str,
    pub offset: usize,
    pub reason: String,
    pub text: String,
}

struct Parser<'a> {
    kind: FieldKind,
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, reason: impl Into<String>) -> RelationError {
        RelationError {
            field: self.kind.name(),
            offset: self.pos,
            reason: reason.into(),
            text: self.text.to_owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// Takes bytes while `keep` holds.
    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    fn word_char(b: u8) -> bool {
        !(b.is_ascii_whitespace()
            || matches!(
                b,
                b'(' | b')' | b',' | b'|' | b'[' | b']' | b'<' | b'>' | b':' | b'!'
            ))
    }

    fn relation(&mut self) -> Result<Relation, RelationError> {
        let mut alternatives = vec![self.dependency()?];
        while self.peek() == Some(b'|') {
            if !self.kind.allows_alternatives() {
                return Err(self.error(format!(
                    "alternatives (`|`) are not allowed in `{}`",
                    self.kind.name()
                )));
            }
            self.pos += 1;
            self.skip_space();
            alternatives.push(self.dependency()?);
        }
        Ok(Relation { alternatives })
    }

    fn dependency(&mut self) -> Result<Dependency, RelationError> {
        self.skip_space();
        let start = self.pos;
        let name = self.take_while(Self::word_char);
        if name.is_empty() {
            return Err(self.error("missing package name"));
        }
        let name = PackageName::parse(name).map_err(|e| RelationError {
            offset: start,
            ..self.error(e.to_string())
        })?;
        let arch = if self.peek() == Some(b':') {
            self.pos += 1;
            let qualifier = self.take_while(Self::word_char);
            Some(match qualifier {
                "any" => ArchQualifier::Any,
                "native" => ArchQualifier::Native,
                "" => return Err(self.error("missing architecture after `:`")),
                other => ArchQualifier::Arch(
                    Architecture::parse(other).map_err(|e| self.error(e.to_string()))?,
                ),
            })
        } else {
            None
        };
        self.skip_space();
        let constraint = if self.peek() == Some(b'(') {
            Some(self.constraint()?)
        } else {
            None
        };
        self.skip_space();
        let arch_restriction = if self.peek() == Some(b'[') {
            if !self.kind.allows_restrictions() {
                return Err(self.error(format!(
                    "architecture restrictions are not allowed in `{}`",
                    self.kind.name()
                )));
            }
            Some(self.arch_restriction()?)
        } else {
            None
        };
        self.skip_space();
        let mut profile_restriction = Vec::new();
        while self.peek() == Some(b'<') {
            if !self.kind.allows_restrictions() {
                return Err(self.error(format!(
                    "build-profile restrictions are not allowed in `{}`",
                    self.kind.name()
                )));
            }
            profile_restriction.push(self.profile_list()?);
            self.skip_space();
        }
        match self.peek() {
            None | Some(b',') | Some(b'|') => {}
            Some(_) => {
                return Err(
                    self.error(format!("unexpected text after the reference to `{}`", name))
                );
            }
        }
        Ok(Dependency {
            name,
            arch,
            constraint,
            arch_restriction,
            profile_restriction,
        })
    }

    fn constraint(&mut self) -> Result<Constraint, RelationError> {
        self.pos += 1; // '('
        self.skip_space();
        let bytes = self.text.as_bytes();
        let rest = &bytes[self.pos..];
        let (op, len) = match rest {
            [b'<', b'<', ..] => (Op::Earlier, 2),
            [b'<', b'=', ..] => (Op::EarlierOrEqual, 2),
            [b'>', b'>', ..] => (Op::Later, 2),
            [b'>', b'=', ..] => (Op::LaterOrEqual, 2),
            [b'<', b'>', ..] | [b'>', b'<', ..] => {
                return Err(self.error("bad version operator"));
            }
            // Obsolete, read as dpkg reads them.
            [b'<', ..] => (Op::EarlierOrEqual, 1),
            [b'>', ..] => (Op::LaterOrEqual, 1),
            [b'=', ..] => (Op::Equal, 1),
            _ => {
                return Err(
                    self.error("missing version operator (one of `<<`, `<=`, `=`, `>=`, `>>`)")
                );
            }
        };
        self.pos += len;
        if self.kind == FieldKind::Provides && op != Op::Equal {
            return Err(self.error("only exact versions (`=`) may be used in `Provides`"));
        }
        self.skip_space();
        let version_start = self.pos;
        let text = self.take_while(|b| !(b.is_ascii_whitespace() || b == b')' || b == b'('));
        if text.is_empty() {
            return Err(self.error("missing version"));
        }
        self.skip_space();
        match self.peek() {
            Some(b')') => self.pos += 1,
            None => return Err(self.error("version unterminated (no `)`)")),
            Some(_) => return Err(self.error("unexpected text in version constraint")),
        }
        let version = Version::parse(text).map_err(|e| RelationError {
            offset: version_start,
            ..self.error(e.to_string())
        })?;
        Ok(Constraint { op, version })
    }

    fn arch_restriction(&mut self) -> Result<ArchRestriction, RelationError> {
        self.pos += 1; // '['
        let mut negations = Vec::new();
        let mut patterns = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.error("architecture list unterminated (no `]`)")),
                _ => {}
            }
            let negated = self.peek() == Some(b'!');
            if negated {
                self.pos += 1;
            }
            let pattern = self.take_while(Self::word_char);
            if !arch::is_valid_pattern(pattern) {
                return Err(self.error(format!("invalid architecture `{pattern}`")));
            }
            negations.push(negated);
            patterns.push(pattern.to_owned());
        }
        if patterns.is_empty() {
            return Err(self.error("empty architecture list"));
        }
        let negated = negations[0];
        if negations.iter().any(|&n| n != negated) {
            return Err(self.error("architecture list mixes negated and plain entries"));
        }
        Ok(ArchRestriction { negated, patterns })
    }

    fn profile_list(&mut self) -> Result<Vec<ProfileTerm>, RelationError> {
        self.pos += 1; // '<'
        let mut terms = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                Some(b'>') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.error("profile list unterminated (no `>`)")),
                _ => {}
            }
            let negated = self.peek() == Some(b'!');
            if negated {
                self.pos += 1;
            }
            let name = self.take_while(Self::word_char);
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
            if !valid {
                return Err(self.error(format!("invalid build profile `{name}`")));
            }
            terms.push(ProfileTerm {
                negated,
                name: name.to_owned(),
            });
        }
        if terms.is_empty() {
            return Err(self.error("empty build-profile list"));
        }
        Ok(terms)
    }
}

/// Parses a relation field. Line breaks from continuation lines count as whitespace. An empty
/// (all-whitespace) field is an empty list.
pub fn parse(kind: FieldKind, text: &str) -> Result<Vec<Relation>, RelationError> {
    let mut parser = Parser { kind, text, pos: 0 };
    let mut relations = Vec::new();
    parser.skip_space();
    if parser.peek().is_none() {
        return Ok(relations);
    }
    loop {
        relations.push(parser.relation()?);
        match parser.peek() {
            None => return Ok(relations),
            Some(b',') => parser.pos += 1,
            Some(_) => return Err(parser.error("expected `,`")),
        }
        parser.skip_space();
        if parser.peek().is_none() {
            return Err(parser.error("trailing `,` without a relation"));
        }
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        match &self.arch {
            None => {}
            Some(ArchQualifier::Any) => f.write_str(":any")?,
            Some(ArchQualifier::Native) => f.write_str(":native")?,
            Some(ArchQualifier::Arch(arch)) => write!(f, ":{arch}")?,
        }
        if let Some(constraint) = &self.constraint {
            write!(f, " ({} {})", constraint.op.as_str(), constraint.version)?;
        }
        if let Some(restriction) = &self.arch_restriction {
            let bang = if restriction.negated { "!" } else { "" };
            let terms: Vec<String> = restriction
                .patterns
                .iter()
                .map(|p| format!("{bang}{p}"))
                .collect();
            write!(f, " [{}]", terms.join(" "))?;
        }
        for list in &self.profile_restriction {
            let terms: Vec<String> = list
                .iter()
                .map(|t| format!("{}{}", if t.negated { "!" } else { "" }, t.name))
                .collect();
            write!(f, " <{}>", terms.join(" "))?;
        }
        Ok(())
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, alternative) in self.alternatives.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{alternative}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depends(text: &str) -> Vec<Relation> {
        parse(FieldKind::Depends, text).unwrap()
    }

    #[test]
    fn alternatives_constraints_and_qualifiers() {
        let relations = depends(
            "libc6 (>= 2.36), default-mta | mail-transport-agent,\n perl:any, python3:amd64 (<< 3.14~)",
        );
        assert_eq!(relations.len(), 4);
        let libc = &relations[0].alternatives[0];
        assert_eq!(libc.name.as_str(), "libc6");
        let constraint = libc.constraint.as_ref().unwrap();
        assert_eq!(constraint.op, Op::LaterOrEqual);
        assert_eq!(constraint.version.as_str(), "2.36");
        assert_eq!(relations[1].alternatives.len(), 2);
        assert_eq!(relations[2].alternatives[0].arch, Some(ArchQualifier::Any));
        assert_eq!(
            relations[3].alternatives[0].arch,
            Some(ArchQualifier::Arch(Architecture::parse("amd64").unwrap()))
        );
        assert_eq!(
            relations[3].to_string(),
            "python3:amd64 (<< 3.14~)".to_owned()
        );
    }

    #[test]
    fn obsolete_operators_read_as_dpkg_reads_them() {
        let relations = depends("aa (< 1), bb (> 2), cc(=3)");
        let op = |i: usize| relations[i].alternatives[0].constraint.as_ref().unwrap().op;
        assert_eq!(op(0), Op::EarlierOrEqual);
        assert_eq!(op(1), Op::LaterOrEqual);
        assert_eq!(op(2), Op::Equal);
    }

    #[test]
    fn restrictions_in_build_depends() {
        let mixed = parse(
            FieldKind::BuildDepends,
            "debhelper-compat (= 13), libfoo-dev [linux-any !hurd-any]",
        );
        assert!(mixed.unwrap_err().reason.contains("mixes negated"));
        let relations = parse(
            FieldKind::BuildDepends,
            "libbar-dev [!i386 !armel] <!nocheck> <stage1 cross>, gcc:native",
        )
        .unwrap();
        let bar = &relations[0].alternatives[0];
        let restriction = bar.arch_restriction.as_ref().unwrap();
        assert!(restriction.negated);
        assert!(restriction.applies_to(&Architecture::parse("amd64").unwrap()));
        assert!(!restriction.applies_to(&Architecture::parse("i386").unwrap()));
        assert_eq!(bar.profile_restriction.len(), 2);
        assert_eq!(bar.profile_restriction[1].len(), 2);
        assert_eq!(
            relations[1].alternatives[0].arch,
            Some(ArchQualifier::Native)
        );
    }

    #[test]
    fn malformed_inputs_fail_for_the_right_reason() {
        let cases = [
            (FieldKind::Depends, "aa,", "trailing `,`"),
            (FieldKind::Depends, ", aa", "missing package name"),
            (FieldKind::Depends, "aa,,bb", "missing package name"),
            (FieldKind::Depends, "aa |", "missing package name"),
            (FieldKind::Depends, "aa (1.0)", "missing version operator"),
            (FieldKind::Depends, "aa (>= )", "missing version"),
            (FieldKind::Depends, "aa (>= 1.0", "unterminated"),
            (
                FieldKind::Depends,
                "aa (>= 1.0 2)",
                "unexpected text in version",
            ),
            (FieldKind::Depends, "aa (<> 1)", "bad version operator"),
            (FieldKind::Depends, "aa bb", "unexpected text after"),
            (FieldKind::Depends, "aa:", "missing architecture"),
            (FieldKind::Depends, "aa:AMD64", "invalid architecture"),
            (FieldKind::Depends, "Aa", "invalid package name"),
            (FieldKind::Depends, "a", "invalid package name"),
            (
                FieldKind::Depends,
                "aa [amd64]",
                "architecture restrictions are not allowed",
            ),
            (
                FieldKind::Depends,
                "aa <stage1>",
                "build-profile restrictions are not allowed",
            ),
            (FieldKind::Depends, "aa (>= 1/../x)", "invalid version"),
            (FieldKind::Conflicts, "aa | bb", "alternatives"),
            (FieldKind::Provides, "aa (>= 1)", "only exact versions"),
            (FieldKind::BuildDepends, "aa [amd64", "unterminated"),
            (FieldKind::BuildDepends, "aa []", "empty architecture list"),
            (
                FieldKind::BuildDepends,
                "aa [amd64;x]",
                "invalid architecture",
            ),
            (FieldKind::BuildDepends, "aa <>", "empty build-profile list"),
            (
                FieldKind::BuildDepends,
                "aa <Stage1>",
                "invalid build profile",
            ),
        ];
        for (kind, text, reason) in cases {
            let error = parse(kind, text).expect_err(text);
            assert!(
                error.reason.contains(reason),
                "{text:?} in {kind:?}: got {:?}, want {reason:?}",
                error.reason
            );
        }
    }

    #[test]
    fn empty_field_is_an_empty_list() {
        assert!(depends("").is_empty());
        assert!(depends(" \n ").is_empty());
    }
}
