//! Anchor echo server on Rust smol with a `LocalExecutor`: the main thread
//! runs the executor inside `smol::block_on`, which also drives the reactor
//! whenever the executor has nothing to run. A task per connection (spawned
//! on the LocalExecutor, not with `smol::spawn`, whose global executor runs
//! on its own thread) holds a 4 KiB buffer for its whole life and echoes
//! with `read` then `write_all`. This is the server the budgets in
//! shared/DESIGN.md call "Rust smol", written the way smol's examples are.
//!
//! Threads: two. Besides the main thread, async-io starts its "async-io"
//! helper thread when the reactor is first used. While `block_on` runs, it
//! only wakes on a timer (backing off from 50 µs to 10 ms) and polls the
//! reactor itself only when no tick has happened since its last look. The
//! blocking pool (`unblock`) and smol's global executor never start here
//! (the addresses are numeric; /proc is read with std::fs on the executor
//! thread, a read that never blocks). The driver pins the whole process,
//! both threads, to the server's core with taskset, as it pins the Go
//! servers.
//!
//! TCP_NODELAY is set on each connection because Go's net package and gnet
//! set it by default, so every server in the comparison sends the same way.
//!
//! Flags, the READY line and the control port are those of the Go servers
//! (see the echoserver crate and bench/internal/echoserver).
use std::os::unix::net::UnixStream;
use std::time::Duration;

use smol::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use smol::net::{TcpListener, TcpStream};
use smol::{Async, LocalExecutor, Timer};

fn main() {
    let cfg = echoserver::parse_flags();
    let ex = LocalExecutor::new();
    smol::block_on(ex.run(async {
        let listener = TcpListener::bind(cfg.addr.as_str())
            .await
            .unwrap_or_else(|e| echoserver::fatal(format_args!("listen: {e}")));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| echoserver::fatal(format_args!("listen: {e}")));

        // The control port and SIGUSR1, as the Go servers set them up
        // before their ready line.
        if !cfg.ctl.is_empty() {
            let ctl = TcpListener::bind(cfg.ctl.as_str())
                .await
                .unwrap_or_else(|e| echoserver::fatal(format_args!("control listen: {e}")));
            ex.spawn(serve_control(ctl)).detach();
        }
        ex.spawn(print_rss_on_sigusr1()).detach();
        echoserver::ready(
            "smol-rs",
            &addr.to_string(),
            "smol LocalExecutor in block_on, a task per connection, 4 KiB buffer each",
        );

        // Accept forever. An error (such as the fd limit) is retried after
        // a short pause rather than spinning or giving up, as echo-net does.
        let mut backoff = Duration::ZERO;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    backoff = Duration::ZERO;
                    ex.spawn(echo(stream)).detach();
                }
                Err(_) => {
                    backoff = if backoff.is_zero() {
                        Duration::from_millis(5)
                    } else {
                        (backoff * 2).min(Duration::from_secs(1))
                    };
                    Timer::after(backoff).await;
                }
            }
        }
    }))
}

/// Copies everything it reads back to the peer until the peer closes.
async fn echo(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Answers control connections one at a time (the load generator uses one).
async fn serve_control(ln: TcpListener) {
    while let Ok((c, _)) = ln.accept().await {
        let mut w = c.clone();
        let mut lines = BufReader::new(c).lines();
        while let Some(Ok(line)) = smol::stream::StreamExt::next(&mut lines).await {
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

/// Prints "RSS bytes=N" on each SIGUSR1, as the Go servers do: the signal
/// handler writes a byte to a socket pair that the reactor watches (the
/// pattern signal-hook documents for async runtimes without their own
/// signal support).
async fn print_rss_on_sigusr1() {
    let (rx, tx) = match UnixStream::pair() {
        Ok(pair) => pair,
        Err(_) => return,
    };
    if signal_hook::low_level::pipe::register(signal_hook::consts::SIGUSR1, tx).is_err() {
        return;
    }
    let mut rx = match Async::new(rx) {
        Ok(rx) => rx,
        Err(_) => return,
    };
    let mut b = [0u8; 16];
    while let Ok(n) = rx.read(&mut b).await {
        if n == 0 {
            return;
        }
        print!("{}", echoserver::rss_line());
    }
}
