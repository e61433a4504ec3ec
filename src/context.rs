//! The process's view of its surroundings: environment variables and the clock.
//!
//! This is the only module that reads either (clippy.toml enforces it). Everything else receives
//! a [`Context`] and asks it, so that tests can run any command with a chosen environment and a
//! fixed clock, and so that no host variable leaks into a build by accident: a build's
//! environment is made from scratch, never inherited.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::SystemTime;

/// Environment and clock, captured once at start.
#[derive(Debug, Clone)]
pub struct Context {
    env: BTreeMap<OsString, OsString>,
    clock: Clock,
}

#[derive(Debug, Clone)]
enum Clock {
    System,
    Fixed(SystemTime),
}

/// A variable that is set but malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable `{name}` is invalid: {reason}")]
pub struct EnvError {
    pub name: &'static str,
    pub reason: String,
}

impl crate::error::Classify for EnvError {
    fn class(&self) -> crate::error::ExitClass {
        crate::error::ExitClass::Usage
    }
}

impl Context {
    /// The real environment and the system clock.
    #[allow(clippy::disallowed_methods)]
    pub fn from_process() -> Self {
        Context {
            env: std::env::vars_os().collect(),
            clock: Clock::System,
        }
    }

    /// A chosen environment and a fixed clock, for tests.
    pub fn fixed<K, V>(env: impl IntoIterator<Item = (K, V)>, now: SystemTime) -> Self
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        Context {
            env: env.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            clock: Clock::Fixed(now),
        }
    }

    /// The current time. Used to judge `Valid-Until` of a live mirror and to time phases;
    /// never written into a build.
    #[allow(clippy::disallowed_methods)]
    pub fn now(&self) -> SystemTime {
        match self.clock {
            Clock::System => SystemTime::now(),
            Clock::Fixed(now) => now,
        }
    }

    fn get(&self, name: &str) -> Option<&OsStr> {
        self.env.get(OsStr::new(name)).map(OsString::as_os_str)
    }

    /// A variable as UTF-8 text; non-UTF-8 values count as unset.
    fn text(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(OsStr::to_str)
    }

    /// `NO_COLOR` set to anything non-empty (no-color.org).
    pub fn no_color(&self) -> bool {
        self.get("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    /// `TERM=dumb` terminals get no colour and no progress bars.
    pub fn dumb_terminal(&self) -> bool {
        self.text("TERM") == Some("dumb")
    }

    /// The user's cache directory: `$XDG_CACHE_HOME`, else `$HOME/.cache`. Relative values are
    /// ignored, as the XDG specification says.
    pub fn cache_home(&self) -> Option<PathBuf> {
        if let Some(xdg) = self.get("XDG_CACHE_HOME").map(PathBuf::from)
            && xdg.is_absolute()
        {
            return Some(xdg);
        }
        let home = self.get("HOME").map(PathBuf::from)?;
        home.is_absolute().then(|| home.join(".cache"))
    }

    /// The user's state directory: `$XDG_STATE_HOME`, else `$HOME/.local/state`. Relative
    /// values are ignored, as the XDG specification says.
    pub fn state_home(&self) -> Option<PathBuf> {
        if let Some(xdg) = self.get("XDG_STATE_HOME").map(PathBuf::from)
            && xdg.is_absolute()
        {
            return Some(xdg);
        }
        let home = self.get("HOME").map(PathBuf::from)?;
        home.is_absolute().then(|| home.join(".local/state"))
    }

    /// `SOURCE_DATE_EPOCH`, when set: it overrides the epoch a lock derives.
    pub fn source_date_epoch(&self) -> Result<Option<i64>, EnvError> {
        let Some(value) = self.get("SOURCE_DATE_EPOCH") else {
            return Ok(None);
        };
        let text = value.to_str().unwrap_or("");
        let valid = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        match text.parse::<i64>() {
            Ok(epoch) if valid => Ok(Some(epoch)),
            _ => Err(EnvError {
                name: "SOURCE_DATE_EPOCH",
                reason: format!(
                    "`{}` is not a number of seconds since 1970",
                    crate::debian::escape(value.as_encoded_bytes())
                ),
            }),
        }
    }

    /// `DEBROOT_MIRROR`: a mirror URL (or `host`) overriding the profile's.
    pub fn mirror_override(&self) -> Option<&str> {
        self.text("DEBROOT_MIRROR").filter(|v| !v.is_empty())
    }

    /// `DEBROOT_ROOT`: the root of the build a hook runs in (for `debroot hook`).
    pub fn hook_root(&self) -> Option<PathBuf> {
        self.get("DEBROOT_ROOT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }

    /// `DEBROOT_BINFMT_MISC`: where binfmt_misc is read instead of `/proc/sys/fs/binfmt_misc`
    /// (for tests of the foreign-architecture check, see `binfmt`).
    pub fn binfmt_misc(&self) -> Option<PathBuf> {
        self.get("DEBROOT_BINFMT_MISC")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }

    /// The folder for temporary work: `TMPDIR`, else `/tmp`.
    pub fn temp_dir(&self) -> PathBuf {
        self.get("TMPDIR")
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from)
    }

    /// The variables a build that `verify` starts keeps from this process: the epoch, the
    /// mirror override and the proxies. Everything else is set by `verify` or left out.
    pub fn build_passthrough(&self) -> Vec<(&'static str, &OsStr)> {
        [
            "SOURCE_DATE_EPOCH",
            "DEBROOT_MIRROR",
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "no_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "NO_PROXY",
        ]
        .into_iter()
        .filter_map(|name| self.get(name).map(|value| (name, value)))
        .collect()
    }

    /// Whether this process runs inside a hook (`DEBROOT_PHASE` is set).
    pub fn in_hook(&self) -> bool {
        self.get("DEBROOT_PHASE").is_some()
    }

    /// The value of a variable a profile explicitly allows into hooks.
    pub fn passthrough(&self, name: &str) -> Option<&OsStr> {
        self.get(name)
    }

    /// A proxy variable (`https_proxy`, `HTTPS_PROXY`, `http_proxy`, `all_proxy`, `no_proxy`...):
    /// the lowercase spelling wins, as curl and apt do.
    pub fn proxy(&self, lowercase_name: &str) -> Option<&str> {
        self.text(lowercase_name)
            .or_else(|| self.text(&lowercase_name.to_ascii_uppercase()))
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn cache_home_follows_xdg() {
        let ctx = Context::fixed([("HOME", "/home/u")], UNIX_EPOCH);
        assert_eq!(ctx.cache_home(), Some(PathBuf::from("/home/u/.cache")));
        let ctx = Context::fixed([("HOME", "/home/u"), ("XDG_CACHE_HOME", "/c")], UNIX_EPOCH);
        assert_eq!(ctx.cache_home(), Some(PathBuf::from("/c")));
        let ctx = Context::fixed([("HOME", "/home/u"), ("XDG_CACHE_HOME", "rel")], UNIX_EPOCH);
        assert_eq!(ctx.cache_home(), Some(PathBuf::from("/home/u/.cache")));
    }

    #[test]
    fn source_date_epoch_is_checked() {
        let ctx = Context::fixed([("SOURCE_DATE_EPOCH", "1700000000")], UNIX_EPOCH);
        assert_eq!(ctx.source_date_epoch(), Ok(Some(1_700_000_000)));
        for bad in ["", "-1", "1e9", "now"] {
            let ctx = Context::fixed([("SOURCE_DATE_EPOCH", bad)], UNIX_EPOCH);
            assert!(ctx.source_date_epoch().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn no_color_needs_a_value() {
        assert!(Context::fixed([("NO_COLOR", "1")], UNIX_EPOCH).no_color());
        assert!(!Context::fixed([("NO_COLOR", "")], UNIX_EPOCH).no_color());
    }
}
