//! `store`: a small in-memory key-value server speaking the Redis protocol (RESP), enough
//! for the counter demo and for tests of a store its clients find by name: `PING`, `GET`,
//! `SET`, `INCR` and `DEL`, each as a RESP array of bulk strings or as an inline command.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

type Data = Arc<Mutex<HashMap<String, String>>>;

/// Serves until the process is stopped.
pub async fn serve(addr: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("listen on {addr}: {e}"))?;
    println!("listening on {}", listener.local_addr()?);
    let data: Data = Arc::default();
    let accept = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(client(stream, data.clone()));
        }
    };
    tokio::select! {
        _ = accept => Ok(()),
        _ = super::stopped() => Ok(()),
    }
}

async fn client(stream: TcpStream, data: Data) {
    let mut stream = BufReader::new(stream);
    while let Ok(Some(args)) = command(&mut stream).await {
        let reply = execute(&data, &args);
        if stream.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The next command's words; `None` at the end of the stream.
async fn command(s: &mut BufReader<TcpStream>) -> std::io::Result<Option<Vec<String>>> {
    let mut line = String::new();
    if s.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let line = line.trim_end();
    let Some(count) = line.strip_prefix('*') else {
        return Ok(Some(line.split_whitespace().map(str::to_string).collect()));
    };
    let count: usize = count.parse().map_err(std::io::Error::other)?;
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let mut head = String::new();
        s.read_line(&mut head).await?;
        let len: usize = head
            .trim_end()
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| std::io::Error::other("expected a bulk string"))?;
        let mut buf = vec![0u8; len + 2];
        s.read_exact(&mut buf).await?;
        buf.truncate(len);
        args.push(String::from_utf8_lossy(&buf).into_owned());
    }
    Ok(Some(args))
}

/// The RESP reply to one command.
fn execute(data: &Data, args: &[String]) -> String {
    let mut data = data.lock().unwrap_or_else(|p| p.into_inner());
    let bulk = |v: Option<&String>| match v {
        Some(v) => format!("${}\r\n{v}\r\n", v.len()),
        None => "$-1\r\n".to_string(),
    };
    match (
        args.first().map(|c| c.to_ascii_uppercase()).as_deref(),
        args.len(),
    ) {
        (Some("PING"), _) => "+PONG\r\n".into(),
        (Some("GET"), 2) => bulk(data.get(&args[1])),
        (Some("SET"), 3) => {
            data.insert(args[1].clone(), args[2].clone());
            "+OK\r\n".into()
        }
        (Some("DEL"), 2) => format!(":{}\r\n", u8::from(data.remove(&args[1]).is_some())),
        (Some("INCR"), 2) => {
            let entry = data.entry(args[1].clone()).or_insert_with(|| "0".into());
            match entry.parse::<i64>() {
                Ok(n) => {
                    *entry = (n + 1).to_string();
                    format!(":{}\r\n", n + 1)
                }
                Err(_) => "-ERR value is not an integer or out of range\r\n".into(),
            }
        }
        (Some(cmd), _) => format!("-ERR unknown command or wrong arguments '{cmd}'\r\n"),
        (None, _) => "-ERR empty command\r\n".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(data: &Data, words: &[&str]) -> String {
        execute(
            data,
            &words.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn commands_answer_as_redis_does() {
        let d: Data = Arc::default();
        assert_eq!(run(&d, &["PING"]), "+PONG\r\n");
        assert_eq!(run(&d, &["incr", "visits"]), ":1\r\n");
        assert_eq!(run(&d, &["INCR", "visits"]), ":2\r\n");
        assert_eq!(run(&d, &["GET", "visits"]), "$1\r\n2\r\n");
        assert_eq!(run(&d, &["SET", "name", "shoal"]), "+OK\r\n");
        assert_eq!(
            run(&d, &["INCR", "name"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(run(&d, &["DEL", "name"]), ":1\r\n");
        assert_eq!(run(&d, &["GET", "name"]), "$-1\r\n");
        assert!(run(&d, &["FLY"]).starts_with("-ERR unknown command"));
    }
}
