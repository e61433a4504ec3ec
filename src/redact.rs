//! Credentials never shown: URLs (and URL-like text) as debroot prints them. Used by every edge
//! that names a URL in a message: `repo` (indexes, sources) and `fetch` (downloads).

use url::Url;

/// A URL for display: user name and password replaced by `***`.
pub fn redact(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    let _ = shown.set_username("***");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// `text` that may be a URL with credentials (a mirror override that did not parse), shown
/// with the user part replaced by `***`.
pub fn redact_text(text: &str) -> String {
    match text.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) if !host.contains('/') || rest.find('@') < rest.find('/') => {
                format!("{scheme}://***@{host}")
            }
            _ => text.to_owned(),
        },
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted() {
        let url = Url::parse("https://user:secret@mirror.example/debian/").unwrap();
        assert_eq!(redact(&url), "https://***@mirror.example/debian/");
        assert_eq!(
            redact_text("https://user:secret@mirror/x y"),
            "https://***@mirror/x y"
        );
        let plain = Url::parse("https://mirror.example/debian/").unwrap();
        assert_eq!(redact(&plain), "https://mirror.example/debian/");
    }
}
