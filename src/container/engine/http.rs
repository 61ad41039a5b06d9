//! Just enough HTTP/1.1 to talk to a container engine over its unix socket or a local TCP
//! port: one request per connection (`Connection: close`), a bounded wait for the connect
//! and for every read and write, and a response body framed by `Content-Length`, chunked
//! encoding or the end of the stream. httparse parses the status line and headers; the body
//! framing is the little that is left.

use std::io::{self, Read, Write};
use std::net::TcpStream;
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::Endpoint;

/// The most a response may be. `/containers/json` on a busy host is some hundreds of KiB.
const MAX_RESPONSE: usize = 16 << 20;

/// A response: the status code and the body, decoded from its transfer encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// A connection to an engine: a unix socket or TCP, with the same timeouts.
trait Connection: Read + Write {
    fn set_timeouts(&self, timeout: Duration) -> io::Result<()>;
}

impl Connection for TcpStream {
    fn set_timeouts(&self, timeout: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(timeout))?;
        self.set_write_timeout(Some(timeout))
    }
}

#[cfg(unix)]
impl Connection for UnixStream {
    fn set_timeouts(&self, timeout: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(timeout))?;
        self.set_write_timeout(Some(timeout))
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "no answer in time")
}

/// Sends `method path` to the engine at `endpoint` and reads the whole response, giving up
/// after `timeout` in all (the connect included).
pub(crate) fn request(
    endpoint: &Endpoint,
    method: &str,
    path: &str,
    timeout: Duration,
) -> io::Result<Response> {
    let deadline = Instant::now() + timeout;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(timed_out)
    };
    let mut stream: Box<dyn Connection> = match endpoint {
        #[cfg(unix)]
        Endpoint::Unix(path) => Box::new(UnixStream::connect(path)?),
        // Docker Desktop on Windows serves its API on a named pipe, which rekt does not
        // speak: there, only a TCP endpoint answers.
        #[cfg(not(unix))]
        Endpoint::Unix(_) => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "rekt talks to container engines over unix sockets and TCP only",
            ));
        }
        Endpoint::Tcp(addr) => {
            let stream = TcpStream::connect_timeout(addr, left()?).map_err(|e| {
                if e.kind() == io::ErrorKind::WouldBlock {
                    timed_out()
                } else {
                    e
                }
            })?;
            let _ = stream.set_nodelay(true);
            Box::new(stream)
        }
    };
    exchange(stream.as_mut(), method, path, left)
}

/// Writes the request and reads the response, each step within what is `left`.
fn exchange(
    stream: &mut dyn Connection,
    method: &str,
    path: &str,
    left: impl Fn() -> io::Result<Duration>,
) -> io::Result<Response> {
    stream.set_timeouts(left()?)?;
    // The engine's API wants a Host header; any name will do.
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: engine\r\nUser-Agent: rekt\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => timed_out(),
            _ => e,
        })?;
    let mut raw = Vec::with_capacity(16 * 1024);
    let mut buf = [0u8; 16 * 1024];
    loop {
        stream.set_timeouts(left()?)?;
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out());
            }
            Err(e) => return Err(e),
        };
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > MAX_RESPONSE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "response too large",
            ));
        }
        match parse(&raw, n == 0)? {
            Some(response) => return Ok(response),
            None if n == 0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed mid-response",
                ));
            }
            None => {}
        }
    }
}

/// The response in `raw`, if it is complete; `eof` says the stream has ended (which
/// completes a body that has neither a length nor chunks).
pub(crate) fn parse(raw: &[u8], eof: bool) -> io::Result<Option<Response>> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("bad HTTP: {what}"));
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(raw) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(bad(&e.to_string())),
    };
    let status = response.code.ok_or_else(|| bad("no status"))?;
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let rest = &raw[head_len..];
    let chunked = header("transfer-encoding")
        .is_some_and(|v| v.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked")));
    let body = if chunked {
        match dechunk(rest)? {
            Some(body) => body,
            None => return Ok(None),
        }
    } else if let Some(len) = header("content-length") {
        let len: usize = std::str::from_utf8(len)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| bad("Content-Length"))?;
        if rest.len() < len {
            return Ok(None);
        }
        rest[..len].to_vec()
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if eof {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Response { status, body }))
}

/// Decodes a chunked body; `None` until the last chunk has arrived.
fn dechunk(mut rest: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad HTTP: chunk");
    let mut body = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size = std::str::from_utf8(&rest[..eol]).map_err(|_| bad())?;
        // A chunk extension (`;name=value`) may follow the size.
        let size = size.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| bad())?;
        rest = &rest[eol + 2..];
        if size == 0 {
            // Trailers, if any, end with an empty line; the body is complete either way
            // once the last chunk's size line is here.
            return Ok(Some(body));
        }
        if rest.len() < size.saturating_add(2) {
            return Ok(None);
        }
        if &rest[size..size + 2] != b"\r\n" {
            return Err(bad());
        }
        body.extend_from_slice(&rest[..size]);
        if body.len() > MAX_RESPONSE {
            return Err(bad());
        }
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_by_length_chunks_or_end_of_stream() {
        let by_length = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n[{}]";
        assert_eq!(
            parse(by_length, false).unwrap(),
            Some(Response {
                status: 200,
                body: b"[{}]".to_vec()
            })
        );
        assert_eq!(
            parse(&by_length[..by_length.len() - 1], false).unwrap(),
            None
        );
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[{}\r\n1;x=y\r\n]\r\n0\r\n\r\n";
        assert_eq!(parse(chunked, false).unwrap().unwrap().body, b"[{}]");
        assert_eq!(parse(&chunked[..60], false).unwrap(), None);
        let until_eof = b"HTTP/1.0 200 OK\r\n\r\nhello";
        assert_eq!(parse(until_eof, false).unwrap(), None);
        assert_eq!(parse(until_eof, true).unwrap().unwrap().body, b"hello");
        let no_content = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(parse(no_content, false).unwrap().unwrap().status, 204);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for raw in [
            &b"NOT HTTP\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
        ] {
            assert!(
                parse(raw, true).is_err(),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    #[cfg(unix)]
    fn a_server_that_never_answers_costs_only_the_timeout() {
        let dir = std::env::temp_dir().join(format!("rekt-http-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("silent.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let started = Instant::now();
        let err = request(
            &Endpoint::unix(&path),
            "GET",
            "/_ping",
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(listener);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    #[cfg(unix)]
    fn a_missing_socket_fails_at_once() {
        let started = Instant::now();
        let err = request(
            &Endpoint::unix("/nonexistent/rekt/engine.sock"),
            "GET",
            "/_ping",
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(started.elapsed() < Duration::from_millis(100));
    }

    #[test]
    fn plain_http_over_tcp() {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
                .unwrap();
            String::from_utf8(head).unwrap()
        });
        let response = request(
            &Endpoint::Tcp(addr),
            "GET",
            "/_ping",
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"OK");
        let head = server.join().unwrap();
        assert!(head.starts_with("GET /_ping HTTP/1.1\r\n"), "{head}");
    }

    #[test]
    fn a_tcp_port_that_never_answers_times_out() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // The kernel completes the connection (the backlog); nobody reads it.
        let err = request(
            &Endpoint::Tcp(addr),
            "GET",
            "/_ping",
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        drop(listener);
    }
}
