"""The sandbox command lines: nsjail where it is installed (the production
image), bubblewrap otherwise (the local test image), with the same limits.
Pure functions of the limits, so they are unit-tested without running either."""
import os
import re
import shutil
import sys
from decimal import ROUND_CEILING, Decimal

SANDBOX_PYTHON = os.environ.get("SCRIPTRUN_SANDBOX_PYTHON", "/usr/bin/python3")
HARNESS_DIR = os.path.dirname(os.path.abspath(__file__))
INNER_DIR = "/run/scriptrun-inner"
# Address space beyond the memory limit: the interpreter, numpy's and pandas'
# shared libraries and thread stacks are mapped but mostly never touched.
AS_ALLOWANCE = 512 * 1024 * 1024
SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "PYTHONIOENCODING": "utf-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    # Debian's matplotlib looks for /etc/matplotlibrc, outside the sandbox's binds, and refuses to
    # import without one; its own copy under /usr is the same file. Agg: a pod has no display, and
    # probing for Tk would fail. Both are inert in an image without matplotlib.
    "MATPLOTLIBRC": "/usr/share/matplotlib/mpl-data/matplotlibrc",
    "MPLBACKEND": "Agg",
}
# Kubernetes' quantity suffixes (resource.Quantity): binary, decimal, and a decimal exponent.
UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
         "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1,
         "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:([eE][-+]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$")


def parse_quantity(text):
    """Bytes in a Kubernetes memory quantity, in any spelling the apiserver takes (256Mi, 1G,
    300000000000m, 0.0002Ti, 1e9), rounded up to a whole byte as Kubernetes rounds memory."""
    match = QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number, exponent, suffix = match.groups()
    value = Decimal(number + (exponent or "")) * UNITS[suffix or ""]
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def limits_of(request):
    limits = request["limits"]
    return {
        "wall": float(request["timeoutSeconds"]),
        "cpu": int(request["timeoutSeconds"]) + 1,
        "memory": parse_quantity(request["resources"].get("memory", "256Mi")),
        "pids": int(limits.get("pids", 64)),
        "fsize": 16 * 1024 * 1024,
        "output": int(limits.get("outputBytes", 1024 * 1024)),
    }


def backend():
    """nsjail or bubblewrap; SCRIPTRUN_SANDBOX_BACKEND (set by the controller) insists on one."""
    wanted = os.environ.get("SCRIPTRUN_SANDBOX_BACKEND", "auto")
    if wanted in ("auto", "nsjail") and shutil.which("nsjail"):
        return "nsjail"
    if wanted in ("auto", "bubblewrap") and shutil.which("bwrap"):
        return "bubblewrap"
    raise RuntimeError(f"no sandbox available (wanted {wanted}; neither nsjail nor bwrap is usable)")


