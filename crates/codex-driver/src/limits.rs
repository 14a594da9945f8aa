//! Limits and text helpers shared by both transports (exec and app-server), so neither imports
//! the other's internals.

/// How much of a non-JSON stdout line a diagnostic keeps (bytes).
pub const DIAGNOSTIC_KEEP: usize = 4096;

/// `s` cut to at most `max` bytes on a character boundary, with `…` appended when cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn cut_respects_char_boundaries() {
        assert_eq!(cut("ééé", 3), "é…");
        assert_eq!(cut("abc", 3), "abc");
    }
}
