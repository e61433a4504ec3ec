//! `unshare` mode: the root phases of a build run as root of a user namespace that a normal
//! user may create, with the user's subordinate ids (`/etc/subuid`, `/etc/subgid`) mapped by
//! the setuid helpers `newuidmap` and `newgidmap`.
//!
//! The map is the one rootless container engines use:
//!
//! | inside | outside |
//! | --- | --- |
//! | 0 | the user |
//! | 1 .. 65536 | the first 65536 subordinate ids |
//!
//! so the build's root owns what the user owns (the cache, the output's folder, the work
//! directory), files owned by root in the tree belong to the user outside, and every other
//! owner of a Debian system (up to `nobody`, 65534) has a subordinate id. The user's own ids
//! being mapped, `newgidmap` still allows `setgroups`, and the namespace's root drops the
//! user's supplementary groups.
//!
//! debroot re-executes itself as `__userns ACTION ARGS`: the child unshares the user
//! namespace while it is still single-threaded, says `ready` on stdout, waits for the parent
//! to write the maps and say `go` on stdin, becomes root of the namespace and carries on
//! (`build`: debroot's own command line; `remove PATH`: removes a work directory whose files
//! the user alone may not delete).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::error::{Classify, ExitClass, Failure, local};

/// Why an `unshare` build cannot run here (exit 2), and what would make it work.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct Unavailable {
    pub reason: String,
    pub hint: Option<String>,
}

impl Classify for Unavailable {
    fn class(&self) -> ExitClass {
        ExitClass::Usage
    }

    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

/// How many ids the namespace needs besides root: every uid and gid a Debian system uses
/// (`nobody` and `nogroup` are 65534).
pub const NEEDED_IDS: u32 = 65536;

/// One side of the id map (uids or gids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    /// The user's own id, mapped to 0.
    pub own: u32,
    /// The first subordinate id, mapped to 1.
    pub first: u32,
    /// How many subordinate ids are mapped (1 .. count).
    pub count: u32,
}

impl IdMap {
    /// The arguments `newuidmap`/`newgidmap` take after the PID: `inside outside count`.
    pub fn helper_args(&self) -> Vec<String> {
        vec![
            "0".into(),
            self.own.to_string(),
            "1".into(),
            "1".into(),
            self.first.to_string(),
            self.count.to_string(),
        ]
    }
}

/// The name of user `uid` in an `/etc/passwd` text.
pub fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

/// The subordinate range of `name` (or of the numeric `id`) in an `/etc/subuid`-style text:
/// the first entry with at least [`NEEDED_IDS`] ids. `Err` says what was found instead.
pub fn subordinate_range(text: &str, name: Option<&str>, id: u32) -> Result<(u32, u32), String> {
    let mut smaller = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split(':');
        let (Some(owner), Some(first), Some(count)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let ours = Some(owner) == name || owner.parse::<u32>().ok() == Some(id);
        let (Ok(first), Ok(count)) = (first.parse::<u32>(), count.parse::<u32>()) else {
            continue;
        };
        if !ours {
            continue;
        }
        if count >= NEEDED_IDS {
            return Ok((first, NEEDED_IDS));
        }
        smaller = Some(count);
    }
    Err(match smaller {
        Some(count) => format!("only {count} ids are delegated, {NEEDED_IDS} are needed"),
        None => "no entry".into(),
    })
}

/// The maps for the current user, or why unshare mode cannot work on this machine; checked
/// before anything is downloaded.
pub fn preflight() -> Result<(IdMap, IdMap), Failure> {
    let unavailable = |reason: String, hint: &str| {
        Failure::from(Unavailable {
            reason: format!("`unshare` mode is not available: {reason}"),
            hint: Some(hint.to_owned()),
        })
    };
    let read = |path: &str| std::fs::read_to_string(path).ok();
    if read("/proc/sys/user/max_user_namespaces").is_some_and(|v| v.trim() == "0") {
        return Err(unavailable(
            "user namespaces are disabled (user.max_user_namespaces = 0)".into(),
            "enable them with `sysctl user.max_user_namespaces=15000`, or build as root",
        ));
    }
    if read("/proc/sys/kernel/unprivileged_userns_clone").is_some_and(|v| v.trim() == "0") {
        return Err(unavailable(
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)"
                .into(),
            "enable them with `sysctl kernel.unprivileged_userns_clone=1`, or build as root",
        ));
    }
    for helper in ["newuidmap", "newgidmap"] {
        if find_helper(helper).is_none() {
            return Err(unavailable(
                format!("`{helper}` is not installed"),
                "install the `uidmap` package",
            ));
        }
    }
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let name = read("/etc/passwd").and_then(|p| user_name(&p, uid));
    let who = name.clone().unwrap_or_else(|| uid.to_string());
    let hint = format!(
        "delegate ids with `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {who}`"
    );
    let mut maps = Vec::new();
    for (file, own) in [("/etc/subuid", uid), ("/etc/subgid", gid)] {
        let text = read(file).unwrap_or_default();
        let (first, count) = subordinate_range(&text, name.as_deref(), uid)
            .map_err(|reason| unavailable(format!("{file} for `{who}`: {reason}"), &hint))?;
        maps.push(IdMap { own, first, count });
    }
    Ok((maps[0], maps[1]))
}

fn find_helper(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
}

/// A debroot child running as root of a new user namespace.
pub struct Namespaced {
    pub child: Child,
}

impl Namespaced {
    /// Starts `debroot __userns ARGS` and maps its ids; returns once it is root inside.
    pub fn spawn(args: &[OsString], uids: IdMap, gids: IdMap) -> Result<Self, Failure> {
        Self::spawn_with(args, uids, gids, &[])
    }