def _system_binds():
    """Read-only system directories, plus the interpreter's prefix when it lives elsewhere."""
    dirs = [d for d in ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/alternatives") if os.path.exists(d)]
    prefix = os.path.realpath(sys.base_prefix)
    if SANDBOX_PYTHON == sys.executable and not prefix.startswith("/usr"):
        dirs.append(prefix)
    return dirs


def inner_argv(fds):
    """The interpreter and inner.py, told which inherited fds carry the request and the report."""
    return [SANDBOX_PYTHON, "-I", f"{INNER_DIR}/inner.py", *map(str, fds)]


# The device nodes of bubblewrap's --dev that nsjail binds into its jail.
DEV_NODES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")


def bwrap_command(argv, with_proc=True):
    # --as-pid-1: the reporter (inner.py) is the sandbox's pid 1, with no bubblewrap
    # process inside to ptrace or signal; its exit ends every process of the run.
    # --cap-drop ALL matters where the harness runs as root (a host); in a pod there are none.
    cmd = ["bwrap", "--unshare-all", "--as-pid-1", "--die-with-parent", "--new-session", "--clearenv",
           "--cap-drop", "ALL"]
    for d in _system_binds():
        cmd += ["--ro-bind", d, d] if not os.path.islink(d) else ["--symlink", os.readlink(d), d]
    cmd += ["--ro-bind", HARNESS_DIR, INNER_DIR, "--tmpfs", "/tmp", "--dev", "/dev", "--tmpfs", "/dev/shm",
            "--chdir", "/tmp"]
    # In a pod, /proc has masked paths and a fresh proc mount is refused; the
    # script then simply sees no /proc (nothing of the pod leaks through it).
    if with_proc:
        cmd += ["--proc", "/proc"]
    # A read-only root and /dev (their device nodes stay usable); /tmp and
    # /dev/shm (multiprocessing's semaphores) are the writable tmpfs mounts.
    cmd += ["--remount-ro", "/dev", "--remount-ro", "/"]
    for key, value in SANDBOX_ENV.items():
        cmd += ["--setenv", key, value]
    return cmd + ["--", *argv]


def tmpfs_sizes(size):
    """The sizes of the sandbox's tmpfs mounts, sharing `size` bytes, the run's memory: /dev/shm
    (multiprocessing's semaphores) a quarter, /tmp the rest. Without a memory cgroup of the run's
    own (a pod), tmpfs pages are no process's memory, so RLIMIT_AS never sees them: an unsized
    tmpfs may take half the node's RAM, and two of the run's full size let a script fill twice its
    memory, past the pod's headroom, so that the kernel killed the whole container, harness and
    what the script had printed with it. Sized so, a full tmpfs is the script's own ENOSPC."""
    return {"/tmp": size - size // 4, "/dev/shm": size // 4}


def sized_tmpfs(cmd, size):
    """`cmd`, a bwrap command line, with the tmpfs mounts it makes sized by tmpfs_sizes(`size`)."""
    end = cmd.index("--") if "--" in cmd else len(cmd)
    sizes = tmpfs_sizes(size)
    sized = []
    for at, arg in enumerate(cmd):
        if arg == "--tmpfs" and at < end:
            sized += ["--size", str(sizes[cmd[at + 1]])]
        sized.append(arg)
    return sized


def nsjail_command(limits, fds, lifetime=None):
    """`lifetime`: nsjail's own time limit in seconds, counted from its start (0: none); by default the
    wall clock's, a backstop to the outer harness's deadline."""
    # No --chroot /: that would expose the pod's whole tree (the termination-log
    # file among it). Without it nsjail's root is an empty tmpfs with only these
    # binds, read-only (no --rw). nsjail execs inner.py as the pid namespace's
    # pid 1 and drops every capability (no --keep_caps).
    cmd = ["nsjail", "--mode", "o", "--quiet", "--disable_proc",
           "--user", "65534", "--group", "65534", "--hostname", "sandbox",
           "--time_limit", str(int(limits["wall"]) + 1 if lifetime is None else lifetime),
           "--rlimit_as", str((limits["memory"] + AS_ALLOWANCE) // (1024 * 1024)),
           "--rlimit_cpu", str(limits["cpu"]),
           "--rlimit_fsize", str(limits["fsize"] // (1024 * 1024)),
           "--rlimit_nofile", "256",
           # rlimits, not --cgroup_*: those need a writable parent cgroup, which a pod has not.
           "--rlimit_nproc", str(limits["pids"]),
           "--bindmount_ro", f"{HARNESS_DIR}:{INNER_DIR}", "--cwd", "/tmp"]
    for d in _system_binds():
        cmd += ["--bindmount_ro", d]
    # What bubblewrap's --dev gives: the device nodes a program expects (subprocess.DEVNULL, os.urandom),
    # read-only binds of the pod's own; and the tmpfs mounts sized as bubblewrap's (--tmpfsmount's
    # are 4 MiB, too small for a script's files, and /dev/shm would be missing).
    for node in DEV_NODES:
        cmd += ["--bindmount_ro", node]
    for at, size in tmpfs_sizes(limits["memory"]).items():
        cmd += ["--mount", f"none:{at}:tmpfs:size={size}"]
    for fd in fds:
        cmd += ["--pass_fd", str(fd)]
    for key, value in SANDBOX_ENV.items():
        cmd += ["--env", f"{key}={value}"]
    return cmd + ["--", *inner_argv(fds)]


def rlimits(limits):
    """What the outer harness sets on the sandbox process before exec (bubblewrap
    has no limits of its own); (resource name, value) pairs."""
    return [
        ("RLIMIT_CPU", limits["cpu"]),
        ("RLIMIT_AS", limits["memory"] + AS_ALLOWANCE),
        ("RLIMIT_FSIZE", limits["fsize"]),
        ("RLIMIT_NOFILE", 256),
        ("RLIMIT_CORE", 0),
        # No RLIMIT_NPROC: it counts every process of the uid on the node, so
        # runner pods (all uid 65532) would starve each other. Processes are
        # capped by the run's pids cgroup, or in a pod by the pod's pids limit.
    ]
