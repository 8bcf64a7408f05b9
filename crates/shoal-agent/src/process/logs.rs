//! The log file of a process task: the shim writes one record per output line, the driver
//! reads (and follows) them.
//!
//! A record is `<RFC 3339 time> <stdout|stderr> <F|P> <bytes>\n`: `F` when the line ended with
//! a newline (the record's own), `P` for a partial line (cut at [`MAX_LINE`] or at the end of
//! output), as Docker's json-file driver keeps partial lines apart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::driver::{DriverError, LogLine, LogOptions, LogSource, LogStream};

/// Lines longer than this are split into several records, as Docker splits at 16 KiB.
pub const MAX_LINE: usize = 16 * 1024;

/// One record for a chunk of output (`chunk` ends with `\n` unless it is partial).
pub fn format_record(timestamp: &str, source: LogSource, chunk: &[u8]) -> Vec<u8> {
    let (body, kind) = match chunk.strip_suffix(b"\n") {
        Some(body) => (body, 'F'),
        None => (chunk, 'P'),
    };
    let mut out = format!("{timestamp} {} {kind} ", source.as_str()).into_bytes();
    out.extend_from_slice(body);
    out.push(b'\n');
    out
}

/// Parses one record (without its trailing newline).
pub fn parse_record(record: &[u8]) -> Option<LogLine> {
    let mut parts = record.splitn(4, |b| *b == b' ');
    let timestamp = std::str::from_utf8(parts.next()?).ok()?.to_string();
    let source = match parts.next()? {
        b"stdout" => LogSource::Stdout,
        b"stderr" => LogSource::Stderr,
        _ => return None,
    };
    let full = match parts.next()? {
        b"F" => true,
        b"P" => false,
        _ => return None,
    };
    let mut line = parts.next().unwrap_or_default().to_vec();
    if full {
        line.push(b'\n');
    }
    Some(LogLine {
        source,
        timestamp,
        line,
    })
}

/// Streams the records of `log`; when following, keeps polling for new ones until `done`
/// exists (the task ended) and everything before it was read, or the stream is dropped.
pub fn stream(log: PathBuf, done: PathBuf, options: LogOptions, poll: Duration) -> LogStream {
    let (tx, mut rx) = mpsc::channel(256);
    tokio::spawn(async move {
        if let Err(e) = pump(&log, &done, options, poll, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

type Sender = mpsc::Sender<Result<LogLine, DriverError>>;

async fn pump(
    log: &Path,
    done: &Path,
    options: LogOptions,
    poll: Duration,
    tx: &Sender,
) -> Result<(), DriverError> {
    let io = |e| DriverError::io(format!("reading {}", log.display()), e);
    let mut file = loop {
        match tokio::fs::File::open(log).await {
            Ok(f) => break f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !options.follow || done.exists() || tx.is_closed() {
                    return Ok(());
                }
                tokio::time::sleep(poll).await;
            }
            Err(e) => return Err(io(e)),
        }
    };
    let mut buf = Vec::new();
    file.read_to_end(&mut buf).await.map_err(io)?;
    let mut records: Vec<&[u8]> = complete_records(&buf).collect();
    if let Some(n) = options.tail {
        records.drain(..records.len().saturating_sub(n));
    }
    for r in records {
        send(tx, r).await?;
    }
    let mut pending = buf.split_off(buf.len() - trailing_partial(&buf));
    if !options.follow {
        return Ok(());
    }
    loop {
        // Look for the end marker before reading, so nothing written before it is missed.
        let finished = done.exists();
        let before = pending.len();
        file.read_to_end(&mut pending).await.map_err(io)?;
        for r in complete_records(&pending) {
            send(tx, r).await?;
        }
        pending = pending.split_off(pending.len() - trailing_partial(&pending));
        if (finished && pending.len() == before) || tx.is_closed() {
            return Ok(());
        }
        tokio::time::sleep(poll).await;
    }
}

/// The newline-terminated records of `buf`, without their newlines.
fn complete_records(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let end = buf.len() - trailing_partial(buf);
    buf[..end].split(|b| *b == b'\n').filter(|r| !r.is_empty())
}

/// How many bytes at the end of `buf` are not yet a complete record.
fn trailing_partial(buf: &[u8]) -> usize {
    buf.iter().rev().take_while(|b| **b != b'\n').count()
}

async fn send(tx: &Sender, record: &[u8]) -> Result<(), DriverError> {
    if let Some(line) = parse_record(record) {
        // A dropped receiver only means nobody reads any more.
        let _ = tx.send(Ok(line)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    const TS: &str = "2026-01-02T03:04:05.000000006Z";

    #[test]
    fn records_round_trip() {
        let full = format_record(TS, LogSource::Stdout, b"hi there\n");
        assert_eq!(full, format!("{TS} stdout F hi there\n").into_bytes());
        let parsed = parse_record(&full[..full.len() - 1]).unwrap();
        assert_eq!(parsed.line, b"hi there\n");
        assert_eq!(parsed.timestamp, TS);
        let partial = format_record(TS, LogSource::Stderr, b"no newline");
        let parsed = parse_record(&partial[..partial.len() - 1]).unwrap();
        assert_eq!(
            (parsed.source, parsed.line.as_slice()),
            (LogSource::Stderr, &b"no newline"[..])
        );
        assert!(parse_record(b"garbage").is_none());
    }

    #[tokio::test]
    async fn tail_and_follow() {
        let dir = tempfile::tempdir().unwrap();
        let (log, done) = (dir.path().join("output.log"), dir.path().join("exit.json"));
        let mut content = Vec::new();
        for i in 0..5 {
            content.extend(format_record(
                TS,
                LogSource::Stdout,
                format!("line {i}\n").as_bytes(),
            ));
        }
        std::fs::write(&log, &content).unwrap();
        let opts = LogOptions {
            follow: false,
            tail: Some(2),
        };
        let got: Vec<_> = stream(log.clone(), done.clone(), opts, Duration::from_millis(10))
            .map(|l| String::from_utf8(l.unwrap().line).unwrap())
            .collect()
            .await;
        assert_eq!(got, ["line 3\n", "line 4\n"]);

        let opts = LogOptions {
            follow: true,
            tail: Some(1),
        };
        let mut s = stream(log.clone(), done.clone(), opts, Duration::from_millis(10));
        // The first line proves the initial read is done before more is written.
        assert_eq!(s.next().await.unwrap().unwrap().line, b"line 4\n");
        content.extend(format_record(TS, LogSource::Stderr, b"later\n"));
        std::fs::write(&log, &content).unwrap();
        let next = s.next().await.unwrap().unwrap();
        assert_eq!(
            (next.source, next.line),
            (LogSource::Stderr, b"later\n".to_vec())
        );
        std::fs::write(&done, "{}").unwrap();
        assert!(
            s.next().await.is_none(),
            "the stream ends once the task has exited"
        );
    }
}
