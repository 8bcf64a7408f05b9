//! The two Go time layouts docker prints API timestamps in: `Time.String()` (node inspect's
//! "Joined at") and `time.ANSIC` (version's "Built").

/// An RFC 3339 timestamp split into its fields, in its own offset (Go keeps it too).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    /// Fraction digits as given (at most 9).
    frac: String,
    /// Offset east of UTC in minutes; `None` for `Z`.
    offset: Option<i32>,
}

fn parse(s: &str) -> Option<Stamp> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let (month, day) = (num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac = String::new();
    if let Some(after) = rest.strip_prefix('.') {
        let n = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        frac = after[..n.min(9)].to_string();
        rest = &after[n..];
    }
    let offset = match rest {
        "Z" | "z" => None,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let h: i32 = rest.get(1..3)?.parse().ok()?;
            let m: i32 = rest.get(4..6)?.parse().ok()?;
            match rest.as_bytes()[0] {
                b'+' => Some(h * 60 + m),
                b'-' => Some(-(h * 60 + m)),
                _ => return None,
            }
        }
        _ => return None,
    };
    let year = s[..4].parse().ok()?;
    Some(Stamp {
        year,
        month,
        day,
        hour,
        min,
        sec,
        frac,
        offset,
    })
}

/// Go's `Time.String()` of an API timestamp: `2024-05-01 10:20:30.5 +0000 UTC`. An empty
/// value is Go's zero time; anything unparseable is returned unchanged.
pub fn go_string(s: &str) -> String {
    if s.is_empty() {
        return "0001-01-01 00:00:00 +0000 UTC".into();
    }
    let Some(t) = parse(s) else {
        return s.to_string();
    };
    let frac = t.frac.trim_end_matches('0');
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    // Go names a parsed zone only when it is UTC; other offsets print the offset twice.
    let zone = match t.offset {
        None | Some(0) => "+0000 UTC".to_string(),
        Some(o) => {
            let z = format!(
                "{}{:02}{:02}",
                if o < 0 { '-' } else { '+' },
                o.abs() / 60,
                o.abs() % 60
            );
            format!("{z} {z}")
        }
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{frac} {zone}",
        t.year, t.month, t.day, t.hour, t.min, t.sec
    )
}

/// Docker's `reformatDate`: RFC 3339 → `time.ANSIC` (`Mon Jan  2 15:04:05 2006`); other
/// text unchanged.
pub fn ansic(s: &str) -> String {
    let Some(t) = parse(s) else {
        return s.to_string();
    };
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let weekday = DAYS[days_from_civil(t.year, t.month, t.day).rem_euclid(7) as usize];
    format!(
        "{weekday} {} {:>2} {:02}:{:02}:{:02} {}",
        MONTHS[t.month as usize - 1],
        t.day,
        t.hour,
        t.min,
        t.sec,
        t.year
    )
}

/// An RFC 3339 timestamp as nanoseconds since the Unix epoch (`None` if unreadable).
pub fn unix_nanos(s: &str) -> Option<i128> {
    let t = parse(s)?;
    let days = days_from_civil(t.year, t.month, t.day) as i128;
    let secs = days * 86_400 + (t.hour * 3600 + t.min * 60 + t.sec) as i128
        - t.offset.unwrap_or(0) as i128 * 60;
    let frac: i128 = format!("{:0<9}", t.frac).parse().unwrap_or(0);
    Some(secs * 1_000_000_000 + frac)
}

/// Days since 1970-01-01 (a Thursday) of a proleptic Gregorian date (H. Hinnant's method).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_time_string() {
        assert_eq!(
            go_string("2024-05-01T10:20:30.123456789Z"),
            "2024-05-01 10:20:30.123456789 +0000 UTC"
        );
        assert_eq!(
            go_string("2024-05-01T10:20:30.500Z"),
            "2024-05-01 10:20:30.5 +0000 UTC"
        );
        assert_eq!(
            go_string("2024-05-01T10:20:30Z"),
            "2024-05-01 10:20:30 +0000 UTC"
        );
        assert_eq!(
            go_string("2024-05-01T10:20:30+02:00"),
            "2024-05-01 10:20:30 +0200 +0200"
        );
        assert_eq!(go_string(""), "0001-01-01 00:00:00 +0000 UTC");
        assert_eq!(go_string("yesterday"), "yesterday");
    }

    #[test]
    fn unix_time() {
        assert_eq!(unix_nanos("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(unix_nanos("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(unix_nanos(""), None);
    }

    #[test]
    fn ansic_dates() {
        assert_eq!(
            ansic("2025-05-30T12:34:56.000000000+00:00"),
            "Fri May 30 12:34:56 2025"
        );
        assert_eq!(ansic("2006-01-02T15:04:05Z"), "Mon Jan  2 15:04:05 2006");
        assert_eq!(ansic("2000-02-29T00:00:00Z"), "Tue Feb 29 00:00:00 2000");
        assert_eq!(ansic("not a date"), "not a date");
    }
}
