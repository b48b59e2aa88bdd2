//! Anchor echo server on tokio's current-thread runtime: one thread runs the
//! event loop and every task, a task per connection holds a 4 KiB buffer for
//! its whole life and echoes with `read` then `write_all`. This is the
//! server the budgets in shared/DESIGN.md call "tokio-ct", written the way
//! tokio's own echo example is.
//!
//! Threads: only the main thread. The runtime's blocking pool starts a
//! thread only for `spawn_blocking`, `tokio::fs` or a DNS lookup, and this
//! program makes none (the addresses are numeric; /proc is read with
//! std::fs on the runtime thread, a read that never blocks). The driver
//! still pins the process with taskset, as it pins the Go servers.
//!
//! TCP_NODELAY is set on each connection because Go's net package and gnet
//! set it by default, so every server in the comparison sends the same way.
//!
//! Flags, the READY line and the control port are those of the Go servers
//! (see the echoserver crate and bench/internal/echoserver).
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cfg = echoserver::parse_flags();
    let listener = TcpListener::bind(cfg.addr.as_str())
        .await
        .unwrap_or_else(|e| echoserver::fatal(format_args!("listen: {e}")));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| echoserver::fatal(format_args!("listen: {e}")));

    // The control port and SIGUSR1, as the Go servers set them up before
    // their ready line.
    if !cfg.ctl.is_empty() {
        let ctl = TcpListener::bind(cfg.ctl.as_str())
            .await
            .unwrap_or_else(|e| echoserver::fatal(format_args!("control listen: {e}")));
        tokio::spawn(serve_control(ctl));
    }
    tokio::spawn(print_rss_on_sigusr1());
    echoserver::ready(
        "tokio-ct",
        &addr.to_string(),
        "tokio current-thread runtime, a task per connection, 4 KiB buffer each",
    );

    // Accept forever. An error (such as the fd limit) is retried after a
    // short pause rather than spinning or giving up, as echo-net does.
    let mut backoff = Duration::ZERO;
    loop {
        match listener.accept().await {
            Ok((socket, _)) => {
                backoff = Duration::ZERO;
                tokio::spawn(echo(socket));
            }
            Err(_) => {
                backoff = if backoff.is_zero() {
                    Duration::from_millis(5)
                } else {
                    (backoff * 2).min(Duration::from_secs(1))
                };
                tokio::time::sleep(backoff).await;
            }
        }
    }
}

/// Copies everything it reads back to the peer until the peer closes.
async fn echo(mut socket: TcpStream) {
    let _ = socket.set_nodelay(true);
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if socket.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Answers control connections one at a time (the load generator uses one).
async fn serve_control(ln: TcpListener) {
    while let Ok((c, _)) = ln.accept().await {
        let (r, mut w) = c.into_split();
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            match echoserver::control(&line) {
                echoserver::Answer::Quit => std::process::exit(0),
                echoserver::Answer::Line(s) => {
                    if w.write_all(s.as_bytes()).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
}

/// Prints "RSS bytes=N" on each SIGUSR1, as the Go servers do.
async fn print_rss_on_sigusr1() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sig = match signal(SignalKind::user_defined1()) {
        Ok(sig) => sig,
        Err(_) => return,
    };
    while sig.recv().await.is_some() {
        print!("{}", echoserver::rss_line());
    }
}
