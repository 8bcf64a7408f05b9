//! Scalar syntaxes compose borrows from Go: durations (`time.ParseDuration`), sizes
//! (`go-units.RAMInBytes`), CPU counts (`opts.ParseCPUs`) and shell words (`google/shlex`).

/// Go duration syntax (`1m30s`, `10s`, `500ms`, `1.5h`, `0`) to nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let err = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {s:?}"))?;
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(err());
        }
        let value: f64 = num.parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            u => return Err(format!("time: unknown unit {u:?} in duration {s:?}")),
        };
        total += value * unit;
        rest = &rest[unit_len..];
    }
    if total > i64::MAX as f64 {
        return Err(err());
    }
    let ns = total.round() as i64;
    Ok(if neg { -ns } else { ns })
}

/// go-units `RAMInBytes`: `100M`, `1G`, `512k`, `1.5gb`, `10` (binary multiples of 1024).
pub fn parse_bytes(s: &str) -> Result<i64, String> {
    let err = || format!("invalid size: '{s}'");
    let num_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(num_len);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return Err(err());
    }
    let value: f64 = num.parse().map_err(|_| err())?;
    let suffix = suffix
        .strip_prefix(' ')
        .unwrap_or(suffix)
        .to_ascii_lowercase();
    let unit = suffix.strip_suffix('b').unwrap_or(&suffix);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let exp = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return Err(err()),
    };
    Ok((value * 1024f64.powi(exp)) as i64)
}

/// `opts.ParseCPUs`: a decimal CPU count to NanoCPUs; more than 9 decimals is "too precise".
pub fn parse_cpus(s: &str) -> Result<i64, String> {
    let bad = || format!("failed to parse {s} as a rational number");
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 9 {
        return Err("value is too precise".into());
    }
    let int: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let frac_ns: i64 = format!("{frac:0<9}").parse().map_err(|_| bad())?;
    int.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(frac_ns))
        .ok_or_else(bad)
}

/// Splits a command string into words as `github.com/google/shlex` does: whitespace
/// separates, `'…'` is literal, `"…"` and bare `\` escape the next character, and a `#`
/// at the start of a word comments out the rest of the line.
pub fn shell_split(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        if first == '#' {
            while chars.next().is_some_and(|c| c != '\n') {}
            continue;
        }
        let mut word = String::new();
        while let Some(c) = chars.next() {
            match c {
                c if c.is_whitespace() => break,
                '\\' => word.push(chars.next().ok_or("EOF found after escape character")?),
                '\'' => loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("EOF found when expecting closing quote".into()),
                    }
                },
                '"' => loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => word.push(
                            chars
                                .next()
                                .ok_or("EOF found when expecting closing quote")?,
                        ),
                        Some(c) => word.push(c),
                        None => return Err("EOF found when expecting closing quote".into()),
                    }
                },
                c => word.push(c),
            }
        }
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("10s"), Ok(10_000_000_000));
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("2us"), Ok(2_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("-1s"), Ok(-1_000_000_000));
        assert_eq!(
            parse_duration("10"),
            Err("time: missing unit in duration \"10\"".into())
        );
        assert_eq!(
            parse_duration("3d"),
            Err("time: unknown unit \"d\" in duration \"3d\"".into())
        );
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("100M"), Ok(100 * 1024 * 1024));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("512k"), Ok(512 * 1024));
        assert_eq!(parse_bytes("1.5gb"), Ok(1_610_612_736));
        assert_eq!(parse_bytes("20 MiB"), Ok(20 << 20));
        assert_eq!(parse_bytes("10"), Ok(10));
        assert_eq!(parse_bytes("10x"), Err("invalid size: '10x'".into()));
        assert!(parse_bytes("M").is_err());
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("0.5"), Ok(500_000_000));
        assert_eq!(parse_cpus("2"), Ok(2_000_000_000));
        assert_eq!(parse_cpus("0.001"), Ok(1_000_000));
        assert_eq!(parse_cpus(".25"), Ok(250_000_000));
        assert_eq!(
            parse_cpus("0.0000000001"),
            Err("value is too precise".into())
        );
        assert!(parse_cpus("abc").is_err());
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            shell_split("bundle exec thin -p 3000").unwrap(),
            ["bundle", "exec", "thin", "-p", "3000"]
        );
        assert_eq!(
            shell_split(r#"sh -c 'echo "hi there"' "a\"b" c\ d"#).unwrap(),
            ["sh", "-c", "echo \"hi there\"", "a\"b", "c d"]
        );
        assert_eq!(shell_split("a # comment\nb").unwrap(), ["a", "b"]);
        assert!(shell_split("'open").is_err());
        assert!(shell_split("").unwrap().is_empty());
    }
}
