//! Unified line diffs (config snapshots, the test kit's cassette divergences): the common
//! start and end trimmed, a longest common subsequence of the rest, hunks as `diff -u` prints
//! them.
//!
//! ```
//! assert_eq!(
//!     codex_driver::diff::unified("a\nb\n", "a\nc\n", "old", "new"),
//!     "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
//! );
//! ```

/// Lines of unchanged context around each change.
const CONTEXT: usize = 3;

/// Above this many LCS cells (lines × lines, after trimming the common start and end) the diff
/// shows the differing middle as removed then added instead of spending the memory.
const MAX_LCS_CELLS: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Removed,
    Added,
}

/// The line edits turning `a` into `b`: the common start and end trimmed, then a longest
/// common subsequence of the middle (configuration files are small).
fn line_ops<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<(Op, &'a str)> {
    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut ops: Vec<(Op, &str)> = a[..head].iter().map(|l| (Op::Same, *l)).collect();
    let (n, m) = (ma.len(), mb.len());
    if (n + 1).saturating_mul(m + 1) > MAX_LCS_CELLS {
        ops.extend(ma.iter().map(|l| (Op::Removed, *l)));
        ops.extend(mb.iter().map(|l| (Op::Added, *l)));
    } else {
        // lcs[i][j]: the LCS length of ma[i..] and mb[j..].
        let w = m + 1;
        let mut lcs = vec![0u32; (n + 1) * w];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * w + j] = if ma[i] == mb[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && ma[i] == mb[j] {
                ops.push((Op::Same, ma[i]));
                i += 1;
                j += 1;
            } else if j < m && (i == n || lcs[i * w + j + 1] >= lcs[(i + 1) * w + j]) {
                ops.push((Op::Added, mb[j]));
                j += 1;
            } else {
                ops.push((Op::Removed, ma[i]));
                i += 1;
            }
        }
        // Removals read better before the additions they pair with.
        normalize(&mut ops);
    }
    ops.extend(a[a.len() - tail..].iter().map(|l| (Op::Same, *l)));
    ops
}

/// Within each run of changes, removed lines first, then added ones (order kept within each).
fn normalize(ops: &mut [(Op, &str)]) {
    let mut k = 0;
    while k < ops.len() {
        if ops[k].0 == Op::Same {
            k += 1;
            continue;
        }
        let end = ops[k..]
            .iter()
            .position(|o| o.0 == Op::Same)
            .map_or(ops.len(), |p| k + p);
        ops[k..end].sort_by_key(|o| o.0 != Op::Removed);
        k = end;
    }
}

/// A unified diff of two texts by lines, three lines of context; empty when they are the same.
pub fn unified(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    render(old, new, old_label, new_label, None)
}

/// [`unified`], each shown line cut after `max_chars` characters (with its length noted): for
/// diffs of generated text such as JSON with long strings.
pub fn unified_cut(
    old: &str,
    new: &str,
    old_label: &str,
    new_label: &str,
    max_chars: usize,
) -> String {
    render(old, new, old_label, new_label, Some(max_chars))
}

fn cut(line: &str, max: Option<usize>) -> std::borrow::Cow<'_, str> {
    match max {
        Some(max) if line.chars().count() > max => {
            let head: String = line.chars().take(max).collect();
            format!("{head}… ({} chars)", line.chars().count()).into()
        }
        _ => line.into(),
    }
}

fn render(old: &str, new: &str, old_label: &str, new_label: &str, max: Option<usize>) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let ops = line_ops(&a, &b);
    let changes: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != Op::Same).collect();
    if changes.is_empty() {
        return String::new();
    }
    // Line positions (0-based, in old and new) before each op.
    let mut pos = Vec::with_capacity(ops.len());
    let (mut i, mut j) = (0, 0);
    for (op, _) in &ops {
        pos.push((i, j));
        match op {
            Op::Same => (i, j) = (i + 1, j + 1),
            Op::Removed => i += 1,
            Op::Added => j += 1,
        }
    }
    let mut out = format!("--- {old_label}\n+++ {new_label}\n");
    let mut k = 0;
    while k < changes.len() {
        let start = changes[k].saturating_sub(CONTEXT);
        let mut end = changes[k] + 1;
        // Changes closer than two contexts share a hunk.
        while k + 1 < changes.len() && changes[k + 1] - end <= 2 * CONTEXT {
            k += 1;
            end = changes[k] + 1;
        }
        let end = (end + CONTEXT).min(ops.len());
        let hunk = &ops[start..end];
        let old_n = hunk.iter().filter(|o| o.0 != Op::Added).count();
        let new_n = hunk.iter().filter(|o| o.0 != Op::Removed).count();
        // A side with no lines is numbered by the line before it, as diff(1) does.
        let from = |at: usize, n: usize| if n == 0 { at } else { at + 1 };
        out.push_str(&format!(
            "@@ -{},{old_n} +{},{new_n} @@\n",
            from(pos[start].0, old_n),
            from(pos[start].1, new_n)
        ));
        for (op, line) in hunk {
            let sign = match op {
                Op::Same => ' ',
                Op::Removed => '-',
                Op::Added => '+',
            };
            out.push(sign);
            out.push_str(&cut(line, max));
            out.push('\n');
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_diffs() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "x", "y"), "");
        assert_eq!(
            unified("", "a\n", "x", "y"),
            "--- x\n+++ y\n@@ -0,0 +1,1 @@\n+a\n"
        );
        assert_eq!(
            unified("a\nb\nc\n", "b\nc\nd\n", "x", "y"),
            "--- x\n+++ y\n@@ -1,3 +1,3 @@\n-a\n b\n c\n+d\n"
        );
        assert_eq!(
            unified("1\n2\n3\n", "1\nx\ny\n3\n", "x", "y"),
            "--- x\n+++ y\n@@ -1,3 +1,4 @@\n 1\n-2\n+x\n+y\n 3\n"
        );
    }

    #[test]
    fn long_lines_are_cut_when_asked() {
        assert_eq!(
            unified_cut("abcdef\n", "abcdeg\n", "x", "y", 3),
            "--- x\n+++ y\n@@ -1,1 +1,1 @@\n-abc… (6 chars)\n+abc… (6 chars)\n"
        );
    }
}
