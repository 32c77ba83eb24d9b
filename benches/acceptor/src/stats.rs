//! Counters shared by every connection task, and the lines the acceptor prints.
//!
//! Relaxed atomics: each counter is independent and read once, at exit.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::phoenix::Kind;

static OPEN: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
static ACCEPTED: AtomicU64 = AtomicU64::new(0);
static ACCEPT_ERRORS: AtomicU64 = AtomicU64::new(0);
static HANDSHAKE_ERRORS: AtomicU64 = AtomicU64::new(0);
static BAD_FRAMES: AtomicU64 = AtomicU64::new(0);
static JOINS: AtomicU64 = AtomicU64::new(0);
static LEAVES: AtomicU64 = AtomicU64::new(0);
static HEARTBEATS: AtomicU64 = AtomicU64::new(0);
static PUSHES: AtomicU64 = AtomicU64::new(0);

/// One accepted connection, counted open until dropped (whichever way its task ends).
pub struct Open;

impl Open {
    pub fn new() -> Self {
        ACCEPTED.fetch_add(1, Relaxed);
        let now = OPEN.fetch_add(1, Relaxed) + 1;
        PEAK.fetch_max(now, Relaxed);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Relaxed);
    }
}

/// Counts a failed `accept`; true for the first one (printed), false after.
pub fn note_accept_error() -> bool {
    ACCEPT_ERRORS.fetch_add(1, Relaxed) == 0
}

pub fn note_handshake_error() {
    HANDSHAKE_ERRORS.fetch_add(1, Relaxed);
}

pub fn note_bad_frame() {
    BAD_FRAMES.fetch_add(1, Relaxed);
}

pub fn note(kind: Kind) {
    let counter = match kind {
        Kind::Join => &JOINS,
        Kind::Leave => &LEAVES,
        Kind::Heartbeat => &HEARTBEATS,
        Kind::Push => &PUSHES,
    };
    counter.fetch_add(1, Relaxed);
}

/// Prints one line on stdout and flushes it: a script reading the pipe sees it at once.
pub fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The JSON line printed on exit: why it stopped, the CPU time it used, and its counters.
pub fn exit_line(reason: &str, uptime: Duration) -> String {
    let usage = rusage();
    // Seconds of CPU time are far below 2^52: the conversions are exact.
    #[allow(clippy::cast_precision_loss)]
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let (user, sys) = (seconds(usage.ru_utime), seconds(usage.ru_stime));
    let count = |counter: &AtomicU64| counter.load(Relaxed);
    format!(
        concat!(
            r#"{{"event":"exit","reason":"{}","pid":{},"uptime_s":{:.3},"cpu_s":{:.3},"user_s":{:.3},"#,
            r#""sys_s":{:.3},"max_rss_kib":{},"peak_connections":{},"open_connections":{},"accepted":{},"#,
            r#""accept_errors":{},"handshake_errors":{},"bad_frames":{},"joins":{},"leaves":{},"#,
            r#""heartbeats":{},"pushes":{}}}"#
        ),
        reason,
        std::process::id(),
        uptime.as_secs_f64(),
        user + sys,
        user,
        sys,
        usage.ru_maxrss,
        count(&PEAK),
        count(&OPEN),
        count(&ACCEPTED),
        count(&ACCEPT_ERRORS),
        count(&HANDSHAKE_ERRORS),
        count(&BAD_FRAMES),
        count(&JOINS),
        count(&LEAVES),
        count(&HEARTBEATS),
        count(&PUSHES),
    )
}

fn rusage() -> libc::rusage {
    // SAFETY: getrusage fills the zeroed struct it is given; RUSAGE_SELF cannot fail.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &raw mut usage);
        usage
    }
}

/// Raises the soft limit on open files to the hard limit (each connection is one file).
pub fn raise_open_files_limit() {
    // SAFETY: get/setrlimit read and write the struct given; failure leaves the limit as it was.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit);
        }
    }
}
