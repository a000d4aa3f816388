"""What the reporter does to itself before it forks the user's code: a seccomp
filter (inherited by every process the script starts, whichever sandbox backend
runs it), no new privileges, a non-dumpable reporter that nothing in the
sandbox can ptrace or read through /proc, and no signals it would act on.

The filter is classic BPF built here, so the harness needs no libseccomp. It
denies what a script never needs and what widens the kernel's attack surface or
reaches other processes; everything else (threads, fork, subprocess, numpy,
pandas, multiprocessing) is allowed."""
import ctypes
import errno
import os
import signal
import struct

# Syscall numbers from this machine's kernel headers:
# x86_64 from /usr/include/x86_64-linux-gnu/asm/unistd_64.h, aarch64 from the
# generic table it uses, /usr/include/asm-generic/unistd.h.
DENIED = {  # name: (x86_64, aarch64)
    "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271),
    "pidfd_getfd": (438, 438), "kcmp": (312, 272), "bpf": (321, 280), "perf_event_open": (298, 241),
    "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218),
    "io_uring_setup": (425, 425), "io_uring_enter": (426, 426), "io_uring_register": (427, 427),
    "userfaultfd": (323, 282), "mount": (165, 40), "umount2": (166, 39), "pivot_root": (155, 41),
    "chroot": (161, 51), "unshare": (272, 97), "setns": (308, 268), "open_by_handle_at": (304, 265),
    "init_module": (175, 105), "finit_module": (313, 273), "delete_module": (176, 106),
    "kexec_load": (246, 104), "kexec_file_load": (320, 294), "reboot": (169, 142),
    "swapon": (167, 224), "swapoff": (168, 225), "acct": (163, 89), "syslog": (103, 116),
    "quotactl": (179, 60), "quotactl_fd": (443, 443), "fsopen": (430, 430), "fsconfig": (431, 431),
    "fsmount": (432, 432), "fspick": (433, 433), "move_mount": (429, 429), "open_tree": (428, 428),
    "mount_setattr": (442, 442), "lookup_dcookie": (212, 18), "personality": (135, 92),
}
CLONE, CLONE3 = (56, 220), (435, 435)
# prlimit64 on another process of the same uid (pid 1, the reporter) is allowed by the kernel
# whatever its dumpability: only pid 0 (itself) passes, which is all setrlimit/getrlimit use.
PRLIMIT64 = (302, 261)
# CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET, and NEWTIME (0x80, which
# clone() itself reads as part of the exit signal; no valid signal sets it).
CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 \
    | 0x40000000 | 0x00000080
ARCHES = {"x86_64": (0, 0xC000003E), "aarch64": (1, 0xC00000B7)}  # table column, AUDIT_ARCH_*
X32_BIT = 0x40000000

# Classic BPF opcodes (linux/bpf_common.h) and seccomp return values (linux/seccomp.h).
LD_ABS, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
NR, ARCH, ARG0 = 0, 4, 16  # offsets in struct seccomp_data (args[0]'s low word on little-endian)
PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 4, 38, 22, 2
# pid 1 of a namespace gets only the signals it handles: Python handles SIGINT.
REPORTER_IGNORES = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


class Unsupported(Exception):
    """This machine's architecture has no syscall table here: refuse to run rather than run unfiltered."""


def program(machine):
    """The filter for `machine` (os.uname().machine) as (code, jt, jf, k) tuples."""
    if machine not in ARCHES:
        raise Unsupported(f"the sandbox's seccomp filter does not support the {machine} architecture")
    column, audit_arch = ARCHES[machine]
    # Jumps are relative and forward only: each test names a label, resolved below.
    steps = [(LD_ABS, None, None, ARCH), (JEQ, "next", "kill", audit_arch), (LD_ABS, None, None, NR)]
    if machine == "x86_64":  # the x32 ABI: the same calls under other numbers
        steps.append((JSET, "eperm", "next", X32_BIT))
    steps += [(JEQ, "eperm", "next", numbers[column]) for numbers in DENIED.values()]
    steps += [(JEQ, "enosys", "next", CLONE3[column]),  # so glibc falls back to clone, whose flags are visible
              (JEQ, "prlimit", "next", PRLIMIT64[column]),
              (JEQ, "next", "allow", CLONE[column]),
              (LD_ABS, None, None, ARG0),
              (JSET, "eperm", "allow", CLONE_NAMESPACES)]
    prlimit = len(steps)
    steps += [(LD_ABS, None, None, ARG0), (JEQ, "allow", "eperm", 0)]
    labels = {"prlimit": prlimit, "allow": len(steps), "eperm": len(steps) + 1, "enosys": len(steps) + 2, "kill": len(steps) + 3}

    def jump(label, at):
        return 0 if label in (None, "next") else labels[label] - at - 1

    code = [(op, jump(jt, at), jump(jf, at), k) for at, (op, jt, jf, k) in enumerate(steps)]
    return code + [(RET, 0, 0, RET_ALLOW), (RET, 0, 0, RET_ERRNO | errno.EPERM),
                   (RET, 0, 0, RET_ERRNO | errno.ENOSYS), (RET, 0, 0, RET_KILL_PROCESS)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4


def prctl(option, arg2, arg3=0):
    if _libc.prctl(option, arg2, arg3, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")


def install():
    """Confines the calling process and everything it will start. Raises
    Unsupported on an unknown architecture, OSError if the kernel refuses."""
    code = program(os.uname().machine)
    filters = b"".join(struct.pack("HBBI", *step) for step in code)
    buffer = ctypes.create_string_buffer(filters, len(filters))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(code), ctypes.addressof(buffer))
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog))
    prctl(PR_SET_DUMPABLE, 0)
    for signum in REPORTER_IGNORES:
        signal.signal(signum, signal.SIG_IGN)


def release():
    """In the forked child, before the user's code: what only the reporter needs, undone.
    The filter stays. Dumpable again: the child holds nothing of the reporter's, and
    may then raise its own oom_score_adj (a non-dumpable process's /proc files are root's)."""
    prctl(PR_SET_DUMPABLE, 1)
    for signum in REPORTER_IGNORES + (signal.SIGCHLD,):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
