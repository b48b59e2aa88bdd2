//! The runtime-neutral half of the Rust anchor echo servers: the same
//! command line, ready line and control protocol as the Go servers'
//! `bench/internal/echoserver`, so that `bench/run.sh` and `bench/cmd/loadgen`
//! drive them exactly as they drive the Go servers.
//!
//! A server prints exactly one line to stdout once it accepts connections:
//!
//! ```text
//! READY server=tokio-ct pid=1234 addr=127.0.0.1:17001 gomaxprocs=1 note="..."
//! ```
//!
//! `gomaxprocs` keeps the Go servers' field; here it is the number of
//! threads that run tasks, 1 for both anchors. The note says how many
//! threads the process had when it became ready (from `/proc/self/task`).
//!
//! Resident memory can be asked for as from the Go servers: from outside
//! through `/proc/PID/status` (what the load generator does), with SIGUSR1
//! (the server prints `RSS bytes=N`), or over the control port (`-ctl`),
//! one command per line: `rss` answers `rss N`; `gc` answers `rss N` after
//! returning free heap memory to the OS (Rust has no garbage collector, so
//! this is glibc's `malloc_trim(0)`, the counterpart of Go's
//! `debug.FreeOSMemory`); `quit` exits. SIGINT and SIGTERM keep their
//! default action, which ends the process (the Go servers exit with 0).
//!
//! The async half (accepting on the control port, the signal) is written
//! in each server with its own runtime.

use std::io::Write;

/// The command line every echo server takes.
#[derive(Debug)]
pub struct Config {
    /// The TCP address to listen on, such as 127.0.0.1:17001.
    pub addr: String,
    /// The optional control address; empty means no control port.
    pub ctl: String,
}

/// Parses `-addr` and `-ctl` the way Go's flag package does: one or two
/// leading dashes, the value as the next argument or after `=`. `-h` prints
/// the usage and exits with 0; anything else is an error (the usage, exit
/// status 2, as in Go).
pub fn parse_flags() -> Config {
    let prog = std::env::args()
        .next()
        .unwrap_or_else(|| "echo".to_string());
    match parse_args(std::env::args().skip(1)) {
        Ok(cfg) => cfg,
        Err(err) => usage(&prog, &err),
    }
}

/// Parses the arguments after the program name. An empty error means that
/// the usage was asked for.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Config, String> {
    let mut cfg = Config {
        addr: "127.0.0.1:17001".to_string(),
        ctl: String::new(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // (No let-else, so that Debian's own rustc 1.63 builds this too.)
        let name = match arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) {
            Some(n) if !n.is_empty() => n,
            _ => return Err(format!("unexpected argument {arg:?}")),
        };
        let (name, inline) = match name.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (name, None),
        };
        let slot = match name {
            "addr" => &mut cfg.addr,
            "ctl" => &mut cfg.ctl,
            "h" | "help" => return Err(String::new()),
            _ => return Err(format!("flag provided but not defined: -{name}")),
        };
        *slot = match inline.or_else(|| args.next()) {
            Some(v) => v,
            None => return Err(format!("flag needs an argument: -{name}")),
        };
    }
    Ok(cfg)
}

fn usage(prog: &str, err: &str) -> ! {
    if !err.is_empty() {
        eprintln!("{err}");
    }
    eprintln!("Usage of {prog}:");
    eprintln!("  -addr string\n    \tTCP address to listen on (default \"127.0.0.1:17001\")");
    eprintln!("  -ctl string\n    \toptional control address (rss/gc/quit line protocol)");
    std::process::exit(if err.is_empty() { 0 } else { 2 });
}

/// Prints the ready line. Call it once the listener is bound.
pub fn ready(server: &str, addr: &str, note: &str) {
    let threads = threads().map_or_else(|e| format!("unknown ({e})"), |n| n.to_string());
    let note = format!("{note}; threads={threads}");
    let mut out = std::io::stdout().lock();
    // The note is quoted as Go's %q would quote it for this ASCII text.
    let _ = writeln!(
        out,
        "READY server={server} pid={} addr={addr} gomaxprocs=1 note={note:?}",
        std::process::id()
    );
    let _ = out.flush();
}

/// The number of threads in this process.
pub fn threads() -> std::io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

/// This process's resident memory in bytes: the VmRSS line of
/// /proc/self/status, as bench/internal/procfs reads it.
pub fn rss() -> std::io::Result<u64> {
    let s = std::fs::read_to_string("/proc/self/status")?;
    let odd = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "no VmRSS line in /proc/self/status",
        )
    };
    let line = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(odd)?;
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .map_err(|_| odd())?;
    Ok(kb * 1024)
}

/// What the control port does with one command line.
pub enum Answer {
    /// Write this line (it ends with a newline) back.
    Line(String),
    /// Exit the process.
    Quit,
}

/// Answers one control command, as bench/internal/echoserver does.
pub fn control(cmd: &str) -> Answer {
    match cmd.trim() {
        "rss" => {}
        "gc" => trim_heap(),
        "quit" => return Answer::Quit,
        _ => return Answer::Line("error unknown command\n".to_string()),
    }
    Answer::Line(match rss() {
        Ok(n) => format!("rss {n}\n"),
        Err(e) => format!("error {e}\n"),
    })
}

/// The text SIGUSR1 prints.
pub fn rss_line() -> String {
    match rss() {
        Ok(n) => format!("RSS bytes={n}\n"),
        Err(e) => format!("RSS error={:?}\n", e.to_string()),
    }
}

/// Returns free heap memory to the OS (glibc only; elsewhere nothing).
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only walks glibc's own heap under its lock.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Prints a message to stderr and exits with status 1.
pub fn fatal(msg: std::fmt::Arguments) -> ! {
    eprintln!("echo server: {msg}");
    std::process::exit(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_in_every_form_go_accepts() {
        let c = parse(&["-addr", "127.0.0.1:1", "--ctl=127.0.0.1:2"]).unwrap();
        assert_eq!(
            (c.addr.as_str(), c.ctl.as_str()),
            ("127.0.0.1:1", "127.0.0.1:2")
        );
        let c = parse(&["--addr", "a:1", "-ctl", "b:2"]).unwrap();
        assert_eq!((c.addr.as_str(), c.ctl.as_str()), ("a:1", "b:2"));
        let c = parse(&[]).unwrap();
        assert_eq!((c.addr.as_str(), c.ctl.as_str()), ("127.0.0.1:17001", ""));
    }

    #[test]
    fn bad_flags_are_errors() {
        assert!(parse(&["-port", "1"])
            .unwrap_err()
            .contains("not defined: -port"));
        assert!(parse(&["-addr"]).unwrap_err().contains("needs an argument"));
        assert!(parse(&["x"]).unwrap_err().contains("unexpected argument"));
        assert_eq!(parse(&["-h"]).unwrap_err(), "");
    }

    #[test]
    fn control_protocol() {
        for cmd in ["rss", "gc\n", " rss "] {
            match control(cmd) {
                Answer::Line(l) => {
                    let n: u64 = l.strip_prefix("rss ").unwrap().trim_end().parse().unwrap();
                    assert!(n > 0 && l.ends_with('\n'), "{cmd:?} -> {l:?}");
                }
                Answer::Quit => panic!("{cmd:?} quit"),
            }
        }
        assert!(matches!(control("quit"), Answer::Quit));
        assert!(matches!(control("what"), Answer::Line(l) if l == "error unknown command\n"));
        assert!(rss_line().starts_with("RSS bytes="));
        assert!(threads().unwrap() >= 1);
    }
}
