//! Go's duration syntax (`time.ParseDuration`, what docker's `--cert-expiry` flags take) and
//! the `go-units` humanisers docker prints sizes and durations with.

const NS: u64 = 1;
const US: u64 = 1_000 * NS;
const MS: u64 = 1_000 * US;
const S: u64 = 1_000 * MS;
const M: u64 = 60 * S;
const H: u64 = 60 * M;

fn unit(u: &str) -> Option<u64> {
    Some(match u {
        "ns" => NS,
        "us" | "µs" | "μs" => US,
        "ms" => MS,
        "s" => S,
        "m" => M,
        "h" => H,
        _ => return None,
    })
}

/// Parses `90s`, `1h30m`, `2160h0m0s`, `1.5h`, `-2m` into nanoseconds, with Go's error texts
/// (`time: invalid duration "x"`, `time: missing unit in duration "1"`).
pub fn parse_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration \"{orig}\"");
    let (neg, mut s) = match orig.as_bytes().first() {
        Some(b'-') => (true, &orig[1..]),
        Some(b'+') => (false, &orig[1..]),
        _ => (false, orig),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let (value, rest) = leading_number(s).ok_or_else(invalid)?;
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration \"{orig}\""));
        }
        let name = &rest[..unit_len];
        let per = unit(name)
            .ok_or_else(|| format!("time: unknown unit \"{name}\" in duration \"{orig}\""))?;
        let (int, frac) = value;
        let mut v = int
            .checked_mul(per)
            .filter(|v| *v <= 1 << 63)
            .ok_or_else(invalid)?;
        v += (frac * per as f64) as u64;
        total = total
            .checked_add(v)
            .filter(|t| *t <= 1 << 63)
            .ok_or_else(invalid)?;
        s = &rest[unit_len..];
    }
    if neg {
        return Ok((total as i128).wrapping_neg() as i64);
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// `[0-9]*(\.[0-9]*)?` with at least one digit: (integer part, fraction as f64 in [0,1)).
fn leading_number(s: &str) -> Option<((u64, f64), &str)> {
    let int_len = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let int = if int_len == 0 {
        0
    } else {
        s[..int_len].parse::<u64>().ok()?
    };
    let mut rest = &s[int_len..];
    let mut frac = 0.0;
    let mut frac_len = 0;
    if let Some(after) = rest.strip_prefix('.') {
        frac_len = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        if frac_len > 0 {
            frac = format!("0.{}", &after[..frac_len]).parse().ok()?;
        }
        rest = &after[frac_len..];
    }
    (int_len > 0 || frac_len > 0).then_some(((int, frac), rest))
}

/// `units.HumanDuration`: `5 seconds`, `About a minute`, `3 months` (docker info's
/// "Heartbeat Period" and "Expiry Duration").
pub fn human_duration(nanos: i64) -> String {
    let seconds = nanos / S as i64;
    let minutes = nanos / M as i64;
    let hours = (nanos as f64 / H as f64 + 0.5) as i64;
    if seconds < 1 {
        "Less than a second".into()
    } else if seconds == 1 {
        "1 second".into()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", nanos / H as i64 / 24 / 365)
    }
}

/// `units.BytesSize`: binary units with Go's `%.4g` (`1B`, `7.785GiB`, `512MiB`).
pub fn bytes_size(size: f64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut size = size;
    let mut i = 0;
    while size >= 1024.0 && i < UNITS.len() - 1 {
        size /= 1024.0;
        i += 1;
    }
    format!("{}{}", format_g4(size), UNITS[i])
}

/// Go's `%.4g` for values below 10 000 (all `bytes_size` produces): four significant
/// digits, trailing zeros removed.
fn format_g4(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    let decimals = (3 - exp).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("90s"), Ok(90 * S as i64));
        assert_eq!(parse_duration("1h30m"), Ok((H + 30 * M) as i64));
        assert_eq!(parse_duration("2160h0m0s"), Ok(2160 * H as i64));
        assert_eq!(parse_duration("1.5h"), Ok((H + 30 * M) as i64));
        assert_eq!(parse_duration(".5s"), Ok(500 * MS as i64));
        assert_eq!(parse_duration("300ms"), Ok(300 * MS as i64));
        assert_eq!(parse_duration("10us"), Ok(10_000));
        assert_eq!(parse_duration("10µs"), Ok(10_000));
        assert_eq!(parse_duration("-2m"), Ok(-120 * S as i64));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(
            parse_duration("x"),
            Err("time: invalid duration \"x\"".into())
        );
        assert_eq!(
            parse_duration(""),
            Err("time: invalid duration \"\"".into())
        );
        assert_eq!(
            parse_duration("1"),
            Err("time: missing unit in duration \"1\"".into())
        );
        assert_eq!(
            parse_duration("1d"),
            Err("time: unknown unit \"d\" in duration \"1d\"".into())
        );
        assert!(parse_duration("9999999999999h").is_err());
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(S as i64), "1 second");
        assert_eq!(human_duration(5 * S as i64), "5 seconds");
        assert_eq!(human_duration(61 * S as i64), "About a minute");
        assert_eq!(human_duration(10 * M as i64), "10 minutes");
        assert_eq!(human_duration(H as i64), "About an hour");
        assert_eq!(human_duration(30 * H as i64), "30 hours");
        assert_eq!(human_duration(90 * 24 * H as i64), "3 months");
        assert_eq!(human_duration(800 * 24 * H as i64), "2 years");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(bytes_size(0.0), "0B");
        assert_eq!(bytes_size(1.0), "1B");
        assert_eq!(bytes_size(1024.0), "1KiB");
        assert_eq!(bytes_size(8_359_657_472.0), "7.786GiB");
        assert_eq!(bytes_size(536_870_912.0), "512MiB");
        assert_eq!(bytes_size(1_048_063.0), "1023KiB");
    }
}