    /// [`Namespaced::spawn`], the child inheriting the descriptors `inherit` (with their
    /// numbers; in this process they stay close-on-exec, so no other child gets them).
    pub fn spawn_with(
        args: &[OsString],
        uids: IdMap,
        gids: IdMap,
        inherit: &[std::os::fd::BorrowedFd<'_>],
    ) -> Result<Self, Failure> {
        let failure = |reason: String| Unavailable { reason, hint: None };
        let mut command = Command::new(crate::SELF_EXE);
        command
            .arg("__userns")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let inherit: Vec<std::os::fd::RawFd> = inherit
            .iter()
            .map(std::os::fd::AsRawFd::as_raw_fd)
            .collect();
        // SAFETY: only prctl and fcntl between fork and exec (no allocation: `inherit` is
        // built before the fork); the descriptors are open, borrowed for this call.
        unsafe {
            command.pre_exec(move || {
                rustix::process::set_parent_process_death_signal(Some(
                    rustix::process::Signal::KILL,
                ))?;
                for &fd in &inherit {
                    let fd = std::os::fd::BorrowedFd::borrow_raw(fd);
                    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
                }
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(local("start debroot"))?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            let reason = line.trim().strip_prefix("error ").unwrap_or("no answer");
            return Err(Unavailable {
                reason: format!(
                    "`unshare` mode is not available: cannot create a user namespace: {reason}"
                ),
                hint: Some(
                    "check that unprivileged user namespaces are allowed (sysctl, AppArmor)".into(),
                ),
            }
            .into());
        }
        let pid = child.id().to_string();
        for (helper, map) in [("newuidmap", uids), ("newgidmap", gids)] {
            let path = find_helper(helper).unwrap_or_else(|| PathBuf::from(helper));
            let output = Command::new(&path)
                .arg(&pid)
                .args(map.helper_args())
                .stdin(Stdio::null())
                .output();
            let ok = output.as_ref().is_ok_and(|o| o.status.success());
            if !ok {
                let _ = child.kill();
                let _ = child.wait();
                let said = output
                    .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
                    .unwrap_or_else(|e| e.to_string());
                return Err(failure(format!(
                    "`unshare` mode is not available: `{helper} {pid} {}` failed: {said}",
                    map.helper_args().join(" ")
                ))
                .into());
            }
        }
        if let Some(mut stdin) = child.stdin.take()
            && stdin.write_all(b"go\n").is_err()
        {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failure(
                "`unshare` mode: debroot in the user namespace ended early".into(),
            )
            .into());
        }
        Ok(Namespaced { child })
    }
}

/// The child's side, in `__userns`: unshare, handshake, become root. On error, the reason is
/// told to the parent (stdout) and returned.
pub fn enter() -> Result<(), String> {
    let mut stdout = std::io::stdout();
    // SAFETY: FILES is not among the flags, so no descriptor table is unshared.
    let unshared = unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWUSER) };
    if let Err(error) = unshared {
        let _ = writeln!(stdout, "error {error}");
        return Err(format!("cannot create a user namespace: {error}"));
    }
    let _ = writeln!(stdout, "ready");
    let _ = stdout.flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if line.trim() != "go" {
        return Err("the parent did not map the namespace's ids".into());
    }
    // Root of the namespace: gid first (setgroups needs it), then no supplementary groups.
    let root_gid = rustix::process::Gid::ROOT;
    let root_uid = rustix::process::Uid::ROOT;
    rustix::thread::set_thread_res_gid(root_gid, root_gid, root_gid)
        .and_then(|()| rustix::thread::set_thread_groups(&[]))
        .and_then(|()| rustix::thread::set_thread_res_uid(root_uid, root_uid, root_uid))
        .map_err(|e| format!("cannot become root of the user namespace: {e}"))?;
    // stdin and stdout were the handshake; the build reads nothing and prints on stderr.
    if let Ok(null) = std::fs::File::open("/dev/null") {
        let _ = rustix::stdio::dup2_stdin(&null);
    }
    let _ = rustix::stdio::dup2_stdout(rustix::stdio::stderr());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_users_range_by_name_or_id() {
        let text = "# comment\nalice:100000:65536\nbob:165536:1000\n1002:300000:70000\n";
        assert_eq!(
            subordinate_range(text, Some("alice"), 1001),
            Ok((100000, 65536))
        );
        assert_eq!(
            subordinate_range(text, Some("carol"), 1002),
            Ok((300000, 65536))
        );
        assert_eq!(
            subordinate_range(text, Some("bob"), 1003),
            Err("only 1000 ids are delegated, 65536 are needed".into())
        );
        assert_eq!(
            subordinate_range(text, Some("dave"), 1004),
            Err("no entry".into())
        );
        assert_eq!(
            subordinate_range("alice:x:y\n", Some("alice"), 1),
            Err("no entry".into())
        );
    }

    #[test]
    fn reads_user_names_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nalice:x:1001:1001::/home/alice:/bin/sh\n";
        assert_eq!(user_name(passwd, 1001).as_deref(), Some("alice"));
        assert_eq!(user_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name(passwd, 5), None);
        assert_eq!(user_name("broken", 0), None);
    }

    #[test]
    fn maps_root_to_the_user_and_the_rest_to_subordinate_ids() {
        let map = IdMap {
            own: 1001,
            first: 100000,
            count: 65536,
        };
        assert_eq!(
            map.helper_args(),
            ["0", "1001", "1", "1", "100000", "65536"]
        );
    }
}
