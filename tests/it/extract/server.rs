//! A tiny HTTP/1.1 server on 127.0.0.1 for the fetch tests: it answers a fixed list of
//! replies, one connection each, records every request head, and stops by itself after the last
//! reply or when no client has come for a while.
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A bare status with an empty body.
    Status(u16),
    /// The file with this ETag; `304 Not Modified` to a request whose `If-None-Match` names it.
    File { etag: String, body: Vec<u8> },
    /// Reads the request and answers nothing for this long, then hangs up.
    Silence(Duration),
}

/// A running server: its base URL, the request heads it got, and what it answered.
pub struct Server {
    pub url: String,
    log: Arc<Mutex<Vec<(String, u16)>>>,
    handle: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `replies` in order; gives up after `idle` without a connection.
    pub fn start(replies: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        listener.set_nonblocking(true).expect("nonblocking");
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        let handle = std::thread::spawn(move || {
            for reply in replies {
                let Some(stream) = accept(&listener, Duration::from_secs(20)) else {
                    return;
                };
                let entry = answer(stream, &reply);
                seen.lock().expect("log").push(entry);
            }
        });
        Server {
            url,
            log,
            handle: Some(handle),
        }
    }

    /// (request head, status answered) of every request so far.
    pub fn requests(&self) -> Vec<(String, u16)> {
        self.log.lock().expect("log").clone()
    }

    /// Waits until the server has answered every reply (or given up).
    pub fn finish(mut self) -> Vec<(String, u16)> {
        if let Some(h) = self.handle.take() {
            h.join().expect("server thread");
        }
        self.requests()
    }
}

fn accept(listener: &TcpListener, idle: Duration) -> Option<TcpStream> {
    let start = Instant::now();
    while start.elapsed() < idle {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).ok()?;
                return Some(s);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    None
}

/// Reads the request head, answers, and returns (head, status).
fn answer(mut s: TcpStream, reply: &Reply) -> (String, u16) {
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    let (status, extra, body): (u16, String, &[u8]) = match reply {
        Reply::Status(code) => (*code, String::new(), b""),
        Reply::File { etag, body } => {
            if head.contains(&format!("if-none-match: {}", etag.to_lowercase())) {
                (304, format!("ETag: {etag}\r\n"), b"")
            } else {
                (200, format!("ETag: {etag}\r\n"), body)
            }
        }
        Reply::Silence(d) => {
            std::thread::sleep(*d);
            return (head, 0);
        }
    };
    let text = format!(
        "HTTP/1.1 {status} {}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    let _ = s
        .write_all(text.as_bytes())
        .and_then(|()| s.write_all(body));
    (head, status)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        304 => "Not Modified",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Other",
    }
}
