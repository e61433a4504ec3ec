//! Sleeps that return at once, for the commands dpkg runs in a build (`preinst`, `postinst`,
//! triggers), as the eatmydata hook of mmdebstrap's manual makes their `fsync`s return at once.
//!
//! Nothing in the namespace needs time to pass: no service runs (`policy-rc.d` answers 101,
//! `start-stop-daemon` is a no-op), there is no network to wait for, and the tree's times are
//! normalized to `SOURCE_DATE_EPOCH` afterwards. A sleep there only waits: fontconfig's
//! postinst runs `fc-cache -s -f -v`, which ends with `if (changed) sleep (2);` (for FAT's
//! 2-second mtimes; tmpfs and ext4 keep nanoseconds, which fontconfig's cache check compares),
//! 2 s of a 7 s kiosk build with both cores idle. A retry loop (`until X; do sleep 1; done`)
//! runs its course without the waits.
//!
//! A seccomp filter, installed in the command's process just before it runs, makes
//! `nanosleep` and `clock_nanosleep` return 0 without sleeping, for the host's own system call
//! set and the compat set it runs natively (i386 on amd64). Other architectures' calls pass
//! unchanged, and so do the sleeps of an emulated (`qemu-user`) root, which is not given the
//! filter: QEMU's own threads sleep to wait. Hooks never get it: they are the user's programs.

/// `struct sock_filter` of `linux/filter.h`.
#[repr(C)]
#[derive(Clone, Copy)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// `struct sock_fprog` of `linux/filter.h`.
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
/// Offsets in `struct seccomp_data`.
const NR: u32 = 0;
const ARCH: u32 = 4;
const RET_ALLOW: u32 = 0x7fff_0000;
/// `SECCOMP_RET_ERRNO` with 0: the call returns 0, done.
const RET_DONE: u32 = 0x0005_0000;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;

/// The sleeping calls of each architecture: `nanosleep`, `clock_nanosleep` (and i386's
/// `clock_nanosleep_time64`), from the kernel's syscall tables.
const SLEEPS: [(u32, &[u32]); 3] = [
    (AUDIT_ARCH_X86_64, &[35, 230]),
    (AUDIT_ARCH_I386, &[162, 267, 407]),
    (AUDIT_ARCH_AARCH64, &[101, 115]),
];

/// The filter: for each architecture, its sleeping calls return 0; everything else runs.
fn program() -> Vec<SockFilter> {
    let op = |code, k, jf| SockFilter { code, jt: 0, jf, k };
    let mut program = Vec::new();
    let mut call_tests = Vec::new();
    for (arch, calls) in SLEEPS {
        // Another architecture skips the number load and this one's call tests.
        program.push(op(BPF_LD_W_ABS, ARCH, 0));
        program.push(op(BPF_JEQ_K, arch, calls.len() as u8 + 1));
        program.push(op(BPF_LD_W_ABS, NR, 0));
        for &call in calls {
            call_tests.push(program.len());
            program.push(op(BPF_JEQ_K, call, 0));
        }
    }
    program.push(op(BPF_RET_K, RET_ALLOW, 0));
    program.push(op(BPF_RET_K, RET_DONE, 0));
    // A sleeping call jumps to the last instruction; jumps count from the next one.
    let done = program.len() - 1;
    for at in call_tests {
        program[at].jt = (done - at - 1) as u8;
    }
    program
}

/// The filter, built before `fork` (nothing is allocated between `fork` and `exec`).
pub struct Filter(Vec<SockFilter>);

impl Filter {
    pub fn new() -> Self {
        Filter(program())
    }

    /// Installs the filter in the calling process (after `no_new_privs`, which seccomp needs
    /// without `CAP_SYS_ADMIN`). Only system calls: safe between `fork` and `exec`.
    pub fn install(&self) -> std::io::Result<()> {
        rustix::thread::set_no_new_privs(true)?;
        let fprog = SockFprog {
            len: self.0.len() as u16,
            filter: self.0.as_ptr(),
        };
        // SAFETY: `fprog` points to `len` initialized instructions that outlive the call; the
        // kernel copies them.
        let result = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                1 as libc::c_ulong, // SECCOMP_SET_MODE_FILTER
                0 as libc::c_ulong,
                &fprog as *const SockFprog,
            )
        };
        if result == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

impl Default for Filter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the filter on one `seccomp_data` (number and architecture), as the kernel would.
    fn run(program: &[SockFilter], nr: u32, arch: u32) -> u32 {
        let mut pc = 0;
        let mut accumulator = 0;
        loop {
            let i = program[pc];
            match i.code {
                BPF_LD_W_ABS => accumulator = if i.k == NR { nr } else { arch },
                BPF_JEQ_K => {
                    pc += if accumulator == i.k { i.jt } else { i.jf } as usize;
                }
                BPF_RET_K => return i.k,
                _ => panic!("unexpected instruction"),
            }
            pc += 1;
        }
    }

    #[test]
    fn sleeps_return_and_everything_else_runs() {
        let program = program();
        for (arch, calls) in SLEEPS {
            for &call in calls {
                assert_eq!(run(&program, call, arch), RET_DONE, "{arch:#x} {call}");
            }
            for other in [
                0, 1, 34, 36, 59, 102, 114, 116, 161, 163, 229, 231, 266, 268, 406,
            ] {
                if !calls.contains(&other) {
                    assert_eq!(run(&program, other, arch), RET_ALLOW, "{arch:#x} {other}");
                }
            }
        }
        // Another architecture's sleep numbers pass.
        assert_eq!(run(&program, 230, 0xc000_00f3), RET_ALLOW);
        assert_eq!(run(&program, 35, AUDIT_ARCH_AARCH64), RET_ALLOW);
        assert_eq!(run(&program, 101, AUDIT_ARCH_X86_64), RET_ALLOW);
    }
}
