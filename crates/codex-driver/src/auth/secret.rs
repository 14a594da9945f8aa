//! [`Secret`]: a token or key that cannot leak by accident.

use zeroize::Zeroizing;

/// An API key, access token, refresh token or OAuth secret. Its `Debug` and `Display` print
/// `[redacted]`, it has no `Serialize`, and its memory is wiped when dropped. Read the value only
/// where it must go (a child's stdin, a credential store) with [`Secret::expose`].
///
/// ```
/// use codex_driver::auth::Secret;
/// let key = Secret::new("sk-test-abcdefghijkl12345");
/// assert_eq!(format!("{key} {key:?}"), "[redacted] Secret([redacted])");
/// assert_eq!(key.masked(), "sk-test-***12345");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The value itself: hand it only to the place it is meant for.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty (after trimming whitespace).
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// The form Codex prints in `codex login status`: the first 8 and last 5 characters around
    /// `***` (`sk-test-***12345`); `***` alone for a value too short to show any of it.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Codex's masking of an API key: first 8 + `***` + last 5 characters, or `***` when the key
/// has 13 characters or fewer.
pub(crate) fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 13 {
        return "***".into();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 5..].iter().collect();
    format!("{head}***{tail}")
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_prints_the_value() {
        let s = Secret::new("sk-canary-0123456789abcdef");
        let shown = format!("{s} {s:?} {:?}", Some(&s));
        assert!(!shown.contains("canary"), "{shown}");
        assert_eq!(s.expose(), "sk-canary-0123456789abcdef");
        let parsed: Secret = serde_json::from_str("\"sk-x\"").unwrap();
        assert_eq!(parsed.expose(), "sk-x");
    }

    #[test]
    fn masks_like_codex() {
        assert_eq!(mask("sk-test-abcdefghijkl12345"), "sk-test-***12345");
        assert_eq!(mask("short"), "***");
        assert_eq!(mask("exactly13char"), "***");
        assert_eq!(mask("fourteen-chars"), "fourteen***chars");
    }
}
