//! Readable differences between what a cassette expected and what Codex sent.

use super::*;

/// Longest line shown in a diff; instructions can be one 20 KB line.
const DIFF_LINE_MAX: usize = 200;

/// A unified diff (3 lines of context) of two JSON values, pretty-printed, multi-line strings
/// shown one line per array element; `-` lines are `expected`'s, `+` lines `actual`'s. Empty
/// when they are equal.
pub fn diff_json(expected: &Value, actual: &Value) -> String {
    let render = |v: &Value| {
        serde_json::to_string_pretty(&split_multiline(v)).unwrap_or_else(|_| v.to_string())
    };
    diff_text(&render(expected), &render(actual), "cassette", "request")
}

fn split_multiline(v: &Value) -> Value {
    match v {
        Value::String(s) if s.contains('\n') => {
            Value::Array(s.split('\n').map(|l| Value::String(l.to_owned())).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(split_multiline).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), split_multiline(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A line-based unified diff of `old` and `new` ("" when equal), long lines cut.
pub fn diff_text(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    codex_driver::diff::unified_cut(old, new, old_name, new_name, DIFF_LINE_MAX)
}
