//! Terminating signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) and `std::process::exit`, on Unix.
//!
//! profx's handler is the process's own (installed with `sigaction` where the signal still has
//! its default action), and does only what a signal handler may: it writes the signal's
//! number to a pipe, or, if the first signal is being handled already, ends the process at
//! once with the signal's default action. A thread reading the pipe does the rest: the final
//! work ([`finish_all`](super::finish_all), bounded by `PROFX_SHUTDOWN_TIMEOUT`), then the
//! signal again with its default action, so that the process ends with the status the signal
//! gives (128 + its number in a shell).
//!
//! A program that handles the signal itself keeps its own shutdown: a handler installed after
//! profx's (tokio's `signal::ctrl_c`, `signal-hook`, `ctrlc`) replaces it as the process's
//! disposition, and profx, finding that when the signal comes, leaves the program alone; its
//! reports are written when it ends (the guard's drop, or `exit`). A signal that was already
//! handled or ignored when profx started is not touched. `PROFX_SIGNALS=off` (or `0`,
//! `false`) leaves every signal alone.
//!
//! `exit` runs the C library's `atexit` hooks: profx's does the final work, bounded likewise,
//! and the process keeps its exit status.

use std::io::Read;
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::SeqCst};
use std::sync::Once;

/// The signals whose default action ends the process and that services are stopped with.
const SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// The pipe's write end (-1: none).
static PIPE: AtomicI32 = AtomicI32::new(-1);
/// A first signal is being handled: the next one ends the process at once.
static HANDLING: AtomicBool = AtomicBool::new(false);

/// Installs the handlers and the `exit` hook, once per process.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a function with no arguments that lives as long as the program.
        unsafe { libc::atexit(at_exit) };
        if !wanted() {
            return;
        }
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors; then flags on them: not inherited by
        // child processes, and the handler's write never blocks (a full pipe means a signal is
        // pending already).
        let made = unsafe {
            libc::pipe(fds.as_mut_ptr()) == 0
                && fds
                    .iter()
                    .all(|&fd| libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0)
                && libc::fcntl(fds[1], libc::F_SETFL, libc::O_NONBLOCK) == 0
        };
        if !made {
            eprintln!(
                "profx: warning: cannot watch for signals ({}); a signal ends the program without the reports",
                std::io::Error::last_os_error()
            );
            return;
        }
        // SAFETY: the read end was just made and is owned by this file from now on.
        let reader = unsafe { std::fs::File::from_raw_fd(fds[0]) };
        PIPE.store(fds[1], SeqCst);
        let watcher = std::thread::Builder::new()
            .name("profx-signals".into())
            .spawn(move || watch(reader));
        if watcher.is_err() {
            return;
        }
        for sig in SIGNALS {
            // SAFETY: plain `sigaction` calls with valid structures.
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, std::ptr::null(), &mut old) != 0
                    || old.sa_sigaction != libc::SIG_DFL
                {
                    // Handled or ignored already: the program's choice.
                    continue;
                }
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                new.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut new.sa_mask);
                libc::sigaction(sig, &new, std::ptr::null_mut());
            }
        }
    });
}

/// `PROFX_SIGNALS`: `on` (the default) or `off`.
fn wanted() -> bool {
    match std::env::var("PROFX_SIGNALS") {
        Err(_) => true,
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" | "on" | "1" | "true" | "yes" => true,
            "off" | "0" | "false" | "no" => false,
            _ => {
                crate::config::warn_once("PROFX_SIGNALS", &v, "on or off", "on");
                true
            }
        },
    }
}

/// The handler: async-signal-safe calls only.
extern "C" fn on_signal(sig: libc::c_int) {
    if HANDLING.load(SeqCst) {
        // A second signal while the first is handled: end now, as the signal would.
        // SAFETY: `signal` and `raise` are async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
        return;
    }
    let byte = sig as u8;
    // SAFETY: `write` is async-signal-safe; a full pipe drops the byte (a signal is pending
    // already).
    unsafe { libc::write(PIPE.load(SeqCst), (&byte as *const u8).cast(), 1) };
}

/// The watcher thread: handles each signal the handler passes on.
fn watch(mut reader: std::fs::File) {
    let mut byte = [0u8];
    while let Ok(1) = reader.read(&mut byte) {
        let sig = libc::c_int::from(byte[0]);
        if !still_ours(sig) {
            // The program installed its own handler since: it ends its own way, and the
            // reports are written then.
            continue;
        }
        HANDLING.store(true, SeqCst);
        super::finish_all(super::timeout());
        // SAFETY: restoring the default action and sending the signal again, to this thread
        // (which does not block it): delivered before `raise` returns.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
        // Not reached (the default action of each of these signals ends the process); should
        // it be, the status a shell would show:
        std::process::exit(128 + sig);
    }
}

/// Whether profx's handler is still the process's disposition for `sig`.
fn still_ours(sig: libc::c_int) -> bool {
    // SAFETY: a query of the current action.
    unsafe {
        let mut cur: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut cur) == 0
            && cur.sa_sigaction == on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t
    }
}

/// The `atexit` hook: `std::process::exit` (and a return from `main`, after the guard's drop
/// has done the work).
extern "C" fn at_exit() {
    if !HANDLING.load(SeqCst) {
        super::finish_all(super::timeout());
    }
}
