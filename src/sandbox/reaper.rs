//! Containing a command without namespaces: the hooks of an `extract` build run by a normal
//! user, who may not create namespaces.
//!
//! debroot runs the command through itself as `__reaper`, a child subreaper
//! (`PR_SET_CHILD_SUBREAPER`): whatever the command leaves behind, even a daemon that
//! double-forked and called `setsid` to leave the process group, is reparented to the reaper
//! rather than to the host's init. When the command exits, or when the reaper is told to stop
//! (SIGTERM, SIGINT, SIGHUP: debroot's timeout or interruption, or debroot's death through the
//! parent-death signal), the reaper kills every process it has adopted, until none is left,
//! and exits with the command's status. Only SIGKILL of the reaper itself (a `kill -9 -1` by
//! the command, which kills debroot too) lets a process escape.

use std::ffi::OsString;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitOptions};

/// How long the reaper keeps killing what it adopts (a fork bomb must not keep it forever).
const KILL_FOR: Duration = Duration::from_secs(10);

/// `__reaper -- ARGV...`: runs ARGV (with the reaper's environment, directory and standard
/// streams) and returns its exit code, 128 + N for signal N, after killing all it left.
pub fn reaper_main(args: &[OsString]) -> i32 {
    let argv = match args.split_first() {
        Some((dash, argv)) if dash == "--" && !argv.is_empty() => argv,
        _ => {
            eprintln!("error: invalid arguments to __reaper");
            return 2;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        if let Err(error) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            eprintln!("error: __reaper cannot handle signal {signal}: {error}");
            return 2;
        }
    }
    // debroot gone (even by SIGKILL): stop as if told to.
    if let Err(error) = rustix::process::set_parent_process_death_signal(Some(Signal::TERM))
        .and_then(|()| rustix::process::set_child_subreaper(Some(rustix::process::getpid())))
    {
        eprintln!("error: __reaper cannot become a subreaper: {error}");
        return 2;
    }
    let code = match Command::new(&argv[0]).args(&argv[1..]).spawn() {
        Ok(mut child) => loop {
            if stop.load(Ordering::SeqCst) {
                break 128 + Signal::TERM.as_raw();
            }
            match child.try_wait() {
                Ok(Some(status)) => break super::exit_code(status),
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(error) => {
                    eprintln!(
                        "error: waiting for `{}`: {error}",
                        argv[0].to_string_lossy()
                    );
                    break 127;
                }
            }
        },
        Err(error) => {
            eprintln!("error: cannot run `{}`: {error}", argv[0].to_string_lossy());
            127
        }
    };
    kill_adopted();
    code
}

/// Kills every child of this process, reaps it, and repeats (the children of a killed
/// process become ours) until there is none.
fn kill_adopted() {
    let started = Instant::now();
    while started.elapsed() < KILL_FOR {
        let children = children();
        for &pid in &children {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
        while let Ok(Some(_)) = rustix::process::wait(WaitOptions::NOHANG) {}
        if children.is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// This process's children, from `/proc/PID/stat` (the field after the command's name).
fn children() -> Vec<Pid> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let mut fields = stat.rsplit_once(") ")?.1.split(' ');
            let _state = fields.next()?;
            (fields.next()? == me).then(|| Pid::from_raw(pid)).flatten()
        })
        .collect()
}
