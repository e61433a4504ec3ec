//! The control fields with a fixed vocabulary: `Multi-Arch`, `Priority` and `Essential`, parsed
//! in this one place for `Packages` indexes and `.deb` control files alike.
//!
//! Pure: values in, typed values out. dpkg's rules (lib/dpkg/fields.c, deb-control(5)):
//!
//! - `Multi-Arch` is one of `no`, `same`, `foreign`, `allowed`; dpkg refuses any other word
//!   ("quadstate (foreign/allowed/same/no) field"), and so does debroot. Absent is `no`.
//! - `Essential` is `yes` or `no`; dpkg refuses any other word ("boolean (yes/no) field"), and
//!   so does [`parse_essential`]. Absent is `no`. The `Packages` reader refuses the stanza; the
//!   `.deb` control reader (`unpack`) has always counted only `yes` and still does (it treats the
//!   error as `no`), so a package that only says `Essential: maybe` in its own control file is
//!   unpacked as before.
//! - `Priority` is `required`, `important`, `standard`, `optional` or `extra` (deprecated since
//!   Policy 4.0.1, still in old suites); dpkg keeps any other word as an "other" priority, and
//!   debroot maps it, and an absent field, to [`Priority::Other`].
//!
//! debroot is stricter than dpkg in two ways, kept as they were: words are matched exactly (dpkg
//! compares without case, so `Essential: Yes` is `yes` to dpkg and refused here), and an empty
//! value is a bad word (dpkg ignores the field).

use std::fmt;

/// `Multi-Arch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum MultiArch {
    #[default]
    No,
    Same,
    Foreign,
    Allowed,
}

impl MultiArch {
    /// The field's value (`None`: absent). Any word but the four is refused.
    pub fn parse(value: Option<&[u8]>) -> Result<MultiArch, FieldError> {
        match value {
            None | Some(b"no") => Ok(MultiArch::No),
            Some(b"same") => Ok(MultiArch::Same),
            Some(b"foreign") => Ok(MultiArch::Foreign),
            Some(b"allowed") => Ok(MultiArch::Allowed),
            Some(other) => Err(FieldError::new("Multi-Arch", other)),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MultiArch::No => "no",
            MultiArch::Same => "same",
            MultiArch::Foreign => "foreign",
            MultiArch::Allowed => "allowed",
        }
    }
}

/// `Priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Required,
    Important,
    Standard,
    Optional,
    Extra,
    /// Absent or another word.
    Other,
}

impl Priority {
    /// The field's value (`None`: absent). Never fails: other words are [`Priority::Other`].
    pub fn parse(value: Option<&[u8]>) -> Priority {
        match value {
            Some(b"required") => Priority::Required,
            Some(b"important") => Priority::Important,
            Some(b"standard") => Priority::Standard,
            Some(b"optional") => Priority::Optional,
            Some(b"extra") => Priority::Extra,
            _ => Priority::Other,
        }
    }
}

/// `Essential` (`None`: absent, which is `no`). Any word but `yes` and `no` is refused.
pub fn parse_essential(value: Option<&[u8]>) -> Result<bool, FieldError> {
    match value {
        None | Some(b"no") => Ok(false),
        Some(b"yes") => Ok(true),
        Some(other) => Err(FieldError::new("Essential", other)),
    }
}

/// A field whose value is not one of its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    /// The value, escaped for display.
    pub value: String,
}

impl FieldError {
    fn new(field: &'static str, value: &[u8]) -> FieldError {
        FieldError {
            field,
            value: super::escape(value),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}` `{}`", self.field, self.value)
    }
}

impl std::error::Error for FieldError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_arch_words() {
        for (value, expected) in [
            (None, MultiArch::No),
            (Some(&b"no"[..]), MultiArch::No),
            (Some(b"same"), MultiArch::Same),
            (Some(b"foreign"), MultiArch::Foreign),
            (Some(b"allowed"), MultiArch::Allowed),
        ] {
            assert_eq!(MultiArch::parse(value), Ok(expected));
            if let Some(value) = value {
                assert_eq!(expected.as_str().as_bytes(), value);
            }
        }
    }

    #[test]
    fn multi_arch_refuses_other_words() {
        for bad in [
            &b"sometimes"[..],
            b"",
            b"Same",
            b"same ",
            b"foreign\n",
            b"\xff",
        ] {
            let error = MultiArch::parse(Some(bad)).unwrap_err();
            assert_eq!(error.field, "Multi-Arch");
        }
        assert_eq!(
            MultiArch::parse(Some(b"a\nb")).unwrap_err().to_string(),
            "invalid `Multi-Arch` `a\\nb`"
        );
    }

    #[test]
    fn priority_words() {
        for (value, expected) in [
            (&b"required"[..], Priority::Required),
            (b"important", Priority::Important),
            (b"standard", Priority::Standard),
            (b"optional", Priority::Optional),
            (b"extra", Priority::Extra),
        ] {
            assert_eq!(Priority::parse(Some(value)), expected);
        }
    }

    #[test]
    fn priority_other_words_and_absence_are_other() {
        assert_eq!(Priority::parse(None), Priority::Other);
        for other in [&b"Required"[..], b"", b"source", b"\xff"] {
            assert_eq!(Priority::parse(Some(other)), Priority::Other);
        }
        // The rank order the resolver relies on.
        assert!(Priority::Required < Priority::Important);
        assert!(Priority::Extra < Priority::Other);
    }

    #[test]
    fn essential_words() {
        assert_eq!(parse_essential(None), Ok(false));
        assert_eq!(parse_essential(Some(b"no")), Ok(false));
        assert_eq!(parse_essential(Some(b"yes")), Ok(true));
    }

    #[test]
    fn essential_refuses_other_words() {
        for bad in [&b"Yes"[..], b"", b"true", b"1", b"yes "] {
            assert!(parse_essential(Some(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_essential(Some(b"maybe")).unwrap_err().to_string(),
            "invalid `Essential` `maybe`"
        );
    }
}
