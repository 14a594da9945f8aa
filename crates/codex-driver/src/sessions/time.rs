//! The two time formats sessions use: RFC 3339 in rollouts, Unix time in the state database.
//! Converted to Unix milliseconds without a date crate (Codex writes UTC, `Z`-suffixed).

/// `2026-12-03T06:09:08.052Z` (or with an offset, or without fractions) → Unix milliseconds.
pub(crate) fn rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let frac = s.get(start..i)?;
        let digits: String = frac.chars().chain("000".chars()).take(3).collect();
        ms = digits.parse().ok()?;
    }
    let offset_min = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let m = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if sign == b'+' { m } else { -m }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(secs * 1000 + ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `rollout-2026-11-24T13-22-57-<uuid>.jsonl` → the start time in its name, in Unix ms.
pub(crate) fn file_name_ms(name: &str) -> Option<i64> {
    let t = name.strip_prefix("rollout-")?.get(..19)?;
    // 2026-11-24T13-22-57 → 2026-11-24T13:22:57Z
    let fixed: String = t
        .char_indices()
        .map(|(i, c)| {
            if (i == 13 || i == 16) && c == '-' {
                ':'
            } else {
                c
            }
        })
        .chain(std::iter::once('Z'))
        .collect();
    rfc3339_ms(&fixed)
}

/// Unix milliseconds → `2026-12-03T06:09:08.052Z`.
pub(crate) fn ms_to_rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_forms() {
        // Values from a real 0.169.0 rollout and its state row.
        assert_eq!(
            rfc3339_ms("2026-12-03T06:09:08.052Z"),
            Some(1_796_278_148_052)
        );
        assert_eq!(rfc3339_ms("2026-12-03T06:09:08Z"), Some(1_796_278_148_000));
        assert_eq!(
            rfc3339_ms("2026-12-03T07:09:08.5+01:00"),
            Some(1_796_278_148_500)
        );
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00.000000Z"), Some(0));
        assert_eq!(rfc3339_ms("2026-13-03T06:09:08Z"), None);
        assert_eq!(rfc3339_ms("yesterday"), None);
        assert_eq!(rfc3339_ms("2026-12-03T06:09:08.052"), None);
    }

    #[test]
    fn round_trip_and_file_names() {
        for ms in [0, 1_796_278_148_052, 951_782_400_000 /* 2000-02-29 */] {
            assert_eq!(rfc3339_ms(&ms_to_rfc3339(ms)), Some(ms));
        }
        assert_eq!(ms_to_rfc3339(1_796_278_148_052), "2026-12-03T06:09:08.052Z");
        assert_eq!(
            file_name_ms("rollout-2026-12-03T06-09-08-01a23a85-5bc2-7fa1-abe5-bb6ba8767202.jsonl"),
            Some(1_796_278_148_000)
        );
        assert_eq!(file_name_ms("other.jsonl"), None);
    }
}
